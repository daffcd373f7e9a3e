/* sync.Pool: per-P caches of reusable objects, with a victim generation.
 *
 * Go empties pools at each garbage collection: the objects cached then
 * become the victim generation, and the previous victims are dropped. goc
 * has no collector, so the pool counts its own generations in time: each
 * per-P cache checks the clock every SWEEP_CHECK operations, and once the
 * pool's `sweep` span (default one second) has passed since the last step,
 * one caller runs the step: the victims go to free_fn, the current objects
 * become victims. An object therefore stays cached at most about two spans
 * after its last put, as long as the pool is in use; a pool that is no
 * longer used keeps its objects until goc_pool_sweep or goc_pool_free.
 *
 * Invariants:
 * - _locals, once set, never changes until goc_pool_free: an array of
 *   GOC_MAX_PROCS + 1 pointers (the last for plain threads), each made on
 *   first use by a CAS and never freed before the pool is.
 * - An object is in at most one cache (current or victim of one local).
 * - Every cache is changed only under its local's lock. The lock is nearly
 *   always uncontended (its P's goroutines, and rarely a thief or a sweep);
 *   it is there because goc does not pin a goroutine to its P the way Go's
 *   procPin does.
 * Get order, as Go: this P's current objects (newest first), other Ps'
 * current objects, this P's victims, other Ps' victims, then new_fn.
 */
#include "runtime/internal.h"
#include <stdlib.h>
#include <string.h>

#define SWEEP_CHECK 1024 /* operations per local between clock reads (a clock read is ~70 ns) */
#define SLOTS (GOC_MAX_PROCS + 1)

typedef struct cache {
    void **item;
    size_t n, cap;
} cache;

typedef struct pool_local {
    goc__lock lock;
    uint32_t ops;
    cache cur, victim;
} __attribute__((aligned(64))) pool_local;

static goc__lock *sweep_lock(goc_pool *p) {
    return (goc__lock *)(void *)&p->_lock;
}

static int my_slot(void) {
    goc__m *m = goc__getm();
    return m && m->p ? m->p->id : GOC_MAX_PROCS;
}

static _Atomic(pool_local *) *locals(goc_pool *p) {
    _Atomic(pool_local *) *ls = atomic_load(&p->_locals);
    if (GOC_LIKELY(ls != NULL))
        return ls;
    ls = calloc(SLOTS, sizeof *ls);
    if (!ls)
        goc__fatal("out of memory (sync.Pool)");
    void *expect = NULL;
    if (!atomic_compare_exchange_strong(&p->_locals, &expect, ls)) {
        free(ls);
        return expect;
    }
    atomic_store(&p->_swept, goc_now());
    return ls;
}

static pool_local *local_at(_Atomic(pool_local *) *ls, int i, bool make) {
    pool_local *l = atomic_load(&ls[i]);
    if (l || !make)
        return l;
    l = aligned_alloc(64, sizeof *l);
    if (!l)
        goc__fatal("out of memory (sync.Pool)");
    memset(l, 0, sizeof *l);
    pool_local *expect = NULL;
    if (!atomic_compare_exchange_strong(&ls[i], &expect, l)) {
        free(l);
        return expect;
    }
    return l;
}

static void cache_push(cache *c, void *x) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        void **item = realloc(c->item, cap * sizeof *item);
        if (!item)
            goc__fatal("out of memory (sync.Pool)");
        c->item = item;
        c->cap = cap;
    }
    c->item[c->n++] = x;
}

static void release(goc_pool *p, void *obj) {
    if (p->free_fn)
        p->free_fn(obj);
    else
        free(obj);
}

static void cache_release(goc_pool *p, cache *c) {
    for (size_t i = 0; i < c->n; i++)
        release(p, c->item[i]);
    free(c->item);
    memset(c, 0, sizeof *c);
}

void goc_pool_sweep(goc_pool *p) {
    _Atomic(pool_local *) *ls = atomic_load(&p->_locals);
    if (!ls)
        return;
    goc__lock_acquire(sweep_lock(p));
    atomic_store(&p->_swept, goc_now());
    for (int i = 0; i < SLOTS; i++) {
        pool_local *l = local_at(ls, i, false);
        if (!l)
            continue;
        goc__lock_acquire(&l->lock);
        cache old = l->victim;
        l->victim = l->cur;
        memset(&l->cur, 0, sizeof l->cur);
        goc__lock_release(&l->lock);
        cache_release(p, &old); /* outside the lock: free_fn may take time */
    }
    goc__lock_release(sweep_lock(p));
}

/* Every SWEEP_CHECK operations on a local: a generation step if one is due. */
static void maybe_sweep(goc_pool *p) {
    int64_t span = p->sweep > 0 ? p->sweep : GOC_SECOND;
    int64_t now = goc_now(), last = atomic_load(&p->_swept);
    if (now - last < span)
        return;
    if (atomic_compare_exchange_strong(&p->_swept, &last, now)) /* one sweeper per step */
        goc_pool_sweep(p);
}

void goc_pool_put(goc_pool *p, void *obj) {
    if (!obj)
        return;
    pool_local *l = local_at(locals(p), my_slot(), true);
    goc__lock_acquire(&l->lock);
    cache_push(&l->cur, obj);
    bool check = ++l->ops % SWEEP_CHECK == 0;
    goc__lock_release(&l->lock);
    if (GOC_UNLIKELY(check))
        maybe_sweep(p);
}

/* A thief does not wait for a busy local: it tries the next one. */
static void *pop(pool_local *l, bool victim, bool wait) {
    if (!l)
        return NULL;
    cache *c = victim ? &l->victim : &l->cur;
    if (wait)
        goc__lock_acquire(&l->lock);
    else if (!goc__lock_try(&l->lock))
        return NULL;
    void *x = c->n ? c->item[--c->n] : NULL;
    goc__lock_release(&l->lock);
    return x;
}

void *goc_pool_get(goc_pool *p) {
    _Atomic(pool_local *) *ls = locals(p);
    int me = my_slot();
    pool_local *l = local_at(ls, me, true);
    goc__lock_acquire(&l->lock);
    void *x = l->cur.n ? l->cur.item[--l->cur.n] : NULL;
    bool check = ++l->ops % SWEEP_CHECK == 0;
    goc__lock_release(&l->lock);
    if (GOC_UNLIKELY(check))
        maybe_sweep(p);
    if (x)
        return x;
    /* Steal, starting after our own slot, then the victims. */
    for (int pass = 0; pass < 2 && !x; pass++) {
        bool victim = pass == 1;
        if (victim && (x = pop(l, true, true)) != NULL)
            break;
        for (int k = 1; k < SLOTS && !x; k++)
            x = pop(atomic_load(&ls[(me + k) % SLOTS]), victim, false);
    }
    if (x)
        return x;
    return p->new_fn ? p->new_fn(p->arg) : NULL;
}

void goc_pool_free(goc_pool *p) {
    _Atomic(pool_local *) *ls = atomic_load(&p->_locals);
    if (!ls)
        return;
    for (int i = 0; i < SLOTS; i++) {
        pool_local *l = atomic_load(&ls[i]);
        if (!l)
            continue;
        cache_release(p, &l->cur);
        cache_release(p, &l->victim);
        free(l);
    }
    free(ls);
    atomic_store(&p->_locals, NULL);
    atomic_store(&p->_swept, 0);
}
