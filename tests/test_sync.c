/* sync: ports of the semantics of Go's sync tests (mutex_test.go,
 * rwmutex_test.go, cond_test.go, once_test.go, map_test.go, pool_test.go),
 * plain-thread use, misuse as children (message and exit status 2), the
 * GOC_DEBUG=sync=1 checks, and stress under GOC_DEBUG=shuffle. */
#include "t.h"
#include <pthread.h>

#if defined(GOC_SANITIZER_BUILD) || defined(GOC_TEST_SLOW)
#define SCALE 10
#else
#define SCALE 1
#endif

static int run_with_procs(int procs, int (*fn)(void *), void *arg) {
    int old = goc_maxprocs(procs);
    int rc = goc_run(fn, arg);
    goc_maxprocs(old);
    return rc;
}

/* ======================================================================== */
/* Mutex                                                                    */

struct hammer {
    goc_mutex *m;
    long *counter;
    int loops;
    goc_wg *wg;
};

static void hammer_mutex(void *arg) {
    struct hammer *h = arg;
    for (int i = 0; i < h->loops; i++) {
        if (i % 3 == 0) {
            if (goc_mutex_trylock(h->m)) {
                (*h->counter)++;
                goc_mutex_unlock(h->m);
            } else {
                goc_mutex_lock(h->m);
                (*h->counter)++;
                goc_mutex_unlock(h->m);
            }
            continue;
        }
        goc_mutex_lock(h->m);
        (*h->counter)++;
        goc_mutex_unlock(h->m);
    }
    goc_wg_done(h->wg);
}

static int mutex_main(void *arg) {
    (void)arg;
    goc_mutex m = {0};
    /* TestMutex: TryLock on a locked mutex fails, on an unlocked one wins. */
    goc_mutex_lock(&m);
    T_CHECK(!goc_mutex_trylock(&m));
    goc_mutex_unlock(&m);
    T_CHECK(goc_mutex_trylock(&m));
    goc_mutex_unlock(&m);

    long counter = 0;
    goc_wg wg = {0};
    int n = 10, loops = 100000 / SCALE;
    struct hammer h = {&m, &counter, loops, &wg};
    for (int i = 0; i < n; i++) {
        goc_wg_add(&wg, 1);
        go(hammer_mutex, &h);
    }
    goc_wg_wait(&wg);
    T_CHECK_EQ(counter, (long)n * loops);
    T_CHECK_EQ(atomic_load(&m._state), 0);
    return 0;
}

static void test_mutex(void) {
    T_CHECK_EQ(run_with_procs(1, mutex_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(4, mutex_main, NULL), 0);
    T_CHECK_EQ(goc_run(mutex_main, NULL), 0);
}

/* TestMutexFairness: a goroutine that holds the mutex almost all the time
   must not starve another one (starvation mode hands it over). */
struct fair {
    goc_mutex mu;
    _Atomic bool stop;
    goc_wg wg;
};

static void fair_hog(void *arg) {
    struct fair *f = arg;
    while (!atomic_load(&f->stop)) {
        goc_mutex_lock(&f->mu);
        goc_sleep(100 * GOC_MICROSECOND);
        goc_mutex_unlock(&f->mu);
    }
    goc_wg_done(&f->wg);
}

static int fairness_main(void *arg) {
    (void)arg;
    struct fair f = {0};
    goc_wg_add(&f.wg, 1);
    go(fair_hog, &f);
    int64_t t0 = goc_now();
    for (int i = 0; i < 10; i++) {
        goc_sleep(100 * GOC_MICROSECOND);
        goc_mutex_lock(&f.mu);
        goc_mutex_unlock(&f.mu);
    }
    int64_t took = goc_now() - t0;
    atomic_store(&f.stop, true);
    goc_wg_wait(&f.wg);
    if (took > 10 * GOC_SECOND)
        fprintf(stderr, "can't acquire Mutex in 10 seconds (%lld ms)\n", (long long)(took / 1000000));
    T_CHECK(took <= 10 * GOC_SECOND);
    return 0;
}

static void test_mutex_fairness(void) {
    T_CHECK_EQ(goc_run(fairness_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(1, fairness_main, NULL), 0);
}

/* POSIX's rule for freeing a mutex: the holder of the last reference to an
   object frees it right after unlocking its mutex, while the goroutines
   that unlocked it before may still be returning from their unlock (which
   must not touch the mutex once it has let the next owner in). Half the
   users yield inside the critical section so that others queue and unlocks
   have waiters to wake; the others run straight through, and one of the
   RWMutex users drops its reference under the read lock (only one: a
   reader may not free it while another reader holds it). More Ms than
   cores let the OS preempt one mid-unlock, and GOC_DEBUG=shuffle (the
   stress child) yields inside unlock. Under ASan a late touch is a
   heap-use-after-free. */
struct refobj {
    goc_mutex mu;
    goc_rwmutex rw;
    _Atomic int refs;
    long data;
};

struct refuse {
    struct refobj *o;
    goc_wg *wg;
    bool rw;
    int i;
};

static void refobj_user(void *arg) {
    struct refuse *u = arg;
    struct refobj *o = u->o;
    bool last;
    if (u->rw && u->i == 0) { /* the one reader: none other holds rw when it frees */
        goc_rwmutex_rlock(&o->rw);
        long seen = o->data;
        goc_yield();
        T_CHECK(o->data == seen); /* no writer while we read */
        last = atomic_fetch_sub(&o->refs, 1) == 1;
        goc_rwmutex_runlock(&o->rw);
    } else if (u->rw) {
        goc_rwmutex_lock(&o->rw);
        o->data++;
        if (u->i % 2)
            goc_yield();
        last = atomic_fetch_sub(&o->refs, 1) == 1;
        goc_rwmutex_unlock(&o->rw);
    } else {
        goc_mutex_lock(&o->mu);
        o->data++;
        if (u->i % 2)
            goc_yield();
        last = atomic_fetch_sub(&o->refs, 1) == 1;
        goc_mutex_unlock(&o->mu);
    }
    if (last)
        free(o);
    goc_wg_done(u->wg);
}

#define REFOBJ_USERS 8

static int free_after_unlock_main(void *arg) {
    (void)arg;
    goc_wg wg = {0};
    for (int round = 0; round < 4000 / SCALE; round++) {
        struct refobj *o = calloc(1, sizeof *o);
        T_CHECK(o != NULL);
        atomic_store(&o->refs, REFOBJ_USERS);
        goc_wg_add(&wg, REFOBJ_USERS);
        for (int i = 0; i < REFOBJ_USERS; i++) {
            struct refuse u = {o, &wg, round % 2 == 1, i};
            goc_go_copy(refobj_user, &u, sizeof u);
        }
        if (round % 64 == 63)
            goc_wg_wait(&wg); /* bounded: at most 64 objects alive */
    }
    goc_wg_wait(&wg);
    return 0;
}

static void test_mutex_free_after_unlock(void) {
    T_CHECK_EQ(run_with_procs(4, free_after_unlock_main, NULL), 0);
}

/* Plain threads and goroutines on one mutex: threads block, goroutines park. */
static goc_mutex pt_mu;
static long pt_counter;
#define PT_LOOPS (20000 / SCALE)

static void *pt_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < PT_LOOPS; i++) {
        goc_mutex_lock(&pt_mu);
        pt_counter++;
        goc_mutex_unlock(&pt_mu);
    }
    return NULL;
}

static void pt_goroutine(void *arg) {
    pt_thread(NULL);
    goc_wg_done(arg);
}

static int plain_main(void *arg) {
    (void)arg;
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, pt_thread, NULL);
    goc_wg wg = {0};
    for (int i = 0; i < 4; i++) {
        goc_wg_add(&wg, 1);
        go(pt_goroutine, &wg);
    }
    goc_wg_wait(&wg);
    goc_blocking_begin();
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    goc_blocking_end();
    T_CHECK_EQ(pt_counter, 6L * PT_LOOPS);
    return 0;
}

static void test_mutex_plain_threads(void) {
    T_CHECK_EQ(goc_run(plain_main, NULL), 0);
}

/* ======================================================================== */
/* RWMutex                                                                  */

struct preader {
    goc_rwmutex *m;
    goc_wg *locked, *gate, *done;
};

static void parallel_reader(void *arg) {
    struct preader *p = arg;
    goc_rwmutex_rlock(p->m);
    goc_wg_done(p->locked);
    goc_wg_wait(p->gate); /* all readers hold the read lock at once here */
    goc_rwmutex_runlock(p->m);
    goc_wg_done(p->done);
}

static int parallel_readers_main(void *arg) {
    int n = (int)(intptr_t)arg;
    goc_rwmutex m = {0};
    goc_wg locked = {0}, gate = {0}, done = {0};
    struct preader p = {&m, &locked, &gate, &done};
    goc_wg_add(&locked, n);
    goc_wg_add(&gate, 1);
    goc_wg_add(&done, n);
    for (int i = 0; i < n; i++)
        go(parallel_reader, &p);
    goc_wg_wait(&locked);
    T_CHECK(!goc_rwmutex_trylock(&m));
    T_CHECK(goc_rwmutex_tryrlock(&m));
    goc_rwmutex_runlock(&m);
    goc_wg_done(&gate);
    goc_wg_wait(&done);
    T_CHECK(goc_rwmutex_trylock(&m));
    goc_rwmutex_unlock(&m);
    return 0;
}

static void test_rwmutex_parallel_readers(void) {
    int cfg[][2] = {{1, 4}, {3, 4}, {4, 2}, {1, 1}, {16, 2}};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        T_CHECK_EQ(run_with_procs(cfg[i][1], parallel_readers_main, (void *)(intptr_t)cfg[i][0]), 0);
}

/* HammerRWMutex: activity counts readers (+1) and writers (+10000); a reader
   must see 1..9999, a writer exactly 10000. */
struct rwh {
    goc_rwmutex rw;
    _Atomic int32_t activity;
    _Atomic int bad;
    int iters;
    goc_wg done;
};

static void rw_reader(void *arg) {
    struct rwh *h = arg;
    for (int i = 0; i < h->iters; i++) {
        goc_rwmutex_rlock(&h->rw);
        int32_t n = atomic_fetch_add(&h->activity, 1) + 1;
        if (n < 1 || n >= 10000)
            atomic_fetch_add(&h->bad, 1);
        for (volatile int k = 0; k < 100; k++) {
        }
        if (i % 16 == 0)
            goc_yield();
        atomic_fetch_sub(&h->activity, 1);
        goc_rwmutex_runlock(&h->rw);
    }
    goc_wg_done(&h->done);
}

static void rw_writer(void *arg) {
    struct rwh *h = arg;
    for (int i = 0; i < h->iters; i++) {
        goc_rwmutex_lock(&h->rw);
        int32_t n = atomic_fetch_add(&h->activity, 10000) + 10000;
        if (n != 10000)
            atomic_fetch_add(&h->bad, 1);
        for (volatile int k = 0; k < 100; k++) {
        }
        atomic_fetch_sub(&h->activity, 10000);
        goc_rwmutex_unlock(&h->rw);
    }
    goc_wg_done(&h->done);
}

static int hammer_rw_main(void *arg) {
    int readers = (int)(intptr_t)arg;
    struct rwh h = {.iters = 1000 / SCALE};
    goc_wg_add(&h.done, 2 + readers);
    go(rw_writer, &h);
    int i;
    for (i = 0; i < readers / 2; i++)
        go(rw_reader, &h);
    go(rw_writer, &h);
    for (; i < readers; i++)
        go(rw_reader, &h);
    goc_wg_wait(&h.done);
    T_CHECK_EQ(atomic_load(&h.bad), 0);
    T_CHECK_EQ(atomic_load(&h.activity), 0);
    T_CHECK_EQ(atomic_load(&h.rw._readers), 0);
    return 0;
}

static void test_rwmutex_hammer(void) {
    int procs[] = {1, 4, 10, 0};
    int readers[] = {1, 3, 10, 5};
    for (size_t p = 0; p < 4; p++)
        for (size_t r = 0; r < 4; r++) {
            int rc = procs[p] ? run_with_procs(procs[p], hammer_rw_main, (void *)(intptr_t)readers[r])
                              : goc_run(hammer_rw_main, (void *)(intptr_t)readers[r]);
            T_CHECK_EQ(rc, 0);
        }
}

static int rw_try_main(void *arg) {
    (void)arg;
    goc_rwmutex m = {0};
    T_CHECK(goc_rwmutex_trylock(&m));
    T_CHECK(!goc_rwmutex_trylock(&m));
    T_CHECK(!goc_rwmutex_tryrlock(&m));
    goc_rwmutex_unlock(&m);
    T_CHECK(goc_rwmutex_tryrlock(&m));
    T_CHECK(goc_rwmutex_tryrlock(&m));
    T_CHECK(!goc_rwmutex_trylock(&m));
    goc_rwmutex_runlock(&m);
    goc_rwmutex_runlock(&m);
    goc_rwmutex_lock(&m);
    goc_rwmutex_unlock(&m);
    return 0;
}

static void test_rwmutex_try(void) {
    T_CHECK_EQ(goc_run(rw_try_main, NULL), 0);
}

/* Writer preference: once a writer waits, a new reader waits behind it. */
struct wpref {
    goc_rwmutex rw;
    _Atomic int order; /* 1: writer got in first, 2: reader first */
    goc_wg done;
};

static void wpref_writer(void *arg) {
    struct wpref *w = arg;
    goc_rwmutex_lock(&w->rw);
    int z = 0;
    atomic_compare_exchange_strong(&w->order, &z, 1);
    goc_rwmutex_unlock(&w->rw);
    goc_wg_done(&w->done);
}

static void wpref_reader(void *arg) {
    struct wpref *w = arg;
    goc_rwmutex_rlock(&w->rw);
    int z = 0;
    atomic_compare_exchange_strong(&w->order, &z, 2);
    goc_rwmutex_runlock(&w->rw);
    goc_wg_done(&w->done);
}

static int wpref_main(void *arg) {
    (void)arg;
    struct wpref w = {0};
    goc_rwmutex_rlock(&w.rw);
    goc_wg_add(&w.done, 2);
    go(wpref_writer, &w);
    while (atomic_load(&w.rw._readers) >= 0) /* until the writer has announced itself */
        goc_yield();
    go(wpref_reader, &w);
    goc_yield();
    goc_rwmutex_runlock(&w.rw);
    goc_wg_wait(&w.done);
    T_CHECK_EQ(atomic_load(&w.order), 1);
    return 0;
}

static void test_rwmutex_writer_preferred(void) {
    T_CHECK_EQ(goc_run(wpref_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(1, wpref_main, NULL), 0);
}

/* ======================================================================== */
/* Cond                                                                     */

/* TestCondSignal */
struct csig {
    goc_mutex m;
    goc_cond c;
    goc_chan *running, *awake;
    goc_wg done; /* s lives on main's stack: main waits for the waiters' unlocks */
};

static void csig_waiter(void *arg) {
    struct csig *s = arg;
    goc_mutex_lock(&s->m);
    goc_chan_send(s->running, NULL);
    goc_cond_wait(&s->c);
    goc_chan_send(s->awake, NULL);
    goc_mutex_unlock(&s->m);
    goc_wg_done(&s->done);
}

static int cond_signal_main(void *arg) {
    (void)arg;
    int n = 2;
    struct csig s = {0};
    goc_cond_init(&s.c, &s.m);
    s.running = goc_chan_make(0, n);
    s.awake = goc_chan_make(0, n);
    goc_wg_add(&s.done, n);
    for (int i = 0; i < n; i++)
        go(csig_waiter, &s);
    for (int i = 0; i < n; i++)
        goc_chan_recv(s.running, NULL);
    while (n > 0) {
        bool ok;
        T_CHECK(!goc_chan_try_recv(s.awake, NULL, &ok)); /* goroutine not asleep */
        goc_mutex_lock(&s.m);
        goc_cond_signal(&s.c);
        goc_mutex_unlock(&s.m);
        goc_chan_recv(s.awake, NULL); /* deadlocks if no goroutine wakes up */
        T_CHECK(!goc_chan_try_recv(s.awake, NULL, &ok)); /* too many goroutines awake */
        n--;
    }
    goc_cond_signal(&s.c);
    goc_wg_wait(&s.done);
    goc_chan_free(s.running);
    goc_chan_free(s.awake);
    return 0;
}

static void test_cond_signal(void) {
    T_CHECK_EQ(goc_run(cond_signal_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(1, cond_signal_main, NULL), 0);
}

/* TestCondSignalGenerations: waiters wake in the order they waited. */
struct cgen {
    goc_mutex m;
    goc_cond c;
    goc_chan *running, *awake;
    goc_wg done; /* s lives on main's stack: main waits for the waiters' unlocks */
};
struct cgen_arg {
    struct cgen *s;
    int i;
};

static void cgen_waiter(void *arg) {
    struct cgen_arg *a = arg;
    struct cgen *s = a->s;
    goc_mutex_lock(&s->m);
    goc_chan_send(s->running, NULL);
    goc_cond_wait(&s->c);
    goc_send(s->awake, a->i);
    goc_mutex_unlock(&s->m);
    goc_wg_done(&s->done);
}

static int cond_generations_main(void *arg) {
    (void)arg;
    int n = 100;
    struct cgen s = {0};
    goc_cond_init(&s.c, &s.m);
    s.running = goc_chan_make(0, n);
    s.awake = goc_chan_of(int, n);
    bool misordered = false;
    goc_wg_add(&s.done, n);
    for (int i = 0; i < n; i++) {
        struct cgen_arg a = {&s, i};
        goc_go_copy(cgen_waiter, &a, sizeof a);
        goc_chan_recv(s.running, NULL);
    }
    for (int i = 0; i < n; i++) {
        goc_mutex_lock(&s.m);
        goc_cond_signal(&s.c);
        goc_mutex_unlock(&s.m);
        int j = -1;
        goc_recv(s.awake, &j);
        if (j != i && !misordered) { /* go on: every waiter must still be woken and joined */
            fprintf(stderr, "woke up goroutine %d, expected %d\n", j, i);
            T_CHECK_EQ(j, i);
            misordered = true;
        }
    }
    goc_wg_wait(&s.done);
    goc_chan_free(s.running);
    goc_chan_free(s.awake);
    return 0;
}

static void test_cond_signal_generations(void) {
    T_CHECK_EQ(goc_run(cond_generations_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(1, cond_generations_main, NULL), 0);
}

/* TestCondBroadcast: rounds of broadcasts; every waiter wakes each round. */
struct cbc {
    goc_mutex m;
    goc_cond c;
    goc_chan *running, *exit;
    int round;
    int n;
};
struct cbc_arg {
    struct cbc *s;
    int i;
};

static void cbc_waiter(void *arg) {
    struct cbc_arg *a = arg;
    struct cbc *s = a->s;
    for (int r = 0; r < s->round; r++) {
        goc_mutex_lock(&s->m);
        goc_send(s->running, a->i);
        goc_cond_wait(&s->c);
        goc_mutex_unlock(&s->m);
    }
    goc_chan_send(s->exit, NULL);
}

static int cond_broadcast_main(void *arg) {
    (void)arg;
    struct cbc s = {.round = 5, .n = 200 / SCALE};
    goc_cond_init(&s.c, &s.m);
    s.running = goc_chan_of(int, s.n);
    s.exit = goc_chan_make(0, s.n);
    for (int i = 0; i < s.n; i++) {
        struct cbc_arg a = {&s, i};
        goc_go_copy(cbc_waiter, &a, sizeof a);
    }
    bool *awake = calloc((size_t)s.n, 1);
    for (int r = 0; r < s.round; r++) {
        for (int i = 0; i < s.n; i++) {
            int g;
            goc_recv(s.running, &g); /* will deadlock unless n are running */
            if (awake[g]) {
                fprintf(stderr, "goroutine %d awake twice in round %d\n", g, r);
                T_CHECK(!awake[g]);
            }
            awake[g] = true;
        }
        bool ok;
        T_CHECK(!goc_chan_try_recv(s.exit, NULL, &ok)); /* nobody exits before the rounds end */
        goc_mutex_lock(&s.m);
        memset(awake, 0, (size_t)s.n);
        goc_cond_broadcast(&s.c);
        goc_mutex_unlock(&s.m);
    }
    for (int i = 0; i < s.n; i++)
        goc_chan_recv(s.exit, NULL);
    free(awake);
    goc_chan_free(s.running);
    goc_chan_free(s.exit);
    return 0;
}

static void test_cond_broadcast(void) {
    T_CHECK_EQ(goc_run(cond_broadcast_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(1, cond_broadcast_main, NULL), 0);
}

/* TestCondSignalStealing: a waiter that arrives after a Signal must not
   steal it from the waiter it was meant for. */
struct steal {
    goc_mutex m;
    goc_cond c;
    goc_chan *ch;
    bool done;
    goc_wg wg;
};

static void steal_first(void *arg) {
    struct steal *s = arg;
    goc_mutex_lock(&s->m);
    goc_chan_send(s->ch, NULL);
    goc_cond_wait(&s->c);
    goc_mutex_unlock(&s->m);
    goc_chan_send(s->ch, NULL);
    goc_wg_done(&s->wg);
}

static void steal_broadcaster(void *arg) {
    struct steal *s = arg;
    goc_cond_broadcast(&s->c);
    goc_wg_done(&s->wg);
}

static void steal_late(void *arg) {
    struct steal *s = arg;
    goc_mutex_lock(&s->m);
    while (!s->done)
        goc_cond_wait(&s->c);
    goc_mutex_unlock(&s->m);
    goc_wg_done(&s->wg);
}

static int cond_stealing_main(void *arg) {
    (void)arg;
    for (int iters = 0; iters < 1000 / SCALE; iters++) {
        struct steal s = {0};
        goc_cond_init(&s.c, &s.m);
        s.ch = goc_chan_make(0, 0);
        goc_wg_add(&s.wg, 3);
        go(steal_first, &s);
        goc_chan_recv(s.ch, NULL);
        /* the waiter is inside wait once we have had the mutex it held */
        goc_mutex_lock(&s.m);
        goc_mutex_unlock(&s.m);
        /* race a broadcast against a new waiter: the new one may or may not
           be woken, but the first one must be */
        go(steal_broadcaster, &s);
        go(steal_late, &s);
        goc_case cs[] = {goc_case_recv(s.ch, NULL, NULL), goc_case_timeout(10 * GOC_SECOND)};
        int idx = goc_select(cs, 2);
        if (idx != 0)
            fprintf(stderr, "first waiter didn't get broadcast\n");
        T_CHECK_EQ(idx, 0);
        goc_mutex_lock(&s.m);
        s.done = true;
        goc_mutex_unlock(&s.m);
        goc_cond_broadcast(&s.c);
        if (idx != 0)
            exit(3); /* goroutines still use s: stop here */
        goc_wg_wait(&s.wg);
        goc_chan_free(s.ch);
    }
    return 0;
}

static void test_cond_signal_stealing(void) {
    T_CHECK_EQ(goc_run(cond_stealing_main, NULL), 0);
}

/* Beyond Go: wait_until. */
struct cwu {
    goc_mutex m;
    goc_cond c;
    bool ready;
    _Atomic int woke;
    goc_wg done;
};

static void cwu_timed(void *arg) {
    struct cwu *s = arg;
    goc_mutex_lock(&s->m);
    int64_t deadline = goc_now() + 2 * GOC_MILLISECOND;
    bool ok = goc_cond_wait_until(&s->c, deadline);
    T_CHECK(ok || goc_now() >= deadline); /* false only once the deadline passed */
    T_CHECK(!goc_mutex_trylock(&s->m)); /* L is held again */
    goc_mutex_unlock(&s->m);
    goc_wg_done(&s->done);
}

static void cwu_patient(void *arg) {
    struct cwu *s = arg;
    goc_mutex_lock(&s->m);
    while (!s->ready)
        T_CHECK(goc_cond_wait_until(&s->c, goc_now() + 60 * GOC_SECOND));
    atomic_fetch_add(&s->woke, 1);
    goc_mutex_unlock(&s->m);
    goc_wg_done(&s->done);
}

static int cond_wait_until_main(void *arg) {
    (void)arg;
    struct cwu s = {0};
    s.c.L = &s.m;
    /* A deadline in the past: returns false at once, L locked again. */
    goc_mutex_lock(&s.m);
    T_CHECK(!goc_cond_wait_until(&s.c, goc_now() - 1));
    /* Any negative instant is in the past too (the clock counts from boot):
       not "no deadline", which would wait for ever here. */
    T_CHECK(!goc_cond_wait_until(&s.c, -1));
    T_CHECK(!goc_cond_wait_until(&s.c, INT64_MIN));
    goc_mutex_unlock(&s.m);
    /* Timed waiters that expire do not swallow signals meant for others. */
    for (int round = 0; round < 20; round++) {
        s.ready = false;
        atomic_store(&s.woke, 0);
        goc_wg_add(&s.done, 4);
        go(cwu_timed, &s);
        go(cwu_patient, &s);
        go(cwu_timed, &s);
        go(cwu_timed, &s);
        goc_sleep(GOC_MILLISECOND * (round % 4));
        goc_mutex_lock(&s.m);
        s.ready = true;
        goc_cond_signal(&s.c);
        goc_mutex_unlock(&s.m);
        /* patient may not have waited yet, or may have got the signal, or a
           timed waiter in front may have taken it: then signal again when
           the timed ones have gone. That the wg completes is the check. */
        for (;;) {
            goc_mutex_lock(&s.m);
            bool woke = atomic_load(&s.woke) == 1;
            if (!woke)
                goc_cond_broadcast(&s.c);
            goc_mutex_unlock(&s.m);
            if (woke)
                break;
            goc_yield();
        }
        goc_wg_wait(&s.done);
    }
    T_CHECK(s.c._head == NULL);
    return 0;
}

static void test_cond_wait_until(void) {
    T_CHECK_EQ(goc_run(cond_wait_until_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(1, cond_wait_until_main, NULL), 0);
}

/* A signal to a queue whose front waiter timed out goes to the next one:
   checked directly, with a timed-out waiter at the front of the queue. */
struct cfront {
    goc_mutex m;
    goc_cond c;
    _Atomic int stage;
    _Atomic bool second_ok;
    goc_wg done;
};

static void cfront_first(void *arg) {
    struct cfront *s = arg;
    goc_mutex_lock(&s->m);
    atomic_store(&s->stage, 1);
    T_CHECK(!goc_cond_wait_until(&s->c, goc_now() + 20 * GOC_MILLISECOND));
    atomic_store(&s->stage, 3); /* timed out, off the queue, m held */
    goc_mutex_unlock(&s->m);
    goc_wg_done(&s->done);
}

static void cfront_second(void *arg) {
    struct cfront *s = arg;
    goc_mutex_lock(&s->m);
    atomic_store(&s->stage, 2);
    atomic_store(&s->second_ok, goc_cond_wait_until(&s->c, goc_now() + 60 * GOC_SECOND));
    goc_mutex_unlock(&s->m);
    goc_wg_done(&s->done);
}

static int cond_front_main(void *arg) {
    (void)arg;
    struct cfront s = {0};
    s.c.L = &s.m;
    goc_wg_add(&s.done, 2);
    go(cfront_first, &s);
    while (atomic_load(&s.stage) < 1)
        goc_yield();
    go(cfront_second, &s);
    while (atomic_load(&s.stage) < 2)
        goc_yield();
    /* both queued once second has released m; then wait for first's timeout */
    while (atomic_load(&s.stage) < 3)
        goc_yield();
    goc_cond_signal(&s.c); /* exactly one signal: must reach the second */
    goc_wg_wait(&s.done);
    T_CHECK(atomic_load(&s.second_ok));
    return 0;
}

static void test_cond_timeout_front(void) {
    T_CHECK_EQ(goc_run(cond_front_main, NULL), 0);
}

/* Plain threads wait on a Cond that goroutines signal, and the reverse. */
struct cpt {
    goc_mutex m;
    goc_cond c;
    int turn; /* 0: thread's turn, 1: goroutine's */
    int rounds;
};

static _Atomic bool cpt_known;

static void *cpt_thread(void *arg) {
    struct cpt *s = arg;
    /* The runtime counts a plain thread as able to wake goroutines (no
       deadlock) once it has blocked in goc; do that first. */
    goc_sleep(GOC_MICROSECOND);
    atomic_store(&cpt_known, true);
    for (int i = 0; i < s->rounds; i++) {
        goc_mutex_lock(&s->m);
        while (s->turn != 0)
            goc_cond_wait(&s->c);
        s->turn = 1;
        goc_cond_broadcast(&s->c);
        goc_mutex_unlock(&s->m);
    }
    return NULL;
}

static int cond_plain_main(void *arg) {
    (void)arg;
    struct cpt s = {.rounds = 2000 / SCALE};
    s.c.L = &s.m;
    pthread_t th;
    pthread_create(&th, NULL, cpt_thread, &s);
    while (!atomic_load(&cpt_known))
        goc_yield();
    for (int i = 0; i < s.rounds; i++) {
        goc_mutex_lock(&s.m);
        while (s.turn != 1)
            goc_cond_wait(&s.c);
        s.turn = 0;
        goc_cond_signal(&s.c);
        goc_mutex_unlock(&s.m);
    }
    goc_blocking_begin();
    pthread_join(th, NULL);
    goc_blocking_end();
    return 0;
}

static void test_cond_plain_threads(void) {
    T_CHECK_EQ(goc_run(cond_plain_main, NULL), 0);
}

/* ======================================================================== */
/* Once                                                                     */

struct oncet {
    goc_once once;
    _Atomic int runs;
    _Atomic int after; /* callers that returned and saw runs == 1 */
    goc_wg wg;
};

static void once_incr(void *arg) {
    struct oncet *o = arg;
    goc_yield(); /* others arrive while fn runs */
    goc_sleep(GOC_MILLISECOND);
    atomic_fetch_add(&o->runs, 1);
}

static void once_caller(void *arg) {
    struct oncet *o = arg;
    goc_once_do(&o->once, once_incr, o);
    if (atomic_load(&o->runs) == 1)
        atomic_fetch_add(&o->after, 1);
    goc_wg_done(&o->wg);
}

static int once_main(void *arg) {
    (void)arg;
    struct oncet o = {0};
    goc_wg_add(&o.wg, 10);
    for (int i = 0; i < 10; i++)
        go(once_caller, &o);
    goc_once_do(&o.once, once_incr, &o);
    goc_wg_wait(&o.wg);
    T_CHECK_EQ(atomic_load(&o.runs), 1);
    T_CHECK_EQ(atomic_load(&o.after), 10);
    return 0;
}

static _Atomic int of_runs;
static void of_fn(void *arg) {
    T_CHECK(arg == (void *)&of_runs);
    atomic_fetch_add(&of_runs, 1);
}
static _Atomic int ov_runs;
static void *ov_fn(void *arg) {
    atomic_fetch_add(&ov_runs, 1);
    return (char *)arg + 1;
}

static int once_func_main(void *arg) {
    (void)arg;
    static goc_once_func f = GOC_ONCE_FUNC(of_fn, &of_runs);
    static char buf[4];
    static goc_once_value v = GOC_ONCE_VALUE(ov_fn, buf);
    for (int i = 0; i < 5; i++) {
        goc_once_func_call(&f);
        T_CHECK(goc_once_value_get(&v) == buf + 1);
    }
    T_CHECK_EQ(atomic_load(&of_runs), 1);
    T_CHECK_EQ(atomic_load(&ov_runs), 1);
    goc_once_func g;
    goc_once_func_init(&g, of_fn, &of_runs);
    goc_once_func_call(&g);
    goc_once_func_call(&g);
    T_CHECK_EQ(atomic_load(&of_runs), 2);
    goc_once_value w;
    goc_once_value_init(&w, ov_fn, buf + 1);
    T_CHECK(goc_once_value_get(&w) == buf + 2);
    T_CHECK(goc_once_value_get(&w) == buf + 2);
    T_CHECK_EQ(atomic_load(&ov_runs), 2);
    return 0;
}

static void test_once(void) {
    T_CHECK_EQ(goc_run(once_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(1, once_main, NULL), 0);
    T_CHECK_EQ(goc_run(once_func_main, NULL), 0);
}

/* ======================================================================== */
/* Map                                                                      */

static void *V(long i) {
    return (void *)(uintptr_t)(i * 16 + 8);
}

static void test_map_basic(void) {
    goc_map m = {0};
    void *v = V(99);
    T_CHECK(!goc_map_load(&m, "a", 1, &v));
    T_CHECK(v == V(99)); /* untouched on a miss */
    goc_map_store(&m, "a", 1, V(1));
    T_CHECK(goc_map_load(&m, "a", 1, &v) && v == V(1));
    T_CHECK(goc_map_load(&m, "a", 1, NULL));
    /* NULL is a value; klen 0 is a key; bytes after a NUL count */
    goc_map_store(&m, "", 0, NULL);
    v = V(5);
    T_CHECK(goc_map_load(&m, "", 0, &v) && v == NULL);
    /* the empty key may be passed as NULL (UBSan: no memcpy from NULL) */
    v = V(5);
    T_CHECK(goc_map_load(&m, NULL, 0, &v) && v == NULL);
    goc_map_store(&m, NULL, 0, V(4));
    T_CHECK(goc_map_load(&m, "", 0, &v) && v == V(4));
    goc_map_store(&m, "", 0, NULL);
    goc_map_store(&m, "k\0x", 3, V(2));
    goc_map_store(&m, "k\0y", 3, V(3));
    T_CHECK(goc_map_load(&m, "k\0x", 3, &v) && v == V(2));
    T_CHECK(goc_map_load(&m, "k\0y", 3, &v) && v == V(3));
    T_CHECK(!goc_map_load(&m, "k", 1, &v));
    /* load_or_store */
    T_CHECK(goc_map_load_or_store(&m, "a", 1, V(7), &v) && v == V(1));
    T_CHECK(!goc_map_load_or_store(&m, "b", 1, V(7), &v) && v == V(7));
    /* swap */
    T_CHECK(goc_map_swap(&m, "b", 1, V(8), &v) && v == V(7));
    T_CHECK(!goc_map_swap(&m, "c", 1, V(9), &v));
    /* compare_and_swap, compare_and_delete */
    T_CHECK(!goc_map_compare_and_swap(&m, "c", 1, V(1), V(10)));
    T_CHECK(goc_map_compare_and_swap(&m, "c", 1, V(9), V(10)));
    T_CHECK(!goc_map_compare_and_swap(&m, "zz", 2, V(9), V(10)));
    T_CHECK(!goc_map_compare_and_delete(&m, "c", 1, V(9)));
    T_CHECK(goc_map_compare_and_delete(&m, "c", 1, V(10)));
    T_CHECK(!goc_map_load(&m, "c", 1, NULL));
    /* load_and_delete, delete */
    T_CHECK(goc_map_load_and_delete(&m, "b", 1, &v) && v == V(8));
    T_CHECK(!goc_map_load_and_delete(&m, "b", 1, &v));
    goc_map_delete(&m, "a", 1);
    goc_map_delete(&m, "nope", 4);
    T_CHECK(!goc_map_load(&m, "a", 1, NULL));
    /* many keys, loaded many times so _dirty is promoted */
    char key[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        goc_map_store(&m, key, (size_t)n, V(i));
    }
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 1000; i++) {
            int n = snprintf(key, sizeof key, "key-%d", i);
            T_CHECK(goc_map_load(&m, key, (size_t)n, &v) && v == V(i));
        }
    goc_map_clear(&m);
    T_CHECK(!goc_map_load(&m, "key-1", 5, NULL));
    T_CHECK(!goc_map_load(&m, "", 0, NULL));
    goc_map_store(&m, "after", 5, V(1));
    T_CHECK(goc_map_load(&m, "after", 5, &v) && v == V(1));
    goc_map_free(&m);
    T_CHECK(!goc_map_load(&m, "after", 5, NULL));
    goc_map_free(&m);
}

/* A reference model: a plain array of keys 0..NK-1 with present flags. */
#define NK 64
typedef struct model {
    bool present[NK];
    void *val[NK];
} model;

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

struct range_check {
    model *md;
    int seen[NK];
    int base;
    bool ok;
};

static bool range_fn(const void *key, size_t klen, void *value, void *arg) {
    struct range_check *rc = arg;
    int k;
    if (klen != sizeof k) {
        rc->ok = false;
        return false;
    }
    memcpy(&k, key, sizeof k);
    k -= rc->base;
    if (k < 0 || k >= NK)
        return true; /* another owner's key (concurrent test) */
    if (!rc->md->present[k] || rc->md->val[k] != value || rc->seen[k]++)
        rc->ok = false;
    return true;
}

/* Applies nops random operations to m and md for keys base..base+NK-1;
   returns false on the first disagreement. */
static bool map_model_run(goc_map *m, model *md, int base, uint64_t seed, int nops) {
    uint64_t s = seed;
    for (int i = 0; i < nops; i++) {
        uint64_t r = rng_next(&s);
        int k0 = (int)(r % NK), k = base + k0;
        void *nv = V((long)(rng_next(&s) % 4)); /* few values, so CAS often matches */
        void *got = V(-1), *want;
        bool ok = false, wok;
        switch ((r >> 8) % 10) {
        case 0:
            ok = goc_map_load(m, &k, sizeof k, &got);
            if (ok != md->present[k0] || (ok && got != md->val[k0]))
                return false;
            break;
        case 1:
            goc_map_store(m, &k, sizeof k, nv);
            md->present[k0] = true;
            md->val[k0] = nv;
            break;
        case 2:
            ok = goc_map_load_or_store(m, &k, sizeof k, nv, &got);
            wok = md->present[k0];
            want = wok ? md->val[k0] : nv;
            if (ok != wok || got != want)
                return false;
            md->present[k0] = true;
            md->val[k0] = want;
            break;
        case 3:
            ok = goc_map_load_and_delete(m, &k, sizeof k, &got);
            if (ok != md->present[k0] || (ok && got != md->val[k0]))
                return false;
            md->present[k0] = false;
            break;
        case 4:
            goc_map_delete(m, &k, sizeof k);
            md->present[k0] = false;
            break;
        case 5:
            ok = goc_map_swap(m, &k, sizeof k, nv, &got);
            if (ok != md->present[k0] || (ok && got != md->val[k0]))
                return false;
            md->present[k0] = true;
            md->val[k0] = nv;
            break;
        case 6: {
            void *old = V((long)(rng_next(&s) % 4));
            ok = goc_map_compare_and_swap(m, &k, sizeof k, old, nv);
            wok = md->present[k0] && md->val[k0] == old;
            if (ok != wok)
                return false;
            if (ok)
                md->val[k0] = nv;
            break;
        }
        case 7: {
            void *old = V((long)(rng_next(&s) % 4));
            ok = goc_map_compare_and_delete(m, &k, sizeof k, old);
            wok = md->present[k0] && md->val[k0] == old;
            if (ok != wok)
                return false;
            if (ok)
                md->present[k0] = false;
            break;
        }
        case 8: {
            struct range_check rc = {.md = md, .base = base, .ok = true};
            goc_map_range(m, range_fn, &rc);
            if (!rc.ok)
                return false;
            /* nobody else changes these keys: range saw each live one */
            for (int j = 0; j < NK; j++)
                if (rc.seen[j] != (md->present[j] ? 1 : 0))
                    return false;
            break;
        }
        default:
            /* loads of present keys are the common case in Go's use */
            for (int j = 0; j < 4; j++) {
                int q = base + (int)(rng_next(&s) % NK);
                ok = goc_map_load(m, &q, sizeof q, &got);
                if (ok != md->present[q - base] || (ok && got != md->val[q - base]))
                    return false;
            }
            break;
        }
    }
    return true;
}

static void test_map_model(void) {
    for (uint64_t seed = 1; seed <= 20; seed++) {
        goc_map m = {0};
        model md = {0};
        bool ok = map_model_run(&m, &md, 0, seed, 5000 / SCALE);
        if (!ok)
            fprintf(stderr, "map disagrees with the model, seed %llu\n", (unsigned long long)seed);
        T_CHECK(ok);
        /* range agrees exactly at the end */
        struct range_check rc = {.md = &md, .base = 0, .ok = true};
        goc_map_range(&m, range_fn, &rc);
        T_CHECK(rc.ok);
        for (int k = 0; k < NK; k++)
            T_CHECK_EQ(rc.seen[k], md.present[k] ? 1 : 0);
        goc_map_free(&m);
    }
}

/* Concurrent: each goroutine owns a key range on one shared map and checks
   it against its own model; readers load keys from all ranges at once. */
struct mconc {
    goc_map m;
    _Atomic int bad;
    _Atomic bool stop;
    goc_wg wg, readers;
    int nops;
};
struct mconc_arg {
    struct mconc *s;
    int id;
};

static void mconc_owner(void *arg) {
    struct mconc_arg *a = arg;
    model *md = calloc(1, sizeof *md);
    if (!map_model_run(&a->s->m, md, a->id * NK, (uint64_t)a->id * 7919 + 1, a->s->nops))
        atomic_fetch_add(&a->s->bad, 1);
    free(md);
    goc_wg_done(&a->s->wg);
}

static void mconc_reader(void *arg) {
    struct mconc *s = arg;
    uint64_t r = 42;
    while (!atomic_load(&s->stop)) {
        for (int i = 0; i < 256; i++) {
            int k = (int)(rng_next(&r) % (NK * 8));
            void *v;
            if (goc_map_load(&s->m, &k, sizeof k, &v) && ((uintptr_t)v & 15) != 8)
                atomic_fetch_add(&s->bad, 1); /* a value never stored */
        }
        goc_yield();
    }
    goc_wg_done(&s->readers);
}

static int map_concurrent_main(void *arg) {
    (void)arg;
    struct mconc *s = calloc(1, sizeof *s);
    s->nops = 20000 / SCALE;
    goc_wg_add(&s->readers, 2);
    go(mconc_reader, s);
    go(mconc_reader, s);
    for (int i = 0; i < 8; i++) {
        struct mconc_arg a = {s, i};
        goc_wg_add(&s->wg, 1);
        goc_go_copy(mconc_owner, &a, sizeof a);
    }
    goc_wg_wait(&s->wg);
    atomic_store(&s->stop, true);
    goc_wg_wait(&s->readers);
    T_CHECK_EQ(atomic_load(&s->bad), 0);
    goc_map_free(&s->m);
    free(s);
    return 0;
}

static void test_map_concurrent(void) {
    T_CHECK_EQ(goc_run(map_concurrent_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(1, map_concurrent_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(4, map_concurrent_main, NULL), 0);
}

/* Concurrent range and clear: range never yields a key twice, and only
   values that were stored for that key. */
struct mrc {
    goc_map m;
    _Atomic int bad;
    _Atomic bool stop;
    goc_wg wg;
};

static bool mrc_range_fn(const void *key, size_t klen, void *value, void *arg) {
    int *seen = arg;
    int k;
    if (klen != sizeof k)
        return false;
    memcpy(&k, key, sizeof k);
    if (k < 0 || k >= 256 || value != V(k) || seen[k]++)
        seen[256] = 1;
    if (k == 7)
        goc_yield(); /* fn may block */
    return true;
}

static void mrc_ranger(void *arg) {
    struct mrc *s = arg;
    while (!atomic_load(&s->stop)) {
        int seen[257] = {0};
        goc_map_range(&s->m, mrc_range_fn, seen);
        if (seen[256])
            atomic_fetch_add(&s->bad, 1);
        goc_yield();
    }
    goc_wg_done(&s->wg);
}

static void mrc_writer(void *arg) {
    struct mrc *s = arg;
    uint64_t r = (uint64_t)(uintptr_t)&r;
    for (int n = 1; !atomic_load(&s->stop); n++) {
        if (n % 64 == 0)
            goc_yield(); /* goroutines are not preempted: let main's timer run */
        int k = (int)(rng_next(&r) % 256);
        if (rng_next(&r) % 3)
            goc_map_store(&s->m, &k, sizeof k, V(k));
        else
            goc_map_delete(&s->m, &k, sizeof k);
        void *v;
        if (goc_map_load(&s->m, &k, sizeof k, &v) && v != V(k))
            atomic_fetch_add(&s->bad, 1);
    }
    goc_wg_done(&s->wg);
}

static int map_range_clear_main(void *arg) {
    (void)arg;
    struct mrc *s = calloc(1, sizeof *s);
    goc_wg_add(&s->wg, 5);
    go(mrc_ranger, s);
    go(mrc_ranger, s);
    go(mrc_writer, s);
    go(mrc_writer, s);
    go(mrc_writer, s);
    int64_t end = goc_now() + (SCALE > 1 ? 100 : 300) * GOC_MILLISECOND;
    while (goc_now() < end) {
        goc_sleep(GOC_MILLISECOND);
        goc_map_clear(&s->m);
    }
    atomic_store(&s->stop, true);
    goc_wg_wait(&s->wg);
    T_CHECK_EQ(atomic_load(&s->bad), 0);
    goc_map_free(&s->m);
    free(s);
    return 0;
}

static void test_map_range_clear(void) {
    T_CHECK_EQ(goc_run(map_range_clear_main, NULL), 0);
}

/* Range may call the map (Go allows f to call any method). */
static bool mrr_fn(const void *key, size_t klen, void *value, void *arg) {
    goc_map *m = arg;
    (void)value;
    goc_map_delete(m, key, klen);
    int k = 1000;
    goc_map_store(m, &k, sizeof k, V(1));
    return true;
}

static void test_map_range_reentrant(void) {
    goc_map m = {0};
    for (int k = 0; k < 50; k++)
        goc_map_store(&m, &k, sizeof k, V(k));
    goc_map_range(&m, mrr_fn, &m);
    int k = 1000, n = 0;
    T_CHECK(goc_map_load(&m, &k, sizeof k, NULL));
    for (k = 0; k < 50; k++)
        n += goc_map_load(&m, &k, sizeof k, NULL);
    T_CHECK_EQ(n, 0);
    goc_map_free(&m);
}

/* Plain threads read while goroutines write. */
static goc_map pm_map;
static _Atomic bool pm_stop;
static _Atomic int pm_bad;

static void *pm_reader(void *arg) {
    (void)arg;
    uint64_t r = 5;
    while (!atomic_load(&pm_stop)) {
        int k = (int)(rng_next(&r) % 512);
        void *v;
        if (goc_map_load(&pm_map, &k, sizeof k, &v) && v != V(k))
            atomic_fetch_add(&pm_bad, 1);
    }
    return NULL;
}

static void pm_writer(void *arg) {
    uint64_t r = 9;
    for (int i = 0; i < 100000 / SCALE; i++) {
        int k = (int)(rng_next(&r) % 512);
        if (i % 2)
            goc_map_store(&pm_map, &k, sizeof k, V(k));
        else
            goc_map_delete(&pm_map, &k, sizeof k);
        if (i % 5000 == 0)
            goc_map_clear(&pm_map);
    }
    goc_wg_done(arg);
}

static int map_plain_main(void *arg) {
    (void)arg;
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, pm_reader, NULL);
    goc_wg wg = {0};
    goc_wg_add(&wg, 2);
    go(pm_writer, &wg);
    go(pm_writer, &wg);
    goc_wg_wait(&wg);
    atomic_store(&pm_stop, true);
    goc_blocking_begin();
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    goc_blocking_end();
    T_CHECK_EQ(atomic_load(&pm_bad), 0);
    goc_map_free(&pm_map);
    return 0;
}

static void test_map_plain_threads(void) {
    T_CHECK_EQ(goc_run(map_plain_main, NULL), 0);
}

/* ======================================================================== */
/* Pool                                                                     */

static _Atomic long pool_made, pool_freed;

static void *pool_new(void *arg) {
    atomic_fetch_add(&pool_made, 1);
    long *x = malloc(sizeof *x);
    *x = (long)(intptr_t)arg;
    return x;
}

static void pool_release(void *obj) {
    atomic_fetch_add(&pool_freed, 1);
    free(obj);
}

static void test_pool_basic(void) {
    atomic_store(&pool_made, 0);
    atomic_store(&pool_freed, 0);
    goc_pool p = {.new_fn = pool_new, .free_fn = pool_release, .arg = (void *)(intptr_t)7};
    long *a = goc_pool_get(&p);
    T_CHECK(a && *a == 7);
    T_CHECK_EQ(atomic_load(&pool_made), 1);
    *a = 1;
    goc_pool_put(&p, a);
    goc_pool_put(&p, NULL); /* ignored */
    long *b = goc_pool_get(&p);
    T_CHECK(b == a); /* reused */
    goc_pool_put(&p, b);
    /* after one sweep it is a victim, still reusable */
    goc_pool_sweep(&p);
    T_CHECK(goc_pool_get(&p) == a);
    goc_pool_put(&p, a);
    /* after two sweeps it is released */
    goc_pool_sweep(&p);
    goc_pool_sweep(&p);
    T_CHECK_EQ(atomic_load(&pool_freed), 1);
    long *c = goc_pool_get(&p);
    T_CHECK_EQ(atomic_load(&pool_made), 2);
    goc_pool_put(&p, c);
    goc_pool_free(&p);
    T_CHECK_EQ(atomic_load(&pool_freed), 2);
    /* a pool without new_fn returns NULL when empty */
    goc_pool q = {0};
    T_CHECK(goc_pool_get(&q) == NULL);
    goc_pool_put(&q, malloc(8));
    void *x = goc_pool_get(&q);
    T_CHECK(x != NULL);
    goc_pool_put(&q, x);
    goc_pool_free(&q); /* free() by default: ASan checks it */
}

/* Pool stress: goroutines get, use exclusively and put; a short sweep span
   makes generations turn over meanwhile. Every object made is freed once. */
struct pstress {
    goc_pool p;
    _Atomic int bad;
    goc_wg wg;
};

static void pstress_fn(void *arg) {
    struct pstress *s = arg;
    for (int i = 0; i < 20000 / SCALE; i++) {
        long *x = goc_pool_get(&s->p);
        if (*x != 0)
            atomic_fetch_add(&s->bad, 1); /* someone else holds it */
        *x = (long)goc_id();
        if (i % 64 == 0)
            goc_yield();
        if (*x != (long)goc_id())
            atomic_fetch_add(&s->bad, 1);
        *x = 0;
        goc_pool_put(&s->p, x);
    }
    goc_wg_done(&s->wg);
}

static void *pstress_new(void *arg) {
    (void)arg;
    atomic_fetch_add(&pool_made, 1);
    return calloc(1, sizeof(long));
}

static int pool_stress_main(void *arg) {
    (void)arg;
    atomic_store(&pool_made, 0);
    atomic_store(&pool_freed, 0);
    struct pstress *s = calloc(1, sizeof *s);
    s->p = (goc_pool){.new_fn = pstress_new, .free_fn = pool_release, .sweep = GOC_MILLISECOND};
    goc_wg_add(&s->wg, 16);
    for (int i = 0; i < 16; i++)
        go(pstress_fn, s);
    goc_wg_wait(&s->wg);
    T_CHECK_EQ(atomic_load(&s->bad), 0);
    goc_pool_free(&s->p);
    T_CHECK_EQ(atomic_load(&pool_freed), atomic_load(&pool_made));
    free(s);
    return 0;
}

static void test_pool_stress(void) {
    T_CHECK_EQ(goc_run(pool_stress_main, NULL), 0);
    T_CHECK_EQ(run_with_procs(1, pool_stress_main, NULL), 0);
}

/* ======================================================================== */
/* Misuse (children) and debug checks                                       */

static int unlock_unlocked_main(void *arg) {
    (void)arg;
    goc_mutex m = {0};
    goc_mutex_lock(&m);
    goc_mutex_unlock(&m);
    goc_mutex_unlock(&m);
    return 0;
}
static void child_unlock_unlocked(void) {
    goc_run(unlock_unlocked_main, NULL);
}

static int rw_case;
static int rw_misuse_main(void *arg) {
    (void)arg;
    goc_rwmutex m = {0};
    switch (rw_case) {
    case 0: /* RUnlock of a zero RWMutex */
        goc_rwmutex_runlock(&m);
        break;
    case 1: /* Lock, RUnlock */
        goc_rwmutex_lock(&m);
        goc_rwmutex_runlock(&m);
        break;
    case 2: /* RLock, RUnlock, RUnlock */
        goc_rwmutex_rlock(&m);
        goc_rwmutex_runlock(&m);
        goc_rwmutex_runlock(&m);
        break;
    case 3: /* Unlock of a zero RWMutex */
        goc_rwmutex_unlock(&m);
        break;
    case 4: /* RLock, Unlock */
        goc_rwmutex_rlock(&m);
        goc_rwmutex_unlock(&m);
        break;
    }
    return 0;
}
static void child_rw0(void) { rw_case = 0; goc_run(rw_misuse_main, NULL); }
static void child_rw1(void) { rw_case = 1; goc_run(rw_misuse_main, NULL); }
static void child_rw2(void) { rw_case = 2; goc_run(rw_misuse_main, NULL); }
static void child_rw3(void) { rw_case = 3; goc_run(rw_misuse_main, NULL); }
static void child_rw4(void) { rw_case = 4; goc_run(rw_misuse_main, NULL); }

/* GOC_DEBUG=sync=1: recursive Lock reported instead of hanging. */
static int recursive_main(void *arg) {
    (void)arg;
    goc_mutex m = {0};
    goc_mutex_lock(&m);
    goc_mutex_lock(&m);
    return 0;
}
static void child_recursive(void) {
    goc_run(recursive_main, NULL);
}

/* Without the debug flag the same program is a deadlock, as in Go. */
static void child_recursive_nodebug(void) {
    goc_run(recursive_main, NULL);
}

static void rlock_writer(void *arg) {
    goc_rwmutex_lock(arg);
    goc_rwmutex_unlock(arg);
}

static int rrecursive_main(void *arg) {
    (void)arg;
    static goc_rwmutex m;
    goc_rwmutex_rlock(&m);
    go(rlock_writer, &m);
    while (atomic_load(&m._readers) >= 0) /* until the writer waits */
        goc_yield();
    goc_rwmutex_rlock(&m);
    return 0;
}
static void child_rrecursive(void) {
    goc_run(rrecursive_main, NULL);
}

static int rlock_then_lock_main(void *arg) {
    (void)arg;
    goc_rwmutex m = {0};
    goc_rwmutex_rlock(&m);
    goc_rwmutex_lock(&m);
    return 0;
}
static void child_rlock_then_lock(void) {
    goc_run(rlock_then_lock_main, NULL);
}

/* Nested read locks without a waiting writer are fine in debug mode, and a
   mutex unlocked by another goroutine is fine too (not owned). */
static void debug_unlocker(void *arg) {
    goc_mutex_unlock(arg);
}

static int debug_ok_main(void *arg) {
    (void)arg;
    goc_rwmutex rw = {0};
    goc_rwmutex_rlock(&rw);
    goc_rwmutex_rlock(&rw);
    goc_rwmutex_runlock(&rw);
    goc_rwmutex_runlock(&rw);
    goc_rwmutex_lock(&rw);
    goc_rwmutex_unlock(&rw);
    static goc_mutex m;
    goc_mutex_lock(&m);
    go(debug_unlocker, &m);
    goc_mutex_lock(&m); /* waits for the other goroutine's unlock */
    goc_mutex_unlock(&m);
    return 0;
}
static void child_debug_ok(void) {
    exit(goc_run(debug_ok_main, NULL) == 0 ? 0 : 3);
}

static void test_misuse(void) {
    T_CHILD_DIES("unlock_unlocked", NULL, 2, "fatal error: sync: unlock of unlocked mutex");
    T_CHILD_DIES("rw0", NULL, 2, "fatal error: sync: RUnlock of unlocked RWMutex");
    T_CHILD_DIES("rw1", NULL, 2, "fatal error: sync: RUnlock of unlocked RWMutex");
    T_CHILD_DIES("rw2", NULL, 2, "fatal error: sync: RUnlock of unlocked RWMutex");
    T_CHILD_DIES("rw3", NULL, 2, "fatal error: sync: Unlock of unlocked RWMutex");
    T_CHILD_DIES("rw4", NULL, 2, "fatal error: sync: Unlock of unlocked RWMutex");
}

static void test_debug_checks(void) {
    T_CHILD_DIES("recursive", "GOC_DEBUG=sync=1", 2, "recursive locking deadlocks");
    T_CHILD_DIES("recursive_nodebug", NULL, 2, "all goroutines are asleep - deadlock!");
    T_CHILD_DIES("rrecursive", "GOC_DEBUG=sync=1", 2, "recursive read locking deadlocks");
    T_CHILD_DIES("rlock_then_lock", "GOC_DEBUG=sync=1", 2, "holds a read lock of this RWMutex");
    T_CHILD_DIES("debug_ok", "GOC_DEBUG=sync=1", 0, "");
}

/* Wait reasons in dumps. */
static void dump_locker(void *arg) {
    goc_mutex_lock(arg);
}

static int dump_main(void *arg) {
    (void)arg;
    static goc_mutex m;
    goc_mutex_lock(&m);
    go(dump_locker, &m);
    for (;;) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        goc_dump(f);
        fclose(f);
        bool found = strstr(buf, "sync.Mutex.Lock") != NULL;
        free(buf);
        if (found)
            break;
        goc_yield();
    }
    goc_mutex_unlock(&m);
    return 0;
}

static void test_wait_reason(void) {
    T_CHECK_EQ(goc_run(dump_main, NULL), 0);
}

/* ======================================================================== */
/* Stress under GOC_DEBUG=shuffle, as children                              */

static void child_stress(void) {
    int rc = goc_run(mutex_main, NULL);
    rc |= goc_run(hammer_rw_main, (void *)(intptr_t)5);
    rc |= goc_run(cond_broadcast_main, NULL);
    rc |= goc_run(cond_generations_main, NULL);
    rc |= goc_run(map_concurrent_main, NULL);
    rc |= goc_run(pool_stress_main, NULL);
    rc |= goc_run(once_main, NULL);
    rc |= goc_run(free_after_unlock_main, NULL);
    exit(rc == 0 && atomic_load(&t_failures) == 0 ? 0 : 3);
}

static void test_shuffle_stress(void) {
    const char *envs[] = {"GOC_DEBUG=shuffle=1", "GOC_DEBUG=shuffle=2 GOC_MAXPROCS=1",
                          "GOC_DEBUG=shuffle=3 GOC_MAXPROCS=4", "GOC_DEBUG=shuffle=777,sync=1"};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        char *err = NULL;
        int st = t_child("stress", envs[i], &err);
        if (st != 0)
            fprintf(stderr, "shuffle run with %s: status %d\n%s\n", envs[i], st, err);
        T_CHECK_EQ(st, 0);
        free(err);
    }
}

int main(int argc, char **argv) {
    static const t_case cases[] = {
        T_CASE(test_mutex),
        T_CASE(test_mutex_fairness),
        T_CASE(test_mutex_plain_threads),
        T_CASE(test_mutex_free_after_unlock),
        T_CASE(test_rwmutex_parallel_readers),
        T_CASE(test_rwmutex_hammer),
        T_CASE(test_rwmutex_try),
        T_CASE(test_rwmutex_writer_preferred),
        T_CASE(test_cond_signal),
        T_CASE(test_cond_signal_generations),
        T_CASE(test_cond_broadcast),
        T_CASE(test_cond_signal_stealing),
        T_CASE(test_cond_wait_until),
        T_CASE(test_cond_timeout_front),
        T_CASE(test_cond_plain_threads),
        T_CASE(test_once),
        T_CASE(test_map_basic),
        T_CASE(test_map_model),
        T_CASE(test_map_concurrent),
        T_CASE(test_map_range_clear),
        T_CASE(test_map_range_reentrant),
        T_CASE(test_map_plain_threads),
        T_CASE(test_pool_basic),
        T_CASE(test_pool_stress),
        T_CASE(test_misuse),
        T_CASE(test_debug_checks),
        T_CASE(test_wait_reason),
        T_CASE(test_shuffle_stress),
    };
    static const t_case children[] = {
        {"unlock_unlocked", child_unlock_unlocked},
        {"rw0", child_rw0},
        {"rw1", child_rw1},
        {"rw2", child_rw2},
        {"rw3", child_rw3},
        {"rw4", child_rw4},
        {"recursive", child_recursive},
        {"recursive_nodebug", child_recursive_nodebug},
        {"rrecursive", child_rrecursive},
        {"rlock_then_lock", child_rlock_then_lock},
        {"debug_ok", child_debug_ok},
        {"stress", child_stress},
    };
    return T_RUN(cases, children);
}
