/* errgroup, as golang.org/x/sync/errgroup.
 *
 * Invariants:
 * - err is 0 until the first goroutine that fails stores its error (one
 *   CAS); that goroutine, and only it, cancels ctx with the error as cause.
 * - active counts goroutines started and not yet finished, under mu; with a
 *   limit, active <= limit, and a finishing goroutine signals cond so one
 *   waiting go can start.
 * - wg counts the same goroutines; wait waits on it, then cancels ctx.
 */
#include "runtime/internal.h"
#include <stdlib.h>

struct goc_errgroup {
    goc_ctx *ctx;
    goc_wg wg;
    goc_mutex mu;
    goc_cond cond;
    int limit; /* < 0: none */
    int active;
    _Atomic int err;
};

struct eg_start {
    goc_errgroup *g;
    int (*fn)(void *);
    void *arg;
};

goc_errgroup *goc_errgroup_new(goc_ctx *parent) {
    goc_errgroup *g = calloc(1, sizeof *g);
    if (!g)
        goc__fatal("out of memory (errgroup)");
    g->ctx = goc_ctx_with_cancel(parent ? parent : goc_ctx_background());
    g->cond.L = &g->mu;
    g->limit = -1;
    return g;
}

goc_ctx *goc_errgroup_ctx(goc_errgroup *g) {
    return g->ctx;
}

static void eg_entry(void *a) {
    struct eg_start *st = a;
    goc_errgroup *g = st->g;
    int r = st->fn(st->arg);
    int zero = 0;
    if (r != 0 && atomic_compare_exchange_strong(&g->err, &zero, r))
        goc_ctx_cancel_cause(g->ctx, r);
    goc_mutex_lock(&g->mu);
    g->active--;
    goc_cond_signal(&g->cond);
    goc_mutex_unlock(&g->mu);
    goc_wg_done(&g->wg);
}

static void eg_start(goc_errgroup *g, int (*fn)(void *), void *arg) {
    goc_wg_add(&g->wg, 1);
    struct eg_start st = {g, fn, arg};
    goc_go_copy(eg_entry, &st, sizeof st);
}

void goc_errgroup_go(goc_errgroup *g, int (*fn)(void *), void *arg) {
    goc_mutex_lock(&g->mu);
    while (g->limit >= 0 && g->active >= g->limit)
        goc_cond_wait(&g->cond);
    g->active++;
    goc_mutex_unlock(&g->mu);
    eg_start(g, fn, arg);
}

bool goc_errgroup_try_go(goc_errgroup *g, int (*fn)(void *), void *arg) {
    goc_mutex_lock(&g->mu);
    if (g->limit >= 0 && g->active >= g->limit) {
        goc_mutex_unlock(&g->mu);
        return false;
    }
    g->active++;
    goc_mutex_unlock(&g->mu);
    eg_start(g, fn, arg);
    return true;
}

void goc_errgroup_set_limit(goc_errgroup *g, int n) {
    goc_mutex_lock(&g->mu);
    int active = g->active;
    if (active != 0 && n >= 0) {
        goc_mutex_unlock(&g->mu);
        goc_panic("errgroup: modify limit while %d goroutines in the group are still active",
                  active);
    }
    g->limit = n < 0 ? -1 : n;
    goc_cond_broadcast(&g->cond); /* no limit any more: let waiting go calls start */
    goc_mutex_unlock(&g->mu);
}

int goc_errgroup_wait(goc_errgroup *g) {
    goc_wg_wait(&g->wg);
    int err = atomic_load(&g->err);
    goc_ctx_cancel_cause(g->ctx, err); /* cause 0: ECANCELED */
    return err;
}

void goc_errgroup_free(goc_errgroup *g) {
    if (!g)
        return;
    goc_ctx_release(g->ctx);
    free(g);
}
