/* sync.Mutex and sync.RWMutex, as Go's (sync/mutex.go, sync/rwmutex.go).
 *
 * Mutex _state: bit 0 locked, bit 1 woken (a waiter was woken, or a spinner
 * is about to take the lock: unlock need not wake anyone), bit 2 starving;
 * the bits above count the goroutines waiting on _sema.
 *
 * Two modes. Normal: waiters queue FIFO, but a woken waiter competes with
 * newcomers, which usually win (they are already on a CPU); that gives the
 * throughput. A waiter that has waited more than 1 ms switches the mutex to
 * starvation mode: unlock hands the mutex straight to the waiter at the
 * front (goc__semrelease with handoff), newcomers neither spin nor take it
 * but queue at the back. The last waiter, or one that waited under 1 ms,
 * switches back to normal.
 *
 * Invariants:
 * - The waiter count is the number of goroutines that are in, or about to
 *   enter, goc__semacquire on _sema, minus the tokens already released for
 *   them.
 * - In starvation mode the mutex is never locked by a newcomer: only the
 *   waiter that unlock handed it to sets locked (it adds locked and removes
 *   itself from the count in one step).
 * - Spinning happens only when it can pay off (Go's canSpin, less its
 *   empty-run-queue condition): a few rounds, on a machine with several
 *   CPUs, while another P runs (the owner may release soon).
 *
 * RWMutex: _readers counts readers in; a writer first takes _w (excluding
 * other writers), then subtracts RWMUTEX_MAX_READERS, so new readers see a
 * negative count and wait on _reader_sem; _departing counts the readers the
 * writer still waits for, and the last one releases _writer_sem. A writer
 * unlocks _w before it adds RWMUTEX_MAX_READERS back, and the next writer
 * waits in lock until that count is no longer negative.
 *
 * Unlock touches the mutex no more once it has let the next owner in
 * (POSIX's rule; see unlock_slow and goc_rwmutex_unlock), so the last user
 * may free it at once.
 *
 * GOC_DEBUG=sync=1: a mutex remembers the goroutine that holds it; a lock by
 * that same goroutine that is still waiting after a second (nobody else
 * unlocked it meanwhile, which would be legal) is reported as a recursive
 * lock instead of hanging;
 * read locks are tracked per goroutine in a side table, to report a read
 * lock taken again, or a write lock taken, by a goroutine that already holds
 * a read lock, when that would deadlock.
 */
#include "runtime/internal.h"
#include <stdlib.h>
#include <unistd.h>

#define MUTEX_LOCKED 1
#define MUTEX_WOKEN 2
#define MUTEX_STARVING 4
#define MUTEX_WAITER_SHIFT 3
#define STARVATION_THRESHOLD_NS 1000000 /* as Go: 1 ms, long enough to be unusual, short enough to bound tail latency */
#define ACTIVE_SPIN 4                   /* as Go: rounds of spinning before queueing */
#define ACTIVE_SPIN_CNT 30              /* as Go: pause instructions per round */

/* ------------------------------------------------------------------------ */
/* Spinning.                                                                */

static int ncpu(void) {
    static _Atomic int n;
    int v = atomic_load_explicit(&n, memory_order_relaxed); /* a cache: any value read is right */
    if (v == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        v = c > 0 ? (int)c : 1;
        atomic_store_explicit(&n, v, memory_order_relaxed);
    }
    return v;
}

/* Go's runtime_canSpin. Reads scheduler counters racily: they are hints. */
static bool can_spin(int iter) {
    if (iter >= ACTIVE_SPIN || ncpu() <= 1)
        return false;
    goc__m *m = goc__getm();
    if (!m || !m->p)
        return true; /* a plain thread: a short spin is cheaper than a futex sleep */
    /* Ps held by an M, less the spinning ones */
    int busy = goc__busy_procs() - atomic_load_explicit(&goc__sched.nmspinning, memory_order_relaxed);
    /* Unlike Go, spin even when others are queued on this P: the spin is
       bounded (ACTIVE_SPIN rounds), while parking costs a sema lock, two
       switches and a wake, and every waiter that sleeps makes the next
       unlock wake one (W11, 100 workers on one mutex with two threads:
       170 ms, and 620 ms in runs where the waiters pile up on the sema,
       against 80 ms spinning). */
    return busy > 1; /* else nobody else runs: the owner is not running either */
}

static inline void do_spin(void) {
    for (int i = 0; i < ACTIVE_SPIN_CNT; i++) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield" ::: "memory");
#endif
    }
}

/* ------------------------------------------------------------------------ */
/* Debug checks (GOC_DEBUG=sync=1).                                         */

#define DEBUG_GRACE_NS 1000000000 /* a held mutex may yet be unlocked by another goroutine (legal): wait this long before calling it recursion */

/* Waits on m->_sema as lock_slow does. With GOC_DEBUG=sync=1, when the
   goroutine that holds m is this one, it waits at most DEBUG_GRACE_NS at
   first: if nobody has unlocked m by then, this is a recursive Lock, which
   would hang, and it is reported. */
static void mutex_sleep(goc_mutex *m, bool lifo) {
    uint64_t me;
    /* relaxed: only this goroutine stores its own id, so a match is exact */
    if (GOC_LIKELY(!goc__debug.sync) || (me = goc_id()) == 0 ||
        atomic_load_explicit(&m->_owner, memory_order_relaxed) != me) {
        goc__semacquire(&m->_sema, lifo, "sync.Mutex.Lock");
        return;
    }
    if (goc__semacquire_until(&m->_sema, lifo, "sync.Mutex.Lock", goc_now() + DEBUG_GRACE_NS))
        return;
    if (atomic_load_explicit(&m->_owner, memory_order_relaxed) == me)
        goc__fatal("sync: Lock: goroutine %llu already holds this lock (recursive locking deadlocks)",
                   (unsigned long long)me);
    goc__semacquire(&m->_sema, lifo, "sync.Mutex.Lock"); /* still counted as a waiter */
}

/* Read locks held, per (RWMutex, goroutine): chained hash under one lock. */
typedef struct rheld {
    const goc_rwmutex *rw;
    uint64_t g;
    int n;
    struct rheld *next;
} rheld;
#define RHELD_BUCKETS 1024 /* debug only: a fixed table is enough */
static rheld *rheld_tab[RHELD_BUCKETS];
static goc__lock rheld_lock;

static rheld **rheld_bucket(const goc_rwmutex *rw) {
    return &rheld_tab[((uintptr_t)rw >> 4) % RHELD_BUCKETS];
}

static int rheld_count(const goc_rwmutex *rw, uint64_t g) {
    int n = 0;
    goc__lock_acquire(&rheld_lock);
    for (rheld *h = *rheld_bucket(rw); h; h = h->next)
        if (h->rw == rw && h->g == g)
            n = h->n;
    goc__lock_release(&rheld_lock);
    return n;
}

static void rheld_add(const goc_rwmutex *rw, uint64_t g, int delta) {
    goc__lock_acquire(&rheld_lock);
    rheld **pp = rheld_bucket(rw), *h;
    for (h = *pp; h && !(h->rw == rw && h->g == g); h = h->next)
        pp = &h->next;
    if (!h && delta < 0) {
        /* unlocked by another goroutine than the one that locked (legal):
           forget any one holder of rw, so the counts stay right */
        for (pp = rheld_bucket(rw), h = *pp; h && h->rw != rw; h = h->next)
            pp = &h->next;
    }
    if (!h && delta > 0) {
        h = calloc(1, sizeof *h);
        if (h) {
            h->rw = rw;
            h->g = g;
            h->next = NULL;
            *pp = h; /* appended: pp still names the link to h */
        }
    }
    if (h) {
        h->n += delta;
        if (h->n <= 0) {
            *pp = h->next;
            free(h);
        }
    }
    goc__lock_release(&rheld_lock);
}

/* ------------------------------------------------------------------------ */
/* Mutex.                                                                   */

static void lock_slow(goc_mutex *m) {
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = atomic_load_explicit(&m->_state, memory_order_relaxed); /* re-read by the CAS */
    for (;;) {
        /* Spin only in normal mode with the mutex locked: in starvation mode
           the owner hands it to a waiter, so spinning cannot win it. */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && can_spin(iter)) {
            /* Set woken so unlock does not wake a waiter we would race with. */
            if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
                atomic_compare_exchange_strong(&m->_state, &old, old | MUTEX_WOKEN))
                awoke = true;
            do_spin();
            iter++;
            old = atomic_load_explicit(&m->_state, memory_order_relaxed); /* re-read by the CAS */
            continue;
        }
        int32_t new = old;
        if (!(old & MUTEX_STARVING))
            new |= MUTEX_LOCKED; /* newcomers do not take a starving mutex */
        if (old & (MUTEX_LOCKED | MUTEX_STARVING))
            new += 1 << MUTEX_WAITER_SHIFT;
        /* Switch to starvation mode, but only if it is locked: unlock
           expects waiters in starvation mode. */
        if (starving && (old & MUTEX_LOCKED))
            new |= MUTEX_STARVING;
        if (awoke) {
            if (!(new & MUTEX_WOKEN))
                goc__fatal("sync: inconsistent mutex state");
            new &= ~MUTEX_WOKEN;
        }
        if (!atomic_compare_exchange_strong(&m->_state, &old, new))
            continue;
        if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
            break; /* locked it with the CAS */
        /* A waiter that waited before goes to the front of the queue. */
        bool lifo = wait_start != 0;
        if (wait_start == 0)
            wait_start = goc_now();
        mutex_sleep(m, lifo);
        starving = starving || goc_now() - wait_start > STARVATION_THRESHOLD_NS;
        old = atomic_load(&m->_state);
        if (old & MUTEX_STARVING) {
            /* Handed to us: nobody else can lock it, and our count is
               still in the state. Take it and leave the queue in one add. */
            if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) || (old >> MUTEX_WAITER_SHIFT) == 0)
                goc__fatal("sync: inconsistent mutex state");
            int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
            if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
                delta -= MUTEX_STARVING; /* back to normal: see the file comment */
            atomic_fetch_add(&m->_state, delta);
            break;
        }
        awoke = true;
        iter = 0;
    }
}

void goc_mutex_lock(goc_mutex *m) {
    int32_t z = 0;
    /* acquire: pairs with the release in unlock's CAS */
    if (GOC_UNLIKELY(!atomic_compare_exchange_strong_explicit(&m->_state, &z, MUTEX_LOCKED,
                                                              memory_order_acquire,
                                                              memory_order_relaxed)))
        lock_slow(m);
    if (GOC_UNLIKELY(goc__debug.sync))
        atomic_store_explicit(&m->_owner, goc_id(), memory_order_relaxed); /* debug hint only */
}

bool goc_mutex_trylock(goc_mutex *m) {
    int32_t old = atomic_load_explicit(&m->_state, memory_order_relaxed); /* re-checked by the CAS */
    if (old & (MUTEX_LOCKED | MUTEX_STARVING))
        return false;
    /* acquire: pairs with the release in unlock's CAS */
    if (!atomic_compare_exchange_strong_explicit(&m->_state, &old, old | MUTEX_LOCKED,
                                                 memory_order_acquire, memory_order_relaxed))
        return false;
    if (GOC_UNLIKELY(goc__debug.sync))
        atomic_store_explicit(&m->_owner, goc_id(), memory_order_relaxed); /* debug hint only */
    return true;
}

/* Unlock decides, before it releases the mutex, whether it must wake a
   waiter, and releases and records that in one CAS, after which it touches
   the mutex no more (POSIX's rule: a mutex may be freed by the next owner
   as soon as it is unlocked, say by the holder of the last reference to the
   object that embeds it). Go releases first and then looks again at the
   state, which only a garbage collector makes safe. The one touch left is
   the token for the waiter it wakes: that waiter is still inside lock, a
   user of the mutex, so the mutex cannot have been freed yet. Go's second
   look also skips the wake when a newcomer took the mutex meanwhile; here
   that waiter wakes, finds it locked and queues again. */
static void unlock_slow(goc_mutex *m, int32_t old) {
    for (;;) {
        if (!(old & MUTEX_LOCKED))
            goc__fatal("sync: unlock of unlocked mutex");
        int32_t new = old - MUTEX_LOCKED;
        bool wake = false;
        if (old & MUTEX_STARVING) {
            /* Hand the mutex to the first waiter and let it run now. locked
               stays clear: the waiter sets it (and leaves the count);
               meanwhile starving keeps newcomers out. */
            wake = true;
        } else if ((old >> MUTEX_WAITER_SHIFT) != 0 && !(old & MUTEX_WOKEN)) {
            /* a waiter to wake, and none woken already (nor a spinner
               about to take it, which sets woken too) */
            new = (new - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
            wake = true;
        }
        /* release: pairs with the acquire of the next lock's CAS */
        if (atomic_compare_exchange_weak_explicit(&m->_state, &old, new, memory_order_release,
                                                  memory_order_relaxed)) {
            if (wake) {
                goc__shuffle_yield(); /* the waiter it owes a token keeps m alive */
                goc__semrelease(&m->_sema, old & MUTEX_STARVING);
            }
            return;
        }
    }
}

void goc_mutex_unlock(goc_mutex *m) {
    if (GOC_UNLIKELY(goc__debug.sync))
        atomic_store_explicit(&m->_owner, 0, memory_order_relaxed); /* debug hint only */
    int32_t old = atomic_load_explicit(&m->_state, memory_order_relaxed);
    /* release: pairs with the acquire of the next lock's CAS */
    if (GOC_UNLIKELY(old != MUTEX_LOCKED ||
                     !atomic_compare_exchange_strong_explicit(&m->_state, &old, 0,
                                                              memory_order_release,
                                                              memory_order_relaxed)))
        unlock_slow(m, old);
}

/* ------------------------------------------------------------------------ */
/* RWMutex.                                                                 */

#define RWMUTEX_MAX_READERS (1 << 30) /* as Go: more readers than can exist at once */

void goc_rwmutex_rlock(goc_rwmutex *rw) {
    if (atomic_fetch_add(&rw->_readers, 1) + 1 < 0) {
        /* A writer is pending: wait for it. */
        if (GOC_UNLIKELY(goc__debug.sync)) {
            uint64_t me = goc_id();
            if (me && rheld_count(rw, me) > 0)
                goc__fatal("sync: RLock: goroutine %llu already holds a read lock of this "
                           "RWMutex while a writer waits (recursive read locking deadlocks)",
                           (unsigned long long)me);
        }
        goc__semacquire(&rw->_reader_sem, false, "sync.RWMutex.RLock");
    }
    if (GOC_UNLIKELY(goc__debug.sync) && goc_id())
        rheld_add(rw, goc_id(), 1);
}

bool goc_rwmutex_tryrlock(goc_rwmutex *rw) {
    int32_t c = atomic_load(&rw->_readers);
    for (;;) {
        if (c < 0)
            return false;
        if (atomic_compare_exchange_weak(&rw->_readers, &c, c + 1))
            break;
    }
    if (GOC_UNLIKELY(goc__debug.sync) && goc_id())
        rheld_add(rw, goc_id(), 1);
    return true;
}

void goc_rwmutex_runlock(goc_rwmutex *rw) {
    if (GOC_UNLIKELY(goc__debug.sync) && goc_id())
        rheld_add(rw, goc_id(), -1);
    int32_t r = atomic_fetch_sub(&rw->_readers, 1) - 1;
    if (r >= 0)
        return;
    if (r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS)
        goc__fatal("sync: RUnlock of unlocked RWMutex");
    /* A writer is pending; the last reader it waits for lets it in. */
    if (atomic_fetch_sub(&rw->_departing, 1) - 1 == 0)
        goc__semrelease(&rw->_writer_sem, false);
}

void goc_rwmutex_lock(goc_rwmutex *rw) {
    if (GOC_UNLIKELY(goc__debug.sync)) {
        uint64_t me = goc_id();
        if (me && rheld_count(rw, me) > 0)
            goc__fatal("sync: Lock: goroutine %llu holds a read lock of this RWMutex "
                       "(it would wait for itself)",
                       (unsigned long long)me);
    }
    goc_mutex_lock(&rw->_w);
    /* The writer before us lets _w go before it lets the readers in (see
       unlock): until it has, it is still announced, and so may we not be. */
    while (GOC_UNLIKELY(atomic_load(&rw->_readers) < 0))
        goc_yield(); /* a plain thread: sched_yield */
    /* Announce the writer; r is the number of readers still in. */
    int32_t r = atomic_fetch_sub(&rw->_readers, RWMUTEX_MAX_READERS);
    if (r != 0 && atomic_fetch_add(&rw->_departing, r) + r != 0)
        goc__semacquire(&rw->_writer_sem, false, "sync.RWMutex.Lock");
}

bool goc_rwmutex_trylock(goc_rwmutex *rw) {
    if (!goc_mutex_trylock(&rw->_w))
        return false;
    int32_t z = 0;
    if (!atomic_compare_exchange_strong(&rw->_readers, &z, -RWMUTEX_MAX_READERS)) {
        goc_mutex_unlock(&rw->_w);
        return false;
    }
    return true;
}

/* POSIX's rule, as for a mutex: the last user may free rw as soon as it
   has unlocked. So unlock lets _w go first (a next writer takes it but
   waits, in lock, until we have let the readers in, since we are still
   announced until then), then lets the readers in with one addition: from
   there a new reader may take the last reference and free rw. The tokens
   of the readers that queued behind us come last, in one addition too:
   until they have them those readers keep rw alive, and after it we touch
   rw no more. Go lets the readers in first and _w go last. */
void goc_rwmutex_unlock(goc_rwmutex *rw) {
    if (atomic_load(&rw->_readers) >= 0)
        goc__fatal("sync: Unlock of unlocked RWMutex");
    goc_mutex_unlock(&rw->_w);
    goc__shuffle_yield();
    /* Announce to readers that there is no active writer. */
    int32_t r = atomic_fetch_add(&rw->_readers, RWMUTEX_MAX_READERS) + RWMUTEX_MAX_READERS;
    if (r >= RWMUTEX_MAX_READERS)
        goc__fatal("sync: Unlock of unlocked RWMutex");
    goc__shuffle_yield();
    /* Let in the readers that queued behind us. */
    goc__semrelease_n(&rw->_reader_sem, (uint32_t)r);
}
