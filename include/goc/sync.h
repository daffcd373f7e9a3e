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

#ifdef __cplusplus
}
#endif
#endif
