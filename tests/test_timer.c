/* Timers, AfterFunc and Tickers: Go 1.23 semantics (stop and reset leave no
 * stale value, tickers drop missed ticks, a channel timer is in a runtime
 * heap only while someone is blocked on its channel, len and cap of its
 * channel are 0), a million live timers, timers in select, the races of the
 * lazy delivery (fire against a select's other case, reset and stop of a
 * timer with a blocked receiver, stop against a polling receive), plain
 * threads with and without goc_run, and misuse (run as children: Go's
 * message and exit status 2).
 *
 * Sleeping here only lets a timer fire; waiting for another goroutine is
 * always done with a channel or a WaitGroup. Tolerances are wide: the
 * machine may be a loaded 2-core VM. */
#include "t.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>

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
    T_CHECK_EQ(goc__timers_count(), before); /* nobody waits: not in a heap */
    T_CHECK_EQ(goc_chan_len(goc_timer_chan(t)), 0);
    T_CHECK_EQ(goc_chan_cap(goc_timer_chan(t)), 0); /* Go 1.23: synchronous */
    T_CHECK(goc_timer_stop(t));
    T_CHECK_EQ(goc__timers_count(), before);
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
    goc_sleep(3 * MS); /* due: nobody received it yet */
    T_CHECK_EQ(goc_chan_len(goc_timer_chan(t)), 0); /* Go 1.23: always 0 */
    T_CHECK(goc_timer_stop(t)); /* the unreceived value counts as pending */
    T_CHECK(!goc_chan_try_recv(goc_timer_chan(t), NULL, NULL));
    T_CHECK(!goc_timer_stop(t));

    /* reset after fire: the value received is the new one */
    T_CHECK(!goc_timer_reset(t, 1 * MS));
    goc_sleep(3 * MS);
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

/* Waits (bounded) until the runtime's heaps hold n timers. */
static bool wait_count(int64_t n) {
    for (int i = 0; i < 5000 && goc__timers_count() != n; i++)
        goc_sleep(1 * MS);
    return goc__timers_count() == n;
}

static void many_receiver(void *arg) {
    goc_timer *t = arg;
    int64_t v = 0;
    goc_recv(goc_timer_chan(t), &v);
    goc_send(race_got, (bool)true);
}

/* A million timers nobody waits on cost nothing on the heaps; a receiver
   blocked on one of them puts exactly that one there, for as long as it
   waits. Stop never scans. */
static int many_main(void *arg) {
    (void)arg;
    race_got = goc_chan_of(bool, 0);
    goc_timer **ts = malloc(MANY * sizeof *ts);
    int64_t before = goc__timers_count();
    int64_t t0 = goc_now();
    for (int i = 0; i < MANY; i++)
        ts[i] = goc_timer_new(GOC_HOUR + ((int64_t)i * 7919 % 1000) * GOC_SECOND);
    int64_t t1 = goc_now();
    T_CHECK_EQ(goc__timers_count(), before);

    goc_timer *k = ts[MANY / 3];
    go(many_receiver, k);
    T_CHECK(wait_count(before + 1)); /* exactly its timer entered a heap */
    T_CHECK(goc_timer_reset(k, 1 * MS)); /* it was pending */
    bool got = false;
    goc_recv(race_got, &got);
    T_CHECK(got);
    T_CHECK_EQ(goc__timers_count(), before); /* fired: it left */

    int64_t t2 = goc_now();
    int stopped = 0;
    /* stop in an order unrelated to creation */
    for (int i = 0; i < MANY; i++)
        stopped += goc_timer_stop(ts[(int)(((int64_t)i * 15485863) % MANY)]);
    int64_t t3 = goc_now();
    T_CHECK_EQ(stopped, MANY - 1); /* all but k, which fired and was received */
    T_CHECK_EQ(goc__timers_count(), before);
    for (int i = 0; i < MANY; i++)
        goc_timer_free(ts[i]);
    free(ts);
    goc_chan_free(race_got);
    printf("     %d timers: new %.0f ns, stop %.0f ns each\n", MANY,
           (double)(t1 - t0) / MANY, (double)(t3 - t2) / MANY);
    return 0;
}
static void test_many(void) { goc_run(many_main, NULL); }

/* ---- lazy delivery: the races ---- */

/* Tickers nobody reads are in no heap and do not fire; a receive takes one
   tick (the latest missed ones are dropped) on the ticker's grid. */
#define LAZY_TICKERS (10000 / SCALE)

static int ticker_lazy_main(void *arg) {
    (void)arg;
    int64_t before = goc__timers_count();
    goc_ticker **ks = malloc(LAZY_TICKERS * sizeof *ks);
    for (int i = 0; i < LAZY_TICKERS; i++)
        ks[i] = goc_ticker_new(20 * MS);
    goc_sleep(70 * MS); /* three ticks each, missed */
    T_CHECK_EQ(goc__timers_count(), before);
    int got = 0, again = 0;
    for (int i = 0; i < LAZY_TICKERS; i++) {
        got += goc_chan_try_recv(goc_ticker_chan(ks[i]), NULL, NULL);
        /* the missed ticks were dropped, not queued */
        again += goc_chan_try_recv(goc_ticker_chan(ks[i]), NULL, NULL);
    }
    T_CHECK_EQ(got, LAZY_TICKERS); /* one each */
    T_CHECK_EQ(again, 0);
    for (int i = 0; i < LAZY_TICKERS; i++)
        goc_ticker_free(ks[i]);
    free(ks);

    /* The grid: two lazily taken ticks are a whole number of periods apart. */
    goc_ticker *k = goc_ticker_new(3 * MS);
    int64_t v1 = 0, v2 = 0;
    goc_sleep(10 * MS);
    T_CHECK(goc_chan_try_recv(goc_ticker_chan(k), &v1, NULL));
    T_CHECK(v1 <= goc_now());
    goc_sleep(7 * MS);
    T_CHECK(goc_chan_try_recv(goc_ticker_chan(k), &v2, NULL));
    T_CHECK(v2 > v1);
    T_CHECK_EQ((v2 - v1) % (3 * MS), 0);
    /* A blocking receive gets the next tick, still on the grid. */
    int64_t v3 = 0;
    T_CHECK(goc_recv(goc_ticker_chan(k), &v3));
    T_CHECK(v3 > v2);
    T_CHECK_EQ((v3 - v1) % (3 * MS), 0);
    T_CHECK_EQ(goc__timers_count(), before);
    T_CHECK_EQ(goc_chan_len(goc_ticker_chan(k)), 0);
    T_CHECK_EQ(goc_chan_cap(goc_ticker_chan(k)), 0);
    goc_ticker_free(k);
    return 0;
}
static void test_ticker_lazy(void) { goc_run(ticker_lazy_main, NULL); }

/* Several goroutines blocked on one ticker all keep getting ticks (the
   ticker stays in the heap while any of them waits). */
#define TICK_READERS 3
#define TICK_EACH 10
static goc_wg ticks_wg;
static _Atomic int ticks_bad;

static void tick_reader(void *arg) {
    goc_ticker *k = arg;
    int64_t prev = 0, v = 0;
    for (int i = 0; i < TICK_EACH; i++) {
        goc_recv(goc_ticker_chan(k), &v);
        if (v <= prev)
            atomic_fetch_add(&ticks_bad, 1);
        prev = v;
    }
    goc_wg_done(&ticks_wg);
}

static int ticker_readers_main(void *arg) {
    (void)arg;
    int64_t before = goc__timers_count();
    goc_ticker *k = goc_ticker_new(1 * MS);
    goc_wg_add(&ticks_wg, TICK_READERS);
    for (int i = 0; i < TICK_READERS; i++)
        go(tick_reader, k);
    goc_wg_wait(&ticks_wg);
    T_CHECK_EQ(atomic_load(&ticks_bad), 0);
    T_CHECK(wait_count(before)); /* nobody waits: it left the heap */
    goc_ticker_free(k);
    return 0;
}
static void test_ticker_readers(void) { goc_run(ticker_readers_main, NULL); }

/* The timer fires while its only blocked receiver, a select, is being woken
   by the select's other case: the value must stay in the channel, so stop
   reports it (true), and it is never both taken and reported. */
static goc_chan *other_ch;

static void other_sender(void *arg) {
    int64_t d = (int64_t)(uintptr_t)arg;
    if (d > 0)
        goc_sleep(d);
    int one = 1;
    goc_chan_try_send(other_ch, &one);
}

static int select_other_main(void *arg) {
    (void)arg;
    other_ch = goc_chan_of(int, 1);
    int64_t before = goc__timers_count();
    int rounds = 2000 / SCALE + 50, via_timer = 0, via_other = 0;
    uint64_t seed = 12345;
    for (int i = 0; i < rounds; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t d = (int64_t)((seed >> 33) % 200) * GOC_MICROSECOND;
        int64_t e = (int64_t)((seed >> 45) % 200) * GOC_MICROSECOND;
        goc_timer *t = goc_timer_new(d);
        go(other_sender, (void *)(uintptr_t)e);
        int64_t v = 0;
        int x = 0;
        goc_case cs[] = {goc_case_recv(goc_timer_chan(t), &v, NULL),
                         goc_case_recv(other_ch, &x, NULL)};
        int r = goc_select(cs, 2);
        if (r == 0) {
            via_timer++;
            T_CHECK(!goc_timer_stop(t)); /* received: nothing pending */
            goc_recv(other_ch, &x);     /* the sender's value, for the next round */
        } else {
            via_other++;
            T_CHECK(goc_timer_stop(t)); /* fired into the channel, or not yet */
        }
        T_CHECK(!goc_chan_try_recv(goc_timer_chan(t), NULL, NULL));
        T_CHECK_EQ(goc__timers_count(), before);
        goc_timer_free(t);
    }
    goc_chan_free(other_ch);
    printf("     %d rounds: %d by the timer, %d by the other case\n", rounds, via_timer,
           via_other);
    return 0;
}
static void test_select_other(void) { goc_run(select_other_main, NULL); }

/* Reset and stop while a receiver is blocked: reset wakes it at the new
   time; stop leaves it blocked (Go 1.23) and takes the timer off the heap;
   a later reset wakes it. */
static _Atomic int blocked_done;
static void blocked_receiver(void *arg) {
    goc_timer *t = arg;
    int64_t v = 0;
    goc_recv(goc_timer_chan(t), &v);
    atomic_store(&blocked_done, 1);
    goc_send(race_got, (bool)true);
}

static int reset_blocked_main(void *arg) {
    (void)arg;
    race_got = goc_chan_of(bool, 0);
    int64_t before = goc__timers_count();
    goc_timer *t = goc_timer_new(GOC_HOUR);
    go(blocked_receiver, t);
    T_CHECK(wait_count(before + 1));
    int64_t r = goc_now();
    T_CHECK(goc_timer_reset(t, 5 * MS));
    bool got = false;
    goc_recv(race_got, &got);
    T_CHECK(goc_now() >= r + 5 * MS);
    T_CHECK_EQ(goc__timers_count(), before);

    atomic_store(&blocked_done, 0);
    T_CHECK(!goc_timer_reset(t, GOC_HOUR));
    go(blocked_receiver, t);
    T_CHECK(wait_count(before + 1));
    T_CHECK(goc_timer_stop(t));
    T_CHECK_EQ(goc__timers_count(), before);
    goc_sleep(5 * MS);
    T_CHECK_EQ(atomic_load(&blocked_done), 0); /* still waiting */
    T_CHECK(!goc_timer_reset(t, 1 * MS));
    goc_recv(race_got, &got);
    T_CHECK_EQ(atomic_load(&blocked_done), 1);
    T_CHECK_EQ(goc__timers_count(), before);
    goc_timer_free(t);
    goc_chan_free(race_got);
    return 0;
}
static void test_reset_blocked(void) { goc_run(reset_blocked_main, NULL); }

/* Stop races a receiver that polls the channel without blocking (the lazy
   delivery): exactly one of "stop said pending" and "received" holds, and
   nothing arrives after stop. The poller is a goroutine or a plain thread. */
typedef struct poll_arg {
    goc_timer *t;
    _Atomic int quit;
    bool got;
} poll_arg;

static void poll_loop(poll_arg *a) {
    while (!a->got && !atomic_load(&a->quit))
        a->got = goc_chan_try_recv(goc_timer_chan(a->t), NULL, NULL);
    if (!a->got) /* once more: stop has returned, so this must fail */
        T_CHECK(!goc_chan_try_recv(goc_timer_chan(a->t), NULL, NULL));
}

static void poll_goroutine(void *arg) {
    poll_loop(arg);
    goc_send(race_got, (bool)true);
}

static void *poll_thread(void *arg) {
    poll_loop(arg);
    return NULL;
}

static int stop_poll_main(void *arg) {
    (void)arg;
    race_got = goc_chan_of(bool, 0);
    int rounds = 600 / SCALE + 20, stopped_n = 0;
    for (int i = 0; i < rounds; i++) {
        poll_arg a = {.t = goc_timer_new((i % 5) * 40 * GOC_MICROSECOND)};
        bool thread = i % 3 == 0;
        pthread_t th;
        if (thread)
            pthread_create(&th, NULL, poll_thread, &a);
        else
            go(poll_goroutine, &a);
        if (i & 1)
            goc_sleep((i % 7) * 30 * GOC_MICROSECOND);
        bool stopped = goc_timer_stop(a.t);
        atomic_store(&a.quit, 1);
        if (thread) {
            goc_blocking_begin();
            pthread_join(th, NULL);
            goc_blocking_end();
        } else {
            bool done;
            goc_recv(race_got, &done);
        }
        T_CHECK(stopped != a.got);
        stopped_n += stopped;
        T_CHECK(!goc_chan_try_recv(goc_timer_chan(a.t), NULL, NULL));
        goc_timer_free(a.t);
    }
    goc_chan_free(race_got);
    printf("     %d rounds: %d stopped first\n", rounds, stopped_n);
    return 0;
}
static void test_stop_poll(void) { goc_run(stop_poll_main, NULL); }

/* A plain thread blocked in a select on a timer's channel and another
   channel: the timer is in a heap while it waits, and fires for it. */
static void *thread_select(void *arg) {
    goc_timer *t = arg;
    goc_chan *never = goc_chan_of(int, 0);
    int64_t v = 0;
    int x;
    goc_case cs[] = {goc_case_recv(never, &x, NULL), goc_case_recv(goc_timer_chan(t), &v, NULL)};
    int r = goc_select(cs, 2);
    goc_chan_free(never);
    return (void *)(uintptr_t)(r == 1 && v > 0);
}

static int thread_select_main(void *arg) {
    (void)arg;
    int64_t before = goc__timers_count();
    goc_timer *t = goc_timer_new(GOC_HOUR);
    pthread_t th;
    pthread_create(&th, NULL, thread_select, t);
    T_CHECK(wait_count(before + 1));
    T_CHECK(goc_timer_reset(t, 2 * MS));
    void *res = NULL;
    goc_blocking_begin();
    pthread_join(th, &res);
    goc_blocking_end();
    T_CHECK(res != NULL);
    T_CHECK_EQ(goc__timers_count(), before);
    goc_timer_free(t);
    return 0;
}
static void test_thread_select(void) { goc_run(thread_select_main, NULL); }

/* Without goc_run: a plain program's timers deliver to receives that poll
   (nothing runs the heaps then, so a blocking receive would wait for the
   next goc_run); a timer made before goc_run serves a receiver inside it. */
static goc_timer *early;
static int early_main(void *arg) {
    (void)arg;
    int64_t v = 0;
    T_CHECK(goc_recv(goc_timer_chan(early), &v)); /* blocks: enters a heap */
    return 0;
}

static void sleep_ns(int64_t ns) {
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    nanosleep(&ts, NULL);
}

static void test_no_run(void) {
    int64_t before = goc__timers_count();
    goc_timer *t = goc_timer_new(2 * MS);
    goc_ticker *k = goc_ticker_new(1 * MS);
    T_CHECK(!goc_chan_try_recv(goc_timer_chan(t), NULL, NULL));
    sleep_ns(5 * MS);
    int64_t v = 0;
    T_CHECK(goc_chan_try_recv(goc_timer_chan(t), &v, NULL));
    T_CHECK(v > 0 && v <= goc_now());
    T_CHECK(!goc_timer_stop(t)); /* received */
    T_CHECK(goc_chan_try_recv(goc_ticker_chan(k), NULL, NULL));
    sleep_ns(2 * MS);
    T_CHECK(goc_chan_try_recv(goc_ticker_chan(k), NULL, NULL)); /* the next tick */
    T_CHECK_EQ(goc__timers_count(), before);
    goc_ticker_free(k);
    goc_timer_reset(t, 3 * MS);
    early = t;
    T_CHECK_EQ(goc_run(early_main, NULL), 0);
    goc_timer_free(t);
}

/* Timers are not held back by a hand-off chain. Two goroutines that
   ping-pong over unbuffered channels ready each other through runnext; a
   G its timer readied went there too, and the chain's next ready pushed it
   to the back of the line, where it waited for the starvation rule (10 ms
   and more); a select that yielded to the queued Gs before parking waited
   there the same way. Medians, robust to a noisy host: the bug made every
   wait late. */
static goc_chan *chain_ping, *chain_pong;
static _Atomic bool chain_stop;
static void chain_a(void *arg) {
    (void)arg;
    int v = 0;
    while (!atomic_load(&chain_stop)) {
        goc_chan_send(chain_ping, &v);
        goc_chan_recv(chain_pong, &v);
    }
    goc_chan_close(chain_ping);
}
static void chain_b(void *arg) {
    (void)arg;
    int v;
    while (goc_chan_recv(chain_ping, &v))
        goc_chan_send(chain_pong, &v);
}
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}
#define CHAIN_WAITS 21
static int chain_main(void *arg) {
    (void)arg;
    int procs = goc_maxprocs(1);
    chain_ping = goc_chan_of(int, 0);
    chain_pong = goc_chan_of(int, 0);
    atomic_store(&chain_stop, false);
    go(chain_a, NULL);
    go(chain_b, NULL);
    goc_chan *never = goc_chan_of(int, 0);
    int64_t late_sleep[CHAIN_WAITS], late_select[CHAIN_WAITS];
    for (int i = 0; i < CHAIN_WAITS; i++) {
        int64_t t = goc_now();
        goc_sleep(GOC_MILLISECOND);
        late_sleep[i] = goc_now() - t - GOC_MILLISECOND;
        t = goc_now();
        goc_case cs[] = {goc_case_recv(never, NULL, NULL), goc_case_timeout(GOC_MILLISECOND)};
        T_CHECK_EQ(goc_select(cs, 2), 1);
        late_select[i] = goc_now() - t - GOC_MILLISECOND;
    }
    atomic_store(&chain_stop, true);
    goc_chan_free(never);
    qsort(late_sleep, CHAIN_WAITS, sizeof late_sleep[0], cmp_i64);
    qsort(late_select, CHAIN_WAITS, sizeof late_select[0], cmp_i64);
    printf("     late behind a hand-off chain (median): sleep %.2f ms, select %.2f ms\n",
           (double)late_sleep[CHAIN_WAITS / 2] / 1e6, (double)late_select[CHAIN_WAITS / 2] / 1e6);
    T_CHECK(late_sleep[CHAIN_WAITS / 2] < 5 * GOC_MILLISECOND);
    T_CHECK(late_select[CHAIN_WAITS / 2] < 5 * GOC_MILLISECOND);
    goc_maxprocs(procs);
    return 0;
}
static void test_timer_beats_chain(void) { goc_run(chain_main, NULL); }

/* ...nor do timers that keep coming hold back a hand-off: on one
   overloaded P, eight goroutines each sleep 1 ms and then work 300 us, so
   some timer is due at every switch. A channel round trip must still
   take about one such turn per hop, not the starvation rule's 10 ms (when
   every urgent G went before every ordinary one, 110-450 ms). */
static _Atomic bool busy_stop;
static void busy_sleeper(void *arg) {
    (void)arg;
    while (!atomic_load(&busy_stop)) {
        goc_sleep(GOC_MILLISECOND);
        int64_t until = goc_now() + 300 * GOC_MICROSECOND;
        while (goc_now() < until) {
        }
    }
}
static goc_chan *busy_c, *busy_ack;
static void busy_echo(void *arg) {
    (void)arg;
    int v;
    while (goc_chan_recv(busy_c, &v))
        goc_chan_send(busy_ack, &v);
}
static int busy_main(void *arg) {
    (void)arg;
    int procs = goc_maxprocs(1);
    busy_c = goc_chan_of(int, 0);
    busy_ack = goc_chan_of(int, 0);
    atomic_store(&busy_stop, false);
    go(busy_echo, NULL);
    for (int i = 0; i < 8; i++)
        go(busy_sleeper, NULL);
    goc_sleep(5 * GOC_MILLISECOND); /* the sleepers' own pace: let them load the P */
    int64_t rt[CHAIN_WAITS];
    for (int i = 0; i < CHAIN_WAITS; i++) {
        int64_t t = goc_now();
        goc_send(busy_c, i);
        int v = -1;
        T_CHECK(goc_recv(busy_ack, &v) && v == i);
        rt[i] = goc_now() - t;
    }
    atomic_store(&busy_stop, true);
    goc_chan_close(busy_c);
    qsort(rt, CHAIN_WAITS, sizeof rt[0], cmp_i64);
    printf("     round trip beside due timers (median): %.2f ms\n", (double)rt[CHAIN_WAITS / 2] / 1e6);
    T_CHECK(rt[CHAIN_WAITS / 2] < 5 * GOC_MILLISECOND);
    goc_maxprocs(procs);
    return 0;
}
static void test_handoff_beside_timers(void) { goc_run(busy_main, NULL); }

/* A timer made between two runs fires in the next even while its main
   keeps its own P busy: idle Ms sleep with no deadline between runs, so
   the run must wake one for the earliest timer (the AfterFunc's function
   runs in a goroutine on the other P; without the wake nobody looked at
   its heap). */
static _Atomic int64_t between_fired;
static void between_fn(void *arg) {
    (void)arg;
    atomic_store(&between_fired, goc_now());
}
static void between_nop(void *arg) {
    (void)arg;
    goc_sleep(GOC_MILLISECOND);
}
static int between_first_main(void *arg) {
    (void)arg;
    goc_maxprocs(2);
    for (int i = 0; i < 4; i++)
        go(between_nop, NULL);
    goc_sleep(5 * GOC_MILLISECOND);
    return 0;
}
static int between_busy_main(void *arg) {
    int64_t t0 = *(int64_t *)arg;
    while (!atomic_load(&between_fired) && goc_now() - t0 < 2 * GOC_SECOND) {
        /* busy: this P never looks at another P's timers */
    }
    return 0;
}
static void test_timer_made_between_runs(void) {
    int procs = goc_maxprocs(0);
    atomic_store(&between_fired, 0);
    goc_run(between_first_main, NULL);
    int64_t t0 = goc_now();
    goc_timer *t = goc_after_func(20 * MS, between_fn, NULL);
    goc_run(between_busy_main, &t0);
    int64_t f = atomic_load(&between_fired);
    T_CHECK(f != 0 && f - t0 < GOC_SECOND);
    goc_timer_free(t);
    goc_maxprocs(procs);
}

/* A select that completed through another case may still be taking its
   waiter off a timer's channel, and uncounting itself at the timer, when
   the peer that completed it frees the timer: free waits for it, as
   goc_chan_free does for such a select (it touched freed memory: ASan,
   TSan). */
static void select_timer_or(void *arg) {
    goc_chan **cs = arg;
    int64_t v;
    int x;
    goc_case c[] = {goc_case_recv(cs[0], &v, NULL), goc_case_recv(cs[1], &x, NULL)};
    T_CHECK_EQ(goc_select(c, 2), 1);
}

static int free_after_select_main(void *arg) {
    (void)arg;
    int procs = goc_maxprocs(4);
    for (int i = 0; i < 20000 / SCALE; i++) {
        goc_timer *t = goc_timer_new(GOC_HOUR);
        goc_chan *cs[2] = {goc_timer_chan(t), goc_chan_of(int, 0)};
        goc_go_copy(select_timer_or, cs, sizeof cs);
        goc_send(cs[1], 1); /* the select chose case 1 */
        goc_timer_free(t);
        goc_chan_free(cs[1]);
    }
    goc_maxprocs(procs);
    return 0;
}
static void test_free_after_select(void) { goc_run(free_after_select_main, NULL); }

/* A plain thread blocked with no goc_run sleeps until the earliest timer
   it saw: a reset from another thread to an earlier time wakes it to look
   again (it waited for the old time: an hour). */
static goc_timer *rwb_timer;
static _Atomic long rwb_tid;
static void *rwb_resetter(void *arg) {
    (void)arg;
    long tid;
    while ((tid = atomic_load(&rwb_tid)) == 0 || !t_thread_asleep(tid))
        sched_yield();
    goc_timer_reset(rwb_timer, 5 * MS);
    return NULL;
}

/* Blocking on timers with no goc_run at all: the waiting thread runs the
   due timers itself (nobody else would), a context's deadline included,
   whose cancellation it does itself once the timers have run. */
static void test_no_run_blocking(void) {
    int64_t t0 = goc_now(), v = 0;
    goc_timer *t = goc_timer_new(5 * MS);
    T_CHECK(goc_chan_recv(goc_timer_chan(t), &v));
    T_CHECK(v >= t0 + 5 * MS && goc_now() >= v);
    goc_timer_reset(t, 5 * MS);
    goc_case cs[] = {goc_case_recv(goc_timer_chan(t), &v, NULL), goc_case_timeout(10 * GOC_SECOND)};
    T_CHECK_EQ(goc_select(cs, 2), 0);
    goc_timer_free(t);
    goc_ticker *k = goc_ticker_new(2 * MS);
    int64_t prev = 0;
    for (int i = 0; i < 3; i++) {
        T_CHECK(goc_chan_recv(goc_ticker_chan(k), &v));
        T_CHECK(v > prev);
        prev = v;
    }
    goc_ticker_free(k);
    goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), 5 * MS);
    T_CHECK(!goc_chan_recv(goc_ctx_done(ctx), NULL));
    T_CHECK_EQ(goc_ctx_err(ctx), ETIMEDOUT);
    goc_ctx *child = goc_ctx_with_timeout(ctx, GOC_HOUR); /* born cancelled */
    T_CHECK_EQ(goc_ctx_err(child), ETIMEDOUT);
    goc_ctx_release(child);
    goc_ctx_release(ctx);
    ctx = goc_ctx_with_timeout(goc_ctx_background(), 5 * MS);
    goc_ctx *mid = goc_ctx_with_cancel(ctx);
    goc_ctx *grandchild = goc_ctx_with_timeout(mid, 10 * MS);
    T_CHECK_EQ(goc_sleep_ctx(grandchild, 10 * GOC_SECOND), ETIMEDOUT);
    goc_ctx_release(grandchild);
    goc_ctx_release(mid);
    goc_ctx_release(ctx);
    rwb_timer = goc_timer_new(GOC_HOUR);
    pthread_t th;
    pthread_create(&th, NULL, rwb_resetter, NULL);
    atomic_store(&rwb_tid, (long)syscall(SYS_gettid));
    goc_case rs[] = {goc_case_recv(goc_timer_chan(rwb_timer), &v, NULL),
                     goc_case_timeout(10 * GOC_SECOND)};
    T_CHECK_EQ(goc_select(rs, 2), 0);
    pthread_join(th, NULL);
    goc_timer_free(rwb_timer);
    T_CHECK(goc_now() - t0 < 5 * GOC_SECOND);
}

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

/* The timer heap under churn, on one P (one heap): AfterFuncs with random
   delays, added in rising, falling and random order, a third stopped and a
   third of those reset. Each that stays armed runs exactly once and never
   before its due time; the stopped ones never; no runtime timer is left.
   Then the case that a wrong "is it the new earliest?" answer breaks: a
   near timer added after a far one must still wake the sleeping M. */
#define CHURN_N (3000 / SCALE)
static struct churn_rec {
    int64_t due;     /* goc_now() + d just before it was armed: a lower bound */
    _Atomic int ran;
} churn[CHURN_N];
static goc_wg churn_wg;

static uint64_t churn_rand(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static _Atomic int churn_early;

static void churn_fire(void *arg) {
    struct churn_rec *r = arg;
    if (goc_now() < r->due)
        atomic_fetch_add(&churn_early, 1);
    atomic_fetch_add(&r->ran, 1);
    goc_wg_done(&churn_wg);
}

static int heap_churn_main(void *arg) {
    (void)arg;
    int procs = goc_maxprocs(1);
    goc_timer **ts = malloc((size_t)CHURN_N * sizeof *ts);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int order = 0; order < 3; order++) {
        atomic_store(&churn_early, 0);
        goc_wg_add(&churn_wg, CHURN_N);
        for (int i = 0; i < CHURN_N; i++) {
            int64_t d;
            if (order == 0)
                d = (int64_t)i * 5 * GOC_MICROSECOND; /* rising */
            else if (order == 1)
                d = (int64_t)(CHURN_N - i) * 5 * GOC_MICROSECOND; /* falling */
            else
                d = (int64_t)(churn_rand(&seed) % 15000) * GOC_MICROSECOND;
            atomic_store(&churn[i].ran, 0);
            churn[i].due = goc_now() + d;
            ts[i] = goc_after_func(d, churn_fire, &churn[i]);
        }
        int quiet = 0;
        for (int i = 0; i < CHURN_N; i += 3) {
            if (!goc_timer_stop(ts[i]))
                continue; /* it already ran (or runs): it stays counted */
            if (i % 2 == 0) {
                atomic_store(&churn[i].ran, -1); /* stopped for good */
                goc_wg_done(&churn_wg);
                quiet++;
                continue;
            }
            int64_t d = (int64_t)(churn_rand(&seed) % 10000) * GOC_MICROSECOND;
            churn[i].due = goc_now() + d;
            T_CHECK(!goc_timer_reset(ts[i], d));
        }
        goc_wg_wait(&churn_wg);
        int ran = 0;
        for (int i = 0; i < CHURN_N; i++) {
            int r = atomic_load(&churn[i].ran);
            T_CHECK(r == 1 || r == -1);
            ran += r == 1;
        }
        T_CHECK_EQ(ran, CHURN_N - quiet);
        T_CHECK_EQ(atomic_load(&churn_early), 0);
        for (int i = 0; i < CHURN_N; i++)
            goc_timer_free(ts[i]);
        T_CHECK_EQ(goc__timers_count(), 0);
    }
    free(ts);

    /* near after far: the near one is the new earliest */
    goc_timer *far = goc_after_func(GOC_HOUR, churn_fire, &churn[0]);
    int64_t t0 = goc_now();
    goc_sleep(5 * MS);
    T_CHECK(goc_now() - t0 < 30 * GOC_SECOND); /* not the hour */
    T_CHECK(goc_timer_stop(far));
    goc_timer_free(far);
    goc_maxprocs(procs);
    return 0;
}
static void test_heap_churn(void) { goc_run(heap_churn_main, NULL); }

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

/* Freeing a timer somebody still waits on: goc_chan_free's fatal error. */
static void recv_hour_timer(void *arg) {
    goc_chan_recv(goc_timer_chan(arg), NULL);
}
static int free_waited_main(void *arg) {
    (void)arg;
    goc_timer *t = goc_timer_new(GOC_HOUR);
    go(recv_hour_timer, t);
    t_wait_parked("chan receive", 1);
    goc_timer_free(t);
    return 0;
}
static void child_free_waited(void) { goc_run(free_waited_main, NULL); }

static void test_misuse(void) {
    T_CHILD_DIES("free_waited", NULL, 2, "fatal error: goc_timer_free: channel 0x");
    T_CHILD_DIES("free_waited", NULL, 2, "is still waited on by goroutine ");
    T_CHILD_DIES("bad_ticker", NULL, 2, "panic: non-positive interval for NewTicker");
    T_CHILD_DIES("bad_reset", NULL, 2, "panic: non-positive interval for Ticker.Reset");
    T_CHILD_DIES("stopped_deadlock", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
    T_CHILD_DIES("abandoned_sleeper", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
}

/* ---- timers made outside goc_run are the program's: a run runs them ---- */

static _Atomic int before_ran;
static void before_fn(void *arg) {
    (void)arg;
    atomic_fetch_add(&before_ran, 1);
}
static goc_timer *before_timer;
static goc_ctx *before_ctx;

static int before_run_main(void *arg) {
    (void)arg;
    /* Made before this run: the AfterFunc runs, the context times out. */
    T_CHECK_EQ(goc_chan_recv(goc_ctx_done(before_ctx), NULL), false);
    T_CHECK_EQ(goc_ctx_err(before_ctx), ETIMEDOUT);
    while (!atomic_load(&before_ran))
        goc_sleep(GOC_MILLISECOND);
    T_CHECK(!goc_timer_stop(before_timer)); /* it ran: nothing to stop */
    return 0;
}

static void hour_sleeper(void *arg) {
    (void)arg;
    goc_sleep(GOC_HOUR);
}
static int abandon_sleeper_main(void *arg) {
    (void)arg;
    go(hour_sleeper, NULL);
    t_wait_parked("sleep", 1); /* asleep, with its timer in a heap */
    return 0;
}
static int recv_forever_main(void *arg) {
    goc_chan_recv(arg, NULL);
    return 0;
}

static void test_made_before_run(void) {
    atomic_store(&before_ran, 0);
    before_timer = goc_after_func(5 * GOC_MILLISECOND, before_fn, NULL);
    before_ctx = goc_ctx_with_timeout(goc_ctx_background(), 10 * GOC_MILLISECOND);
    T_CHECK_EQ(goc_run(before_run_main, NULL), 0);
    goc_timer_free(before_timer);
    goc_ctx_release(before_ctx);
    /* ...and between two runs */
    atomic_store(&before_ran, 0);
    T_CHECK_EQ(goc_run(abandon_sleeper_main, NULL), 0);
    before_timer = goc_after_func(5 * GOC_MILLISECOND, before_fn, NULL);
    before_ctx = goc_ctx_with_timeout(goc_ctx_background(), 10 * GOC_MILLISECOND);
    T_CHECK_EQ(goc_run(before_run_main, NULL), 0);
    goc_timer_free(before_timer);
    goc_ctx_release(before_ctx);
}

/* A goroutine an earlier run abandoned in a long sleep does not keep a
   deadlock of the next run from being reported. */
static void child_abandoned_sleeper(void) {
    goc_run(abandon_sleeper_main, NULL);
    goc_chan *c = goc_chan_make(0, 0);
    goc_run(recv_forever_main, c);
}

/* ---- reset against a blocked receiver: never a value before its time ---- */

/* Two goroutines reset one timer to 1-300 us from now, over and over, while
   a third waits on its channel in a select. Every value received must be an
   instant already past: a reset once let the old heap entry stay behind (a
   receiver that blocked between reset's delete and its disarm put the timer
   back) and fire with the new, future when. */
static goc_timer *reset_t;
static _Atomic bool reset_stop;
static _Atomic int reset_early;
static goc_wg reset_hammers, reset_receivers;

static void reset_hammer(void *arg) {
    uint64_t s = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < 300000 / SCALE; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        goc_timer_reset(reset_t, (int64_t)((s >> 33) % 300 + 1) * GOC_MICROSECOND);
        if (i % 8 == 0)
            goc_yield();
    }
    goc_wg_done(&reset_hammers);
}

static void reset_receiver(void *arg) {
    (void)arg;
    while (!atomic_load(&reset_stop)) {
        int64_t v = 0;
        goc_case cs[] = {goc_case_recv(goc_timer_chan(reset_t), &v, NULL), goc_case_timeout(2 * MS)};
        if (goc_select(cs, 2) == 0 && v > goc_now())
            atomic_fetch_add(&reset_early, 1);
    }
}

static int reset_race_main(void *arg) {
    (void)arg;
    reset_t = goc_timer_new(MS);
    goc_wg_go(&reset_receivers, reset_receiver, NULL);
    goc_wg_add(&reset_hammers, 2);
    goc_go(reset_hammer, (void *)1);
    goc_go(reset_hammer, (void *)2);
    goc_wg_wait(&reset_hammers);
    atomic_store(&reset_stop, true);
    goc_wg_wait(&reset_receivers);
    T_CHECK_EQ(atomic_load(&reset_early), 0);
    goc_timer_free(reset_t);
    return 0;
}
static void test_reset_race(void) { goc_run(reset_race_main, NULL); }

/* ---- AfterFuncs of one run firing while the next goc_run starts ---- */

static goc_timer *carried[8];
static goc_wg carried_wg;

static void carried_fn(void *arg) {
    (void)arg;
    goc_wg_done(&carried_wg);
}

static int carry_start_main(void *arg) {
    (void)arg;
    goc_wg_add(&carried_wg, 8);
    for (int i = 0; i < 8; i++)
        carried[i] = goc_after_func((i + 1) * GOC_MILLISECOND / 2, carried_fn, NULL);
    return 0;
}

static int carry_wait_main(void *arg) {
    (void)arg;
    goc_wg_wait(&carried_wg);
    for (int i = 0; i < 8; i++)
        goc_timer_free(carried[i]);
    return 0;
}

/* The timers fire on scheduler threads between and during the runs, while
   goc_run restarts the goroutine ids (TSan: a data race on a P's id batch
   when goc_run reset it). */
static void test_after_func_across_runs(void) {
    for (int r = 0; r < 40 / (SCALE > 1 ? 4 : 1); r++) {
        T_CHECK_EQ(goc_run(carry_start_main, NULL), 0);
        usleep(1000 + 250 * (r % 8)); /* some fire between the runs */
        T_CHECK_EQ(goc_run(carry_wait_main, NULL), 0);
    }
}

/* A ticker's function never runs twice at once. Tickers whose receivers
   block keep their runtime timer in a heap, and with a period of a few
   microseconds it is due at every look; while goc_maxprocs retires and
   revives Ps, the timers of a retired P move to P 0 while its M may still be
   running one of them, and thieves run due timers of busy Ps. A second run
   of a ticker's function while the first still ran ended stop's wait early:
   a tick arrived after stop had returned, and free left the function
   reading freed memory (ASan, TSan). */
#define TICK_ROUNDS 20
#define TICK_GS 200
static _Atomic int ticks_after_stop;
static goc_wg tick_wg;

static void ticker_stopper(void *arg) {
    goc_duration d = (goc_duration)(1 + (uintptr_t)arg % 7) * GOC_MICROSECOND;
    goc_ticker *k = goc_ticker_new(d);
    goc_chan *c = goc_ticker_chan(k);
    for (int i = 0; i < 3; i++)
        goc_chan_recv(c, NULL);
    goc_ticker_stop(k);
    /* Stop has returned: no tick may come any more. */
    for (int i = 0; i < 3; i++) {
        goc_yield();
        if (goc_chan_try_recv(c, NULL, NULL))
            atomic_fetch_add(&ticks_after_stop, 1);
    }
    goc_ticker_free(k);
    goc_wg_done(&tick_wg);
}

static int ticker_procs_main(void *arg) {
    (void)arg;
    int procs = goc_maxprocs(0);
    for (int r = 0; r < TICK_ROUNDS / SCALE; r++) {
        goc_wg_add(&tick_wg, TICK_GS);
        for (uintptr_t i = 0; i < TICK_GS; i++)
            goc_go(ticker_stopper, (void *)i);
        goc_maxprocs(r % 2 ? 1 : 4);
        goc_wg_wait(&tick_wg);
    }
    goc_maxprocs(procs);
    T_CHECK_EQ(atomic_load(&ticks_after_stop), 0);
    return 0;
}
static void test_ticker_across_procs(void) { goc_run(ticker_procs_main, NULL); }

int main(int argc, char **argv) {
    static const t_case cases[] = {
        T_CASE(test_stop_before_fire), T_CASE(test_fire),        T_CASE(test_no_stale),
        T_CASE(test_stale_stress),     T_CASE(test_stop_race),   T_CASE(test_select),
        T_CASE(test_plain_thread),     T_CASE(test_many),        T_CASE(test_ticker_lazy),
        T_CASE(test_ticker_readers),   T_CASE(test_select_other), T_CASE(test_reset_blocked),
        T_CASE(test_stop_poll),        T_CASE(test_thread_select), T_CASE(test_no_run),
        T_CASE(test_no_run_blocking), T_CASE(test_free_after_select), T_CASE(test_timer_beats_chain),
        T_CASE(test_handoff_beside_timers), T_CASE(test_timer_made_between_runs),
        T_CASE(test_after_func),       T_CASE(test_after_many),  T_CASE(test_heap_churn), T_CASE(test_ticker),
        T_CASE(test_made_before_run),  T_CASE(test_misuse),
        T_CASE(test_reset_race),       T_CASE(test_after_func_across_runs),
        T_CASE(test_ticker_across_procs),
    };
    static const t_case children[] = {
        {"bad_ticker", child_bad_ticker},
        {"bad_reset", child_bad_reset},
        {"stopped_deadlock", child_stopped_deadlock},
        {"abandoned_sleeper", child_abandoned_sleeper},
        {"free_waited", child_free_waited},
    };
    return T_RUN(cases, children);
}
