/* The runtime's spinlock and futex helpers.
 *
 * goc__lock is a test-and-test-and-set lock made of acquire/release atomics,
 * so TSan models it exactly and it may be released by another fiber on the
 * same thread (park releases locks after the switch). It is held for a few
 * instructions only; a waiter spins briefly, backing off exponentially so
 * that the holder keeps the cache line, then yields the thread. */
#include "runtime/internal.h"
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Pauses between a waiter's looks at the lock word. A waiter that looks
   often pulls the line away from the holder, which then pays a transfer on
   its release and again on its next acquire: with both cores hammering one
   channel (W5 4:4 on two threads) every message crossed cores. Waiting
   longer before the first look lets the holder finish and take the lock
   again with the line still its own, so the cores take turns in batches:
   starting at 1 pause and doubling to 32, W5 4:4 ran at 27-37 ns a message;
   starting at 16 and doubling to 128, at 16-17 ns, one thread's speed (W3,
   W6, W7, W10, W11, W13 unchanged). */
#define LOCK_BACKOFF_START 16
#define LOCK_BACKOFF_MAX 128
/* Looks before the waiter yields the thread: about 1,800 pauses in all
   (48 us here, a pause taking 27 ns on this AMD EPYC; longer on Intel's
   140-cycle pause), as before this backoff: well past any critical section
   unless the holder's thread lost its CPU. */
#define LOCK_SPINS 16

void goc__lock_slow(goc__lock *l) {
    unsigned backoff = LOCK_BACKOFF_START;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 && goc__lock_try(l))
            return;
        if (i < LOCK_SPINS) {
            for (unsigned k = 0; k < backoff; k++)
                goc__cpu_relax();
            if (backoff < LOCK_BACKOFF_MAX)
                backoff <<= 1;
        } else
            sched_yield();
    }
}

bool goc__unlock_cb(void *lock) {
    goc__lock_release(lock);
    return true;
}

void goc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline) {
    struct timespec ts, *tsp = NULL;
    if (deadline >= 0 && deadline != INT64_MAX) {
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time: the same
           clock as goc_now, so no conversion drift. */
        ts.tv_sec = deadline / 1000000000;
        ts.tv_nsec = deadline % 1000000000;
        tsp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_BITSET_PRIVATE, val, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
}

void goc__futex_wake(_Atomic uint32_t *addr, int n) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

__attribute__((noinline)) int goc__errno_get(void) {
    int e = errno;
    __asm__ volatile("" : "+r"(e)::"memory");
    return e;
}

__attribute__((noinline)) void goc__errno_set(int e) {
    __asm__ volatile("" ::: "memory");
    errno = e;
}
