/* Contexts: ports of the semantics of Go's context tests (context_test.go,
 * x_test.go: WithCancel, ParentFinishesChild, ChildFinishesFirst, Deadline,
 * Timeout, CanceledTimeout, Values, SimultaneousCancels, InterlockedCancels,
 * LayersCancel, LayersTimeout, CancelRemoves, WithCancelCanceledParent,
 * Cause, AfterFunc, WithoutCancel), goc_sleep_ctx, the waiter hook, reference
 * counting under every order of cancel, release and goroutines, and misuse.
 *
 * "Done within a bound" is checked with goc_sleep_ctx, which returns early
 * exactly when the context is done. */
#include "t.h"
#include <errno.h>
#include <pthread.h>

#if defined(GOC_SANITIZER_BUILD) || defined(GOC_TEST_SLOW)
#define SCALE 10
#else
#define SCALE 1
#endif

#define MS GOC_MILLISECOND
#define LONG_WAIT (5 * GOC_SECOND) /* far beyond any expected delay */

/* The library's hidden count of a context's child set (linked statically). */
size_t goc__ctx_nchildren(goc_ctx *ctx);

static bool is_done(goc_ctx *c) {
    goc_chan *d = goc_ctx_done(c);
    bool ok = true;
    return d && goc_chan_try_recv(d, NULL, &ok) && !ok;
}

/* Waits (bounded) for c to be done; true if it was. */
static bool wait_done(goc_ctx *c) {
    return goc_sleep_ctx(c, LONG_WAIT) != 0;
}

/* Goroutines that hold references finish before their test returns (goc_run
   abandons goroutines still alive when main returns: their references would
   leak). */
static goc_wg helpers;

/* ---- TestBackground ---- */

static int background_main(void *arg) {
    (void)arg;
    goc_ctx *bg = goc_ctx_background();
    T_CHECK(bg == goc_ctx_background());
    T_CHECK(goc_ctx_done(bg) == NULL);
    T_CHECK_EQ(goc_ctx_err(bg), 0);
    T_CHECK_EQ(goc_ctx_cause(bg), 0);
    T_CHECK(!goc_ctx_deadline(bg, NULL));
    T_CHECK(goc_ctx_value(bg, &bg) == NULL);
    goc_ctx_cancel(bg);   /* no effect */
    goc_ctx_release(bg);  /* ignored */
    T_CHECK_EQ(goc_ctx_err(bg), 0);
    return 0;
}
static void test_background(void) { goc_run(background_main, NULL); }

/* ---- TestWithCancel ---- */

static int key_other;

static int with_cancel_main(void *arg) {
    (void)arg;
    goc_ctx *c1 = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx *o = goc_ctx_with_value(c1, &key_other, NULL); /* Go's otherContext */
    goc_ctx *c2 = goc_ctx_with_cancel(o);
    goc_ctx *cs[] = {c1, o, c2};
    for (int i = 0; i < 3; i++) {
        T_CHECK(goc_ctx_done(cs[i]) != NULL);
        T_CHECK_EQ(goc_ctx_err(cs[i]), 0);
        T_CHECK(!is_done(cs[i]));
    }
    T_CHECK(goc_ctx_done(o) == goc_ctx_done(c1)); /* a value context's are its owner's */
    goc_ctx_cancel(c1);
    for (int i = 0; i < 3; i++) {
        T_CHECK(is_done(cs[i])); /* cancel cancels the whole subtree before it returns */
        T_CHECK_EQ(goc_ctx_err(cs[i]), ECANCELED);
    }
    goc_ctx_release(c2);
    goc_ctx_release(o);
    goc_ctx_release(c1);
    return 0;
}
static void test_with_cancel(void) { goc_run(with_cancel_main, NULL); }

/* ---- TestParentFinishesChild ---- */

static int parent_finishes_child_main(void *arg) {
    (void)arg;
    goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx *cancel_child = goc_ctx_with_cancel(parent);
    goc_ctx *value_child = goc_ctx_with_value(parent, &key_other, &key_other);
    goc_ctx *timer_child = goc_ctx_with_timeout(value_child, GOC_HOUR);
    goc_ctx *wo = goc_ctx_without_cancel(parent);
    goc_ctx *after_child = goc_ctx_with_cancel(wo);
    T_CHECK_EQ(goc__ctx_nchildren(parent), 2); /* cancel_child and timer_child */
    T_CHECK_EQ(goc__ctx_nchildren(after_child), 0);
    goc_ctx *all[] = {parent, cancel_child, value_child, timer_child};
    for (int i = 0; i < 4; i++)
        T_CHECK(!is_done(all[i]));
    goc_ctx_cancel(parent);
    for (int i = 0; i < 4; i++) {
        T_CHECK(is_done(all[i]));
        T_CHECK_EQ(goc_ctx_err(all[i]), ECANCELED);
    }
    T_CHECK_EQ(goc__ctx_nchildren(parent), 0);
    T_CHECK_EQ(goc__ctx_nchildren(cancel_child), 0);
    T_CHECK(!is_done(after_child)); /* below without_cancel: untouched */
    /* a child made after the parent was cancelled is born cancelled */
    goc_ctx *late = goc_ctx_with_cancel(parent);
    T_CHECK(is_done(late));
    T_CHECK_EQ(goc_ctx_err(late), ECANCELED);
    T_CHECK_EQ(goc__ctx_nchildren(parent), 0);
    goc_ctx_release(late);
    goc_ctx_release(after_child);
    goc_ctx_release(wo);
    goc_ctx_release(timer_child);
    goc_ctx_release(value_child);
    goc_ctx_release(cancel_child);
    goc_ctx_release(parent);
    return 0;
}
static void test_parent_finishes_child(void) { goc_run(parent_finishes_child_main, NULL); }

/* ---- TestChildFinishesFirst ---- */

static int child_finishes_first_main(void *arg) {
    (void)arg;
    goc_ctx *parents[] = {goc_ctx_background(), goc_ctx_with_cancel(goc_ctx_background())};
    for (int i = 0; i < 2; i++) {
        goc_ctx *p = parents[i];
        goc_ctx *child = goc_ctx_with_cancel(p);
        if (i == 1)
            T_CHECK_EQ(goc__ctx_nchildren(p), 1);
        goc_ctx_cancel(child);
        T_CHECK(is_done(child));
        T_CHECK_EQ(goc_ctx_err(child), ECANCELED);
        T_CHECK_EQ(goc__ctx_nchildren(p), 0); /* a cancelled child leaves the set */
        T_CHECK(!is_done(p) || i == 0);
        T_CHECK_EQ(goc_ctx_err(p), 0);
        goc_ctx_release(child);
    }
    goc_ctx_release(parents[1]);
    return 0;
}
static void test_child_finishes_first(void) { goc_run(child_finishes_first_main, NULL); }

/* ---- TestDeadline, TestTimeout, TestCanceledTimeout ---- */

static int deadline_main(void *arg) {
    (void)arg;
    int64_t t0 = goc_now();
    goc_ctx *c = goc_ctx_with_deadline(goc_ctx_background(), t0 + 50 * MS);
    int64_t dl = 0;
    T_CHECK(goc_ctx_deadline(c, &dl));
    T_CHECK_EQ(dl, t0 + 50 * MS);
    T_CHECK(wait_done(c));
    T_CHECK(goc_now() >= t0 + 50 * MS);
    T_CHECK_EQ(goc_ctx_err(c), ETIMEDOUT);
    T_CHECK_EQ(goc_ctx_cause(c), ETIMEDOUT);
    goc_ctx_release(c);

    /* through a value context, and a child asking for a later deadline */
    c = goc_ctx_with_deadline(goc_ctx_background(), goc_now() + 50 * MS);
    goc_ctx *o = goc_ctx_with_value(c, &key_other, NULL);
    goc_ctx *c2 = goc_ctx_with_deadline(o, goc_now() + 300 * GOC_SECOND);
    T_CHECK(goc_ctx_deadline(c2, &dl));
    int64_t pdl = 0;
    goc_ctx_deadline(c, &pdl);
    T_CHECK_EQ(dl, pdl); /* never later than the parent's */
    T_CHECK(wait_done(c2));
    T_CHECK_EQ(goc_ctx_err(c2), ETIMEDOUT);
    goc_ctx_release(c2);
    goc_ctx_release(o);
    goc_ctx_release(c);

    /* a deadline already passed: done at once */
    c = goc_ctx_with_deadline(goc_ctx_background(), goc_now() - 1);
    T_CHECK(is_done(c));
    T_CHECK_EQ(goc_ctx_err(c), ETIMEDOUT);
    /* and its children are born done */
    c2 = goc_ctx_with_timeout(c, GOC_HOUR);
    T_CHECK(is_done(c2));
    T_CHECK_EQ(goc_ctx_err(c2), ETIMEDOUT);
    goc_ctx_release(c2);
    goc_ctx_release(c);
    return 0;
}
static void test_deadline(void) { goc_run(deadline_main, NULL); }

static int timeout_main(void *arg) {
    (void)arg;
    int64_t t0 = goc_now();
    goc_ctx *c = goc_ctx_with_timeout(goc_ctx_background(), 50 * MS);
    goc_ctx *o = goc_ctx_with_value(c, &key_other, NULL);
    goc_ctx *c2 = goc_ctx_with_timeout(o, 300 * GOC_SECOND);
    T_CHECK(wait_done(c2));
    T_CHECK(goc_now() >= t0 + 50 * MS);
    T_CHECK_EQ(goc_ctx_err(c2), ETIMEDOUT);
    T_CHECK_EQ(goc_ctx_err(c), ETIMEDOUT);
    goc_ctx_release(c2);
    goc_ctx_release(o);
    goc_ctx_release(c);
    return 0;
}
static void test_timeout(void) { goc_run(timeout_main, NULL); }

static int canceled_timeout_main(void *arg) {
    (void)arg;
    goc_ctx *c = goc_ctx_with_timeout(goc_ctx_background(), GOC_SECOND);
    goc_ctx *o = goc_ctx_with_value(c, &key_other, NULL);
    goc_ctx *c2 = goc_ctx_with_timeout(o, 2 * GOC_SECOND);
    goc_ctx_cancel(c2);
    T_CHECK(is_done(c2));
    T_CHECK_EQ(goc_ctx_err(c2), ECANCELED);
    T_CHECK_EQ(goc_ctx_err(c), 0);
    goc_ctx_release(c2);
    goc_ctx_release(o);
    goc_ctx_release(c);
    return 0;
}
static void test_canceled_timeout(void) { goc_run(canceled_timeout_main, NULL); }

/* ---- TestValues ---- */

static int k1, k2, k3;

static int values_main(void *arg) {
    (void)arg;
    char c1v[] = "c1k1", c2v[] = "c2k2", c3v[] = "c3k3", c4v[] = "c4k1";
    goc_ctx *bg = goc_ctx_background();
    goc_ctx *c1 = goc_ctx_with_value(bg, &k1, c1v);
    goc_ctx *c2 = goc_ctx_with_value(c1, &k2, c2v);
    goc_ctx *c3 = goc_ctx_with_value(c2, &k3, c3v);
    goc_ctx *c4 = goc_ctx_with_value(c3, &k1, c4v);
    goc_ctx *o0 = goc_ctx_with_cancel(bg);
    goc_ctx *o1 = goc_ctx_with_value(o0, &k1, c1v);
    goc_ctx *o2 = goc_ctx_with_value(o1, &k2, c2v);
    goc_ctx *o3 = goc_ctx_with_cancel(o2);
    goc_ctx *o4 = goc_ctx_with_value(o3, &k3, c3v);
    struct {
        goc_ctx *c;
        void *want[3];
    } cases[] = {
        {bg, {NULL, NULL, NULL}},  {c1, {c1v, NULL, NULL}}, {c2, {c1v, c2v, NULL}},
        {c3, {c1v, c2v, c3v}},     {c4, {c4v, c2v, c3v}},   {o1, {c1v, NULL, NULL}},
        {o2, {c1v, c2v, NULL}},    {o3, {c1v, c2v, NULL}},  {o4, {c1v, c2v, c3v}},
    };
    const void *keys[] = {&k1, &k2, &k3};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int k = 0; k < 3; k++)
            T_CHECK(goc_ctx_value(cases[i].c, keys[k]) == cases[i].want[k]);
    /* without_cancel keeps the values, drops cancellation and deadline */
    goc_ctx *d = goc_ctx_with_timeout(o4, GOC_HOUR);
    goc_ctx *w = goc_ctx_without_cancel(d);
    T_CHECK(goc_ctx_value(w, &k3) == c3v);
    T_CHECK(goc_ctx_done(w) == NULL);
    T_CHECK(!goc_ctx_deadline(w, NULL));
    goc_ctx_cancel(o0);
    T_CHECK_EQ(goc_ctx_err(d), ECANCELED);
    T_CHECK_EQ(goc_ctx_err(w), 0);
    T_CHECK_EQ(goc_ctx_cause(w), 0);
    goc_ctx *all[] = {w, d, o4, o3, o2, o1, o0, c4, c3, c2, c1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        goc_ctx_release(all[i]);
    return 0;
}
static void test_values(void) { goc_run(values_main, NULL); }

/* ---- TestSimultaneousCancels ---- */

#define TREE_MAX 100

static goc_wg simul_wg;

static void simul_cancel(void *arg) {
    goc_ctx_cancel(arg);
    goc_wg_done(&simul_wg);
}

static int simultaneous_main(void *arg) {
    (void)arg;
    goc_ctx *all[TREE_MAX + 4];
    int n = 0, head = 0;
    all[n++] = goc_ctx_with_cancel(goc_ctx_background());
    while (head < n && n < TREE_MAX) {
        goc_ctx *parent = all[head++];
        for (int i = 0; i < 4; i++)
            all[n++] = goc_ctx_with_cancel(parent);
    }
    /* start every cancel, in a shuffled order */
    int order[TREE_MAX + 4];
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)((unsigned)(i * 2654435761u) % (unsigned)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    goc_wg_add(&simul_wg, n);
    for (int i = 0; i < n; i++)
        go(simul_cancel, all[order[i]]);
    for (int i = 0; i < n; i++) {
        goc_ctx *c = all[order[(i * 7) % n]];
        T_CHECK(wait_done(c));
        T_CHECK_EQ(goc_ctx_err(c), ECANCELED);
    }
    goc_wg_wait(&simul_wg);
    for (int i = 0; i < n; i++)
        T_CHECK_EQ(goc__ctx_nchildren(all[i]), 0);
    for (int i = n - 1; i >= 0; i--)
        goc_ctx_release(all[i]);
    return 0;
}
static void test_simultaneous_cancels(void) { goc_run(simultaneous_main, NULL); }

/* ---- TestInterlockedCancels ---- */

static void interlocked_fn(void *arg) {
    goc_ctx **cs = arg;
    goc_chan_recv(goc_ctx_done(cs[0]), NULL); /* <-parent.Done() */
    goc_ctx_cancel(cs[1]);
    goc_ctx_drop(cs[1]);
    goc_ctx_drop(cs[0]);
    goc_wg_done(&helpers);
}

static int interlocked_main(void *arg) {
    (void)arg;
    goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx *child = goc_ctx_with_timeout(parent, GOC_HOUR);
    goc_ctx *cs[2] = {goc_ctx_retain(parent), goc_ctx_retain(child)};
    goc_wg_add(&helpers, 1);
    goc_go_copy(interlocked_fn, cs, sizeof cs);
    goc_ctx_cancel(parent);
    T_CHECK(wait_done(child));
    goc_ctx_release(child);
    goc_ctx_release(parent);
    goc_wg_wait(&helpers);
    return 0;
}
static void test_interlocked_cancels(void) { goc_run(interlocked_main, NULL); }

/* ---- TestLayersCancel, TestLayersTimeout ---- */

#define MIN_LAYERS 30

static uint64_t rnd(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void layers(uint64_t seed, bool test_timeout) {
    goc_ctx *stack[512];
    int keyspace[512];
    int nstack = 0, nvals = 0, ntimers = 0, ncancels = 0;
    goc_ctx *cancels[512];
    goc_ctx *ctx = goc_ctx_background();
    for (int i = 0; i < MIN_LAYERS || ntimers == 0 || ncancels == 0 || nvals == 0; i++) {
        switch (rnd(&seed) % 3) {
        case 0:
            ctx = goc_ctx_with_value(ctx, &keyspace[nvals], &keyspace[nvals]);
            nvals++;
            break;
        case 1:
            ctx = goc_ctx_with_cancel(ctx);
            cancels[ncancels++] = ctx;
            break;
        case 2:
            ctx = goc_ctx_with_timeout(ctx, test_timeout ? 20 * MS : GOC_HOUR);
            cancels[ncancels++] = ctx;
            ntimers++;
            break;
        }
        stack[nstack++] = ctx;
    }
    if (!test_timeout)
        T_CHECK(!is_done(ctx));
    for (int v = 0; v < nvals; v++)
        T_CHECK(goc_ctx_value(ctx, &keyspace[v]) == &keyspace[v]);
    if (test_timeout) {
        T_CHECK(wait_done(ctx));
        T_CHECK_EQ(goc_ctx_err(ctx), ETIMEDOUT);
    } else {
        goc_ctx_cancel(cancels[rnd(&seed) % (uint64_t)ncancels]);
        T_CHECK(is_done(ctx));
        T_CHECK_EQ(goc_ctx_err(ctx), ECANCELED);
    }
    for (int v = 0; v < nvals; v++)
        T_CHECK(goc_ctx_value(ctx, &keyspace[v]) == &keyspace[v]);
    /* release in a random order: children keep their parents alive */
    for (int i = nstack - 1; i > 0; i--) {
        int j = (int)(rnd(&seed) % (uint64_t)(i + 1));
        goc_ctx *t = stack[i];
        stack[i] = stack[j];
        stack[j] = t;
    }
    for (int i = 0; i < nstack; i++)
        goc_ctx_release(stack[i]);
}

static int layers_cancel_main(void *arg) {
    (void)arg;
    for (uint64_t seed = 1; seed <= 50; seed++)
        layers(seed, false);
    return 0;
}
static void test_layers_cancel(void) { goc_run(layers_cancel_main, NULL); }

static int layers_timeout_main(void *arg) {
    (void)arg;
    for (uint64_t seed = 1; seed <= 5; seed++)
        layers(seed, true);
    return 0;
}
static void test_layers_timeout(void) { goc_run(layers_timeout_main, NULL); }

/* ---- TestCancelRemoves ---- */

static void nothing(void *arg) { (void)arg; }

static int cancel_removes_main(void *arg) {
    (void)arg;
    goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
    T_CHECK_EQ(goc__ctx_nchildren(ctx), 0);
    goc_ctx *c = goc_ctx_with_cancel(ctx);
    T_CHECK_EQ(goc__ctx_nchildren(ctx), 1);
    goc_ctx_cancel(c);
    T_CHECK_EQ(goc__ctx_nchildren(ctx), 0);
    goc_ctx_release(c);

    c = goc_ctx_with_timeout(ctx, 60 * GOC_MINUTE);
    T_CHECK_EQ(goc__ctx_nchildren(ctx), 1);
    goc_ctx_cancel(c);
    T_CHECK_EQ(goc__ctx_nchildren(ctx), 0);
    goc_ctx_release(c);

    goc_ctx_after *a = goc_ctx_after_func(ctx, nothing, NULL);
    T_CHECK_EQ(goc__ctx_nchildren(ctx), 1);
    T_CHECK(goc_ctx_after_stop(a));
    T_CHECK_EQ(goc__ctx_nchildren(ctx), 0);
    goc_ctx_after_free(a);

    /* release alone (no cancel first) also removes */
    c = goc_ctx_with_cancel(ctx);
    goc_ctx_release(c);
    T_CHECK_EQ(goc__ctx_nchildren(ctx), 0);
    goc_ctx_release(ctx);
    return 0;
}
static void test_cancel_removes(void) { goc_run(cancel_removes_main, NULL); }

/* ---- TestWithCancelCanceledParent, TestCause ---- */

#define MY_CAUSE 4242

static int canceled_parent_main(void *arg) {
    (void)arg;
    goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx_cancel_cause(parent, MY_CAUSE);
    goc_ctx *c = goc_ctx_with_cancel(parent);
    T_CHECK(is_done(c)); /* done immediately upon construction */
    T_CHECK_EQ(goc_ctx_err(c), ECANCELED);
    T_CHECK_EQ(goc_ctx_cause(c), MY_CAUSE);
    goc_ctx *v = goc_ctx_with_value(parent, &k1, NULL);
    goc_ctx *t = goc_ctx_with_timeout(v, GOC_HOUR);
    T_CHECK(is_done(t));
    T_CHECK_EQ(goc_ctx_err(t), ECANCELED);
    T_CHECK_EQ(goc_ctx_cause(t), MY_CAUSE);
    goc_ctx_release(t);
    goc_ctx_release(v);
    goc_ctx_release(c);
    goc_ctx_release(parent);
    return 0;
}
static void test_with_cancel_canceled_parent(void) { goc_run(canceled_parent_main, NULL); }

static int cause_main(void *arg) {
    (void)arg;
    goc_ctx *bg = goc_ctx_background();
    /* with cancel */
    goc_ctx *c = goc_ctx_with_cancel(bg);
    T_CHECK_EQ(goc_ctx_cause(c), 0);
    goc_ctx_cancel(c);
    T_CHECK_EQ(goc_ctx_err(c), ECANCELED);
    T_CHECK_EQ(goc_ctx_cause(c), ECANCELED);
    goc_ctx_release(c);
    /* with cancel cause; cause 0 is ECANCELED */
    c = goc_ctx_with_cancel(bg);
    goc_ctx_cancel_cause(c, MY_CAUSE);
    T_CHECK_EQ(goc_ctx_err(c), ECANCELED);
    T_CHECK_EQ(goc_ctx_cause(c), MY_CAUSE);
    goc_ctx_release(c);
    c = goc_ctx_with_cancel(bg);
    goc_ctx_cancel_cause(c, 0);
    T_CHECK_EQ(goc_ctx_cause(c), ECANCELED);
    goc_ctx_release(c);
    /* first cause wins */
    c = goc_ctx_with_cancel(bg);
    goc_ctx_cancel_cause(c, 1);
    goc_ctx_cancel_cause(c, 2);
    goc_ctx_cancel(c);
    T_CHECK_EQ(goc_ctx_cause(c), 1);
    goc_ctx_release(c);
    /* parent's cause cancels children; a child's does not go up */
    goc_ctx *p = goc_ctx_with_cancel(bg);
    c = goc_ctx_with_cancel(p);
    goc_ctx_cancel_cause(c, 7);
    T_CHECK_EQ(goc_ctx_cause(p), 0);
    goc_ctx *c2 = goc_ctx_with_cancel(p);
    goc_ctx_cancel_cause(p, 8);
    T_CHECK_EQ(goc_ctx_cause(c), 7);
    T_CHECK_EQ(goc_ctx_cause(c2), 8);
    goc_ctx_release(c2);
    goc_ctx_release(c);
    goc_ctx_release(p);
    /* timeout: cause is ETIMEDOUT, or the timeout's own cause */
    c = goc_ctx_with_timeout(bg, 1 * MS);
    T_CHECK(wait_done(c));
    T_CHECK_EQ(goc_ctx_err(c), ETIMEDOUT);
    T_CHECK_EQ(goc_ctx_cause(c), ETIMEDOUT);
    goc_ctx_release(c);
    c = goc_ctx_with_timeout_cause(bg, 1 * MS, MY_CAUSE);
    T_CHECK(wait_done(c));
    T_CHECK_EQ(goc_ctx_err(c), ETIMEDOUT);
    T_CHECK_EQ(goc_ctx_cause(c), MY_CAUSE);
    goc_ctx_release(c);
    c = goc_ctx_with_deadline_cause(bg, goc_now() - 1, MY_CAUSE);
    T_CHECK_EQ(goc_ctx_cause(c), MY_CAUSE);
    goc_ctx_release(c);
    /* cancel before the timeout */
    c = goc_ctx_with_timeout_cause(bg, GOC_HOUR, MY_CAUSE);
    goc_ctx_cancel_cause(c, 9);
    T_CHECK_EQ(goc_ctx_err(c), ECANCELED);
    T_CHECK_EQ(goc_ctx_cause(c), 9);
    goc_ctx_release(c);
    /* a parent's timeout reaches its children with its cause */
    p = goc_ctx_with_timeout_cause(bg, 1 * MS, MY_CAUSE);
    c = goc_ctx_with_cancel(p);
    T_CHECK(wait_done(c));
    T_CHECK_EQ(goc_ctx_err(c), ETIMEDOUT);
    T_CHECK_EQ(goc_ctx_cause(c), MY_CAUSE);
    goc_ctx_release(c);
    goc_ctx_release(p);
    return 0;
}
static void test_cause(void) { goc_run(cause_main, NULL); }

/* ---- AfterFunc ---- */

static void after_send(void *arg) {
    goc_send((goc_chan *)arg, 1);
}

static _Atomic int after_count;
static void after_inc(void *arg) {
    (void)arg;
    atomic_fetch_add(&after_count, 1);
}

static int after_func_main(void *arg) {
    (void)arg;
    goc_chan *ch = goc_chan_of(int, 0);
    int v;
    /* called after cancel */
    goc_ctx *c = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx_after *a = goc_ctx_after_func(c, after_send, ch);
    T_CHECK(!goc_chan_try_recv(ch, &v, NULL));
    goc_ctx_cancel(c);
    T_CHECK(goc_recv(ch, &v));
    T_CHECK(!goc_ctx_after_stop(a)); /* already started */
    goc_ctx_after_free(a);
    /* called immediately for a done context */
    a = goc_ctx_after_func(c, after_send, ch);
    T_CHECK(goc_recv(ch, &v));
    T_CHECK(!goc_ctx_after_stop(a));
    goc_ctx_after_free(a);
    goc_ctx_release(c);
    /* called after timeout, through a value context */
    c = goc_ctx_with_timeout(goc_ctx_background(), 5 * MS);
    goc_ctx *vc = goc_ctx_with_value(c, &k1, NULL);
    a = goc_ctx_after_func(vc, after_send, ch);
    T_CHECK(goc_recv(ch, &v));
    goc_ctx_after_free(a);
    goc_ctx_release(vc);
    goc_ctx_release(c);
    /* not called after stop; the second stop says false */
    atomic_store(&after_count, 0);
    c = goc_ctx_with_cancel(goc_ctx_background());
    a = goc_ctx_after_func(c, after_inc, NULL);
    T_CHECK(goc_ctx_after_stop(a));
    T_CHECK(!goc_ctx_after_stop(a));
    goc_ctx_cancel(c);
    goc_ctx_release(c);
    goc_sleep(20 * MS); /* would it run, it would have been started by now */
    T_CHECK_EQ(atomic_load(&after_count), 0);
    goc_ctx_after_free(a);
    /* the handle may be freed first: fn still runs */
    c = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx_after_free(goc_ctx_after_func(c, after_send, ch));
    goc_ctx_release(c);
    T_CHECK(goc_recv(ch, &v));
    /* never-cancelled contexts: never called; stop reports once */
    a = goc_ctx_after_func(goc_ctx_background(), after_inc, NULL);
    T_CHECK(goc_ctx_after_stop(a));
    T_CHECK(!goc_ctx_after_stop(a));
    goc_ctx_after_free(a);
    goc_chan_free(ch);
    /* The goroutines that ran fn free their records after fn returns: let
       them finish before main returns, or they are abandoned (and leak). */
    while (goc_num_goroutine() > 1)
        goc_yield();
    return 0;
}
static void test_after_func(void) { goc_run(after_func_main, NULL); }

/* Stop racing cancel: fn runs exactly when stop says false. */
static goc_chan *race_ran;
static void race_fn(void *arg) {
    goc_send(race_ran, arg);
}
static void race_cancel(void *arg) {
    goc_ctx_cancel(arg);
    goc_ctx_drop(arg); /* its own reference, taken before it started */
    goc_wg_done(&helpers);
}

static int after_race_main(void *arg) {
    (void)arg;
    int rounds = 2000 / SCALE;
    race_ran = goc_chan_of(intptr_t, (size_t)rounds);
    int not_stopped = 0;
    for (intptr_t i = 0; i < rounds; i++) {
        goc_ctx *c = goc_ctx_with_cancel(goc_ctx_background());
        goc_ctx_after *a = goc_ctx_after_func(c, race_fn, (void *)i);
        goc_wg_add(&helpers, 1);
        go(race_cancel, goc_ctx_retain(c));
        if (i & 1)
            goc_yield();
        if (!goc_ctx_after_stop(a))
            not_stopped++;
        goc_ctx_after_free(a);
        goc_ctx_release(c);
    }
    for (int i = 0; i < not_stopped; i++)
        T_CHECK(goc_chan_recv(race_ran, NULL));
    goc_sleep(20 * MS); /* a function that should not run would have by now */
    T_CHECK_EQ(goc_chan_len(race_ran), 0);
    goc_wg_wait(&helpers);
    goc_chan_free(race_ran);
    return 0;
}
static void test_after_race(void) { goc_run(after_race_main, NULL); }

/* ---- goc_sleep_ctx ---- */

static void cancel_after(void *arg) {
    goc_sleep(20 * MS); /* only lets time pass before the cancel */
    goc_ctx_cancel(arg);
    goc_ctx_drop(arg);
    goc_wg_done(&helpers);
}

static void *thread_sleep(void *arg) {
    return (void *)(intptr_t)goc_sleep_ctx(arg, LONG_WAIT);
}

static int sleep_ctx_main(void *arg) {
    (void)arg;
    /* full sleep */
    goc_ctx *c = goc_ctx_with_cancel(goc_ctx_background());
    int64_t t0 = goc_now();
    T_CHECK_EQ(goc_sleep_ctx(c, 10 * MS), 0);
    T_CHECK(goc_now() - t0 >= 10 * MS);
    T_CHECK_EQ(goc__ctx_nchildren(c), 0); /* the waiter left */
    /* never-cancellable contexts just sleep */
    T_CHECK_EQ(goc_sleep_ctx(goc_ctx_background(), 1 * MS), 0);
    /* cut short by a cancel from another goroutine */
    goc_wg_add(&helpers, 1);
    go(cancel_after, goc_ctx_retain(c));
    t0 = goc_now();
    T_CHECK_EQ(goc_sleep_ctx(c, LONG_WAIT), ECANCELED);
    T_CHECK(goc_now() - t0 < LONG_WAIT / 2);
    /* a duration past the clock's range (UBSan checks the sum) */
    goc_ctx *c2 = goc_ctx_with_cancel(goc_ctx_background());
    goc_wg_add(&helpers, 1);
    go(cancel_after, goc_ctx_retain(c2));
    T_CHECK_EQ(goc_sleep_ctx(c2, INT64_MAX), ECANCELED);
    goc_ctx_release(c2);
    /* already done: at once */
    T_CHECK_EQ(goc_sleep_ctx(c, LONG_WAIT), ECANCELED);
    T_CHECK_EQ(goc_sleep_ctx(c, 0), ECANCELED);
    goc_ctx_release(c);
    /* cut short by a deadline, through a value context */
    c = goc_ctx_with_timeout(goc_ctx_background(), 20 * MS);
    goc_ctx *v = goc_ctx_with_value(c, &k1, NULL);
    T_CHECK_EQ(goc_sleep_ctx(v, LONG_WAIT), ETIMEDOUT);
    goc_ctx_release(v);
    goc_ctx_release(c);
    /* many sleepers on one context, one cancel wakes them all */
    c = goc_ctx_with_cancel(goc_ctx_background());
    pthread_t th;
    pthread_create(&th, NULL, thread_sleep, c);
    goc_wg_add(&helpers, 1);
    go(cancel_after, goc_ctx_retain(c));
    T_CHECK_EQ(goc_sleep_ctx(c, LONG_WAIT), ECANCELED);
    void *res = NULL;
    goc_blocking_begin();
    pthread_join(th, &res);
    goc_blocking_end();
    T_CHECK_EQ((intptr_t)res, ECANCELED);
    goc_ctx_release(c);
    goc_wg_wait(&helpers);
    return 0;
}
static void test_sleep_ctx(void) { goc_run(sleep_ctx_main, NULL); }

/* ---- ownership: any order of cancel, release and goroutines ---- */

/* Workers hold their own references and use the context after its creator
   released it; under ASan a use after free would be reported. */
static goc_wg own_wg;
static int own_key;

static void own_worker(void *arg) {
    goc_ctx *c = arg;
    goc_ctx *mine = goc_ctx_with_cancel(c);
    goc_yield();
    if (goc_ctx_value(mine, &own_key) != &own_key)
        atomic_fetch_add(&t_failures, 1);
    goc_sleep_ctx(mine, (goc_id() % 3) * GOC_MICROSECOND * 200);
    goc_chan *d = goc_ctx_done(mine);
    bool ok;
    goc_chan_try_recv(d, NULL, &ok);
    (void)goc_ctx_err(mine);
    (void)goc_ctx_cause(mine);
    if (goc_id() & 1)
        goc_ctx_cancel(c);
    goc_ctx_release(mine);
    goc_ctx_drop(c);
    goc_wg_done(&own_wg);
}

static int ownership_main(void *arg) {
    (void)arg;
    int rounds = 300 / SCALE;
    for (int r = 0; r < rounds; r++) {
        goc_ctx *root = goc_ctx_with_timeout(goc_ctx_background(), (r % 4) * 100 * GOC_MICROSECOND);
        goc_ctx *v = goc_ctx_with_value(root, &own_key, &own_key);
        goc_ctx *c = goc_ctx_with_cancel(v);
        goc_wg_add(&own_wg, 8);
        for (int i = 0; i < 8; i++)
            go(own_worker, goc_ctx_retain(c));
        /* the creator lets go in a varying order, while workers run */
        if (r & 1) {
            goc_ctx_release(root);
            goc_ctx_release(c);
            goc_ctx_release(v);
        } else {
            goc_ctx_release(c);
            goc_ctx_release(v);
            goc_ctx_release(root);
        }
        if (r & 2)
            goc_wg_wait(&own_wg);
    }
    goc_wg_wait(&own_wg);
    return 0;
}
static void test_ownership(void) { goc_run(ownership_main, NULL); }

/* A deep chain: cancel and free never recurse. */
static int deep_main(void *arg) {
    (void)arg;
    int depth = 100000 / SCALE;
    goc_ctx **cs = malloc((size_t)depth * sizeof *cs);
    goc_ctx *c = goc_ctx_background();
    for (int i = 0; i < depth; i++)
        c = cs[i] = (i % 3 == 1) ? goc_ctx_with_value(c, &k1, NULL) : goc_ctx_with_cancel(c);
    goc_ctx_cancel(cs[0]);
    T_CHECK_EQ(goc_ctx_err(cs[depth - 1]), ECANCELED);
    for (int i = 0; i < depth; i++)
        goc_ctx_release(cs[i]); /* the last release frees the whole chain */
    free(cs);
    return 0;
}
static void test_deep(void) { goc_run(deep_main, NULL); }

/* Many timeouts at once, most cancelled before they fire. */
static int many_timeouts_main(void *arg) {
    (void)arg;
    int n = 20000 / SCALE;
    goc_ctx *root = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx **cs = malloc((size_t)n * sizeof *cs);
    for (int i = 0; i < n; i++)
        cs[i] = goc_ctx_with_timeout(root, (i % 2) ? GOC_HOUR : (i % 50) * GOC_MICROSECOND * 20);
    for (int i = 0; i < n; i += 2)
        T_CHECK(wait_done(cs[i]));
    goc_ctx_release(root); /* cancels the hour-long ones */
    for (int i = 0; i < n; i++) {
        T_CHECK_EQ(goc_ctx_err(cs[i]), (i % 2) ? ECANCELED : ETIMEDOUT);
        goc_ctx_release(cs[i]);
    }
    free(cs);
    return 0;
}
static void test_many_timeouts(void) { goc_run(many_timeouts_main, NULL); }

/* A plain thread can use contexts as well as goroutines. */
static void *thread_ctx(void *arg) {
    goc_ctx *c = goc_ctx_with_timeout(arg, 10 * MS);
    int r = goc_sleep_ctx(c, LONG_WAIT);
    goc_ctx_release(c);
    return (void *)(intptr_t)r;
}

static int plain_thread_main(void *arg) {
    (void)arg;
    goc_ctx *p = goc_ctx_with_cancel(goc_ctx_background());
    pthread_t th;
    pthread_create(&th, NULL, thread_ctx, p);
    void *res = NULL;
    goc_blocking_begin();
    pthread_join(th, &res);
    goc_blocking_end();
    T_CHECK_EQ((intptr_t)res, ETIMEDOUT);
    T_CHECK_EQ(goc__ctx_nchildren(p), 0);
    goc_ctx_release(p);
    return 0;
}
static void test_plain_thread(void) { goc_run(plain_thread_main, NULL); }

/* ---- misuse ---- */

static int release_twice_main(void *arg) {
    (void)arg;
    goc_ctx *p = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx *c = goc_ctx_with_cancel(p); /* keeps p's memory alive */
    goc_ctx_release(p);
    goc_ctx_release(p);
    goc_ctx_release(c);
    return 0;
}
static void child_release_twice(void) { goc_run(release_twice_main, NULL); }

static int nil_parent_main(void *arg) {
    (void)arg;
    goc_ctx_with_cancel(NULL);
    return 0;
}
static void child_nil_parent(void) { goc_run(nil_parent_main, NULL); }

static int nil_key_main(void *arg) {
    (void)arg;
    goc_ctx_with_value(goc_ctx_background(), NULL, NULL);
    return 0;
}
static void child_nil_key(void) { goc_run(nil_key_main, NULL); }

/* Waiting on background's done (a nil channel) is a deadlock. */
static int done_deadlock_main(void *arg) {
    (void)arg;
    goc_chan_recv(goc_ctx_done(goc_ctx_background()), NULL);
    return 0;
}
static void child_done_deadlock(void) { goc_run(done_deadlock_main, NULL); }

/* ---- a passed deadline is seen where no timer runs in time ---- */

/* Without goc_run nothing fires a deadline's timer; with one P, a goroutine
   that polls goc_ctx_err without a switch keeps the timer from running.
   Both must still see ETIMEDOUT, and a wait that takes the context must end
   at its deadline. */
static void test_deadline_no_run(void) {
    goc_ctx *c = goc_ctx_with_timeout(goc_ctx_background(), 10 * MS);
    goc_ctx *child = goc_ctx_with_cancel(c);
    goc_ctx *v = goc_ctx_with_value(child, &k1, NULL);
    T_CHECK_EQ(goc_ctx_err(v), 0);
    int64_t t0 = goc_now();
    struct timespec ts = {0, 30 * 1000 * 1000}; /* only lets the deadline pass */
    nanosleep(&ts, NULL);
    T_CHECK_EQ(goc_ctx_err(v), ETIMEDOUT);   /* noticed here, through the value */
    T_CHECK_EQ(goc_ctx_err(c), ETIMEDOUT);   /* and the timer context itself */
    T_CHECK_EQ(goc_ctx_cause(child), ETIMEDOUT);
    goc_ctx_release(v);
    goc_ctx_release(child);
    goc_ctx_release(c);
    /* a sleep on the context ends at its deadline, not after the full sleep */
    c = goc_ctx_with_timeout(goc_ctx_background(), 10 * MS);
    t0 = goc_now();
    T_CHECK_EQ(goc_sleep_ctx(c, LONG_WAIT), ETIMEDOUT);
    T_CHECK(goc_now() - t0 < LONG_WAIT / 2);
    goc_ctx_release(c);
}

static int busy_deadline_main(void *arg) {
    (void)arg;
    int procs = goc_maxprocs(1);
    goc_yield(); /* now on the one P that remains */
    goc_ctx *c = goc_ctx_with_timeout(goc_ctx_background(), 10 * MS);
    int64_t end = goc_now() + LONG_WAIT;
    while (!goc_ctx_err(c) && goc_now() < end) {
    } /* no switch: the P never runs its timers */
    T_CHECK_EQ(goc_ctx_err(c), ETIMEDOUT);
    goc_ctx_release(c);
    goc_maxprocs(procs);
    return 0;
}
static void test_deadline_busy(void) { goc_run(busy_deadline_main, NULL); }

static void test_misuse(void) {
    T_CHILD_DIES("release_twice", NULL, 2, "panic: goc_ctx_release: context released twice");
    T_CHILD_DIES("nil_parent", NULL, 2, "panic: cannot create context from nil parent");
    T_CHILD_DIES("nil_key", NULL, 2, "panic: nil key");
    T_CHILD_DIES("done_deadlock", NULL, 2, "fatal error: all goroutines are asleep - deadlock!");
}

int main(int argc, char **argv) {
    static const t_case cases[] = {
        T_CASE(test_background),        T_CASE(test_with_cancel),
        T_CASE(test_parent_finishes_child), T_CASE(test_child_finishes_first),
        T_CASE(test_deadline),          T_CASE(test_timeout),
        T_CASE(test_canceled_timeout),  T_CASE(test_values),
        T_CASE(test_simultaneous_cancels), T_CASE(test_interlocked_cancels),
        T_CASE(test_layers_cancel),     T_CASE(test_layers_timeout),
        T_CASE(test_cancel_removes),    T_CASE(test_with_cancel_canceled_parent),
        T_CASE(test_cause),             T_CASE(test_after_func),
        T_CASE(test_after_race),        T_CASE(test_sleep_ctx),
        T_CASE(test_ownership),         T_CASE(test_deep),
        T_CASE(test_many_timeouts),     T_CASE(test_plain_thread),
        T_CASE(test_deadline_no_run),   T_CASE(test_deadline_busy),
        T_CASE(test_misuse),
    };
    static const t_case children[] = {
        {"release_twice", child_release_twice},
        {"nil_parent", child_nil_parent},
        {"nil_key", child_nil_key},
        {"done_deadlock", child_done_deadlock},
    };
    return T_RUN(cases, children);
}
