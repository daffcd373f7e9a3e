/* Channels: ports of the semantics of Go's test/chan and
 * runtime/chan_test.go (those that do not depend on Go's GC or reflection),
 * plain-thread use, unbounded channels, wait reasons in dumps, and misuse
 * (run as children: message and exit status 2). */
#include "t.h"
#include <pthread.h>

#if defined(GOC_SANITIZER_BUILD) || defined(GOC_TEST_SLOW)
#define SCALE 10
#else
#define SCALE 1
#endif

/* The library's hidden hook for timers (linked statically). */
void goc__chan_drain(goc_chan *c);


/* ---- basic unbuffered and buffered behaviour ---- */

static void echo_fn(void *arg) {
    goc_chan **cs = arg;
    long v;
    while (goc_recv(cs[0], &v))
        goc_send(cs[1], v * 2);
    goc_chan_close(cs[1]);
}

static int basic_main(void *arg) {
    (void)arg;
    goc_chan *cs[2] = {goc_chan_of(long, 0), goc_chan_of(long, 0)};
    go(echo_fn, cs);
    for (long i = 0; i < 1000; i++) {
        goc_send(cs[0], i);
        long r = -1;
        T_CHECK(goc_recv(cs[1], &r));
        T_CHECK_EQ(r, 2 * i);
    }
    goc_chan_close(cs[0]);
    long r = 5;
    T_CHECK(!goc_recv(cs[1], &r));
    T_CHECK_EQ(r, 0);
    T_CHECK_EQ(goc_chan_cap(cs[0]), 0);
    T_CHECK_EQ(goc_chan_len(cs[0]), 0);
    goc_chan_free(cs[0]);
    goc_chan_free(cs[1]);

    goc_chan *b = goc_chan_of(int, 5);
    T_CHECK_EQ(goc_chan_cap(b), 5);
    for (int i = 0; i < 5; i++)
        goc_send(b, i);
    T_CHECK_EQ(goc_chan_len(b), 5);
    T_CHECK(!goc_chan_try_send(b, &(int){9}));
    for (int i = 0; i < 5; i++) {
        int v = -1;
        T_CHECK(goc_recv(b, &v));
        T_CHECK_EQ(v, i);
    }
    T_CHECK_EQ(goc_chan_len(b), 0);
    goc_chan_free(b);
    T_CHECK_EQ(goc_chan_len(NULL), 0);
    T_CHECK_EQ(goc_chan_cap(NULL), 0);
    goc_chan_free(NULL);
    return 0;
}

static void test_basic(void) {
    T_CHECK_EQ(goc_run(basic_main, NULL), 0);
}

/* ---- test/chan/sieve1.go: the first 100 primes ---- */

typedef struct filter_args {
    goc_chan *in, *out;
    int prime;
} filter_args;

static void generate(void *arg) {
    goc_chan *ch = arg;
    for (int i = 2;; i++)
        goc_send(ch, i);
}

static void filter(void *arg) {
    filter_args *a = arg;
    int i;
    for (;;) {
        goc_recv(a->in, &i);
        if (i % a->prime != 0)
            goc_send(a->out, i);
    }
}

/* The generator and filters are left blocked, so their channels stay
   reachable from here rather than leaked. */
static goc_chan *sieve_chans[101];

static int sieve_main(void *arg) {
    (void)arg;
    static const int want[] = {2,   3,   5,   7,   11,  13,  17,  19,  23,  29,  31,  37,  41,  43,
                               47,  53,  59,  61,  67,  71,  73,  79,  83,  89,  97,  101, 103, 107,
                               109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181,
                               191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263,
                               269, 271, 277, 281, 283, 293, 307, 311, 313, 317, 331, 337, 347, 349,
                               353, 359, 367, 373, 379, 383, 389, 397, 401, 409, 419, 421, 431, 433,
                               439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509, 521,
                               523, 541};
    goc_chan *ch = sieve_chans[0] = goc_chan_of(int, 0);
    go(generate, ch);
    for (int i = 0; i < 100; i++) {
        int prime;
        goc_recv(ch, &prime);
        T_CHECK_EQ(prime, want[i]);
        goc_chan *ch1 = sieve_chans[i + 1] = goc_chan_of(int, 0);
        filter_args a = {ch, ch1, prime};
        goc_go_copy(filter, &a, sizeof a);
        ch = ch1;
    }
    /* the generator and filters stay blocked; main's return abandons them */
    return 0;
}

static void test_sieve(void) {
    T_CHECK_EQ(goc_run(sieve_main, NULL), 0);
}

/* ---- test/chan/goroutines.go: a chain of 10,000 goroutines ---- */

static void chain_link(void *arg) {
    goc_chan **lr = arg;
    int v;
    goc_recv(lr[1], &v);
    goc_send(lr[0], v + 1);
}

static int chain_main(void *arg) {
    int n = (int)(intptr_t)arg;
    goc_chan **chans = malloc(sizeof(goc_chan *) * (size_t)(n + 1));
    chans[0] = goc_chan_of(int, 0);
    goc_chan *leftmost = chans[0];
    for (int i = 0; i < n; i++) {
        chans[i + 1] = goc_chan_of(int, 0);
        goc_go_copy(chain_link, &chans[i], 2 * sizeof(goc_chan *));
    }
    goc_send(chans[n], 1);
    int v = 0;
    goc_recv(leftmost, &v);
    T_CHECK_EQ(v, n + 1);
    for (int i = 0; i <= n; i++)
        goc_chan_free(chans[i]);
    free(chans);
    return 0;
}

static void test_chain(void) {
    T_CHECK_EQ(goc_run(chain_main, (void *)(intptr_t)(10000 / SCALE)), 0);
}

/* ---- test/chan/nonblock.go ---- */

static void nb_recv_one(void *arg) {
    goc_chan *c = arg;
    int v;
    goc_recv(c, &v);
    T_CHECK_EQ(v, 123);
}

static void nb_send_one(void *arg) {
    goc_chan *c = arg;
    goc_send(c, 123);
}

static int nonblock_main(void *arg) {
    (void)arg;
    for (int buffer = 0; buffer < 2; buffer++) {
        goc_chan *c = goc_chan_of(int, (size_t)buffer);
        int v = 7;
        bool ok = true;
        T_CHECK(!goc_chan_try_recv(c, &v, &ok));
        T_CHECK_EQ(v, 7);
        if (buffer == 0)
            T_CHECK(!goc_chan_try_send(c, &v));

        /* a receiver is waiting: the non-blocking send must succeed */
        go(nb_recv_one, c);
        t_wait_parked("chan receive", 1);
        T_CHECK(goc_chan_try_send(c, &(int){123}));

        /* a sender is waiting (or buffered): the non-blocking receive gets it */
        go(nb_send_one, c);
        if (buffer == 0)
            t_wait_parked("chan send", 1);
        else
            while (goc_chan_len(c) == 0)
                goc_yield();
        v = 0;
        T_CHECK(goc_chan_try_recv(c, &v, &ok));
        T_CHECK(ok);
        T_CHECK_EQ(v, 123);

        goc_chan_close(c);
        v = 5;
        T_CHECK(goc_chan_try_recv(c, &v, &ok));
        T_CHECK(!ok);
        T_CHECK_EQ(v, 0);
        T_CHECK(goc_chan_try_recv(c, NULL, NULL));
        goc_chan_free(c);
    }
    /* NULL channels are never ready */
    T_CHECK(!goc_chan_try_send(NULL, &(int){1}));
    T_CHECK(!goc_chan_try_recv(NULL, NULL, NULL));
    return 0;
}

static void test_nonblock(void) {
    T_CHECK_EQ(goc_run(nonblock_main, NULL), 0);
}

/* ---- close, range, drain order (test/closedchan.go) ---- */

static void range_producer(void *arg) {
    goc_chan *c = arg;
    for (int i = 1; i <= 100; i++)
        goc_send(c, i);
    goc_chan_close(c);
}

static void blocked_receiver(void *arg) {
    goc_chan **a = arg;
    int v = 9;
    bool ok = goc_recv(a[0], &v);
    int r = (ok ? 1000 : 0) + v;
    goc_send(a[1], r);
}

static int close_main(void *arg) {
    (void)arg;
    for (size_t cap = 0; cap < 3; cap += 2) {
        goc_chan *c = goc_chan_of(int, cap * 10);
        go(range_producer, c);
        int v, sum = 0, n = 0, last = 0;
        goc_chan_range(c, v) {
            T_CHECK_EQ(v, last + 1);
            last = v;
            sum += v;
            n++;
        }
        T_CHECK_EQ(n, 100);
        T_CHECK_EQ(sum, 5050);
        for (int i = 0; i < 3; i++) {
            v = 1;
            T_CHECK(!goc_recv(c, &v));
            T_CHECK_EQ(v, 0);
        }
        goc_chan_free(c);
    }
    /* The channel expression is evaluated once, as Go's range expression;
       break and continue act on the loop. */
    goc_chan *once = goc_chan_of(int, 8);
    for (int i = 1; i <= 5; i++)
        goc_send(once, i);
    goc_chan_close(once);
    int evals = 0, got = 0, v2;
    goc_chan_range((evals++, once), v2) {
        if (v2 == 2)
            continue;
        if (v2 == 4)
            break;
        got += v2;
    }
    T_CHECK_EQ(evals, 1);
    T_CHECK_EQ(got, 1 + 3);
    T_CHECK(goc_recv(once, &v2) && v2 == 5); /* break left 5 buffered */
    goc_chan_free(once);
    /* closing drains nothing: buffered values come first, then zero/false */
    goc_chan *b = goc_chan_of(int, 3);
    goc_send(b, 1);
    goc_send(b, 2);
    goc_chan_close(b);
    T_CHECK_EQ(goc_chan_len(b), 2);
    int v = 0;
    bool ok = false;
    T_CHECK(goc_chan_try_recv(b, &v, &ok) && ok && v == 1);
    T_CHECK(goc_recv(b, &v) && v == 2);
    T_CHECK(!goc_recv(b, &v) && v == 0);
    goc_chan_free(b);

    /* close wakes every blocked receiver with zero and false */
    goc_chan *c = goc_chan_of(int, 0), *res = goc_chan_of(int, 10);
    goc_chan *args[2] = {c, res};
    for (int i = 0; i < 10; i++)
        go(blocked_receiver, args);
    t_wait_parked("chan receive", 10);
    goc_chan_close(c);
    for (int i = 0; i < 10; i++) {
        int r = -1;
        goc_recv(res, &r);
        T_CHECK_EQ(r, 0);
    }
    goc_chan_free(c);
    goc_chan_free(res);
    return 0;
}

static void test_close_range(void) {
    T_CHECK_EQ(goc_run(close_main, NULL), 0);
}

/* ---- test/chan/fifo.go: per-sender FIFO order with many senders ---- */

#define FIFO_SENDERS 8
#define FIFO_N 2000

static void fifo_sender(void *arg) {
    struct { goc_chan *c; int id; } *a = arg;
    for (int i = 0; i < FIFO_N; i++) {
        int v = a->id * FIFO_N + i;
        goc_send(a->c, v);
    }
}

static int fifo_main(void *arg) {
    (void)arg;
    for (size_t cap = 0; cap <= 16; cap += 16) {
        goc_chan *c = goc_chan_of(int, cap);
        for (int s = 0; s < FIFO_SENDERS; s++) {
            struct { goc_chan *c; int id; } a = {c, s};
            goc_go_copy(fifo_sender, &a, sizeof a);
        }
        int next[FIFO_SENDERS] = {0};
        for (int i = 0; i < FIFO_SENDERS * FIFO_N; i++) {
            int v;
            goc_recv(c, &v);
            int s = v / FIFO_N;
            T_CHECK_EQ(v % FIFO_N, next[s]);
            next[s] = v % FIFO_N + 1;
        }
        goc_chan_free(c);
    }
    return 0;
}

static void test_fifo(void) {
    T_CHECK_EQ(goc_run(fifo_main, NULL), 0);
}

/* ---- runtime/chan_test.go TestMultiConsumer ---- */

#define MC_WORKERS 5
#define MC_N 10000

static goc_chan *mc_q, *mc_r;
static goc_wg mc_wg;

static void mc_worker(void *arg) {
    (void)arg;
    int v;
    goc_chan_range(mc_q, v) {
        goc_send(mc_r, v);
    }
    goc_wg_done(&mc_wg);
}

static void mc_closer(void *arg) {
    (void)arg;
    goc_wg_wait(&mc_wg);
    goc_chan_close(mc_r);
}

static int mc_main(void *arg) {
    (void)arg;
    mc_q = goc_chan_of(int, 13);
    mc_r = goc_chan_of(int, 9);
    goc_wg_add(&mc_wg, MC_WORKERS);
    for (int i = 0; i < MC_WORKERS; i++)
        go(mc_worker, NULL);
    go(mc_closer, NULL);
    long expect = 0;
    /* producer in main, consumer of results in a goroutine-free loop: send
       all, interleaving with receives so neither side blocks the other */
    int n = 0, v;
    long sum = 0;
    for (int i = 0; i < MC_N; i++) {
        int x = (i * 7919) % 10007;
        expect += x;
        while (!goc_chan_try_send(mc_q, &x)) {
            bool ok;
            if (goc_chan_try_recv(mc_r, &v, &ok) && ok) {
                sum += v;
                n++;
            } else {
                goc_yield();
            }
        }
    }
    goc_chan_close(mc_q);
    goc_chan_range(mc_r, v) {
        sum += v;
        n++;
    }
    T_CHECK_EQ(n, MC_N);
    T_CHECK_EQ(sum, expect);
    goc_chan_free(mc_q);
    goc_chan_free(mc_r);
    return 0;
}

static void test_multi_consumer(void) {
    T_CHECK_EQ(goc_run(mc_main, NULL), 0);
}

/* ---- zero-size elements: pure signals ---- */

static void signal_fn(void *arg) {
    goc_chan *c = arg;
    for (int i = 0; i < 100; i++)
        goc_chan_send(c, NULL);
    goc_chan_close(c);
}

static int zero_main(void *arg) {
    (void)arg;
    for (size_t cap = 0; cap <= 4; cap += 4) {
        goc_chan *c = goc_chan_make(0, cap);
        go(signal_fn, c);
        int n = 0;
        char dummy;
        while (goc_chan_recv(c, &dummy))
            n++;
        T_CHECK_EQ(n, 100);
        goc_chan_free(c);
    }
    goc_chan *b = goc_chan_make(0, 3);
    T_CHECK(goc_chan_try_send(b, NULL));
    T_CHECK(goc_chan_try_send(b, NULL));
    T_CHECK(goc_chan_try_send(b, NULL));
    T_CHECK(!goc_chan_try_send(b, NULL));
    T_CHECK_EQ(goc_chan_len(b), 3);
    goc_chan_free(b);
    goc_chan *u = goc_chan_make_unbounded(0);
    for (int i = 0; i < 1000; i++)
        goc_chan_send(u, NULL);
    T_CHECK_EQ(goc_chan_len(u), 1000);
    goc_chan_free(u);
    return 0;
}

static void test_zero_size(void) {
    T_CHECK_EQ(goc_run(zero_main, NULL), 0);
}

/* ---- big elements ---- */

typedef struct big { char bytes[1000]; int seq; } big;

static void big_sender(void *arg) {
    goc_chan *c = arg;
    for (int i = 0; i < 200; i++) {
        big b;
        memset(b.bytes, i & 0xff, sizeof b.bytes);
        b.seq = i;
        goc_send(c, b);
    }
}

static int big_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(big, 3);
    go(big_sender, c);
    for (int i = 0; i < 200; i++) {
        big b;
        goc_recv(c, &b);
        T_CHECK_EQ(b.seq, i);
        T_CHECK(b.bytes[0] == (char)(i & 0xff) && b.bytes[999] == (char)(i & 0xff));
    }
    goc_chan_free(c);
    return 0;
}

static void test_big_elements(void) {
    T_CHECK_EQ(goc_run(big_main, NULL), 0);
}

/* ---- unbounded channels ---- */

static int unbounded_main(void *arg) {
    (void)arg;
    goc_chan *u = goc_chan_make_unbounded(sizeof(int));
    T_CHECK(goc_chan_cap(u) == SIZE_MAX);
    int next = 0, expect = 0;
    /* interleave so the ring wraps before it grows */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < round * 7 + 3; i++)
            T_CHECK(goc_chan_try_send(u, &(int){next++}));
        for (int i = 0; i < round * 3 + 1; i++) {
            int v = -1;
            T_CHECK(goc_recv(u, &v));
            T_CHECK_EQ(v, expect++);
        }
    }
    T_CHECK_EQ(goc_chan_len(u), (size_t)(next - expect));
    goc_chan_close(u);
    int v;
    goc_chan_range(u, v) T_CHECK_EQ(v, expect++);
    T_CHECK_EQ(expect, next);
    goc_chan_free(u);

    /* a waiting receiver gets the value directly */
    u = goc_chan_make_unbounded(sizeof(int));
    goc_chan *res = goc_chan_of(int, 1);
    goc_chan *args[2] = {u, res};
    go(blocked_receiver, args);
    t_wait_parked("chan receive", 1);
    goc_send(u, 77);
    int r = 0;
    goc_recv(res, &r);
    T_CHECK_EQ(r, 1077);
    goc_chan_free(u);
    goc_chan_free(res);
    return 0;
}

static void test_unbounded(void) {
    T_CHECK_EQ(goc_run(unbounded_main, NULL), 0);
}

/* ---- goc__chan_drain: no stale value ---- */

static int drain_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 1);
    goc_send(c, 1);
    goc__chan_drain(c);
    T_CHECK_EQ(goc_chan_len(c), 0);
    T_CHECK(!goc_chan_try_recv(c, NULL, NULL));
    T_CHECK(goc_chan_try_send(c, &(int){2}));
    int v = 0;
    T_CHECK(goc_recv(c, &v) && v == 2);
    /* a waiting sender refills the drained buffer */
    goc_send(c, 3);
    go(nb_send_one, c);
    t_wait_parked("chan send", 1);
    goc__chan_drain(c);
    T_CHECK(goc_recv(c, &v) && v == 123);
    goc_chan_free(c);
    return 0;
}

static void test_drain(void) {
    T_CHECK_EQ(goc_run(drain_main, NULL), 0);
}

/* ---- plain threads: a pthread feeds goroutines and the reverse ---- */

#define PT_N 20000

static void *pt_producer(void *arg) {
    goc_chan *c = arg;
    for (int i = 0; i < PT_N; i++)
        goc_send(c, i);
    goc_chan_close(c);
    return NULL;
}

static void *pt_consumer(void *arg) {
    goc_chan **cs = arg;
    long sum = 0;
    int v;
    goc_chan_range(cs[0], v) sum += v;
    goc_send(cs[1], sum);
    return NULL;
}

static void g_producer(void *arg) {
    pt_producer(arg);
}

static int thread_main(void *arg) {
    (void)arg;
    /* A pthread that has not yet called into goc is invisible to the
       deadlock detector: until it runs, main's wait would look like a
       deadlock. A blocking section says "someone the runtime cannot see
       will wake me". */
    goc_blocking_begin();
    for (size_t cap = 0; cap <= 8; cap += 8) {
        /* pthread -> goroutine */
        goc_chan *c = goc_chan_of(int, cap);
        pthread_t t;
        pthread_create(&t, NULL, pt_producer, c);
        long sum = 0;
        int v;
        goc_chan_range(c, v) sum += v;
        T_CHECK_EQ(sum, (long)PT_N * (PT_N - 1) / 2);
        pthread_join(t, NULL);
        goc_chan_free(c);

        /* goroutine -> pthread, the result back on a channel */
        c = goc_chan_of(int, cap);
        goc_chan *res = goc_chan_of(long, 0);
        goc_chan *cs[2] = {c, res};
        pthread_create(&t, NULL, pt_consumer, cs);
        go(g_producer, c);
        long r = 0;
        goc_recv(res, &r);
        T_CHECK_EQ(r, (long)PT_N * (PT_N - 1) / 2);
        pthread_join(t, NULL);
        goc_chan_free(c);
        goc_chan_free(res);
    }
    goc_blocking_end();
    return 0;
}

static void test_plain_threads(void) {
    T_CHECK_EQ(goc_run(thread_main, NULL), 0);
}

/* Two plain threads talk through an unbuffered channel with no goroutine. */
static void test_threads_only(void) {
    goc_chan *c = goc_chan_of(int, 0), *res = goc_chan_of(long, 0);
    goc_chan *cs[2] = {c, res};
    pthread_t a, b;
    pthread_create(&a, NULL, pt_producer, c);
    pthread_create(&b, NULL, pt_consumer, cs);
    long r = 0;
    goc_recv(res, &r);
    T_CHECK_EQ(r, (long)PT_N * (PT_N - 1) / 2);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    goc_chan_free(c);
    goc_chan_free(res);
}

/* ---- wait reasons shown in dumps ---- */

static void nil_sender(void *arg) {
    (void)arg;
    goc_chan_send(NULL, &(int){1});
}
static void nil_receiver(void *arg) {
    (void)arg;
    goc_chan_recv(NULL, NULL);
}

static int reasons_main(void *arg) {
    (void)arg;
    go(nil_sender, NULL);
    go(nil_receiver, NULL);
    t_wait_parked("chan send (nil chan)", 1);
    t_wait_parked("chan receive (nil chan)", 1);
    goc_chan *c = goc_chan_of(int, 0);
    go(nb_send_one, c);
    t_wait_parked("chan send", 1);
    int v;
    goc_recv(c, &v);
    T_CHECK_EQ(v, 123);
    goc_chan_free(c);
    return 0; /* the nil-channel goroutines are abandoned */
}

static void test_wait_reasons(void) {
    T_CHECK_EQ(goc_run(reasons_main, NULL), 0);
}

/* ---- misuse: children that must die ---- */

static int send_closed_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 1);
    goc_chan_close(c);
    goc_send(c, 1);
    return 0;
}
static void child_send_closed(void) { goc_run(send_closed_main, NULL); }

static void closing_fn(void *arg) {
    goc_chan *c = arg;
    t_wait_parked("chan send", 1);
    goc_chan_close(c);
}
static int send_closed_wait_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0);
    go(closing_fn, c);
    goc_send(c, 1); /* blocks; the close makes it panic */
    return 0;
}
static void child_send_closed_wait(void) { goc_run(send_closed_wait_main, NULL); }

static int close_closed_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0);
    goc_chan_close(c);
    goc_chan_close(c);
    return 0;
}
static void child_close_closed(void) { goc_run(close_closed_main, NULL); }

static int close_nil_main(void *arg) {
    (void)arg;
    goc_chan_close(NULL);
    return 0;
}
static void child_close_nil(void) { goc_run(close_nil_main, NULL); }

static int free_waiters_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0);
    goc_chan *args[2] = {c, goc_chan_of(int, 1)};
    go(blocked_receiver, args);
    t_wait_parked("chan receive", 1);
    goc_chan_free(c);
    return 0;
}
static void child_free_waiters(void) { goc_run(free_waiters_main, NULL); }

static int size_mismatch_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(long, 1);
    int small = 1;
    goc_send(c, small);
    return 0;
}
static void child_size_mismatch(void) { goc_run(size_mismatch_main, NULL); }

static int recv_mismatch_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(long, 1);
    goc_send(c, 1L);
    short s;
    goc_recv(c, &s);
    return 0;
}
static void child_recv_mismatch(void) { goc_run(recv_mismatch_main, NULL); }

static int deadlock_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0);
    goc_chan_recv(c, NULL);
    return 0;
}
static void child_deadlock(void) { goc_run(deadlock_main, NULL); }

static int nil_deadlock_main(void *arg) {
    (void)arg;
    goc_chan_recv(NULL, NULL);
    return 0;
}
static void child_nil_deadlock(void) { goc_run(nil_deadlock_main, NULL); }

static void test_misuse(void) {
    T_CHILD_DIES("send_closed", NULL, 2, "panic: send on closed channel");
    T_CHILD_DIES("send_closed_wait", NULL, 2, "panic: send on closed channel");
    T_CHILD_DIES("close_closed", NULL, 2, "panic: close of closed channel");
    T_CHILD_DIES("close_nil", NULL, 2, "panic: close of nil channel");
    T_CHILD_DIES("free_waiters", NULL, 2, "(chan receive)");
    T_CHILD_DIES("free_waiters", NULL, 2, "fatal error: goc_chan_free: channel");
    T_CHILD_DIES("size_mismatch", NULL, 2,
                 "panic: goc_send: value of 4 bytes on a channel of 8-byte elements");
    T_CHILD_DIES("recv_mismatch", NULL, 2,
                 "panic: goc_recv: variable of 2 bytes on a channel of 8-byte elements");
    T_CHILD_DIES("deadlock", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
    T_CHILD_DIES("deadlock", NULL, 2, "[chan receive");
    T_CHILD_DIES("nil_deadlock", NULL, 2, "[chan receive (nil chan)");
}

/* ---- a receiver an earlier goc_run abandoned takes nothing ---- */

static goc_chan *stale_ch;
static void stale_receiver(void *arg) {
    (void)arg;
    int v;
    goc_recv(stale_ch, &v); /* abandoned here when run 1 returns */
}
static int stale_run1(void *arg) {
    (void)arg;
    stale_ch = goc_chan_of(int, 0);
    go(stale_receiver, NULL);
    t_wait_parked("chan receive", 1);
    return 0;
}
static int stale_run2(void *arg) {
    (void)arg;
    int v = 42;
    T_CHECK(!goc_chan_try_send(stale_ch, &v)); /* nobody alive receives */
    goc_case cs[] = {goc_case_send(stale_ch, &v)};
    T_CHECK_EQ(goc_try_select(cs, 1), -1);
    goc_chan_free(stale_ch); /* no live waiter: not a misuse */
    return 0;
}

static void test_abandoned_receiver(void) {
    T_CHECK_EQ(goc_run(stale_run1, NULL), 0);
    T_CHECK_EQ(goc_run(stale_run2, NULL), 0);
}

int main(int argc, char **argv) {
    static const t_case cases[] = {
        T_CASE(test_basic),        T_CASE(test_sieve),        T_CASE(test_chain),
        T_CASE(test_nonblock),     T_CASE(test_close_range),  T_CASE(test_fifo),
        T_CASE(test_multi_consumer), T_CASE(test_zero_size),  T_CASE(test_big_elements),
        T_CASE(test_unbounded),    T_CASE(test_drain),        T_CASE(test_plain_threads),
        T_CASE(test_threads_only), T_CASE(test_wait_reasons), T_CASE(test_abandoned_receiver),
        T_CASE(test_misuse),
    };
    static const t_case children[] = {
        {"send_closed", child_send_closed},     {"send_closed_wait", child_send_closed_wait},
        {"close_closed", child_close_closed},   {"close_nil", child_close_nil},
        {"free_waiters", child_free_waiters},   {"size_mismatch", child_size_mismatch},
        {"recv_mismatch", child_recv_mismatch}, {"deadlock", child_deadlock},
        {"nil_deadlock", child_nil_deadlock},
    };
    return T_RUN(cases, children);
}
