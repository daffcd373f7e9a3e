/* sync extras: the weighted semaphore (golang.org/x/sync/semaphore) and
 * errgroup (golang.org/x/sync/errgroup): FIFO order, cancellation, limits,
 * first-error cancellation, misuse as children, stress under shuffle. */
#include "t.h"
#include <errno.h>

#if defined(GOC_SANITIZER_BUILD) || defined(GOC_TEST_SLOW)
#define SCALE 10
#else
#define SCALE 1
#endif

/* ======================================================================== */
/* Semaphore                                                                */

struct sw {
    goc_sema *s;
    goc_ctx *ctx;
    int64_t n;
    int rc;
    _Atomic bool done;
    goc_wg *wg;
};

static void sema_waiter(void *arg) {
    struct sw *w = arg;
    w->rc = goc_sema_acquire(w->s, w->ctx, w->n);
    atomic_store(&w->done, true);
    goc_wg_done(w->wg);
}

/* Yields until the queue holds n (1 or 2) waiters. Reads the private queue
   under its private spinlock (an atomic word, 0 when free). */
static void wait_queued(goc_sema *s, int n) {
    for (;;) {
        uint32_t z = 0;
        while (!atomic_compare_exchange_weak(&s->_lock, &z, 1))
            z = 0;
        bool enough = n == 1 ? s->_head != NULL : (s->_head && s->_head != s->_tail);
        atomic_store(&s->_lock, 0);
        if (enough)
            return;
        goc_yield();
    }
}

static int sema_basic_main(void *arg) {
    (void)arg;
    goc_sema s = GOC_SEMA_INIT(10);
    T_CHECK(goc_sema_try_acquire(&s, 4));
    T_CHECK(goc_sema_try_acquire(&s, 6));
    T_CHECK(!goc_sema_try_acquire(&s, 1));
    goc_sema_release(&s, 10);
    T_CHECK_EQ(goc_sema_acquire(&s, NULL, 10), 0);
    goc_sema_release(&s, 10);
    /* A context that is already done fails even with units free. */
    goc_ctx *c = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx_cancel(c);
    T_CHECK_EQ(goc_sema_acquire(&s, c, 1), ECANCELED);
    goc_ctx_release(c);
    T_CHECK(goc_sema_try_acquire(&s, 10));
    goc_sema_release(&s, 10);
    /* A deadline. */
    goc_sema t;
    goc_sema_init(&t, 1);
    T_CHECK_EQ(goc_sema_acquire(&t, NULL, 1), 0);
    goc_ctx *d = goc_ctx_with_timeout(goc_ctx_background(), 5 * GOC_MILLISECOND);
    T_CHECK_EQ(goc_sema_acquire(&t, d, 1), ETIMEDOUT);
    goc_ctx_release(d);
    T_CHECK(t._head == NULL);
    goc_sema_release(&t, 1);
    /* More than the size: waits for the context only. */
    d = goc_ctx_with_timeout(goc_ctx_background(), 2 * GOC_MILLISECOND);
    T_CHECK_EQ(goc_sema_acquire(&t, d, 2), ETIMEDOUT);
    goc_ctx_release(d);
    T_CHECK(goc_sema_try_acquire(&t, 1));
    return 0;
}

static void test_sema_basic(void) {
    T_CHECK_EQ(goc_run(sema_basic_main, NULL), 0);
}

/* FIFO: a large request is not overtaken by a small one. */
static int sema_fifo_main(void *arg) {
    (void)arg;
    goc_sema s = GOC_SEMA_INIT(10);
    goc_wg wg = {0};
    T_CHECK_EQ(goc_sema_acquire(&s, NULL, 10), 0);
    struct sw a = {.s = &s, .n = 8, .wg = &wg}, b = {.s = &s, .n = 1, .wg = &wg};
    goc_wg_add(&wg, 2);
    go(sema_waiter, &a);
    wait_queued(&s, 1);
    go(sema_waiter, &b);
    wait_queued(&s, 2);
    goc_sema_release(&s, 2); /* 2 free: a (8) does not fit, b must not pass it */
    T_CHECK(!goc_sema_try_acquire(&s, 1));
    goc_yield();
    T_CHECK(!atomic_load(&b.done));
    T_CHECK(!atomic_load(&a.done));
    goc_sema_release(&s, 8); /* all 10 free: a then b */
    goc_wg_wait(&wg);
    T_CHECK_EQ(a.rc, 0);
    T_CHECK_EQ(b.rc, 0);
    T_CHECK_EQ(s._cur, 9);
    goc_sema_release(&s, 9);
    return 0;
}

static void test_sema_fifo(void) {
    T_CHECK_EQ(goc_run(sema_fifo_main, NULL), 0);
}

/* Cancelling the front waiter lets the ones behind it in. */
static int sema_cancel_main(void *arg) {
    (void)arg;
    goc_sema s = GOC_SEMA_INIT(10);
    goc_wg wg = {0};
    T_CHECK_EQ(goc_sema_acquire(&s, NULL, 5), 0);
    goc_ctx *ca = goc_ctx_with_cancel(goc_ctx_background());
    struct sw a = {.s = &s, .ctx = ca, .n = 10, .wg = &wg}, b = {.s = &s, .n = 3, .wg = &wg};
    goc_wg_add(&wg, 1);
    go(sema_waiter, &a);
    wait_queued(&s, 1);
    goc_wg_add(&wg, 1);
    go(sema_waiter, &b);
    wait_queued(&s, 2);
    goc_ctx_cancel(ca);
    goc_wg_wait(&wg);
    T_CHECK_EQ(a.rc, ECANCELED);
    T_CHECK_EQ(b.rc, 0);
    T_CHECK_EQ(s._cur, 8);
    T_CHECK(s._head == NULL);
    goc_ctx_release(ca);
    return 0;
}

static void test_sema_cancel(void) {
    T_CHECK_EQ(goc_run(sema_cancel_main, NULL), 0);
    T_CHECK_EQ(goc_maxprocs(0) > 0, 1);
}

/* Stress: random weights and cancellations; never more than size held. */
struct sst {
    goc_sema s;
    _Atomic int64_t held;
    _Atomic int bad;
    _Atomic int got, cancelled;
    goc_wg wg;
};

static void sst_fn(void *arg) {
    struct sst *t = arg;
    uint64_t r = goc_id() * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 2000 / SCALE; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int64_t n = 1 + (int64_t)(r % 4);
        goc_ctx *c = NULL;
        if (r % 5 == 0)
            c = goc_ctx_with_timeout(goc_ctx_background(), (int64_t)(r % 50) * GOC_MICROSECOND);
        int rc = goc_sema_acquire(&t->s, c, n);
        if (rc == 0) {
            if (atomic_fetch_add(&t->held, n) + n > 5)
                atomic_fetch_add(&t->bad, 1);
            if (i % 8 == 0)
                goc_yield();
            atomic_fetch_sub(&t->held, n);
            goc_sema_release(&t->s, n);
            atomic_fetch_add(&t->got, 1);
        } else {
            if (rc != ETIMEDOUT)
                atomic_fetch_add(&t->bad, 1);
            atomic_fetch_add(&t->cancelled, 1);
        }
        goc_ctx_release(c);
    }
    goc_wg_done(&t->wg);
}

static int sema_stress_main(void *arg) {
    (void)arg;
    struct sst *t = calloc(1, sizeof *t);
    goc_sema_init(&t->s, 5);
    goc_wg_add(&t->wg, 16);
    for (int i = 0; i < 16; i++)
        go(sst_fn, t);
    goc_wg_wait(&t->wg);
    T_CHECK_EQ(atomic_load(&t->bad), 0);
    T_CHECK_EQ(t->s._cur, 0);
    T_CHECK(t->s._head == NULL);
    T_CHECK_EQ(atomic_load(&t->got) + atomic_load(&t->cancelled), 16 * (2000 / SCALE));
    free(t);
    return 0;
}

static void test_sema_stress(void) {
    T_CHECK_EQ(goc_run(sema_stress_main, NULL), 0);
    int old = goc_maxprocs(1);
    T_CHECK_EQ(goc_run(sema_stress_main, NULL), 0);
    goc_maxprocs(old);
}

static int over_release_main(void *arg) {
    (void)arg;
    goc_sema s = GOC_SEMA_INIT(2);
    goc_sema_acquire(&s, NULL, 1);
    goc_sema_release(&s, 2);
    return 0;
}
static void child_over_release(void) {
    goc_run(over_release_main, NULL);
}

/* ======================================================================== */
/* errgroup                                                                 */

struct egt {
    _Atomic int running, max, started;
    int fail_at; /* task index that fails, or -1 */
    goc_errgroup *g;
};
struct egt_arg {
    struct egt *t;
    int i;
};
static struct egt_arg egt_args[64];

static int egt_task(void *arg) {
    struct egt_arg *a = arg;
    struct egt *t = a->t;
    atomic_fetch_add(&t->started, 1);
    int n = atomic_fetch_add(&t->running, 1) + 1;
    int m = atomic_load(&t->max);
    while (n > m && !atomic_compare_exchange_weak(&t->max, &m, n)) {
    }
    int rc = 0;
    if (a->i == t->fail_at) {
        rc = EIO;
    } else if (t->fail_at >= 0) {
        /* wait for the group's context, as a well-behaved task does */
        goc_chan_recv(goc_ctx_done(goc_errgroup_ctx(t->g)), NULL);
        rc = goc_ctx_err(goc_errgroup_ctx(t->g)) == ECANCELED ? 0 : 1;
    } else {
        goc_sleep(100 * GOC_MICROSECOND);
    }
    atomic_fetch_sub(&t->running, 1);
    return rc;
}

static int eg_first_error_main(void *arg) {
    (void)arg;
    struct egt t = {.fail_at = 5};
    t.g = goc_errgroup_new(NULL);
    for (int i = 0; i < 10; i++) {
        egt_args[i] = (struct egt_arg){&t, i};
        goc_errgroup_go(t.g, egt_task, &egt_args[i]);
    }
    int err = goc_errgroup_wait(t.g);
    T_CHECK_EQ(err, EIO);
    T_CHECK_EQ(goc_ctx_err(goc_errgroup_ctx(t.g)), ECANCELED);
    T_CHECK_EQ(goc_ctx_cause(goc_errgroup_ctx(t.g)), EIO);
    T_CHECK_EQ(atomic_load(&t.started), 10);
    goc_errgroup_free(t.g);
    return 0;
}

static void test_errgroup_first_error(void) {
    T_CHECK_EQ(goc_run(eg_first_error_main, NULL), 0);
}

static int eg_limit_main(void *arg) {
    (void)arg;
    struct egt t = {.fail_at = -1};
    goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
    t.g = goc_errgroup_new(parent);
    goc_errgroup_set_limit(t.g, 2);
    for (int i = 0; i < 20; i++) {
        egt_args[i] = (struct egt_arg){&t, i};
        goc_errgroup_go(t.g, egt_task, &egt_args[i]);
    }
    T_CHECK_EQ(goc_errgroup_wait(t.g), 0);
    T_CHECK(atomic_load(&t.max) <= 2);
    T_CHECK_EQ(atomic_load(&t.started), 20);
    /* wait cancels the group's context, but not the parent */
    T_CHECK_EQ(goc_ctx_err(goc_errgroup_ctx(t.g)), ECANCELED);
    T_CHECK_EQ(goc_ctx_err(parent), 0);
    goc_errgroup_free(t.g);

    /* try_go refuses at the limit */
    struct egt u = {.fail_at = -1};
    u.g = goc_errgroup_new(parent);
    goc_errgroup_set_limit(u.g, 1);
    egt_args[0] = (struct egt_arg){&u, 0};
    T_CHECK(goc_errgroup_try_go(u.g, egt_task, &egt_args[0]));
    T_CHECK(!goc_errgroup_try_go(u.g, egt_task, &egt_args[0]));
    T_CHECK_EQ(goc_errgroup_wait(u.g), 0);
    T_CHECK(goc_errgroup_try_go(u.g, egt_task, &egt_args[0]));
    T_CHECK_EQ(goc_errgroup_wait(u.g), 0);
    goc_errgroup_free(u.g);

    /* cancelling the parent cancels the group's context */
    goc_errgroup *g = goc_errgroup_new(parent);
    goc_ctx_cancel(parent);
    T_CHECK_EQ(goc_ctx_err(goc_errgroup_ctx(g)), ECANCELED);
    T_CHECK_EQ(goc_errgroup_wait(g), 0);
    goc_errgroup_free(g);
    goc_ctx_release(parent);
    return 0;
}

static void test_errgroup_limit(void) {
    T_CHECK_EQ(goc_run(eg_limit_main, NULL), 0);
    int old = goc_maxprocs(1);
    T_CHECK_EQ(goc_run(eg_limit_main, NULL), 0);
    goc_maxprocs(old);
}

static int set_limit_main(void *arg) {
    (void)arg;
    struct egt t = {.fail_at = 0};
    t.g = goc_errgroup_new(NULL);
    egt_args[0] = (struct egt_arg){&t, 1}; /* waits for the context */
    goc_errgroup_go(t.g, egt_task, &egt_args[0]);
    goc_errgroup_set_limit(t.g, 3);
    return 0;
}
static void child_set_limit(void) {
    goc_run(set_limit_main, NULL);
}

static void test_misuse(void) {
    T_CHILD_DIES("over_release", NULL, 2, "panic: semaphore: released more than held");
    T_CHILD_DIES("set_limit", NULL, 2,
                 "panic: errgroup: modify limit while 1 goroutines in the group are still active");
}

static void child_stress(void) {
    int rc = goc_run(sema_stress_main, NULL);
    rc |= goc_run(sema_cancel_main, NULL);
    rc |= goc_run(eg_first_error_main, NULL);
    rc |= goc_run(eg_limit_main, NULL);
    exit(rc == 0 && atomic_load(&t_failures) == 0 ? 0 : 3);
}

static void test_shuffle_stress(void) {
    const char *envs[] = {"GOC_DEBUG=shuffle=1", "GOC_DEBUG=shuffle=2 GOC_MAXPROCS=1",
                          "GOC_DEBUG=shuffle=3 GOC_MAXPROCS=4"};
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
        T_CASE(test_sema_basic),         T_CASE(test_sema_fifo),      T_CASE(test_sema_cancel),
        T_CASE(test_sema_stress),        T_CASE(test_errgroup_first_error),
        T_CASE(test_errgroup_limit),     T_CASE(test_misuse),         T_CASE(test_shuffle_stress),
    };
    static const t_case children[] = {
        {"over_release", child_over_release},
        {"set_limit", child_set_limit},
        {"stress", child_stress},
    };
    return T_RUN(cases, children);
}
