/* select: ports of Go's test/chan/doubleselect.go, select3.go and of
 * runtime/chan_test.go (TestSelfSelect, TestSelectFairness, TestSelectStress),
 * timeouts and deadlines, priority select, plain threads, many cases, and
 * misuse. The stress cases also run as children under GOC_DEBUG=shuffle. */
#include "t.h"
#include <math.h>
#include <pthread.h>

#if defined(GOC_SANITIZER_BUILD) || defined(GOC_TEST_SLOW)
#define SCALE 10
#else
#define SCALE 1
#endif


/* ---- basics: one of several, default, closed channels, nil channels ---- */

static void send_later(void *arg) {
    goc_chan *c = arg;
    goc_send(c, 42);
}

static int basic_main(void *arg) {
    (void)arg;
    goc_chan *a = goc_chan_of(int, 0), *b = goc_chan_of(int, 0);
    int va = 0, vb = 0;
    bool ok = false;
    goc_case cs[] = {goc_case_recv(a, &va, NULL), goc_case_recv(b, &vb, &ok),
                     goc_case_recv(NULL, NULL, NULL)};
    T_CHECK_EQ(goc_try_select(cs, 3), -1);
    go(send_later, b);
    T_CHECK_EQ(goc_select(cs, 3), 1);
    T_CHECK_EQ(vb, 42);
    T_CHECK(ok);

    /* select send: a receiver takes it */
    go(send_later, a);
    int got = 0;
    goc_case cs2[] = {goc_case_recv(a, &got, NULL), goc_case_send(NULL, &got)};
    T_CHECK_EQ(goc_select(cs2, 2), 0);
    T_CHECK_EQ(got, 42);

    /* a closed channel is always ready to receive: zero and !ok */
    goc_chan_close(a);
    va = 7;
    ok = true;
    goc_case cs3[] = {goc_case_recv(a, &va, &ok)};
    T_CHECK_EQ(goc_select(cs3, 1), 0);
    T_CHECK_EQ(va, 0);
    T_CHECK(!ok);
    T_CHECK_EQ(goc_try_select(cs3, 1), 0);

    /* buffered: send case ready while there is room */
    goc_chan *c = goc_chan_of(int, 1);
    int one = 1;
    goc_case cs4[] = {goc_case_send(c, &one)};
    T_CHECK_EQ(goc_try_select(cs4, 1), 0);
    T_CHECK_EQ(goc_try_select(cs4, 1), -1);
    T_CHECK_EQ(goc_chan_len(c), 1);

    /* zero-filled cases and nothing at all: default */
    goc_case none[2] = {0};
    T_CHECK_EQ(goc_try_select(none, 2), -1);
    T_CHECK_EQ(goc_try_select(NULL, 0), -1);
    goc_chan_free(a);
    goc_chan_free(b);
    goc_chan_free(c);
    return 0;
}

static void test_basic(void) {
    T_CHECK_EQ(goc_run(basic_main, NULL), 0);
}

/* ---- test/chan/doubleselect.go: no value is received twice ---- */

typedef struct mux_args {
    goc_chan *out, *in, *done;
} mux_args;

static void ds_sender(void *arg) {
    goc_chan **c = arg;
    int n = 10000 / SCALE;
    for (int i = 0; i < n; i++) {
        goc_case cs[] = {goc_case_send(c[0], &i), goc_case_send(c[1], &i),
                         goc_case_send(c[2], &i), goc_case_send(c[3], &i)};
        goc_select(cs, 4);
    }
    for (int k = 0; k < 4; k++)
        goc_chan_close(c[k]);
}

static void ds_mux(void *arg) {
    mux_args *a = arg;
    int v;
    goc_chan_range(a->in, v) goc_send(a->out, v);
    goc_chan_send(a->done, NULL);
}

static int doubleselect_main(void *arg) {
    (void)arg;
    int n = 10000 / SCALE;
    goc_chan *c[4];
    for (int k = 0; k < 4; k++)
        c[k] = goc_chan_of(int, 0);
    goc_chan *cmux = goc_chan_of(int, 0), *done = goc_chan_make(0, 0);
    go(ds_sender, c);
    mux_args ma[4];
    for (int k = 0; k < 4; k++) {
        ma[k] = (mux_args){cmux, c[k], done};
        go(ds_mux, &ma[k]);
    }
    char *seen = calloc((size_t)n, 1);
    int count = 0, dones = 0, v;
    while (dones < 4) {
        goc_case cs[] = {goc_case_recv(cmux, &v, NULL), goc_case_recv(done, NULL, NULL)};
        if (goc_select(cs, 2) == 1) {
            dones++;
            continue;
        }
        T_CHECK(v >= 0 && v < n);
        if (v >= 0 && v < n) {
            T_CHECK(!seen[v]);
            seen[v] = 1;
        }
        count++;
    }
    T_CHECK_EQ(count, n);
    free(seen);
    for (int k = 0; k < 4; k++)
        goc_chan_free(c[k]);
    goc_chan_free(cmux);
    goc_chan_free(done);
    return 0;
}

static void test_doubleselect(void) {
    T_CHECK_EQ(goc_run(doubleselect_main, NULL), 0);
}

/* ---- TestSelfSelect: a goroutine never rendezvouses with itself ---- */

static _Atomic int self_errors;
static goc_wg self_wg;

static void self_fn(void *arg) {
    struct { goc_chan *c; int p; size_t cap; } *a = arg;
    for (int i = 0; i < 1000; i++) {
        int v = -1;
        if (a->p == 0 || i % 2 == 0) {
            goc_case cs[] = {goc_case_send(a->c, &a->p), goc_case_recv(a->c, &v, NULL)};
            if (goc_select(cs, 2) == 1 && a->cap == 0 && v == a->p)
                atomic_fetch_add(&self_errors, 1);
        } else {
            goc_case cs[] = {goc_case_recv(a->c, &v, NULL), goc_case_send(a->c, &a->p)};
            if (goc_select(cs, 2) == 0 && a->cap == 0 && v == a->p)
                atomic_fetch_add(&self_errors, 1);
        }
    }
    goc_wg_done(&self_wg);
}

static int self_main(void *arg) {
    (void)arg;
    for (size_t cap = 0; cap <= 10; cap += 10) {
        goc_chan *c = goc_chan_of(int, cap);
        goc_wg_add(&self_wg, 2);
        for (int p = 0; p < 2; p++) {
            struct { goc_chan *c; int p; size_t cap; } a = {c, p, cap};
            goc_go_copy(self_fn, &a, sizeof a);
        }
        goc_wg_wait(&self_wg);
        goc_chan_free(c);
    }
    T_CHECK_EQ(atomic_load(&self_errors), 0);
    return 0;
}

static void test_self_select(void) {
    T_CHECK_EQ(goc_run(self_main, NULL), 0);
}

/* ---- TestSelectFairness, and priority select ---- */

static int fair_main(void *arg) {
    (void)arg;
    enum { K = 4, TRIALS = 40000 };
    goc_chan *c[K];
    for (int k = 0; k < K; k++) {
        c[k] = goc_chan_of(char, TRIALS + 1);
        for (int i = 0; i <= TRIALS; i++)
            goc_send(c[k], (char)k);
    }
    long cnt[K] = {0};
    for (int t = 0; t < TRIALS; t++) {
        char v;
        goc_case cs[K];
        for (int k = 0; k < K; k++)
            cs[k] = goc_case_recv(c[k], &v, NULL);
        int i = goc_select(cs, K);
        T_CHECK(i >= 0 && i < K && v == (char)i);
        cnt[i]++;
    }
    /* Each count is binomial(TRIALS, 1/K). As Go's test, allow a wide
       margin (here 6 sigma, about 1 in 10^8 per count by chance). */
    double mean = TRIALS / (double)K, sd = sqrt(TRIALS * (1.0 / K) * (1 - 1.0 / K));
    for (int k = 0; k < K; k++) {
        if (fabs((double)cnt[k] - mean) > 6 * sd)
            fprintf(stderr, "case %d chosen %ld times of %d (mean %.0f, sd %.1f)\n", k, cnt[k],
                    TRIALS, mean, sd);
        T_CHECK(fabs((double)cnt[k] - mean) <= 6 * sd);
    }
    /* Priority select: the first ready case in array order always wins. */
    for (int t = 0; t < 1000; t++) {
        char v;
        goc_case cs[] = {goc_case_recv(NULL, NULL, NULL), goc_case_recv(c[2], &v, NULL),
                         goc_case_recv(c[1], &v, NULL), goc_case_timeout(0)};
        T_CHECK_EQ(goc_select_ordered(cs, 4), 1);
    }
    for (int k = 0; k < K; k++)
        goc_chan_free(c[k]);
    return 0;
}

static void test_fairness(void) {
    T_CHECK_EQ(goc_run(fair_main, NULL), 0);
}

/* Cases on one channel, met by a peer that comes after the select parked:
   each is chosen about half the time, as in Go (the waiters used to be
   queued in array order, so the first case always won). Both senders and
   receivers; 6 sigma again. */
enum { DUP_TRIALS = 400 };
static goc_chan *dup_c;

static void dup_sender(void *arg) {
    (void)arg;
    for (int t = 0; t < DUP_TRIALS; t++) {
        int zero = 0, one = 1;
        goc_case cs[] = {goc_case_send(dup_c, &zero), goc_case_send(dup_c, &one)};
        goc_select(cs, 2);
    }
}

static void dup_receiver(void *arg) {
    long *cnt = arg;
    for (int t = 0; t < DUP_TRIALS; t++) {
        int v;
        goc_case cs[] = {goc_case_recv(dup_c, &v, NULL), goc_case_recv(dup_c, &v, NULL)};
        cnt[goc_select(cs, 2)]++;
    }
}

static int dup_fair_main(void *arg) {
    (void)arg;
    double mean = DUP_TRIALS / 2.0, sd = sqrt(DUP_TRIALS * 0.25);
    dup_c = goc_chan_of(int, 0);
    long got[2] = {0};
    go(dup_sender, NULL);
    for (int t = 0; t < DUP_TRIALS; t++) {
        t_wait_parked("select", 1); /* the select is queued before we come */
        int v = -1;
        goc_recv(dup_c, &v);
        T_CHECK(v == 0 || v == 1);
        got[v == 1]++;
    }
    long cnt[2] = {0};
    goc_wg wg = {0};
    goc_wg_go(&wg, dup_receiver, cnt);
    for (int t = 0; t < DUP_TRIALS; t++) {
        t_wait_parked("select", 1);
        goc_send(dup_c, t);
    }
    goc_wg_wait(&wg);
    for (int k = 0; k < 2; k++) {
        if (fabs((double)got[k] - mean) > 6 * sd || fabs((double)cnt[k] - mean) > 6 * sd)
            fprintf(stderr, "send case %d chosen %ld times, recv case %d %ld times, of %d\n", k,
                    got[k], k, cnt[k], DUP_TRIALS);
        T_CHECK(fabs((double)got[k] - mean) <= 6 * sd);
        T_CHECK(fabs((double)cnt[k] - mean) <= 6 * sd);
    }
    goc_chan_free(dup_c);
    return 0;
}

static void test_dup_case_fairness(void) {
    T_CHECK_EQ(goc_run(dup_fair_main, NULL), 0);
}

/* ---- timeouts and deadlines ---- */

static int timeout_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0);
    int v;
    /* the timeout fires; nothing is received */
    int64_t t0 = goc_now();
    goc_case cs[] = {goc_case_recv(c, &v, NULL), goc_case_timeout(20 * GOC_MILLISECOND)};
    T_CHECK_EQ(goc_select(cs, 2), 1);
    T_CHECK(goc_now() - t0 >= 20 * GOC_MILLISECOND);
    /* a ready channel beats a timeout that has not passed */
    go(send_later, c);
    goc_case cs2[] = {goc_case_recv(c, &v, NULL), goc_case_timeout(10 * GOC_SECOND)};
    t0 = goc_now();
    T_CHECK_EQ(goc_select(cs2, 2), 0);
    T_CHECK_EQ(v, 42);
    T_CHECK(goc_now() - t0 < 5 * GOC_SECOND);
    /* zero timeout and a past deadline are ready at once, even for try_select */
    goc_case cs3[] = {goc_case_recv(c, &v, NULL), goc_case_timeout(0)};
    T_CHECK_EQ(goc_try_select(cs3, 2), 1);
    goc_case cs4[] = {goc_case_deadline(goc_now() - 1), goc_case_recv(c, &v, NULL)};
    T_CHECK_EQ(goc_select(cs4, 2), 0);
    /* only timeouts: the earliest wins */
    t0 = goc_now();
    goc_case cs5[] = {goc_case_timeout(50 * GOC_MILLISECOND), goc_case_timeout(5 * GOC_MILLISECOND),
                      goc_case_recv(NULL, NULL, NULL)};
    T_CHECK_EQ(goc_select(cs5, 3), 1);
    int64_t dt = goc_now() - t0;
    T_CHECK(dt >= 5 * GOC_MILLISECOND && dt < 50 * GOC_MILLISECOND);
    /* nil channels plus a deadline */
    goc_case cs6[] = {goc_case_send(NULL, &v), goc_case_deadline(goc_now() + GOC_MILLISECOND)};
    T_CHECK_EQ(goc_select(cs6, 2), 1);
    /* many timed selects in a row: the timer is always removed */
    for (int i = 0; i < 1000; i++) {
        goc_chan *b = goc_chan_of(int, 1);
        goc_send(b, i);
        goc_case cs7[] = {goc_case_timeout(GOC_SECOND), goc_case_recv(b, &v, NULL)};
        T_CHECK_EQ(goc_select(cs7, 2), 1);
        goc_chan_free(b);
    }
    goc_chan_free(c);
    return 0;
}

/* ---- a select that finds nothing ready lets the P's queued goroutines run
   first (they are often the peers it just readied), then looks again: the
   outcome must be the same as parking ---- */

static void sy_sender(void *arg) {
    goc_send((goc_chan *)arg, 7);
}

static void sy_spin(void *arg) {
    int64_t until = goc_now() + *(int64_t *)arg;
    while (goc_now() < until) {
    }
}

static int sy_main(void *arg) {
    (void)arg;
    goc_maxprocs(1);
    goc_chan *c = goc_chan_of(int, 0);
    int v = 0;
    bool ok = false;
    /* The sender is queued, not yet run: it sends while the select yields. */
    goc_go(sy_sender, c);
    goc_case a[2] = {goc_case_recv(c, &v, &ok), goc_case_timeout(10 * GOC_SECOND)};
    T_CHECK_EQ(goc_select(a, 2), 0);
    T_CHECK(ok && v == 7);
    /* A timeout that comes due while a queued goroutine runs. */
    int64_t spin = 3 * GOC_MILLISECOND;
    goc_go(sy_spin, &spin);
    goc_case b[2] = {goc_case_recv(c, &v, &ok), goc_case_timeout(1 * GOC_MILLISECOND)};
    T_CHECK_EQ(goc_select(b, 2), 1);
    /* A timer's channel whose timer comes due meanwhile. */
    goc_timer *t = goc_timer_new(1 * GOC_MILLISECOND);
    int64_t when = 0;
    goc_go(sy_spin, &spin);
    goc_case d[2] = {goc_case_recv(c, &v, &ok), goc_case_recv(goc_timer_chan(t), &when, &ok)};
    T_CHECK_EQ(goc_select(d, 2), 1);
    T_CHECK(ok && when > 0);
    goc_timer_free(t);
    goc_chan_free(c);
    return 0;
}

static void test_select_yields_first(void) {
    for (int i = 0; i < 20; i++) {
        int old = goc_maxprocs(0);
        T_CHECK_EQ(goc_run(sy_main, NULL), 0);
        goc_maxprocs(old);
    }
}

static void test_timeouts(void) {
    T_CHECK_EQ(goc_run(timeout_main, NULL), 0);
}

/* ---- wait reasons ---- */

static void select_blocker(void *arg) {
    goc_chan *c = arg;
    int v;
    goc_case cs[] = {goc_case_recv(c, &v, NULL), goc_case_recv(NULL, NULL, NULL)};
    goc_select(cs, 2);
}

static void select_none(void *arg) {
    (void)arg;
    goc_select(NULL, 0);
}

static int reasons_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0);
    go(select_blocker, c);
    go(select_none, NULL);
    t_wait_parked("select", 1);
    t_wait_parked("select (no cases)", 1);
    goc_send(c, 1);
    goc_chan_free(c); /* the blocker is done with c once the send returned */
    return 0;
}

static void test_wait_reasons(void) {
    T_CHECK_EQ(goc_run(reasons_main, NULL), 0);
}

/* ---- close wakes a selecting receiver; free after select completed ---- */

static void closer(void *arg) {
    goc_chan *c = arg;
    t_wait_parked("select", 1);
    goc_chan_close(c);
}

static int close_main(void *arg) {
    (void)arg;
    goc_chan *a = goc_chan_of(int, 0), *b = goc_chan_of(int, 0);
    go(closer, b);
    int va = 3, vb = 3;
    bool ok = true;
    goc_case cs[] = {goc_case_recv(a, &va, NULL), goc_case_recv(b, &vb, &ok),
                     goc_case_recv(b, &vb, &ok)};
    int i = goc_select(cs, 3);
    T_CHECK(i == 1 || i == 2);
    T_CHECK(!ok);
    T_CHECK_EQ(vb, 0);
    T_CHECK_EQ(va, 3);
    goc_chan_free(a);
    goc_chan_free(b);
    return 0;
}

/* ---- the peer frees the channel as soon as its send (or close) returned:
   the woken select must touch it no more (ASan reports it if it does) ---- */

enum { FREE_AFTER_SEND, FREE_AFTER_CLOSE, FREE_BESIDE_TIMER };

typedef struct free_race {
    goc_chan *c, *d, *done;
    int mode;
} free_race;

static void free_race_selector(void *arg) {
    free_race *fr = arg;
    int v = 5;
    bool ok = false;
    goc_case cs[] = {goc_case_recv(fr->c, &v, &ok), goc_case_recv(fr->d, NULL, NULL)};
    int i = goc_select(cs, 2);
    /* c may already be freed here: only the result may be used */
    int r = fr->mode == FREE_AFTER_CLOSE ? (i == 0 && v == 0 && !ok) : (i == 0 && v == 7 && ok);
    goc_send(fr->done, r);
}

static int free_race_main(void *arg) {
    int mode = (int)(intptr_t)arg;
    int n = mode == FREE_AFTER_SEND ? 2000 : 300, good = 0;
    goc_chan *done = goc_chan_of(int, 1);
    goc_timer *t = mode == FREE_BESIDE_TIMER ? goc_timer_new(GOC_HOUR) : NULL;
    for (int k = 0; k < n; k++) {
        free_race fr = {goc_chan_of(int, 0), t ? goc_timer_chan(t) : goc_chan_of(int, 0), done,
                        mode};
        go(free_race_selector, &fr);
        /* A close may come only once the select is under way: parked, so
           that the close wakes it (a send waits for it by itself). */
        if (mode != FREE_AFTER_SEND)
            t_wait_parked("select", 1);
        if (mode == FREE_AFTER_CLOSE)
            goc_chan_close(fr.c);
        else
            goc_send(fr.c, 7);
        goc_chan_free(fr.c); /* allowed: our send or close has completed */
        int r = 0;
        goc_recv(done, &r);
        good += r;
        if (!t)
            goc_chan_free(fr.d);
    }
    if (t)
        goc_timer_free(t);
    goc_chan_free(done);
    T_CHECK_EQ(good, n);
    return 0;
}

static void test_free_after_send(void) {
    T_CHECK_EQ(goc_run(free_race_main, (void *)(intptr_t)FREE_AFTER_SEND), 0);
    T_CHECK_EQ(goc_run(free_race_main, (void *)(intptr_t)FREE_AFTER_CLOSE), 0);
    T_CHECK_EQ(goc_run(free_race_main, (void *)(intptr_t)FREE_BESIDE_TIMER), 0);
}

static void test_close_wakes_select(void) {
    T_CHECK_EQ(goc_run(close_main, NULL), 0);
}

/* ---- many cases (beyond the on-stack arrays) ---- */

static int many_main(void *arg) {
    (void)arg;
    enum { N = 300 };
    goc_chan *c[N];
    int vals[N];
    goc_case cs[N];
    for (int i = 0; i < N; i++) {
        c[i] = goc_chan_of(int, 1);
        cs[i] = goc_case_recv(c[i], &vals[i], NULL);
    }
    T_CHECK_EQ(goc_try_select(cs, N), -1);
    for (int round = 0; round < 50; round++) {
        int k = (round * 97) % N;
        goc_send(c[k], round);
        T_CHECK_EQ(goc_select(cs, N), k);
        T_CHECK_EQ(vals[k], round);
    }
    /* a blocking select over all of them, woken by a sender */
    go(send_later, c[N - 1]);
    T_CHECK_EQ(goc_select(cs, N), N - 1);
    T_CHECK_EQ(vals[N - 1], 42);
    for (int i = 0; i < N; i++)
        goc_chan_free(c[i]);
    return 0;
}

static void test_many_cases(void) {
    T_CHECK_EQ(goc_run(many_main, NULL), 0);
}

/* ---- plain threads select too ---- */

static void *thread_selector(void *arg) {
    goc_chan **c = arg;
    long sum = 0;
    int open = 2, v;
    goc_chan *ch[2] = {c[0], c[1]};
    while (open > 0) {
        bool ok;
        goc_case cs[] = {goc_case_recv(ch[0], &v, &ok), goc_case_recv(ch[1], &v, &ok),
                         goc_case_timeout(10 * GOC_SECOND)};
        int i = goc_select(cs, 3);
        if (i == 2)
            break;
        if (!ok) {
            ch[i] = NULL;
            open--;
            continue;
        }
        sum += v;
    }
    /* a timeout on a plain thread */
    goc_case cs[] = {goc_case_recv(NULL, NULL, NULL), goc_case_timeout(GOC_MILLISECOND)};
    if (goc_select(cs, 2) != 1)
        sum = -1;
    goc_send(c[2], sum);
    return NULL;
}

static void thread_feeder(void *arg) {
    goc_chan *c = arg;
    for (int i = 1; i <= 1000; i++)
        goc_send(c, i);
    goc_chan_close(c);
}

static int thread_main(void *arg) {
    (void)arg;
    goc_chan *c[3] = {goc_chan_of(int, 0), goc_chan_of(int, 4), goc_chan_of(long, 0)};
    pthread_t t;
    pthread_create(&t, NULL, thread_selector, c);
    go(thread_feeder, c[0]);
    go(thread_feeder, c[1]);
    long sum = 0;
    goc_blocking_begin(); /* the new thread is invisible to the deadlock detector until it runs */
    goc_recv(c[2], &sum);
    pthread_join(t, NULL);
    goc_blocking_end();
    T_CHECK_EQ(sum, 2 * 500500);
    for (int i = 0; i < 3; i++)
        goc_chan_free(c[i]);
    return 0;
}

static void test_plain_thread_select(void) {
    T_CHECK_EQ(goc_run(thread_main, NULL), 0);
}

/* ---- TestSelectStress, plus many selecting goroutines with exact totals ---- */

static goc_chan *st_c[4];
static int st_n;
static _Atomic long st_sum;
static _Atomic long st_count;
static goc_wg st_wg;

static void st_sender(void *arg) {
    goc_chan *c = arg;
    for (int i = 0; i < st_n; i++)
        goc_send(c, i);
    goc_wg_done(&st_wg);
}

static void st_receiver(void *arg) {
    goc_chan *c = arg;
    long sum = 0;
    for (int i = 0; i < st_n; i++) {
        int v;
        goc_recv(c, &v);
        sum += v;
    }
    atomic_fetch_add(&st_sum, sum);
    atomic_fetch_add(&st_count, st_n);
    goc_wg_done(&st_wg);
}

static void st_select_sender(void *arg) {
    (void)arg;
    int n[4] = {0};
    goc_case cs[4];
    for (int k = 0; k < 4; k++)
        cs[k] = goc_case_send(st_c[k], &n[k]);
    for (int i = 0; i < 4 * st_n; i++) {
        int k = goc_select(cs, 4);
        if (++n[k] == st_n)
            cs[k] = goc_case_send(NULL, NULL);
    }
    goc_wg_done(&st_wg);
}

static void st_select_receiver(void *arg) {
    (void)arg;
    int n[4] = {0}, v;
    long sum = 0;
    goc_case cs[4];
    for (int k = 0; k < 4; k++)
        cs[k] = goc_case_recv(st_c[k], &v, NULL);
    for (int i = 0; i < 4 * st_n; i++) {
        int k = goc_select(cs, 4);
        sum += v;
        if (++n[k] == st_n)
            cs[k] = goc_case_recv(NULL, NULL, NULL);
    }
    atomic_fetch_add(&st_sum, sum);
    atomic_fetch_add(&st_count, 4L * st_n);
    goc_wg_done(&st_wg);
}

/* Part two: many producers select over shared channels, consumers select
   with a quit channel and a (normally idle) timeout, then drain. */
#define ST_PRODUCERS 32
#define ST_CONSUMERS 8
static goc_chan *st_quit;
static goc_wg st_pwg, st_cwg;

static void st_producer(void *arg) {
    int id = (int)(intptr_t)arg;
    int m = st_n / 10;
    for (int i = 0; i < m; i++) {
        int v = id * m + i;
        goc_case cs[] = {goc_case_send(st_c[0], &v), goc_case_send(st_c[1], &v),
                         goc_case_send(st_c[2], &v), goc_case_send(st_c[3], &v)};
        if (i % 7 == 0)
            goc_select_ordered(cs, 4);
        else
            goc_select(cs, 4);
    }
    goc_wg_done(&st_pwg);
}

static void st_consumer(void *arg) {
    (void)arg;
    long sum = 0, count = 0;
    int v;
    for (;;) {
        goc_case cs[] = {goc_case_recv(st_c[0], &v, NULL), goc_case_recv(st_c[1], &v, NULL),
                         goc_case_recv(st_c[2], &v, NULL), goc_case_recv(st_c[3], &v, NULL),
                         goc_case_recv(st_quit, NULL, NULL), goc_case_timeout(GOC_SECOND)};
        int k = goc_select(cs, 6);
        if (k == 5)
            continue;
        if (k == 4) {
            /* every producer is done: take what is still buffered */
            while (goc_try_select(cs, 4) >= 0) {
                sum += v;
                count++;
            }
            break;
        }
        sum += v;
        count++;
    }
    atomic_fetch_add(&st_sum, sum);
    atomic_fetch_add(&st_count, count);
    goc_wg_done(&st_cwg);
}

static void st_quitter(void *arg) {
    (void)arg;
    goc_wg_wait(&st_pwg);
    goc_chan_close(st_quit);
}

static int stress_main(void *arg) {
    st_n = (int)(intptr_t)arg;
    st_c[0] = goc_chan_of(int, 0);
    st_c[1] = goc_chan_of(int, 0);
    st_c[2] = goc_chan_of(int, 2);
    st_c[3] = goc_chan_of(int, 3);
    atomic_store(&st_sum, 0);
    atomic_store(&st_count, 0);
    goc_wg_add(&st_wg, 10);
    for (int k = 0; k < 4; k++) {
        go(st_sender, st_c[k]);
        go(st_receiver, st_c[k]);
    }
    go(st_select_sender, NULL);
    go(st_select_receiver, NULL);
    goc_wg_wait(&st_wg);
    long n = st_n;
    T_CHECK_EQ(atomic_load(&st_count), 8 * n);
    T_CHECK_EQ(atomic_load(&st_sum), 8 * (n * (n - 1) / 2));

    atomic_store(&st_sum, 0);
    atomic_store(&st_count, 0);
    st_quit = goc_chan_make(0, 0);
    goc_wg_add(&st_pwg, ST_PRODUCERS);
    goc_wg_add(&st_cwg, ST_CONSUMERS);
    for (int i = 0; i < ST_PRODUCERS; i++)
        go(st_producer, (void *)(intptr_t)i);
    for (int i = 0; i < ST_CONSUMERS; i++)
        go(st_consumer, NULL);
    go(st_quitter, NULL);
    goc_wg_wait(&st_cwg);
    long total = (long)ST_PRODUCERS * (st_n / 10);
    T_CHECK_EQ(atomic_load(&st_count), total);
    T_CHECK_EQ(atomic_load(&st_sum), total * (total - 1) / 2);
    for (int k = 0; k < 4; k++)
        goc_chan_free(st_c[k]);
    goc_chan_free(st_quit);
    return 0;
}

static void test_stress(void) {
    int64_t t0 = goc_now();
    T_CHECK_EQ(goc_run(stress_main, (void *)(intptr_t)(100000 / SCALE)), 0);
    T_CHECK(goc_now() - t0 < 60 * GOC_SECOND);
}

/* The same, smaller, under three scheduler shuffles and one thread. */
static void child_stress(void) {
    goc_run(stress_main, (void *)(intptr_t)(20000 / SCALE));
    exit(atomic_load(&t_failures) ? 1 : 0);
}

static void test_stress_shuffled(void) {
    T_CHILD_DIES("stress", "GOC_DEBUG=shuffle=1", 0, "");
    T_CHILD_DIES("stress", "GOC_DEBUG=shuffle=2", 0, "");
    T_CHILD_DIES("stress", "GOC_DEBUG=shuffle=3 GOC_MAXPROCS=1", 0, "");
    T_CHILD_DIES("stress", "GOC_MAXPROCS=3", 0, "");
}

/* ---- misuse ---- */

static int send_closed_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0);
    goc_chan_close(c);
    int v = 1;
    goc_case cs[] = {goc_case_recv(NULL, NULL, NULL), goc_case_send(c, &v)};
    goc_select(cs, 2);
    return 0;
}
static void child_send_closed(void) { goc_run(send_closed_main, NULL); }

static int send_closed_wait_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0), *d = goc_chan_of(int, 0);
    go(closer, c);
    int v = 1;
    goc_case cs[] = {goc_case_recv(d, NULL, NULL), goc_case_send(c, &v)};
    goc_select(cs, 2);
    return 0;
}
static void child_send_closed_wait(void) { goc_run(send_closed_wait_main, NULL); }

static int no_cases_main(void *arg) {
    (void)arg;
    goc_select(NULL, 0);
    return 0;
}
static void child_no_cases(void) { goc_run(no_cases_main, NULL); }

static int nil_cases_main(void *arg) {
    (void)arg;
    goc_case cs[] = {goc_case_recv(NULL, NULL, NULL)};
    goc_select(cs, 1);
    return 0;
}
static void child_nil_cases(void) { goc_run(nil_cases_main, NULL); }

static void test_misuse(void) {
    T_CHILD_DIES("send_closed", NULL, 2, "panic: send on closed channel");
    T_CHILD_DIES("send_closed_wait", NULL, 2, "panic: send on closed channel");
    T_CHILD_DIES("no_cases", NULL, 2, "[select (no cases)");
    T_CHILD_DIES("no_cases", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
    T_CHILD_DIES("nil_cases", NULL, 2, "[select]");
}

int main(int argc, char **argv) {
    static const t_case cases[] = {
        T_CASE(test_basic),          T_CASE(test_doubleselect),
        T_CASE(test_self_select),    T_CASE(test_fairness), T_CASE(test_dup_case_fairness),
        T_CASE(test_timeouts),       T_CASE(test_wait_reasons), T_CASE(test_select_yields_first),
        T_CASE(test_close_wakes_select), T_CASE(test_free_after_send), T_CASE(test_many_cases),
        T_CASE(test_plain_thread_select), T_CASE(test_stress),
        T_CASE(test_stress_shuffled), T_CASE(test_misuse),
    };
    static const t_case children[] = {
        {"stress", child_stress},
        {"send_closed", child_send_closed},
        {"send_closed_wait", child_send_closed_wait},
        {"no_cases", child_no_cases},
        {"nil_cases", child_nil_cases},
    };
    return T_RUN(cases, children);
}
