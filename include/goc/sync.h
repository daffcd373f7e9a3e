/* goc sync: WaitGroup, and (below) Mutex, RWMutex, Cond, Once, Map, Pool,
 * semaphore, errgroup.
 *
 * Every type is ready when zero-filled (`goc_wg wg = {0};`), as in Go; the
 * fields beginning with an underscore are private. Blocking parks the
 * goroutine (a plain thread that calls these blocks the thread). Misuse ends
 * the program with Go's message and exit status 2. */
#ifndef GOC_SYNC_H
#define GOC_SYNC_H

#include <goc/runtime.h>
#include <stdatomic.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- WaitGroup ---- */
typedef struct goc_wg {
    _Atomic uint64_t _state; /* high 32 bits: counter; low 32: waiters */
    _Atomic uint32_t _sema;
} goc_wg;

/* Adds delta (may be negative) to the counter; at zero, releases every
   waiter. A negative counter: panic "sync: negative WaitGroup counter". */
GOC_API void goc_wg_add(goc_wg *wg, int delta);
GOC_API void goc_wg_done(goc_wg *wg);
/* Blocks until the counter is zero. */
GOC_API void goc_wg_wait(goc_wg *wg);
/* Go 1.25's wg.Go: Add(1), then a goroutine that runs fn(arg) and calls Done. */
GOC_API void goc_wg_go(goc_wg *wg, void (*fn)(void *arg), void *arg);

/* ---- Mutex ---- */
/* sync.Mutex. Not owned by a goroutine: one may lock it and another unlock
   it. Waiters queue FIFO; a waiter that has waited over 1 ms switches the
   mutex to starvation mode, where unlock hands it straight to the waiter at
   the front and newcomers queue behind (Go's design). */
typedef struct goc_mutex {
    _Atomic int32_t _state;  /* locked, woken, starving bits; waiter count above */
    _Atomic uint32_t _sema;  /* where waiters sleep */
    _Atomic uint64_t _owner; /* GOC_DEBUG=sync=1 only: the goroutine holding it */
} goc_mutex;

GOC_API void goc_mutex_lock(goc_mutex *m);
/* fatal error "sync: unlock of unlocked mutex" if m is not locked. */
GOC_API void goc_mutex_unlock(goc_mutex *m);
/* Locks m if that needs no wait; false otherwise (Go's TryLock). */
GOC_API bool goc_mutex_trylock(goc_mutex *m);

/* ---- RWMutex ---- */
/* sync.RWMutex: any number of readers or one writer. Writer-preferring: once
   a writer waits in lock, new readers wait until it has had its turn, so a
   goroutine must not rlock again while it holds a read lock (it would
   deadlock with a waiting writer; GOC_DEBUG=sync=1 reports it). */
typedef struct goc_rwmutex {
    goc_mutex _w;                 /* held by a pending or active writer */
    _Atomic uint32_t _writer_sem; /* the writer waits here for readers to leave */
    _Atomic uint32_t _reader_sem; /* readers wait here for the writer */
    _Atomic int32_t _readers;     /* readers in; minus 2^30 while a writer waits or holds */
    _Atomic int32_t _departing;   /* readers the waiting writer still waits for */
} goc_rwmutex;

GOC_API void goc_rwmutex_rlock(goc_rwmutex *rw);
/* fatal error "sync: RUnlock of unlocked RWMutex" without a read lock. */
GOC_API void goc_rwmutex_runlock(goc_rwmutex *rw);
GOC_API void goc_rwmutex_lock(goc_rwmutex *rw);
/* fatal error "sync: Unlock of unlocked RWMutex" without the write lock. */
GOC_API void goc_rwmutex_unlock(goc_rwmutex *rw);
GOC_API bool goc_rwmutex_tryrlock(goc_rwmutex *rw);
GOC_API bool goc_rwmutex_trylock(goc_rwmutex *rw);

/* ---- Cond ---- */
/* sync.Cond. L is public, as in Go: `goc_cond c = {.L = &mu};`. Waiters are
   woken in the order they started waiting; a wait never returns without a
   signal, a broadcast or (wait_until) its deadline. signal and broadcast may
   be called with or without L held. */
typedef struct goc_cond {
    goc_mutex *L;
    _Atomic uint32_t _lock; /* spinlock over the queue */
    void *_head, *_tail;    /* waiters, oldest first */
} goc_cond;

GOC_API void goc_cond_init(goc_cond *c, goc_mutex *l);
/* Unlocks L, waits for a signal or broadcast, locks L again. */
GOC_API void goc_cond_wait(goc_cond *c);
/* Beyond Go (golang/go#16620): as wait, but gives up at deadline (goc_now's
   clock). Returns false when it gave up; L is locked again either way. */
GOC_API bool goc_cond_wait_until(goc_cond *c, int64_t deadline);
/* Wakes the goroutine that has waited longest, if any. */
GOC_API void goc_cond_signal(goc_cond *c);
/* Wakes every waiter. */
GOC_API void goc_cond_broadcast(goc_cond *c);

/* ---- Once ---- */
typedef struct goc_once {
    _Atomic uint32_t _done;
    goc_mutex _m;
} goc_once;

/* Runs fn(arg) if no goc_once_do on o has run it yet. No call returns before
   fn has returned. fn must not call goc_once_do on the same o (deadlock). */
GOC_API void goc_once_do(goc_once *o, void (*fn)(void *arg), void *arg);

/* Go's sync.OnceFunc: a function bound to its argument that runs at most
   once however often it is called. C has no closures, so the "returned
   function" is a struct filled at compile time or by goc_once_func_init:
       static goc_once_func setup = GOC_ONCE_FUNC(init_tables, NULL);
       goc_once_func_call(&setup);          // every caller, any goroutine */
typedef struct goc_once_func {
    goc_once _once;
    void (*_fn)(void *arg);
    void *_arg;
} goc_once_func;
#define GOC_ONCE_FUNC(fn, arg) {._fn = (fn), ._arg = (arg)}
GOC_API void goc_once_func_init(goc_once_func *f, void (*fn)(void *arg), void *arg);
GOC_API void goc_once_func_call(goc_once_func *f);

/* Go's sync.OnceValue: fn(arg) runs once; every get returns its result.
       static goc_once_value cfg = GOC_ONCE_VALUE(load_config, "app.conf");
       struct config *c = goc_once_value_get(&cfg); */
typedef struct goc_once_value {
    goc_once _once;
    void *(*_fn)(void *arg);
    void *_arg;
    void *_value;
} goc_once_value;
#define GOC_ONCE_VALUE(fn, arg) {._fn = (fn), ._arg = (arg)}
GOC_API void goc_once_value_init(goc_once_value *v, void *(*fn)(void *arg), void *arg);
GOC_API void *goc_once_value_get(goc_once_value *v);

/* ---- Map ---- */
/* sync.Map: keys are byte strings compared by content (a klen of 0 is a key;
   bytes after a NUL count), values are pointers compared by identity (NULL is
   a value like any other). The map copies keys; it never owns values.
   Loads, and stores to keys already present, take no lock and scale across
   cores. Memory ordering as Go's: a write operation synchronises before any
   read operation that observes its effect (load, load_or_store when it
   loads, load_and_delete, swap, compare_and_swap, compare_and_delete are
   reads; store, load_or_store when it stores, swap, the successful
   compare_and_swap or _delete, delete and clear are writes). */
typedef struct goc_map {
    goc_mutex _mu;           /* over _dirty, _misses, _limbo and replacing _read */
    _Atomic uintptr_t _read; /* immutable table, low bit: _dirty holds keys it lacks */
    void *_dirty;            /* mutable table of every live key, or NULL */
    size_t _misses;          /* loads that had to lock since _read was last replaced */
    void *_limbo;            /* unlinked memory waiting for readers to move on */
} goc_map;

/* Go's argument order; Go's boolean result is the return value; other
   results go through a pointer that may be NULL. */
GOC_API bool goc_map_load(goc_map *m, const void *key, size_t klen, void **value);
GOC_API void goc_map_store(goc_map *m, const void *key, size_t klen, void *value);
/* true: the key was present and *actual is its value; false: value stored. */
GOC_API bool goc_map_load_or_store(goc_map *m, const void *key, size_t klen, void *value,
                                   void **actual);
GOC_API bool goc_map_load_and_delete(goc_map *m, const void *key, size_t klen, void **value);
GOC_API void goc_map_delete(goc_map *m, const void *key, size_t klen);
/* Stores value; true if the key was present, with its old value in *previous. */
GOC_API bool goc_map_swap(goc_map *m, const void *key, size_t klen, void *value, void **previous);
GOC_API bool goc_map_compare_and_swap(goc_map *m, const void *key, size_t klen, void *old,
                                      void *new_value);
GOC_API bool goc_map_compare_and_delete(goc_map *m, const void *key, size_t klen, void *old);
/* Calls fn for each key until it returns false. Not a consistent snapshot:
   each key is visited at most once, with a value it had at some moment
   during the call. fn may call any goc_map function on m, and may block. */
GOC_API void goc_map_range(goc_map *m,
                           bool (*fn)(const void *key, size_t klen, void *value, void *arg),
                           void *arg);
GOC_API void goc_map_clear(goc_map *m);
/* Frees what the map allocated (never the values); the map is empty and
   usable again afterwards. No other call on m may run at the same time. */
GOC_API void goc_map_free(goc_map *m);

/* ---- Pool ---- */
/* sync.Pool: a cache of reusable objects, one per P plus a victim
   generation. C has no collector, so the pool releases objects itself:
   about every `sweep` (0: one second) of use, objects not taken since the
   previous sweep are passed to free_fn and the rest become the victim
   generation; goc_pool_sweep forces a step and goc_pool_free releases all.
       goc_pool bufs = {.new_fn = new_buf, .free_fn = free};          */
typedef struct goc_pool {
    void *(*new_fn)(void *arg); /* makes an object when the pool is empty; NULL: get may return NULL */
    void (*free_fn)(void *obj); /* releases an object; NULL: free() */
    void *arg;                  /* passed to new_fn */
    goc_duration sweep;         /* 0: GOC_SECOND */
    _Atomic(void *) _locals;    /* per-P caches, made on first use */
    _Atomic int64_t _swept;     /* when the last sweep ran */
    _Atomic uint32_t _lock;     /* over making _locals and over sweeps */
} goc_pool;

/* An object from the pool (any P's, then the victims), else new_fn(arg). */
GOC_API void *goc_pool_get(goc_pool *p);
/* Gives obj back for reuse (NULL is ignored). */
GOC_API void goc_pool_put(goc_pool *p, void *obj);
/* One generation step now: free the victims, current objects become victims. */
GOC_API void goc_pool_sweep(goc_pool *p);
/* Releases every cached object and the caches; the pool is empty and usable. */
GOC_API void goc_pool_free(goc_pool *p);

/* ---- Weighted semaphore (golang.org/x/sync/semaphore) ---- */
/* A semaphore of `size` units; acquire takes n of them. Waiters are served
   strictly in arrival order, so a large request is not starved by a stream
   of small ones (a small request waits behind a large one).
       goc_sema s = GOC_SEMA_INIT(8);    or  goc_sema_init(&s, 8);
   A zero-filled goc_sema has size 0. */
typedef struct goc_sema {
    int64_t _size;
    int64_t _cur;           /* units held */
    _Atomic uint32_t _lock; /* spinlock over _cur and the queue */
    void *_head, *_tail;    /* waiters, oldest first */
} goc_sema;
#define GOC_SEMA_INIT(n) {._size = (n)}

struct goc_ctx;
GOC_API void goc_sema_init(goc_sema *s, int64_t size);
/* Takes n units, waiting until they are free or ctx is done. Returns 0, or
   ctx's error (ECANCELED, ETIMEDOUT) with nothing taken. A ctx that is
   already done fails at once, even if the units are free. ctx NULL: never
   cancelled. n > size waits for ctx only (it can never succeed). */
GOC_API int goc_sema_acquire(goc_sema *s, struct goc_ctx *ctx, int64_t n);
/* Takes n units if they are free and nobody waits; never blocks. */
GOC_API bool goc_sema_try_acquire(goc_sema *s, int64_t n);
/* Gives n units back; panic "semaphore: released more than held" if more
   than are held. */
GOC_API void goc_sema_release(goc_sema *s, int64_t n);

/* ---- errgroup (golang.org/x/sync/errgroup) ---- */
/* A group of goroutines working on one task. Each returns an int: 0 for
   success, else an error (an errno value or an application code). The
   first error is kept and cancels the group's context (with that error as
   its cause); wait returns it once every goroutine has returned.
       goc_errgroup *g = goc_errgroup_new(ctx);
       goc_errgroup_go(g, fetch, url);    ...   int err = goc_errgroup_wait(g);
       goc_errgroup_free(g);                                                */
typedef struct goc_errgroup goc_errgroup;

/* A group whose context derives from parent (NULL: the background). */
GOC_API goc_errgroup *goc_errgroup_new(struct goc_ctx *parent);
/* The group's context: cancelled at the first error, or when wait returns.
   Valid until goc_errgroup_free. */
GOC_API struct goc_ctx *goc_errgroup_ctx(goc_errgroup *g);
/* Runs fn(arg) in a new goroutine. With a limit set, first waits until fewer
   than the limit are running. */
GOC_API void goc_errgroup_go(goc_errgroup *g, int (*fn)(void *arg), void *arg);
/* As go, but returns false instead of waiting when the limit is reached. */
GOC_API bool goc_errgroup_try_go(goc_errgroup *g, int (*fn)(void *arg), void *arg);
/* At most n goroutines at once (n < 0: no limit). panic "errgroup: modify
   limit while N goroutines in the group are still active" if some run. */
GOC_API void goc_errgroup_set_limit(goc_errgroup *g, int n);
/* Waits for every goroutine started so far, cancels the context, and
   returns the first error (0 if none). */
GOC_API int goc_errgroup_wait(goc_errgroup *g);
/* Frees the group (and releases its context). Call after wait. */
GOC_API void goc_errgroup_free(goc_errgroup *g);

#ifdef __cplusplus
}
#endif
#endif
