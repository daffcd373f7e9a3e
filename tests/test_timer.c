/* Timers, AfterFunc and Tickers: Go 1.23 semantics (stop and reset leave no
 * stale value, tickers drop missed ticks, stopped timers leave the heap), a
 * million live timers, timers in select, plain threads, and misuse (run as
 * children: Go's message and exit status 2).
 *
 * Sleeping here only lets a timer fire; waiting for another goroutine is
 * always done with a channel or a WaitGroup. Tolerances are wide: the
 * machine may be a loaded 2-core VM. */
#include "t.h"
#include <pthread.h>

#if defined(GOC_SANITIZER_BUILD) || defined(GOC_TEST_SLOW)
#define SCALE 20
#else
#define SCALE 1
#endif

#define MS GOC_MILLISECOND

/* The library's hidden count of pending runtime timers (linked statically). */
int64_t goc__timers_count(void);

/* ---- Timer ---- */

static int stop_before_fire_main(void *arg) {
    (void)arg;
    int64_t before = goc__timers_count();
    goc_timer *t = goc_timer_new(GOC_HOUR);
    T_CHECK_EQ(goc__timers_count(), before + 1);
    T_CHECK(goc_timer_stop(t));
    T_CHECK_EQ(goc__timers_count(), before); /* left the heap at once */
    T_CHECK(!goc_timer_stop(t));
    T_CHECK(!goc_chan_try_recv(goc_timer_chan(t), NULL, NULL));
    goc_timer_free(t);
    /* Freeing a timer that was never stopped takes it off the heap too. */
    t = goc_timer_new(GOC_HOUR);
    goc_timer_free(t);
    T_CHECK_EQ(goc__timers_count(), before);
    return 0;
}
static void test_stop_before_fire(void) { goc_run(stop_before_fire_main, NULL); }

static int fire_main(void *arg) {
    (void)arg;
    int64_t t0 = goc_now();
    goc_timer *t = goc_timer_new(20 * MS);
    int64_t v = 0;
    T_CHECK(goc_recv(goc_timer_chan(t), &v));
    T_CHECK(v >= t0 + 20 * MS);
    T_CHECK(goc_now() >= t0 + 20 * MS);
    T_CHECK(v <= goc_now());
    T_CHECK(!goc_timer_stop(t)); /* fired and received */
    /* d <= 0 fires at once. */
    T_CHECK(!goc_timer_reset(t, -5));
    T_CHECK(goc_recv(goc_timer_chan(t), &v));
    goc_timer_free(t);
    return 0;
}
static void test_fire(void) { goc_run(fire_main, NULL); }

/* Go 1.23: a value that fired but was not received is discarded by stop and
   reset, which then report true; nothing stale is received afterwards. */
static int no_stale_main(void *arg) {
    (void)arg;
    goc_timer *t = goc_timer_new(1 * MS);
    while (goc_chan_len(goc_timer_chan(t)) == 0)
        goc_sleep(2 * MS); /* let the timer fire */
    T_CHECK(goc_timer_stop(t)); /* the unreceived value counts as pending */
    T_CHECK(!goc_chan_try_recv(goc_timer_chan(t), NULL, NULL));
    T_CHECK(!goc_timer_stop(t));

    /* reset after fire: the value received is the new one */
    T_CHECK(!goc_timer_reset(t, 1 * MS));
    while (goc_chan_len(goc_timer_chan(t)) == 0)
        goc_sleep(2 * MS);
    int64_t r = goc_now();
    T_CHECK(goc_timer_reset(t, 30 * MS));
    T_CHECK(!goc_chan_try_recv(goc_timer_chan(t), NULL, NULL));
    int64_t v = 0;
    T_CHECK(goc_recv(goc_timer_chan(t), &v));
    T_CHECK(v >= r + 30 * MS);
    goc_timer_free(t);
    return 0;
}
static void test_no_stale(void) { goc_run(no_stale_main, NULL); }

/* Many goroutines reset short timers again and again and check that every
   value they receive was made by their latest reset, never an older one. */
#define STALE_G 8
#define STALE_ROUNDS (300 / SCALE + 20)

static goc_wg stale_wg;
static _Atomic int stale_bad;

static void stale_worker(void *arg) {
    uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
    goc_timer *t = goc_timer_new(1 * MS);
    for (int i = 0; i < STALE_ROUNDS; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t d = (int64_t)((seed >> 33) % 300) * GOC_MICROSECOND;
        if ((seed >> 20) & 1)
            goc_sleep((int64_t)((seed >> 40) % 400) * GOC_MICROSECOND);
        int64_t r = goc_now();
        goc_timer_reset(t, d);
        int64_t v = 0;
        goc_recv(goc_timer_chan(t), &v);
        if (v < r + d)
            atomic_fetch_add(&stale_bad, 1);
    }
    goc_timer_free(t);
    goc_wg_done(&stale_wg);
}

static int stale_stress_main(void *arg) {
    (void)arg;
    goc_wg_add(&stale_wg, STALE_G);
    for (int i = 0; i < STALE_G; i++)
        go(stale_worker, (void *)(uintptr_t)(i + 1));
    goc_wg_wait(&stale_wg);
    T_CHECK_EQ(atomic_load(&stale_bad), 0);
    return 0;
}
static void test_stale_stress(void) { goc_run(stale_stress_main, NULL); }

/* Stop racing the fire, from another goroutine: afterwards the channel is
   either empty for good, or stop said false because the value was received. */
static goc_chan *race_got;

static void race_receiver(void *arg) {
    goc_timer *t = arg;
    bool got = false;
    int64_t v;
    goc_case cs[] = {goc_case_recv(goc_timer_chan(t), &v, NULL), goc_case_timeout(2 * MS)};
    got = goc_select(cs, 2) == 0;
    goc_send(race_got, got);
}

static int stop_race_main(void *arg) {
    (void)arg;
    race_got = goc_chan_of(bool, 0);
    int rounds = 300 / SCALE + 20;
    for (int i = 0; i < rounds; i++) {
        goc_timer *t = goc_timer_new((i % 7) * 50 * GOC_MICROSECOND);
        go(race_receiver, t);
        if (i & 1)
            goc_sleep((i % 5) * 60 * GOC_MICROSECOND);
        bool stopped = goc_timer_stop(t);
        bool got = false;
        goc_recv(race_got, &got);
        /* exactly one of "stopped it" and "received it" */
        T_CHECK(stopped != got);
        T_CHECK(!goc_chan_try_recv(goc_timer_chan(t), NULL, NULL));
        goc_timer_free(t);
    }
    goc_chan_free(race_got);
    return 0;
}
static void test_stop_race(void) { goc_run(stop_race_main, NULL); }

/* A timer's channel in select, beside a channel that never delivers. */
static int select_main(void *arg) {
    (void)arg;
    goc_chan *never = goc_chan_of(int, 0);
    goc_timer *t = goc_timer_new(10 * MS);
    int x;
    int64_t v;
    goc_case cs[] = {goc_case_recv(never, &x, NULL), goc_case_recv(goc_timer_chan(t), &v, NULL)};
    T_CHECK_EQ(goc_select(cs, 2), 1);
    goc_timer_free(t);
    goc_chan_free(never);
    return 0;
}
static void test_select(void) { goc_run(select_main, NULL); }

/* A plain thread blocks on a timer's channel while goroutines run. */
static void *thread_recv(void *arg) {
    goc_timer *t = arg;
    int64_t v = 0;
    bool ok = goc_chan_recv(goc_timer_chan(t), &v);
    return (void *)(uintptr_t)(ok && v > 0);
}

static int thread_main(void *arg) {
    (void)arg;
    goc_timer *t = goc_timer_new(10 * MS);
    pthread_t th;
    pthread_create(&th, NULL, thread_recv, t);
    void *res = NULL;
    goc_blocking_begin();
    pthread_join(th, &res);
    goc_blocking_end();
    T_CHECK(res != NULL);
    goc_timer_free(t);
    return 0;
}
static void test_plain_thread(void) { goc_run(thread_main, NULL); }

/* ---- a million live timers ---- */

#define MANY (1000000 / SCALE)

static int many_main(void *arg) {
    (void)arg;
    goc_timer **ts = malloc(MANY * sizeof *ts);
    int64_t before = goc__timers_count();
    int64_t t0 = goc_now();
    for (int i = 0; i < MANY; i++)
        ts[i] = goc_timer_new(GOC_HOUR + ((int64_t)i * 7919 % 1000) * GOC_SECOND);
    int64_t t1 = goc_now();
    T_CHECK_EQ(goc__timers_count(), before + MANY);
    int stopped = 0;
    /* stop in an order unrelated to the heap's */
    for (int i = 0; i < MANY; i++)
        stopped += goc_timer_stop(ts[(int)(((int64_t)i * 15485863) % MANY)]);
    int64_t t2 = goc_now();
    T_CHECK_EQ(stopped, MANY);
    T_CHECK_EQ(goc__timers_count(), before);
    for (int i = 0; i < MANY; i++)
        goc_timer_free(ts[i]);
    free(ts);
    printf("     %d timers: new %.0f ns, stop %.0f ns each\n", MANY,
           (double)(t1 - t0) / MANY, (double)(t2 - t1) / MANY);
    return 0;
}
static void test_many(void) { goc_run(many_main, NULL); }

/* ---- AfterFunc ---- */

static void after_fn(void *arg) {
    goc_send((goc_chan *)arg, 1);
}

static _Atomic int after_ran;
static void after_count(void *arg) {
    (void)arg;
    atomic_fetch_add(&after_ran, 1);
}

static int after_func_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0);
    goc_timer *t = goc_after_func(5 * MS, after_fn, c);
    T_CHECK(goc_timer_chan(t) == NULL);
    int v = 0;
    T_CHECK(goc_recv(c, &v));
    T_CHECK(!goc_timer_stop(t)); /* already started */
    /* reset runs it again */
    T_CHECK(!goc_timer_reset(t, 1 * MS));
    T_CHECK(goc_recv(c, &v));
    goc_timer_free(t);

    /* stopped before it fires: it never runs */
    atomic_store(&after_ran, 0);
    goc_timer *s = goc_after_func(20 * MS, after_count, NULL);
    T_CHECK(goc_timer_stop(s));
    T_CHECK(!goc_timer_stop(s));
    goc_sleep(60 * MS); /* let it fire, were it still armed */
    T_CHECK_EQ(atomic_load(&after_ran), 0);
    goc_timer_free(s);
    /* freed unstopped: never runs either */
    s = goc_after_func(10 * MS, after_count, NULL);
    goc_timer_free(s);
    goc_sleep(40 * MS);
    T_CHECK_EQ(atomic_load(&after_ran), 0);
    goc_chan_free(c);
    return 0;
}
static void test_after_func(void) { goc_run(after_func_main, NULL); }

/* Many AfterFuncs, half stopped: exactly the others run. */
static goc_wg many_after_wg;
static void after_done(void *arg) {
    (void)arg;
    atomic_fetch_add(&after_ran, 1);
    goc_wg_done(&many_after_wg);
}

static int after_many_main(void *arg) {
    (void)arg;
    int n = 20000 / SCALE;
    atomic_store(&after_ran, 0);
    goc_timer **ts = malloc((size_t)n * sizeof *ts);
    goc_wg_add(&many_after_wg, n); /* each stopped one is done here instead */
    for (int i = 0; i < n; i++)
        ts[i] = goc_after_func((i % 10) * GOC_MICROSECOND * 100, after_done, NULL);
    int stopped = 0;
    for (int i = 0; i < n; i += 2)
        if (goc_timer_stop(ts[i])) {
            stopped++;
            goc_wg_done(&many_after_wg);
        }
    goc_wg_wait(&many_after_wg);
    T_CHECK_EQ(atomic_load(&after_ran), n - stopped);
    for (int i = 0; i < n; i++)
        goc_timer_free(ts[i]);
    free(ts);
    return 0;
}
static void test_after_many(void) { goc_run(after_many_main, NULL); }

/* ---- Ticker ---- */

static int ticker_main(void *arg) {
    (void)arg;
    goc_ticker *k = goc_ticker_new(5 * MS);
    goc_chan *c = goc_ticker_chan(k);
    int64_t prev = goc_now(), v = 0;
    for (int i = 0; i < 5; i++) {
        T_CHECK(goc_recv(c, &v));
        T_CHECK(v > prev);
        prev = v;
    }
    /* A slow reader: ticks it misses are dropped, not queued. */
    goc_sleep(60 * MS);
    T_CHECK(goc_chan_len(c) <= 1);
    int got = 0;
    while (goc_chan_try_recv(c, NULL, NULL))
        got++;
    T_CHECK(got <= 1);
    /* Stopped: nothing arrives, nothing stale remains. */
    goc_ticker_stop(k);
    T_CHECK(!goc_chan_try_recv(c, NULL, NULL));
    goc_sleep(20 * MS);
    T_CHECK(!goc_chan_try_recv(c, NULL, NULL));
    /* Reset restarts it with the new period. */
    int64_t r = goc_now();
    goc_ticker_reset(k, 10 * MS);
    T_CHECK(goc_recv(c, &v));
    T_CHECK(v >= r + 10 * MS);
    T_CHECK(goc_recv(c, &v));
    T_CHECK(v >= r + 20 * MS);
    goc_ticker_free(k);
    return 0;
}
static void test_ticker(void) { goc_run(ticker_main, NULL); }

/* ---- misuse ---- */

static int bad_ticker_main(void *arg) {
    (void)arg;
    goc_ticker_new(0);
    return 0;
}
static void child_bad_ticker(void) { goc_run(bad_ticker_main, NULL); }

static int bad_reset_main(void *arg) {
    (void)arg;
    goc_ticker *k = goc_ticker_new(GOC_SECOND);
    goc_ticker_reset(k, -1);
    return 0;
}
static void child_bad_reset(void) { goc_run(bad_reset_main, NULL); }

/* Waiting on a stopped timer is a deadlock (Go 1.23: nothing will send). */
static int stopped_deadlock_main(void *arg) {
    (void)arg;
    goc_timer *t = goc_timer_new(GOC_HOUR);
    goc_timer_stop(t);
    goc_chan_recv(goc_timer_chan(t), NULL);
    return 0;
}
static void child_stopped_deadlock(void) { goc_run(stopped_deadlock_main, NULL); }

static void test_misuse(void) {
    T_CHILD_DIES("bad_ticker", NULL, 2, "panic: non-positive interval for NewTicker");
    T_CHILD_DIES("bad_reset", NULL, 2, "panic: non-positive interval for Ticker.Reset");
    T_CHILD_DIES("stopped_deadlock", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
}

int main(int argc, char **argv) {
    static const t_case cases[] = {
        T_CASE(test_stop_before_fire), T_CASE(test_fire),        T_CASE(test_no_stale),
        T_CASE(test_stale_stress),     T_CASE(test_stop_race),   T_CASE(test_select),
        T_CASE(test_plain_thread),     T_CASE(test_many),        T_CASE(test_after_func),
        T_CASE(test_after_many),       T_CASE(test_ticker),      T_CASE(test_misuse),
    };
    static const t_case children[] = {
        {"bad_ticker", child_bad_ticker},
        {"bad_reset", child_bad_reset},
        {"stopped_deadlock", child_stopped_deadlock},
    };
    return T_RUN(cases, children);
}
