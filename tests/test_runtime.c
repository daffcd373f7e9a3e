/* Runtime core: goroutines, the scheduler, sleeping, WaitGroup, deadlock
 * detection, dumps, stacks and their overflow. */
#include "t.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#if defined(GOC_SANITIZER_BUILD) || defined(GOC_TEST_SLOW)
#define SCALE 10
#else
#define SCALE 1
#endif

static long rss_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n))
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

/* ---- a million goroutines joined through a WaitGroup ---- */

static goc_wg million_wg;
static _Atomic long million_sum;

static void million_fn(void *arg) {
    atomic_fetch_add_explicit(&million_sum, (long)(intptr_t)arg, memory_order_relaxed);
    goc_wg_done(&million_wg);
}

static int million_main(void *arg) {
    long n = (long)(intptr_t)arg;
    goc_wg_add(&million_wg, (int)n);
    for (long i = 0; i < n; i++)
        goc_go(million_fn, (void *)(intptr_t)i);
    goc_wg_wait(&million_wg);
    return 0;
}

static void test_million_goroutines(void) {
    long n = 1000000 / SCALE;
    long before = rss_kib("VmRSS:");
    int64_t t0 = goc_now();
    T_CHECK_EQ(goc_run(million_main, (void *)(intptr_t)n), 0);
    double ns = (double)(goc_now() - t0) / (double)n;
    T_CHECK_EQ(million_sum, n * (n - 1) / 2);
    printf("     %ld goroutines: %.0f ns each, RSS grew %ld KiB (peak %ld KiB)\n", n, ns,
           rss_kib("VmRSS:") - before, rss_kib("VmHWM:"));
}

/* Runs fn in goc_run and restores GOMAXPROCS afterwards (fn may change it). */
static void run_restoring_procs(int (*fn)(void *), void *arg) {
    int old = goc_maxprocs(0);
    T_CHECK_EQ(goc_run(fn, arg), 0);
    goc_maxprocs(old);
}

/* Raises *peak to the number of goroutines alive now, if that is more. */
static void note_peak(_Atomic int *peak) {
    int live = goc_num_goroutine();
    int p = atomic_load(peak);
    while (live > p && !atomic_compare_exchange_weak(peak, &p, live)) {
    }
}

/* Waits for wg, at most d: false if it timed out (the goroutine that waits
   for wg is then left behind, still waiting). */
typedef struct wg_watch {
    goc_wg *wg;
    goc_chan *done;
} wg_watch;

static void wg_watcher(void *arg) {
    wg_watch *w = arg;
    goc_wg_wait(w->wg);
    goc_chan_close(w->done);
}

static bool wg_wait_for(goc_wg *wg, goc_duration d) {
    static wg_watch w; /* outlives a timed-out wait */
    w.wg = wg;
    w.done = goc_chan_of(char, 0);
    goc_go(wg_watcher, &w);
    goc_case cs[] = {goc_case_recv(w.done, NULL, NULL), goc_case_timeout(d)};
    bool ok = goc_select(cs, 2) == 0;
    if (ok)
        goc_chan_free(w.done);
    return ok;
}

/* ---- a spawning loop with one P: the goroutines it starts do not pile up ---- */

static goc_wg storm_wg;
static _Atomic int storm_peak;

static void storm_fn(void *arg) {
    (void)arg;
    note_peak(&storm_peak);
    goc_wg_done(&storm_wg);
}

static int storm_main(void *arg) {
    long n = (long)(intptr_t)arg;
    goc_maxprocs(1);
    atomic_store(&storm_peak, 0);
    goc_wg_add(&storm_wg, (int)n);
    for (long i = 0; i < n; i++)
        goc_go(storm_fn, NULL);
    goc_wg_wait(&storm_wg);
    return 0;
}

/* The spawner yields when its run queue overflows, behind the half that went
   to the global queue; when it yielded back into its own queue instead, it
   always came before the global queue with one P, and half of everything it
   started waited there (500,000 goroutines and 2 GB of stacks for a million). */
static void test_spawn_storm_one_p(void) {
    long n = 200000 / SCALE;
    run_restoring_procs(storm_main, (void *)(intptr_t)n);
    int peak = atomic_load(&storm_peak);
    printf("     %ld goroutines started by one loop on one P: at most %d alive at once\n", n, peak);
    T_CHECK(peak <= 4096);
}

/* ---- a million goroutines parked at once ---- */

static goc_wg parked_started, parked_gate, parked_done;

static void parked_fn(void *arg) {
    (void)arg;
    goc_wg_done(&parked_started);
    goc_wg_wait(&parked_gate);
    goc_wg_done(&parked_done);
}

static long parked_bytes;

static int parked_main(void *arg) {
    long n = (long)(intptr_t)arg;
    long rss0 = rss_kib("VmHWM:"), pte0 = rss_kib("VmPTE:");
    goc_wg_add(&parked_started, (int)n);
    goc_wg_add(&parked_done, (int)n);
    goc_wg_add(&parked_gate, 1);
    for (long i = 0; i < n; i++)
        goc_go(parked_fn, NULL);
    goc_wg_wait(&parked_started);
    T_CHECK(goc_num_goroutine() >= n + 1);
    parked_bytes = ((rss_kib("VmHWM:") - rss0) + (rss_kib("VmPTE:") - pte0)) * 1024 / n;
    goc_wg_done(&parked_gate);
    goc_wg_wait(&parked_done);
    return 0;
}

static void test_million_parked(void) {
#ifdef T_TSAN
    long n = 5000; /* TSan keeps megabytes per live goroutine */
#else
    long n = 1000000 / SCALE;
#endif
    T_CHECK_EQ(goc_run(parked_main, (void *)(intptr_t)n), 0);
    printf("     %ld parked goroutines: %ld bytes each (RSS and page tables)\n", n, parked_bytes);
#if !defined(GOC_SANITIZER_BUILD)
    T_CHECK(parked_bytes > 0 && parked_bytes < 8192);
#endif
}

/* ---- fairness: two goroutines that respawn each other do not starve a third ---- */

static _Atomic bool fair_stop;
static _Atomic long fair_spawns;

static void respawner(void *arg) {
    (void)arg;
    if (!atomic_load(&fair_stop)) {
        atomic_fetch_add(&fair_spawns, 1);
        goc_go(respawner, NULL);
    }
}

static void third(void *arg) {
    goc_wg *wg = arg;
    atomic_store(&fair_stop, true);
    goc_wg_done(wg);
}

static int fair_main(void *arg) {
    (void)arg;
    goc_maxprocs(1);
    goc_wg wg = {0};
    goc_wg_add(&wg, 1);
    goc_go(respawner, NULL);
    goc_go(respawner, NULL);
    goc_go(third, &wg);
    goc_wg_wait(&wg); /* hangs (test timeout) if the respawners starve `third` */
    return 0;
}

static void test_fairness_respawn(void) {
    run_restoring_procs(fair_main, NULL);
    T_CHECK(atomic_load(&fair_stop));
}

/* ---- fairness: a chain that always runs next does not starve queued work ---- */

/* Each link starts the next and ends, so the chain always has a goroutine in
   the run-next slot. `third` was queued behind it before it began: with one
   P it runs only if the scheduler takes queued work ahead of that slot now
   and then (GOC_STARVE_NS). */
static void chain_link(void *arg) {
    (void)arg;
    if (!atomic_load(&fair_stop))
        goc_go(chain_link, NULL);
}

static int chain_main(void *arg) {
    (void)arg;
    goc_maxprocs(1);
    atomic_store(&fair_stop, false);
    goc_wg wg = {0};
    goc_wg_add(&wg, 1);
    goc_go(third, &wg);      /* in the run-next slot... */
    goc_go(chain_link, NULL); /* ...until this one displaces it into the queue */
    goc_wg_wait(&wg);        /* hangs (test timeout) if the chain starves `third` */
    return 0;
}

static void test_fairness_chain(void) {
    run_restoring_procs(chain_main, NULL);
    T_CHECK(atomic_load(&fair_stop));
}

/* ---- fairness: yielders progress beside a pair that hands off through runnext ---- */

/* With one P, a ping-pong pair always readies its partner into runnext and
   never leaves the P idle; two goroutines that only yield wait in the ring.
   Each must run again and again (the rule sends runnext to the back of the
   line every 10 ms: a rule that ran the ring's head instead picked the same
   yielder every time, since a yielder goes back to the head). */
static _Atomic int pp_stop;
static goc_chan *pp_ab, *pp_ba;
static goc_wg pp_enough, pp_all;

static void pp_yielder(void *arg) {
    (void)arg;
    for (int i = 1; !atomic_load(&pp_stop); i++) {
        if (i == 3)
            goc_wg_done(&pp_enough);
        goc_yield();
    }
    goc_wg_done(&pp_all);
}

static void pp_ping(void *arg) {
    (void)arg;
    int v = 0;
    while (!atomic_load(&pp_stop)) {
        goc_send(pp_ab, v);
        goc_recv(pp_ba, &v);
    }
    goc_chan_close(pp_ab); /* ends pong's range */
    goc_wg_done(&pp_all);
}

static void pp_pong(void *arg) {
    (void)arg;
    int v;
    goc_chan_range(pp_ab, v) goc_send(pp_ba, v + 1);
    goc_wg_done(&pp_all);
}

static int pp_main(void *arg) {
    (void)arg;
    goc_maxprocs(1);
    atomic_store(&pp_stop, 0);
    pp_ab = goc_chan_of(int, 0);
    pp_ba = goc_chan_of(int, 0);
    goc_wg_add(&pp_enough, 2);
    goc_wg_add(&pp_all, 4);
    goc_go(pp_yielder, NULL);
    goc_go(pp_yielder, NULL);
    goc_go(pp_pong, NULL);
    goc_go(pp_ping, NULL);
    bool ok = wg_wait_for(&pp_enough, 10 * GOC_SECOND);
    T_CHECK(ok); /* both yielders ran three times */
    atomic_store(&pp_stop, 1);
    if (ok) { /* else something starves: leave it, the check failed */
        goc_wg_wait(&pp_all);
        goc_chan_free(pp_ab);
        goc_chan_free(pp_ba);
    }
    return 0;
}

static void test_fairness_yielders(void) {
    run_restoring_procs(pp_main, NULL);
}

/* ---- a tree of goroutines runs depth first: few are alive at once ---- */

/* Each node starts its children, then waits for them (skynet's shape). Run
   breadth first, most of the tree is alive at once (with a 4 KiB page per
   stack); depth first, a few per level. */
#define DFS_DIV 10
#define DFS_LEAVES 100000

static _Atomic int dfs_peak;

typedef struct dfs_node {
    goc_chan *up;
    int64_t num, size;
} dfs_node;

static void dfs_fn(void *arg) {
    dfs_node *n = arg;
    note_peak(&dfs_peak);
    if (n->size == 1) {
        goc_send(n->up, n->num);
        return;
    }
    goc_chan *c = goc_chan_of(int64_t, 0);
    int64_t sub = n->size / DFS_DIV;
    for (int i = 0; i < DFS_DIV; i++) {
        dfs_node child = {c, n->num + i * sub, sub};
        goc_go_copy(dfs_fn, &child, sizeof child);
    }
    int64_t sum = 0;
    for (int i = 0; i < DFS_DIV; i++) {
        int64_t v;
        goc_recv(c, &v);
        sum += v;
    }
    goc_chan_free(c);
    goc_send(n->up, sum);
}

static int dfs_main(void *arg) {
    (void)arg;
    goc_maxprocs(1);
    atomic_store(&dfs_peak, 0);
    goc_chan *c = goc_chan_of(int64_t, 0);
    dfs_node root = {c, 0, DFS_LEAVES};
    goc_go_copy(dfs_fn, &root, sizeof root);
    int64_t total;
    goc_recv(c, &total);
    goc_chan_free(c);
    T_CHECK_EQ(total, (int64_t)DFS_LEAVES * (DFS_LEAVES - 1) / 2);
    return 0;
}

static void test_tree_depth_first(void) {
    run_restoring_procs(dfs_main, NULL);
    /* depth first: about DFS_DIV per level (5 levels) plus main, 61 here,
       a few hundred in slow builds where the 10 ms fairness rule starts
       more old subtrees; breadth first (Go's FIFO order) reaches 9,980 */
    int peak = atomic_load(&dfs_peak);
    printf("     tree of %d leaves: at most %d goroutines alive at once\n", DFS_LEAVES, peak);
    const char *dbg = getenv("GOC_DEBUG");
    if (dbg && strstr(dbg, "shuffle"))
        printf("     (GOC_DEBUG=shuffle randomises the order: bound not checked)\n");
    else
#ifdef T_TSAN
        /* ten times slower: the 10 ms rule fires ten times as often, and
           each firing starts an old subtree beside the current one */
        printf("     (TSan build: bound checked in the release and ASan builds)\n");
#else
        T_CHECK(peak <= 2000);
#endif
}

/* ---- parallelism: goroutines run on distinct threads at the same time ---- */

static _Atomic int par_arrived;
static pthread_t par_threads[64];

static void par_fn(void *arg) {
    int i = (int)(intptr_t)arg;
    par_threads[i] = pthread_self();
    atomic_fetch_add(&par_arrived, 1);
    /* Spin (no goc call, so this goroutine keeps its thread) until every
       other one has arrived: only possible if all run in parallel. */
    int64_t deadline = goc_now() + 20 * GOC_SECOND;
    while (atomic_load(&par_arrived) < goc_maxprocs(0) && goc_now() < deadline) {
    }
}

static int par_main(void *arg) {
    (void)arg;
    int n = goc_maxprocs(0);
    if (n > 64)
        n = 64;
    goc_wg wg = {0};
    for (int i = 0; i < n; i++)
        goc_wg_go(&wg, par_fn, (void *)(intptr_t)i);
    goc_wg_wait(&wg);
    T_CHECK_EQ(atomic_load(&par_arrived), n);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            T_CHECK(!pthread_equal(par_threads[i], par_threads[j]));
    return 0;
}

static void test_parallel_threads(void) {
    int old = goc_maxprocs(0);
    if (old < 2)
        goc_maxprocs(2); /* more threads than cores still run at once */
    T_CHECK_EQ(goc_run(par_main, NULL), 0);
    goc_maxprocs(old);
}

/* ---- goc_go_copy passes each iteration's value ---- */

struct copy_arg {
    int i;
    char pad[100];
    goc_wg *wg;
    _Atomic int *seen;
};

static void copy_fn(void *arg) {
    struct copy_arg *a = arg;
    T_CHECK(a->pad[99] == (char)a->i);
    atomic_fetch_add(&a->seen[a->i], 1);
    goc_wg_done(a->wg);
}

static int copy_main(void *arg) {
    (void)arg;
    enum { N = 1000 };
    static _Atomic int seen[N];
    goc_wg wg = {0};
    goc_wg_add(&wg, N);
    for (int i = 0; i < N; i++) {
        struct copy_arg a = {.i = i, .wg = &wg, .seen = seen};
        a.pad[99] = (char)i;
        goc_go_copy(copy_fn, &a, sizeof a);
    }
    goc_wg_wait(&wg);
    for (int i = 0; i < N; i++)
        T_CHECK_EQ(seen[i], 1);
    return 0;
}

static void test_go_copy(void) {
    T_CHECK_EQ(goc_run(copy_main, NULL), 0);
}

/* ---- goc_run twice, returning main's value; ids; num_goroutine ---- */

static int ret_main(void *arg) {
    T_CHECK_EQ(goc_id(), 1);
    T_CHECK(goc_num_goroutine() >= 1);
    return (int)(intptr_t)arg;
}

static _Atomic int early_ran;
static goc_wg early_wg;
static _Atomic uint64_t early_ids[3];
static void early_fn(void *arg) {
    atomic_store(&early_ids[(intptr_t)arg], goc_id());
    atomic_store(&early_ran, 1);
    goc_wg_done(&early_wg);
}
static int early_main(void *arg) {
    (void)arg;
    T_CHECK_EQ(goc_id(), 1);
    goc_wg_add(&early_wg, 1);
    goc_go(early_fn, (void *)2); /* one started inside the run */
    goc_wg_wait(&early_wg);
    return atomic_load(&early_ran);
}

/* goc_go before goc_run: the goroutines run once goc_run does, and their
   ids are their own (they were 1 and 2, main's and the next one's, when
   goc_run restarted the ids). */
static void test_go_before_run(void) {
    goc_wg_add(&early_wg, 2);
    goc_go(early_fn, (void *)0);
    goc_go(early_fn, (void *)1);
    T_CHECK_EQ(atomic_load(&early_ran), 0);
    T_CHECK_EQ(goc_run(early_main, NULL), 1);
    uint64_t a = atomic_load(&early_ids[0]), b = atomic_load(&early_ids[1]),
             c = atomic_load(&early_ids[2]);
    T_CHECK(a > 1 && b > 1 && c > 1 && a != b && a != c && b != c);
}

static void test_run_twice(void) {
    T_CHECK_EQ(goc_run(ret_main, (void *)42), 42);
    T_CHECK_EQ(goc_run(ret_main, (void *)7), 7);
    T_CHECK_EQ(goc_id(), 0);
}

/* A goroutine that only yields, abandoned by a goc_run that returned, must
   let the next goc_run have its P (it used to be queued again at every
   yield and keep the P for ever). A watchdog turns a hang into a failure. */
static _Atomic int yielders_started;
static void forever_yielder(void *arg) {
    (void)arg;
    atomic_fetch_add(&yielders_started, 1);
    for (;;)
        goc_yield();
}
static void busy_100ms(void *arg) {
    (void)arg;
    atomic_fetch_add(&yielders_started, 1);
    int64_t end = goc_now() + 100 * GOC_MILLISECOND;
    while (goc_now() < end) {
    } /* keeps its P: the next goc_run starts while the yielders run */
}
static int leave_yielders_main(void *arg) {
    (void)arg;
    goc_maxprocs(3);
    atomic_store(&yielders_started, 0);
    goc_go(busy_100ms, NULL);
    for (int i = 0; i < 2; i++)
        goc_go(forever_yielder, NULL);
    while (atomic_load(&yielders_started) < 3)
        goc_yield();
    return 5;
}
static pthread_mutex_t dog_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dog_cv = PTHREAD_COND_INITIALIZER;
static bool dog_done;
static void *rerun_watchdog(void *arg) {
    (void)arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&dog_mu);
    while (!dog_done)
        if (pthread_cond_timedwait(&dog_cv, &dog_mu, &until) == ETIMEDOUT && !dog_done) {
            fprintf(stderr, "test_run_after_yielders: the second goc_run hangs\n");
            _exit(1);
        }
    pthread_mutex_unlock(&dog_mu);
    return NULL;
}
static void test_run_after_yielders(void) {
    pthread_t dog;
    pthread_create(&dog, NULL, rerun_watchdog, NULL);
    int procs = goc_maxprocs(0);
    for (int i = 0; i < 3; i++) {
        T_CHECK_EQ(goc_run(leave_yielders_main, NULL), 5);
        T_CHECK_EQ(goc_run(ret_main, (void *)9), 9);
    }
    goc_maxprocs(procs);
    pthread_mutex_lock(&dog_mu);
    dog_done = true;
    pthread_cond_signal(&dog_cv);
    pthread_mutex_unlock(&dog_mu);
    pthread_join(dog, NULL);
}

/* ---- a plain pthread waits on a WaitGroup that goroutines finish ---- */

static goc_wg thread_wg;
static _Atomic int thread_work;

static void thread_worker(void *arg) {
    (void)arg;
    atomic_fetch_add(&thread_work, 1);
    goc_wg_done(&thread_wg);
}

static void *plain_waiter(void *arg) {
    (void)arg;
    goc_wg_wait(&thread_wg);
    return (void *)(intptr_t)atomic_load(&thread_work);
}

static int thread_main(void *arg) {
    (void)arg;
    pthread_t t;
    goc_wg_add(&thread_wg, 100);
    pthread_create(&t, NULL, plain_waiter, NULL);
    for (int i = 0; i < 100; i++)
        goc_go(thread_worker, NULL);
    void *res;
    goc_blocking_begin();
    pthread_join(t, &res);
    goc_blocking_end();
    T_CHECK_EQ((intptr_t)res, 100);
    return 0;
}

static void test_pthread_waits_wg(void) {
    T_CHECK_EQ(goc_run(thread_main, NULL), 0);
}

/* ---- sleeping: parks (other goroutines run), and lasts at least d ---- */

static goc_wg sleep_wg;
static _Atomic int sleep_order[8];
static _Atomic int sleep_next;

static void sleeper(void *arg) {
    int i = (int)(intptr_t)arg;
    int64_t t0 = goc_now();
    goc_sleep((8 - i) * 20 * GOC_MILLISECOND);
    T_CHECK(goc_now() - t0 >= (8 - i) * 20 * GOC_MILLISECOND);
    sleep_order[atomic_fetch_add(&sleep_next, 1)] = i;
    goc_wg_done(&sleep_wg);
}

static int sleep_main(void *arg) {
    (void)arg;
    goc_maxprocs(1); /* one thread: sleepers must park, not block it */
    goc_wg_add(&sleep_wg, 8);
    for (int i = 0; i < 8; i++)
        goc_go(sleeper, (void *)(intptr_t)i);
    goc_wg_wait(&sleep_wg);
    for (int i = 0; i < 8; i++)
        T_CHECK_EQ(sleep_order[i], 7 - i);
    return 0;
}

static void test_sleep_parks(void) {
    int old = goc_maxprocs(0);
    int64_t t0 = goc_now();
    T_CHECK_EQ(goc_run(sleep_main, NULL), 0);
    goc_maxprocs(old);
    /* 8 sleepers of 20..160 ms on one thread overlap: well under their sum */
    T_CHECK(goc_now() - t0 < 600 * GOC_MILLISECOND);
}

/* ---- many timers: 10,000 goroutines sleep random short times ---- */

static goc_wg many_wg;

static void many_sleeper(void *arg) {
    uint64_t x = (uint64_t)(intptr_t)arg * 0x9E3779B97F4A7C15ULL;
    for (int k = 0; k < 3; k++) {
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9ULL;
        goc_sleep((goc_duration)(1 + x % 20) * GOC_MILLISECOND);
    }
    goc_wg_done(&many_wg);
}

static int many_main(void *arg) {
    int n = (int)(intptr_t)arg;
    goc_wg_add(&many_wg, n);
    for (int i = 0; i < n; i++)
        goc_go(many_sleeper, (void *)(intptr_t)i);
    goc_wg_wait(&many_wg);
    return 0;
}

static void test_many_sleepers(void) {
    T_CHECK_EQ(goc_run(many_main, (void *)(intptr_t)(10000 / SCALE)), 0);
}

/* ---- yield lets others run on one thread ---- */

static _Atomic int yield_turns;

static void yield_fn(void *arg) {
    goc_wg *wg = arg;
    for (int i = 0; i < 1000; i++) {
        atomic_fetch_add(&yield_turns, 1);
        goc_yield();
    }
    goc_wg_done(wg);
}

static int yield_main(void *arg) {
    (void)arg;
    goc_maxprocs(1);
    goc_wg wg = {0};
    goc_wg_add(&wg, 3);
    for (int i = 0; i < 3; i++)
        goc_go(yield_fn, &wg);
    goc_wg_wait(&wg);
    T_CHECK_EQ(atomic_load(&yield_turns), 3000);
    return 0;
}

static void test_yield(void) {
    int old = goc_maxprocs(0);
    T_CHECK_EQ(goc_run(yield_main, NULL), 0);
    goc_maxprocs(old);
    T_CHECK_EQ(goc_maxprocs(0), old);
}

/* ---- errno survives a park, even across threads ---- */

/* glibc's __errno_location is declared const, so the compiler may keep the
   address of one thread's errno across a call that moves the goroutine to
   another thread: read and write errno through calls it cannot fold, as
   docs/design.md tells users to (or read errno before anything that blocks). */
__attribute__((noinline)) static int get_errno(void) {
    int e = errno;
    __asm__ volatile("" : "+r"(e)::"memory");
    return e;
}
__attribute__((noinline)) static void set_errno(int e) {
    __asm__ volatile("" ::: "memory");
    errno = e;
}

static void errno_fn(void *arg) {
    goc_wg *wg = arg;
    for (int i = 0; i < 100; i++) {
        set_errno(1000 + i);
        goc_sleep(GOC_MICROSECOND * 50);
        T_CHECK_EQ(get_errno(), 1000 + i);
        set_errno(2000 + i);
        goc_yield();
        T_CHECK_EQ(get_errno(), 2000 + i);
    }
    goc_wg_done(wg);
}

static int errno_main(void *arg) {
    (void)arg;
    goc_wg wg = {0};
    goc_wg_add(&wg, 8);
    for (int i = 0; i < 8; i++)
        goc_go(errno_fn, &wg);
    goc_wg_wait(&wg);
    return 0;
}

static void test_errno_preserved(void) {
    T_CHECK_EQ(goc_run(errno_main, NULL), 0);
}

/* ---- GOMAXPROCS changes while running ---- */

static _Atomic int procs_count;

static void procs_fn(void *arg) {
    (void)arg;
    goc_yield();
    atomic_fetch_add(&procs_count, 1);
}

static int procs_main(void *arg) {
    (void)arg;
    int old = goc_maxprocs(3);
    T_CHECK_EQ(goc_maxprocs(0), 3);
    goc_wg wg = {0};
    for (int i = 0; i < 1000; i++) {
        goc_wg_go(&wg, procs_fn, NULL);
        if (i == 500)
            goc_maxprocs(1); /* shrink while goroutines are queued everywhere */
    }
    goc_wg_wait(&wg);
    T_CHECK_EQ(atomic_load(&procs_count), 1000);
    T_CHECK_EQ(goc_maxprocs(old), 1);
    return 0;
}

static void test_maxprocs_runtime(void) {
    T_CHECK_EQ(goc_run(procs_main, NULL), 0);
}

/* ---- shrinking GOMAXPROCS: the timers of the retired Ps still fire ---- */

static goc_wg retire_started, retire_woke;

static void retire_sleeper(void *arg) {
    (void)arg;
    goc_wg_done(&retire_started);
    goc_sleep(20 * GOC_MILLISECOND); /* its timer is on whichever P runs it */
    goc_wg_done(&retire_woke);
}

static void retire_spinner(void *arg) {
    (void)arg;
    int64_t end = goc_now() + 5 * GOC_MILLISECOND; /* keeps its P busy, so sleepers spread */
    while (goc_now() < end) {
    }
}

static int retire_main(void *arg) {
    (void)arg;
    goc_maxprocs(4);
    goc_wg_add(&retire_started, 16);
    goc_wg_add(&retire_woke, 16);
    for (int i = 0; i < 16; i++) {
        goc_go(retire_spinner, NULL);
        goc_go(retire_sleeper, NULL);
    }
    goc_wg_wait(&retire_started);
    goc_maxprocs(1); /* Ps 1-3 retire with timers in their heaps */
    T_CHECK(wg_wait_for(&retire_woke, 5 * GOC_SECOND)); /* every sleeper woke */
    return 0;
}

static void test_retired_timers(void) {
    run_restoring_procs(retire_main, NULL);
}

/* ---- growing GOMAXPROCS from one: the new P can take queued work at once ---- */

static _Atomic int grow_flag;

static void grow_worker(void *arg) {
    (void)arg;
    atomic_store(&grow_flag, 1);
}

static int grow_main(void *arg) {
    (void)arg;
    goc_maxprocs(1);
    goc_yield(); /* a switch: this P is now in solo mode */
    atomic_store(&grow_flag, 0);
    goc_go(grow_worker, NULL);
    goc_go(grow_worker, NULL); /* one in runnext, one in the ring */
    goc_maxprocs(2);
    /* Keep this thread without a switch: the workers can run only if the
       new P steals them, so the queue must have left solo mode already. */
    int64_t end = goc_now() + 5 * GOC_SECOND;
    while (!atomic_load(&grow_flag) && goc_now() < end) {
    }
    T_CHECK(atomic_load(&grow_flag));
    return 0;
}

static void test_solo_then_grow(void) {
    run_restoring_procs(grow_main, NULL);
}

/* ---- a goroutine left in runnext of a busy P runs on another P ---- */

/* The G in runnext is left to its own P for a moment (it is usually about
   to run there), but not for ever: when the P's goroutine keeps running
   without a switch, another P takes it. Both cases: a new goroutine (its
   spawn wakes an M) and one readied by a channel hand-off (no M is woken:
   sysmon notices the P makes no progress). Each goroutine spins until the
   other has run, which only two Ps in parallel can satisfy. */
static _Atomic int rn_flags;

static bool rn_spin_for(int want) {
    int64_t end = goc_now() + 5 * GOC_SECOND;
    while ((atomic_load(&rn_flags) & want) != want)
        if (goc_now() > end)
            return false;
    return true;
}

static void rn_spawned(void *arg) {
    (void)arg;
    atomic_fetch_or(&rn_flags, 1);
}

static void rn_partner(void *arg) {
    goc_chan *c = arg;
    int v = 0;
    T_CHECK(goc_chan_recv(c, &v));
    atomic_fetch_or(&rn_flags, 2);
    T_CHECK(rn_spin_for(4));
}

static int runnext_main(void *arg) {
    (void)arg;
    goc_maxprocs(2);
    atomic_store(&rn_flags, 0);
    goc_go(rn_spawned, NULL); /* into this P's runnext */
    T_CHECK(rn_spin_for(1));
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    goc_go(rn_partner, c);
    int v = 1;
    goc_chan_send(c, &v); /* whichever of us comes second readies the other */
    atomic_fetch_or(&rn_flags, 4);
    T_CHECK(rn_spin_for(2));
    goc_chan_free(c);
    return 0;
}

static void test_runnext_taken(void) {
    for (int i = 0; i < 20; i++)
        run_restoring_procs(runnext_main, NULL);
}

/* ---- one stack reused by many goroutines in turn ---- */

/* Each goroutine ends before the next starts, so one G and its stack serve
   them all. Under TSan its fiber kept a few shadow-stack entries of every
   goroutine (their outermost frames never return) and TSan failed a CHECK
   after some tens of thousands (22,000 to 65,000, by the frames each left). */
enum { REUSE_RUNS = 100000 };

static void reuse_fn(void *arg) {
    goc_chan_send(arg, NULL);
}

static int reuse_main(void *arg) {
    (void)arg;
    goc_maxprocs(1);
    goc_chan *done = goc_chan_make(0, 0);
    for (int i = 0; i < REUSE_RUNS; i++) {
        goc_go(reuse_fn, done);
        T_CHECK(goc_chan_recv(done, NULL));
    }
    goc_chan_free(done);
    return 0;
}

static void test_stack_reused_many_times(void) {
    run_restoring_procs(reuse_main, NULL);
}

/* ---- errno survives a yield on a P that goc_maxprocs retired ---- */

/* A goroutine running on a P beyond a lowered GOMAXPROCS yields through
   another path (its P is no longer scheduled): errno must survive it too,
   whatever the scheduler's own system calls did meanwhile. */
static _Atomic int ry_started, ry_go, ry_done, ry_errno;

static void ry_nop(void *arg) {
    (void)arg;
}

static void ry_yielder(void *arg) {
    (void)arg;
    atomic_store(&ry_started, 1);
    while (!atomic_load(&ry_go)) {
    }
    goc_go(ry_nop, NULL);
    set_errno(42);
    goc_yield();
    atomic_store(&ry_errno, get_errno()); /* not a cached errno address */
    atomic_store(&ry_done, 1);
}

static int retired_yield_main(void *arg) {
    (void)arg;
    for (int it = 0; it < 50; it++) {
        goc_maxprocs(2);
        atomic_store(&ry_started, 0);
        atomic_store(&ry_go, 0);
        atomic_store(&ry_done, 0);
        goc_go(ry_yielder, NULL);
        /* main spins: the yielder starts on the other P */
        while (!atomic_load(&ry_started)) {
        }
        goc_maxprocs(1);
        atomic_store(&ry_go, 1);
        while (!atomic_load(&ry_done))
            goc_sleep(GOC_MILLISECOND);
        T_CHECK_EQ(atomic_load(&ry_errno), 42);
    }
    return 0;
}

static void test_errno_retired_yield(void) {
    run_restoring_procs(retired_yield_main, NULL);
}

/* ---- a short ring behind a goroutine that keeps running is taken ---- */

/* A thief leaves a short ring to an owner that switches fast (W6's
   consumer and its producers stay together), and such an owner calls no
   thief for a while. Neither may strand the ring once the owner runs a
   goroutine that does not switch: here main, after a phase of fast
   switching on one channel group, readies three goroutines (those not
   already running elsewhere go to its runnext and ring) and spins until
   each has run, which only another P taking them can satisfy. */
enum { SR_WORKERS = 3, SR_MSGS = 20000 };
static _Atomic int sr_ran;

static void sr_producer(void *arg) {
    goc_chan *c = arg;
    for (int i = 0; i < SR_MSGS; i++)
        goc_send(c, i);
    goc_chan_close(c);
}

static void sr_worker(void *arg) {
    goc_chan *c = arg;
    int v = 0;
    T_CHECK(goc_chan_recv(c, &v));
    atomic_fetch_add(&sr_ran, 1);
}

static int short_ring_main(void *arg) {
    (void)arg;
    goc_maxprocs(2);
    atomic_store(&sr_ran, 0);
    /* Fast switching: a consumer selecting over producers (as W6). */
    goc_chan *pc[SR_WORKERS];
    goc_case cases[SR_WORKERS];
    int v = 0;
    bool ok = false;
    for (int i = 0; i < SR_WORKERS; i++) {
        pc[i] = goc_chan_make(sizeof(int), 0);
        goc_go(sr_producer, pc[i]);
        cases[i] = goc_case_recv(pc[i], &v, &ok);
    }
    long got = 0;
    for (int open = SR_WORKERS; open > 0;) {
        int i = goc_select(cases, SR_WORKERS);
        if (!ok) {
            cases[i] = goc_case_recv(NULL, NULL, NULL);
            open--;
        } else {
            got++;
        }
    }
    T_CHECK_EQ(got, (long)SR_WORKERS * SR_MSGS);
    /* Then ready three goroutines here and keep running. */
    goc_chan *wc[SR_WORKERS];
    for (int i = 0; i < SR_WORKERS; i++) {
        wc[i] = goc_chan_make(sizeof(int), 0);
        goc_go(sr_worker, wc[i]);
    }
    for (int i = 0; i < SR_WORKERS; i++)
        goc_send(wc[i], i); /* blocks until worker i waits, then readies it */
    int64_t end = goc_now() + 5 * GOC_SECOND;
    while (atomic_load(&sr_ran) < SR_WORKERS && goc_now() < end) {
    }
    T_CHECK_EQ(atomic_load(&sr_ran), SR_WORKERS);
    goc_yield(); /* let the last worker finish with its channel */
    for (int i = 0; i < SR_WORKERS; i++) {
        goc_chan_free(pc[i]);
        goc_chan_free(wc[i]);
    }
    return 0;
}

static void test_short_ring_taken(void) {
    for (int i = 0; i < 10; i++)
        run_restoring_procs(short_ring_main, NULL);
}

/* ---- work queued on a P that GOMAXPROCS retires while it runs ---- */

/* A retired P gives its queue to the global queue only at its next switch.
   Until then its queued goroutines must still be taken by the Ps that
   remain: here its owner spins until the goroutine it queued has run.
   (Which P is retired, the spinner's or main's, is up to the scheduler;
   both must work, and ten rounds see the first.) */
static _Atomic int rt_flags;

static void rt_queued(void *arg) {
    (void)arg;
    atomic_fetch_or(&rt_flags, 2);
}

static void rt_spinner(void *arg) {
    goc_go(rt_queued, NULL); /* into this P's runnext */
    atomic_fetch_or(&rt_flags, 1);
    int64_t end = goc_now() + 5 * GOC_SECOND;
    while (!(atomic_load(&rt_flags) & 2) && goc_now() < end) {
    }
    T_CHECK(atomic_load(&rt_flags) & 2);
    char c = 1;
    goc_chan_send(arg, &c); /* buffered: never blocks */
}

static int retired_queue_main(void *arg) {
    (void)arg;
    goc_maxprocs(3);
    atomic_store(&rt_flags, 0);
    goc_chan *done = goc_chan_of(char, 1);
    goc_go(rt_spinner, done);
    /* Wait without a switch: the spinner runs on the other P. */
    int64_t end = goc_now() + 5 * GOC_SECOND;
    while (!(atomic_load(&rt_flags) & 1) && goc_now() < end) {
    }
    T_CHECK(atomic_load(&rt_flags) & 1);
    /* P 2 is retired. When it is the spinner's, it is busy, with rt_queued
       queued; when it is ours, the spinner's P is an ordinary victim. */
    goc_maxprocs(2);
    /* Block: this P goes looking for work, and must find rt_queued there. */
    goc_case cs[] = {goc_case_recv(done, NULL, NULL), goc_case_timeout(10 * GOC_SECOND)};
    int idx = goc_select(cs, 2);
    T_CHECK_EQ(idx, 0);
    T_CHECK(atomic_load(&rt_flags) & 2);
    /* the spinner has sent, so nobody uses done any more; after a timeout
       it still may: left to leak */
    if (idx == 0)
        goc_chan_free(done);
    return 0;
}

static void test_retired_queue(void) {
    for (int i = 0; i < 10; i++)
        run_restoring_procs(retired_queue_main, NULL);
}

/* ---- a plain thread in a timed wait is no deadlock ---- */

/* Every goroutine waits for a plain thread that sleeps, selects with a
   timeout or sleeps on a context inside goc: it wakes by itself, as a timer
   would, so the deadlock check must leave the program alone (it used to
   report "all goroutines are asleep" and exit). */
static goc_chan *timed_c;
#define TIMED_WAIT (100 * GOC_MILLISECOND) /* longer than the 30 ms a deadlock takes to confirm */

static void *timed_thread(void *arg) {
    int how = (int)(intptr_t)arg;
    if (how == 0) {
        goc_sleep(TIMED_WAIT);
    } else if (how == 1) {
        goc_case cs[] = {goc_case_timeout(TIMED_WAIT)};
        T_CHECK_EQ(goc_select(cs, 1), 0);
    } else {
        goc_ctx *c = goc_ctx_with_cancel(goc_ctx_background());
        T_CHECK_EQ(goc_sleep_ctx(c, TIMED_WAIT), 0);
        goc_ctx_cancel(c);
        goc_ctx_release(c);
    }
    goc_chan_send(timed_c, &how);
    return NULL;
}

static int timed_wait_main(void *arg) {
    (void)arg;
    timed_c = goc_chan_of(int, 0);
    for (int how = 0; how < 3; how++) {
        pthread_t th;
        T_CHECK_EQ(pthread_create(&th, NULL, timed_thread, (void *)(intptr_t)how), 0);
        int got = -1;
        T_CHECK(goc_chan_recv(timed_c, &got)); /* every goroutine waits now */
        T_CHECK_EQ(got, how);
        goc_blocking_begin();
        pthread_join(th, NULL);
        goc_blocking_end();
    }
    goc_chan_free(timed_c);
    return 0;
}

static void test_plain_thread_timed_wait(void) {
    goc_run(timed_wait_main, NULL);
}

/* ---- a long blocking call hands its P over: one thread still runs others ---- */

static int block_pipe[2];
static _Atomic int block_order;

static void block_reader(void *arg) {
    goc_wg *wg = arg;
    char c = 0;
    goc_blocking_begin();
    ssize_t n = read(block_pipe[0], &c, 1); /* blocks the thread */
    goc_blocking_end();
    T_CHECK_EQ(n, 1);
    T_CHECK_EQ(c, 'x');
    T_CHECK_EQ(atomic_fetch_add(&block_order, 1), 1);
    goc_wg_done(wg);
}

static void block_writer(void *arg) {
    goc_wg *wg = arg;
    T_CHECK_EQ(atomic_fetch_add(&block_order, 1), 0);
    T_CHECK_EQ(write(block_pipe[1], "x", 1), 1);
    goc_wg_done(wg);
}

static int blocking_main(void *arg) {
    (void)arg;
    goc_maxprocs(1);
    T_CHECK_EQ(pipe(block_pipe), 0);
    goc_wg wg = {0};
    goc_wg_add(&wg, 2);
    goc_go(block_reader, &wg);
    goc_yield(); /* the reader blocks in read(2) holding the only P ... */
    goc_go(block_writer, &wg); /* ... which sysmon hands to another thread */
    goc_wg_wait(&wg);
    close(block_pipe[0]);
    close(block_pipe[1]);
    return 0;
}

static void test_blocking_handoff(void) {
    int old = goc_maxprocs(0);
    T_CHECK_EQ(goc_run(blocking_main, NULL), 0);
    goc_maxprocs(old);
}

/* ---- dump: Go's format, wait reasons, names, creators ---- */

static goc_wg dump_gate;

static void dump_waiter(void *arg) {
    (void)arg;
    goc_wg_wait(&dump_gate);
}

static char *dump_text;

static int dump_main(void *arg) {
    (void)arg;
    goc_wg_add(&dump_gate, 1);
    goc_go_opts(dump_waiter, NULL, &(goc_go_options){.name = "the-waiter", .file = "here.c", .line = 7});
    go(dump_waiter, NULL); /* started with no name: the dump names its creator's call */
    /* started by a timer's function: created by no goroutine (not by the
       one its M switched to when the timer ran) */
    goc_timer *t = goc_after_func(GOC_MILLISECOND, dump_waiter, NULL);
    t_wait_parked("sync.WaitGroup.Wait", 3);
    size_t len = 0;
    FILE *f = open_memstream(&dump_text, &len);
    goc_dump(f);
    fclose(f);
    goc_wg_done(&dump_gate);
    goc_timer_free(t);
    return 0;
}

static void test_dump(void) {
    T_CHECK_EQ(goc_run(dump_main, NULL), 0);
    T_CHECK(strstr(dump_text, "goroutine 1 [running]:") != NULL);
    T_CHECK(strstr(dump_text, "[sync.WaitGroup.Wait]:") != NULL);
    T_CHECK(strstr(dump_text, "name \"the-waiter\"") != NULL);
    /* Go's "created by main.main in goroutine 1": the function that made
       the call (dump_main, or what the optimiser inlined it into) */
    const char *by = strstr(dump_text, " in goroutine 1\n\there.c:7\n");
    T_CHECK(by != NULL);
    const char *line = by;
    while (line > dump_text && line[-1] != '\n')
        line--;
    T_CHECK(strncmp(line, "created by ", 11) == 0 && line + 11 < by);
    T_CHECK(strstr(dump_text, " in goroutine 1\n\t" __FILE__ ":") != NULL);
    int by_timer = 0;
    for (const char *l = strstr(dump_text, "created by "); l; l = strstr(l + 1, "created by ")) {
        const char *end = strchr(l, '\n');
        const char *in = strstr(l, " in goroutine ");
        by_timer += !in || (end && in > end);
    }
    T_CHECK_EQ(by_timer, 1);
    T_CHECK(strstr(dump_text, "dump_main+") != NULL); /* a symbolised frame */
    free(dump_text);
}

/* Several threads dump at once, each the process's first dump: every dump
   names the frames (the symbol table used to be marked loaded before it
   was, and a concurrent dump printed "??" for every frame). A child, so
   that its dumps are the first. */
enum { DUMPERS = 6 };
static pthread_barrier_t dump_barrier;
static char *dumps[DUMPERS];

static void *dumper(void *arg) {
    size_t len;
    FILE *f = open_memstream(&dumps[(intptr_t)arg], &len);
    pthread_barrier_wait(&dump_barrier);
    goc_dump(f);
    fclose(f);
    return NULL;
}

static int dump_race_main(void *arg) {
    (void)arg;
    goc_wg_add(&dump_gate, 1);
    for (int i = 0; i < 3; i++)
        go(dump_waiter, NULL);
    /* One P (the child's GOC_MAXPROCS): a yield runs the waiters, which
       park, before main runs again. */
    for (int i = 0; i < 3; i++)
        goc_yield();
    pthread_barrier_init(&dump_barrier, NULL, DUMPERS);
    pthread_t th[DUMPERS];
    for (intptr_t i = 0; i < DUMPERS; i++)
        pthread_create(&th[i], NULL, dumper, (void *)i);
    for (int i = 0; i < DUMPERS; i++)
        pthread_join(th[i], NULL);
    goc_wg_done(&dump_gate);
    int bad = 0;
    for (int i = 0; i < DUMPERS; i++) {
        if (!strstr(dumps[i], "schedule_from")) { /* static (LTO: .lto_priv.0): from .symtab */
            fprintf(stderr, "dump %d names no frame:\n%s\n", i, dumps[i]);
            bad++;
        }
        free(dumps[i]);
    }
    return bad;
}

static void child_dump_race(void) {
    exit(goc_run(dump_race_main, NULL) == 0 ? 0 : 3);
}

static void test_dump_race(void) {
    for (int i = 0; i < 5; i++) {
        char *err = NULL;
        int st = t_child("dump_race", "GOC_MAXPROCS=1", &err);
        if (st != 0)
            fprintf(stderr, "dump_race child: status %d\n%s\n", st, err);
        T_CHECK_EQ(st, 0);
        free(err);
    }
}


/* ---- shuffle stress: a spawn tree and WaitGroups under GOC_DEBUG=shuffle ---- */

struct tree_arg {
    int depth;
    _Atomic long *leaves;
    goc_wg *wg;
};

static void tree_fn(void *arg) {
    struct tree_arg *a = arg;
    if (a->depth == 0) {
        atomic_fetch_add(a->leaves, 1);
    } else {
        goc_wg wg = {0};
        for (int i = 0; i < 4; i++) {
            struct tree_arg c = {a->depth - 1, a->leaves, &wg};
            goc_wg_add(&wg, 1);
            goc_go_copy(tree_fn, &c, sizeof c);
        }
        if (a->depth % 2)
            goc_yield();
        goc_wg_wait(&wg);
    }
    goc_wg_done(a->wg);
}

static int tree_main(void *arg) {
    (void)arg;
    _Atomic long leaves = 0;
    goc_wg wg = {0};
    goc_wg_add(&wg, 1);
    struct tree_arg a = {7, &leaves, &wg};
    goc_go_copy(tree_fn, &a, sizeof a);
    goc_wg_wait(&wg);
    return atomic_load(&leaves) == 16384 ? 0 : 1;
}

static void child_tree(void) {
    int rc = 0;
    for (int i = 0; i < 5 && rc == 0; i++)
        rc = goc_run(tree_main, NULL);
    exit(rc == 0 ? 0 : 3);
}

static void test_shuffle_stress(void) {
    const char *envs[] = {"GOC_DEBUG=shuffle=1", "GOC_DEBUG=shuffle=2 GOC_MAXPROCS=1",
                          "GOC_DEBUG=shuffle=3 GOC_MAXPROCS=4", "GOC_DEBUG=shuffle=12345"};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        char *err = NULL;
        int st = t_child("tree", envs[i], &err);
        if (st != 0)
            fprintf(stderr, "shuffle run with %s: status %d\n%s\n", envs[i], st, err);
        T_CHECK_EQ(st, 0);
        free(err);
    }
}

/* ---- idle: a program whose goroutines all sleep uses no CPU ---- */

static int idle_main(void *arg) {
    (void)arg;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    goc_sleep(300 * GOC_MILLISECOND);
    getrusage(RUSAGE_SELF, &r1);
    long us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000 +
              (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
              (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000 +
              (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    printf("     CPU used while asleep 300 ms: %ld us\n", us);
    T_CHECK(us < 30000); /* a spinning thread would use ~300,000 us */
    return 0;
}

static long cpu_us(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000L + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
}

static int idle_between_main(void *arg) {
    (void)arg;
    goc_sleep(GOC_MILLISECOND);
    return 0;
}
static void idle_after_fn(void *arg) {
    (void)arg;
}

static void test_idle_no_cpu(void) {
    T_CHECK_EQ(goc_run(idle_main, NULL), 0);
    /* Between runs too, with a timer due that nobody runs until the next
       run (the idle Ms took a P for it and dropped it, in a loop: a whole
       core). */
    T_CHECK_EQ(goc_run(idle_between_main, NULL), 0);
    goc_timer *t = goc_after_func(GOC_MILLISECOND, idle_after_fn, NULL);
    long us = cpu_us();
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    us = cpu_us() - us;
    printf("     CPU used between runs, a timer due, 300 ms: %ld us\n", us);
    T_CHECK(us < 30000);
    goc_timer_free(t);
}

/* A timer due on a P whose goroutine never switches runs once another P
   goes idle, here through a long blocking call that sysmon takes the P
   from: the P goes to an M, which runs the busy P's due timers. (It used to
   be idled with nobody woken for them: the timer fired only when the
   blocking call ended.) */
static _Atomic int retake_fired;
static _Atomic int64_t retake_fired_at;
static goc_chan *retake_done;
static void retake_timer_fn(void *arg) {
    (void)arg;
    atomic_store(&retake_fired_at, goc_now());
    atomic_store(&retake_fired, 1);
}
static void retake_spinner(void *arg) {
    (void)arg;
    goc_timer *t = goc_after_func(20 * GOC_MILLISECOND, retake_timer_fn, NULL); /* on this P */
    int64_t limit = goc_now() + 5 * GOC_SECOND;
    while (!atomic_load(&retake_fired) && goc_now() < limit) {
    }
    goc_timer_free(t);
    goc_chan_send(retake_done, NULL);
}
static void retake_blocker(void *arg) {
    (void)arg;
    int64_t busy = goc_now() + 50 * GOC_MILLISECOND; /* past the timer's due time */
    while (goc_now() < busy) {
    }
    goc_blocking_begin(); /* a call goc cannot see, that lasts until the timer fires (or 5 s) */
    int64_t limit = goc_now() + 5 * GOC_SECOND;
    while (!atomic_load(&retake_fired) && goc_now() < limit)
        usleep(1000);
    goc_blocking_end();
    goc_chan_send(retake_done, NULL);
}
static int retake_timer_main(void *arg) {
    (void)arg;
    retake_done = goc_chan_make(0, 2);
    int64_t start = goc_now();
    goc_go(retake_spinner, NULL);
    goc_go(retake_blocker, NULL);
    goc_chan_recv(retake_done, NULL);
    goc_chan_recv(retake_done, NULL);
    goc_chan_free(retake_done);
    int64_t after = atomic_load(&retake_fired_at) - start;
    printf("     timer due at 20 ms behind a busy P fired at %lld ms\n", (long long)(after / GOC_MILLISECOND));
    return atomic_load(&retake_fired) && after < 2 * GOC_SECOND ? 0 : 1;
}
static void test_timer_of_busy_p_after_retake(void) {
    int old = goc_maxprocs(2);
    T_CHECK_EQ(goc_run(retake_timer_main, NULL), 0);
    goc_maxprocs(old);
}

/* ---- misuse and fatal errors, each in a child process ---- */

static int deadlock_main(void *arg) {
    (void)arg;
    goc_wg wg = {0};
    goc_wg_add(&wg, 1);
    goc_wg_wait(&wg);
    return 0;
}
static void child_deadlock(void) {
    goc_run(deadlock_main, NULL);
}

/* A thread that used goc (a send that did not block) and then exits while
   main waits for a second value nobody can send: a deadlock, seen once the
   thread is gone (sysmon looks again while only unknown threads rule it
   out). */
static goc_chan *exit_thread_ch;
static void *exit_thread_fn(void *arg) {
    (void)arg;
    int v = 1;
    goc_chan_send(exit_thread_ch, &v);
    /* Exit only once main waits for the second value: while this thread
       lives, it rules the deadlock out. */
    while (t_parked_for("chan receive") < 1)
        usleep(1000);
    return NULL;
}
static int thread_exit_deadlock_main(void *arg) {
    (void)arg;
    exit_thread_ch = goc_chan_of(int, 4);
    pthread_t t;
    pthread_create(&t, NULL, exit_thread_fn, NULL);
    pthread_detach(t);
    int v;
    goc_recv(exit_thread_ch, &v);
    goc_recv(exit_thread_ch, &v); /* nobody will send */
    return 0;
}
static void child_thread_exit_deadlock(void) {
    goc_run(thread_exit_deadlock_main, NULL);
}

/* A thread the program started before goc_run, busy outside goc between its
   sends, is a potential waker: no false deadlock while it works. */
static goc_chan *pre_ch;
static void *pre_thread_fn(void *arg) {
    (void)arg;
    for (int i = 1; i <= 4; i++) {
        goc_chan_send(pre_ch, &i); /* buffered: never blocks */
        usleep(60 * 1000);         /* the thread's own work: longer than a deadlock check */
    }
    goc_chan_close(pre_ch);
    return NULL;
}
static int pre_thread_main(void *arg) {
    (void)arg;
    int v, sum = 0;
    goc_chan_range(pre_ch, v) sum += v;
    return sum == 10 ? 0 : 1;
}
/* With T_EARLY_THREAD set, a constructor that runs before goc's makes a
   thread and joins it: under TSan its helper thread then exists before goc
   counts the threads from load time, and must still be counted once (the
   thread above was taken for an unrelated one: a false deadlock). */
static void *early_nop(void *arg) {
    return arg;
}
__attribute__((constructor(101))) static void early_thread(void) {
    if (getenv("T_EARLY_THREAD")) {
        pthread_t t;
        if (pthread_create(&t, NULL, early_nop, NULL) == 0)
            pthread_join(t, NULL);
    }
}

static void child_pre_thread(void) {
    /* The thread is the process's first (under TSan, its helper starts
       with it): goc starts only in goc_run. */
    pre_ch = goc_chan_of(int, 16);
    pthread_t t;
    pthread_create(&t, NULL, pre_thread_fn, NULL);
    int rc = goc_run(pre_thread_main, NULL);
    pthread_join(t, NULL);
    exit(rc);
}

/* ---- misuse of the runtime's entry points and environment ---- */

static void child_nil_go(void) {
    goc_go(NULL, NULL);
}

static int blocking_end_main(void *arg) {
    (void)arg;
    goc_blocking_end(); /* no begin */
    return 0;
}
static void child_blocking_end(void) {
    goc_run(blocking_end_main, NULL);
}
static void child_blocking_end_thread(void) {
    goc_blocking_end(); /* a plain thread, no begin */
}

/* A goroutine that returns inside a blocking section ends it; a deadlock
   afterwards is still seen (the section was counted as a running call). */
static void exit_in_blocking(void *arg) {
    goc_blocking_begin();
    goc_wg_done(arg);
}
static int exit_in_blocking_main(void *arg) {
    (void)arg;
    goc_wg wg = {0};
    goc_wg_add(&wg, 1);
    go(exit_in_blocking, &wg);
    goc_wg_wait(&wg);
    goc_chan *c = goc_chan_make(0, 0);
    goc_chan_recv(c, NULL); /* nobody sends */
    return 0;
}
static void child_exit_in_blocking(void) {
    goc_run(exit_in_blocking_main, NULL);
}

static void child_env_values(void) {
    /* GOC_MAXPROCS past int's range means the cap, as a large one does */
    exit(goc_maxprocs(0) == 256 ? 0 : 3);
}

static void child_long_panic(void) {
    char msg[5000];
    memset(msg, 'x', sizeof msg - 1);
    memcpy(msg + sizeof msg - 8, "THE-END", 8);
    goc_panic("%s", msg);
}

static void deadlock_other(void *arg) {
    goc_wg_wait(arg);
}
static int deadlock2_main(void *arg) {
    (void)arg;
    static goc_wg a, b;
    goc_wg_add(&a, 1);
    goc_wg_add(&b, 1);
    goc_go(deadlock_other, &a);
    goc_wg_wait(&b);
    return 0;
}
static void child_deadlock_two(void) {
    goc_run(deadlock2_main, NULL);
}

static int negative_main(void *arg) {
    (void)arg;
    goc_wg wg = {0};
    goc_wg_add(&wg, 1);
    goc_wg_done(&wg);
    goc_wg_done(&wg);
    return 0;
}
static void child_negative_wg(void) {
    goc_run(negative_main, NULL);
}

static int recurse(int n) {
    volatile char buf[1024];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (char)(n | 1); /* every byte: the overflow cannot skip the canary */
    if (n == 0)
        return buf[0];
    return recurse(n - 1) + buf[0];
}

/* Guarded or not, a default stack holds its 256 KiB less two pages and
   8 KiB of frames (one page is the guard, or the page an unguarded slot
   leaves out; the rest is for the G record and slack): 240 KiB with 4 KiB
   pages. */
__attribute__((noinline)) static int room_rec(int n) {
    volatile char buf[4000];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (char)(n | 1);
    if (n == 0) {
        goc_yield(); /* a switch checks the canary of an unguarded stack */
        return buf[0];
    }
    return room_rec(n - 1) + buf[0];
}
static _Atomic int room_sum;
static void room_fn(void *arg) {
    (void)arg;
    long page = sysconf(_SC_PAGESIZE);
    long frames = (256 * 1024 - 2 * page - 8 * 1024) / 4096; /* room_rec(n) makes n + 1 */
    atomic_store(&room_sum, room_rec((int)frames - 1));
}
static int room_main(void *arg) {
    (void)arg;
    goc_wg wg = {0};
    for (int i = 0; i < 4; i++)
        goc_wg_go(&wg, room_fn, NULL);
    goc_wg_wait(&wg);
    return atomic_load(&room_sum) > 0 ? 0 : 1;
}
static void child_room(void) {
    exit(goc_run(room_main, NULL));
}

static void overflow_fn(void *arg) {
    (void)arg;
    recurse(1 << 20); /* a gigabyte of frames: past any stack */
}

static int overflow_main(void *arg) {
    (void)arg;
    goc_go_opts(overflow_fn, NULL, &(goc_go_options){.name = "deep", .file = "overflow.c", .line = 3});
    goc_sleep(10 * GOC_SECOND);
    return 0;
}
static void child_overflow(void) {
    goc_run(overflow_main, NULL);
}

/* Without guards, an overflow runs down through the stack below, here that
   of a goroutine running on another P, over its G record; then a plain
   thread faults (any fault elsewhere, such as one caused by the trampled
   records). The fault that comes first must still report the overflowing
   goroutine: its handler once read the trampled record and died of a
   second SIGSEGV (status 139). Slots are carved upward: main, "below",
   then "deep", just above it. */
static char *volatile below_local;
static _Atomic int below_ready, below_trampled, elsewhere_faulted;
static void below_fn(void *arg) {
    (void)arg;
    volatile char x = 0;
    below_local = (char *)&x;
    atomic_store(&below_ready, 1);
    for (;;) {
    }
}
__attribute__((noinline)) static int trample(int n) {
    volatile char buf[1024];
    memset((char *)buf, 0x41, sizeof buf);
    if ((char *)buf < below_local - 2048 && !atomic_load(&below_trampled)) {
        atomic_store(&below_trampled, 1);
        while (!atomic_load(&elsewhere_faulted)) {
        }
        for (volatile long i = 0; i < 20000000; i++) { /* the other fault's handler runs first */
        }
    }
    return n == 0 ? buf[0] : trample(n - 1) + buf[5];
}
static void deep_fn(void *arg) {
    (void)arg;
    while (!atomic_load(&below_ready)) {
    }
    trample(1 << 20);
}
static void *elsewhere_fn(void *arg) {
    (void)arg;
    while (!atomic_load(&below_trampled))
        sched_yield();
    atomic_store(&elsewhere_faulted, 1);
    *(volatile int *)arg = 1; /* NULL */
    return NULL;
}
static int fault_elsewhere_main(void *arg) {
    (void)arg;
    pthread_t t;
    pthread_create(&t, NULL, elsewhere_fn, NULL);
    goc_go_opts(below_fn, NULL, &(goc_go_options){.name = "below"});
    goc_go_opts(deep_fn, NULL, &(goc_go_options){.name = "deep", .file = "deep.c", .line = 9});
    goc_sleep(60 * GOC_SECOND);
    return 0;
}
static void child_overflow_fault_elsewhere(void) {
    goc_run(fault_elsewhere_main, NULL);
}

/* Without a guard page: the frames run into the canary below the stack. The
   recursion is bounded so that it only just passes the stack's end. */
static void canary_fn(void *arg) {
    (void)arg;
    recurse(70); /* ~72 KiB of frames on a 64 KiB stack (GOC_STACK_SIZE=64K) */
    goc_yield();
}
static goc_wg canary_started, canary_never;

static void canary_neighbour(void *arg) {
    (void)arg;
    goc_wg_done(&canary_started);
    goc_wg_wait(&canary_never);
}

static int canary_main(void *arg) {
    (void)arg;
    /* The overflow runs into the stack just below in the slab: make that a
       goroutine parked for good, so only the canary check can notice. */
    goc_wg_add(&canary_never, 1);
    goc_wg_add(&canary_started, 4);
    for (int i = 0; i < 4; i++)
        goc_go(canary_neighbour, NULL);
    goc_wg_wait(&canary_started);
    goc_go_opts(canary_fn, NULL, &(goc_go_options){.file = "canary.c", .line = 9});
    goc_sleep(10 * GOC_SECOND);
    return 0;
}
static void child_canary(void) {
    goc_run(canary_main, NULL);
}

static int quit_main(void *arg) {
    (void)arg;
    goc_wg_add(&dump_gate, 1);
    goc_go(dump_waiter, NULL);
    raise(SIGQUIT); /* dumps every goroutine and exits 2, as Go */
    return 0;
}
static void child_quit(void) {
    goc_run(quit_main, NULL);
}

/* Two SIGQUITs at once, caught on two threads: one dump, not two
   interleaved (timeout -s QUIT sends two). */
static void *quit_sender(void *arg) {
    (void)arg;
    kill(getpid(), SIGQUIT);
    return NULL;
}
static int quit_twice_main(void *arg) {
    (void)arg;
    goc_wg_add(&dump_gate, 1);
    goc_go(dump_waiter, NULL);
    pthread_t a, b;
    pthread_attr_t attr; /* detached from the start: never joined, the dump ends the process */
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&a, &attr, quit_sender, NULL);
    pthread_create(&b, &attr, quit_sender, NULL);
    pthread_attr_destroy(&attr);
    goc_sleep(10 * GOC_SECOND); /* the dump exits the process first */
    return 0;
}
static void child_quit_twice(void) {
    goc_run(quit_twice_main, NULL);
}

static void test_quit_twice(void) {
    char *err = NULL;
    int st = t_child("quit_twice", NULL, &err);
    T_CHECK_EQ(st, 2);
    int dumps = 0;
    for (char *p = err; p && (p = strstr(p, "SIGQUIT: quit")); p++)
        dumps++;
    T_CHECK_EQ(dumps, 1);
    free(err);
}

/* Spins for ever: the harness's watchdog must stop it with a dump. */
static _Atomic int hang_never;
static int hang_main(void *arg) {
    (void)arg;
    goc_wg_add(&dump_gate, 1);
    goc_go_opts(dump_waiter, NULL, &(goc_go_options){.name = "beside the hang"});
    while (!atomic_load(&hang_never)) {
    }
    return 0;
}
static void child_hang(void) {
    goc_run(hang_main, NULL);
}

/* A child that hangs fails its test with a goroutine dump, not CTest's
   timeout: the harness sends SIGQUIT after GOC_TEST_CHILD_TIMEOUT s. */
static void test_child_watchdog(void) {
    char *old = getenv("GOC_TEST_CHILD_TIMEOUT");
    old = old ? strdup(old) : NULL;
    setenv("GOC_TEST_CHILD_TIMEOUT", "1", 1);
    T_CHILD_DIES("hang", NULL, 2, "SIGQUIT: quit");
    T_CHILD_DIES("hang", NULL, 2, "name \"beside the hang\"");
    if (old) {
        setenv("GOC_TEST_CHILD_TIMEOUT", old, 1);
        free(old);
    } else {
        unsetenv("GOC_TEST_CHILD_TIMEOUT");
    }
}

static int leaks_main(void *arg) {
    (void)arg;
    goc_wg_add(&dump_gate, 1);
    goc_go_opts(dump_waiter, NULL, &(goc_go_options){.name = "leaked"});
    goc_yield();
    return 0;
}
static void child_leaks(void) {
    goc_run(leaks_main, NULL);
    exit(0);
}

/* A plain thread dumps until every goroutine is asleep on a timer. */
static void *timers_note_dumper(void *arg) {
    (void)arg;
    int64_t deadline = goc_now() + 20 * GOC_SECOND;
    while (goc_now() < deadline) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        goc_dump(f);
        fclose(f);
        if (strstr(text, "pending timer")) {
            fputs(text, stderr);
            exit(3);
        }
        free(text);
        sched_yield();
    }
    exit(4);
}
static int timers_note_main(void *arg) {
    (void)arg;
    pthread_t t;
    pthread_create(&t, NULL, timers_note_dumper, NULL);
    goc_sleep(30 * GOC_SECOND);
    return 0;
}
static void child_timers_note(void) {
    goc_run(timers_note_main, NULL);
}

static void child_panic(void) {
    goc_panic("boom %d", 42);
}

static void test_misuse(void) {
    T_CHILD_DIES("deadlock", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
    T_CHILD_DIES("deadlock", NULL, 2, "goroutine 1 [sync.WaitGroup.Wait]:");
    T_CHILD_DIES("deadlock_two", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
    {
        /* the goroutines oldest first, as Go lists them: main before the
           one it started (a fresh process: no G record is reused) */
        char *err = NULL;
        T_CHECK_EQ(t_child("deadlock_two", NULL, &err), 2);
        char *first = strstr(err, "\ngoroutine ");
        T_CHECK(first != NULL && !strncmp(first, "\ngoroutine 1 [", 14));
        T_CHECK(first != NULL && strstr(first + 1, "\ngoroutine ") != NULL);
        free(err);
    }
    T_CHILD_DIES("thread_exit_deadlock", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
    T_CHILD_DIES("nil_go", NULL, 2, "fatal error: go of nil func value");
    T_CHILD_DIES("blocking_end", NULL, 2, "fatal error: goc_blocking_end without goc_blocking_begin");
    T_CHILD_DIES("blocking_end_thread", NULL, 2, "fatal error: goc_blocking_end without goc_blocking_begin");
    T_CHILD_DIES("exit_in_blocking", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
    T_CHILD_DIES("env_values", "GOC_MAXPROCS=99999999999", 0,
                 "goc: GOC_MAXPROCS=99999999999 is over the limit: using 256");
    T_CHILD_DIES("env_values", "GOC_MAXPROCS=4294967297", 0, "");
    T_CHILD_DIES("env_values", "GOC_MAXPROCS=1000", 0, "goc: GOC_MAXPROCS=1000 is over the limit: using 256");
    T_CHILD_DIES("env_values", "GOC_MAXPROCS=-3", 3, "goc: ignoring GOC_MAXPROCS=-3");
    T_CHILD_DIES("env_values", "GOC_STACK_SIZE=-1", 3, "goc: ignoring GOC_STACK_SIZE=-1");
    T_CHILD_DIES("env_values", "GOC_STACK_SIZE=5G", 3, "goc: GOC_STACK_SIZE=5G is over the limit");
    T_CHILD_DIES("long_panic", NULL, 2, "xxxxTHE-END\n");
    T_CHILD_DIES("pre_thread", NULL, 0, "");
    T_CHILD_DIES("pre_thread", "T_EARLY_THREAD=1", 0, "");
    T_CHILD_DIES("negative_wg", NULL, 2, "panic: sync: negative WaitGroup counter");
    T_CHILD_DIES("panic", NULL, 2, "panic: boom 42");
    T_CHILD_DIES("quit", NULL, 2, "SIGQUIT: quit");
    T_CHILD_DIES("leaks", "GOC_DEBUG=leaks=1", 0, "1 goroutine(s) still alive when main returned");
    T_CHILD_DIES("leaks", "GOC_DEBUG=leaks=1", 0, "name \"leaked\"");
    T_CHILD_DIES("timers_note", NULL, 3, "goroutine 1 [sleep]:");
    T_CHILD_DIES("timers_note", NULL, 3, "only 1 pending timer keeps the program alive");
#if !defined(GOC_SANITIZER_BUILD)
    /* Under ASan and TSan the sanitizers claim the stack overflow first. */
    T_CHILD_DIES("room", NULL, 0, "");
    T_CHILD_DIES("room", "GOC_DEBUG=guards=0", 0, "");
    T_CHILD_DIES("overflow", NULL, 2, "fatal error: stack overflow");
    T_CHILD_DIES("overflow", NULL, 2, " in goroutine 1\n\toverflow.c:3");
    /* stopped by its guard page: the other goroutines are intact and listed */
    T_CHILD_DIES("overflow", NULL, 2, "goroutine 1 [sleep]:");
    /* Unguarded and never switching: the recursion runs through the slab
       below and faults far down, with its stack pointer below its stack. */
    T_CHILD_DIES("overflow", "GOC_DEBUG=guards=0", 2, "fatal error: stack overflow");
    T_CHILD_DIES("overflow", "GOC_DEBUG=guards=0", 2, "overflow.c:3");
    T_CHILD_DIES("overflow_fault_elsewhere", "GOC_DEBUG=guards=0 GOC_MAXPROCS=3", 2,
                 "name \"deep\"");
    for (int i = 0; i < 3; i++) {
        T_CHILD_DIES("canary", "GOC_DEBUG=guards=0 GOC_STACK_SIZE=64K", 2, "fatal error: stack overflow");
        T_CHILD_DIES("canary", "GOC_DEBUG=guards=0 GOC_STACK_SIZE=64K", 2, "canary.c:9");
    }
#endif
}

int main(int argc, char **argv) {
    static const t_case cases[] = {
        T_CASE(test_idle_no_cpu), T_CASE(test_timer_of_busy_p_after_retake), T_CASE(test_quit_twice),      T_CASE(test_go_before_run),      T_CASE(test_run_twice), T_CASE(test_run_after_yielders),        T_CASE(test_million_goroutines), T_CASE(test_million_parked),
        T_CASE(test_spawn_storm_one_p), T_CASE(test_fairness_respawn), T_CASE(test_fairness_chain), T_CASE(test_fairness_yielders), T_CASE(test_tree_depth_first), T_CASE(test_parallel_threads),   T_CASE(test_go_copy),
        T_CASE(test_pthread_waits_wg), T_CASE(test_sleep_parks),        T_CASE(test_many_sleepers),
        T_CASE(test_yield),            T_CASE(test_errno_preserved),    T_CASE(test_maxprocs_runtime), T_CASE(test_retired_timers), T_CASE(test_solo_then_grow), T_CASE(test_runnext_taken), T_CASE(test_short_ring_taken), T_CASE(test_errno_retired_yield), T_CASE(test_stack_reused_many_times), T_CASE(test_retired_queue), T_CASE(test_plain_thread_timed_wait), T_CASE(test_blocking_handoff),
        T_CASE(test_dump), T_CASE(test_dump_race),             T_CASE(test_child_watchdog),   T_CASE(test_shuffle_stress),
        T_CASE(test_misuse),
    };
    static const t_case children[] = {
        {"deadlock", child_deadlock}, {"deadlock_two", child_deadlock_two},
        {"negative_wg", child_negative_wg}, {"overflow", child_overflow},
        {"overflow_fault_elsewhere", child_overflow_fault_elsewhere}, {"room", child_room},
        {"canary", child_canary}, {"quit", child_quit}, {"quit_twice", child_quit_twice},
        {"thread_exit_deadlock", child_thread_exit_deadlock},
        {"nil_go", child_nil_go}, {"blocking_end", child_blocking_end},
        {"dump_race", child_dump_race},
        {"blocking_end_thread", child_blocking_end_thread},
        {"exit_in_blocking", child_exit_in_blocking}, {"env_values", child_env_values},
        {"long_panic", child_long_panic},
        {"pre_thread", child_pre_thread}, {"hang", child_hang}, {"panic", child_panic},
        {"tree", child_tree}, {"leaks", child_leaks}, {"timers_note", child_timers_note},
    };
    return T_RUN(cases, children);
}
