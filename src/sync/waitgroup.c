/* sync.WaitGroup, as Go's (sync/waitgroup.go).
 *
 * _state packs the counter (high 32 bits) and the number of waiters (low 32)
 * so that Add and Wait agree on both with one atomic operation; _sema is
 * where waiters sleep (goc__semacquire).
 *
 * Invariants:
 * - Waiters are counted only while the counter is positive.
 * - When the counter reaches zero with waiters, the Add that got it there
 *   resets _state to 0 and releases exactly that many waiters; a Wait that
 *   wakes and finds _state non-zero means the group was reused too early.
 */
#include "runtime/internal.h"
#include <stdlib.h>

void goc_wg_add(goc_wg *wg, int delta) {
    uint64_t state = atomic_fetch_add(&wg->_state, (uint64_t)(int64_t)delta << 32) +
                     ((uint64_t)(int64_t)delta << 32);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (v < 0)
        goc_panic("sync: negative WaitGroup counter");
    if (w != 0 && delta > 0 && v == delta)
        goc_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    if (v > 0 || w == 0)
        return;
    /* Counter is 0 and there are waiters: nobody may change state now. */
    if (atomic_load(&wg->_state) != state)
        goc_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    atomic_store(&wg->_state, 0);
    for (; w != 0; w--)
        goc__semrelease(&wg->_sema, false);
}

void goc_wg_done(goc_wg *wg) {
    goc_wg_add(wg, -1);
}

void goc_wg_wait(goc_wg *wg) {
    uint64_t state = atomic_load(&wg->_state);
    for (;;) {
        if ((state >> 32) == 0)
            return;
        if (atomic_compare_exchange_weak(&wg->_state, &state, state + 1)) {
            goc__semacquire(&wg->_sema, false, "sync.WaitGroup.Wait");
            if (atomic_load(&wg->_state) != 0)
                goc_panic("sync: WaitGroup is reused before previous Wait has returned");
            return;
        }
    }
}

struct wg_go_args {
    goc_wg *wg;
    void (*fn)(void *);
    void *arg;
};

static void wg_go_entry(void *a) {
    struct wg_go_args *ga = a;
    ga->fn(ga->arg);
    goc_wg_done(ga->wg);
}

void goc_wg_go(goc_wg *wg, void (*fn)(void *), void *arg) {
    goc_wg_add(wg, 1);
    struct wg_go_args ga = {wg, fn, arg};
    goc_go_copy(wg_go_entry, &ga, sizeof ga);
}
