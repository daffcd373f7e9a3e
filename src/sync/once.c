/* sync.Once, OnceFunc and OnceValue, as Go's (sync/once.go, sync/oncefunc.go).
 *
 * Invariant: _done becomes 1 only after fn has returned, and is stored under
 * _m; so a caller that sees _done == 1 (fast path) also sees everything fn
 * wrote, and a caller that finds _done == 0 waits on _m until fn's runner has
 * finished. A CAS on _done would not do: the losers would return before fn
 * had finished.
 */
#include "runtime/internal.h"

static void once_slow(goc_once *o, void (*fn)(void *), void *arg) {
    goc_mutex_lock(&o->_m);
    if (atomic_load_explicit(&o->_done, memory_order_relaxed) == 0) { /* _m orders it */
        fn(arg);
        /* release: pairs with the acquire load of the fast path */
        atomic_store_explicit(&o->_done, 1, memory_order_release);
    }
    goc_mutex_unlock(&o->_m);
}

void goc_once_do(goc_once *o, void (*fn)(void *), void *arg) {
    /* acquire: pairs with the release store after fn */
    if (GOC_LIKELY(atomic_load_explicit(&o->_done, memory_order_acquire)))
        return;
    once_slow(o, fn, arg);
}

void goc_once_func_init(goc_once_func *f, void (*fn)(void *), void *arg) {
    *f = (goc_once_func)GOC_ONCE_FUNC(fn, arg);
}

void goc_once_func_call(goc_once_func *f) {
    goc_once_do(&f->_once, f->_fn, f->_arg);
}

void goc_once_value_init(goc_once_value *v, void *(*fn)(void *), void *arg) {
    *v = (goc_once_value)GOC_ONCE_VALUE(fn, arg);
}

static void once_value_run(void *a) {
    goc_once_value *v = a;
    v->_value = v->_fn(v->_arg);
}

void *goc_once_value_get(goc_once_value *v) {
    goc_once_do(&v->_once, once_value_run, v);
    return v->_value; /* written before _done was released */
}
