/* sync.Cond, with a deadline (golang/go#16620), on goc's parkers.
 *
 * Go keeps a ticket list in the runtime (notifyList); a ticket that leaves
 * on a timeout would swallow the signal meant for it, so goc keeps an
 * explicit FIFO queue of waiter records instead, each on its waiter's stack.
 *
 * A wait has two steps with L unlocked in between, so a signal can come
 * before the waiter has parked:
 *   1. under _lock: join the queue (from now on a signal can pick us);
 *   2. unlock L;
 *   3. under _lock: if picked already (signalled), return without parking;
 *      else set parked and park, which releases _lock only once the waiter
 *      can no longer miss a wake-up.
 *
 * Invariants (all under _lock):
 * - A waiter is in the queue exactly while w->queued; only the holder of
 *   _lock takes it out, and the waiter itself re-takes _lock before its
 *   record goes away, so nobody touches a stale record.
 * - signal picks the oldest queued waiter. One not yet parked is just marked
 *   signalled. A parked one must first be claimed (its deadline timer may
 *   race); if the timer won, that waiter is leaving anyway and the signal
 *   goes to the next one, so a timeout never swallows a signal.
 * - A claimed waiter is woken after _lock is released; it cannot return
 *   before that wake, so its record is still there.
 * No spurious wake-ups: a wait returns only for a signal, a broadcast, or
 * its own deadline.
 */
#include "runtime/internal.h"

typedef struct cond_waiter {
    goc__parker pk;
    struct cond_waiter *next, *prev;
    bool queued;
    bool parked;    /* parking or parked: a signal must claim and wake */
    bool signalled; /* picked by signal or broadcast */
} cond_waiter;

static goc__lock *cond_qlock(goc_cond *c) {
    return (goc__lock *)(void *)&c->_lock;
}

static void cond_enqueue(goc_cond *c, cond_waiter *w) {
    w->next = NULL;
    w->prev = c->_tail;
    if (c->_tail)
        ((cond_waiter *)c->_tail)->next = w;
    else
        c->_head = w;
    c->_tail = w;
    w->queued = true;
}

static void cond_dequeue(goc_cond *c, cond_waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        c->_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        c->_tail = w->prev;
    w->queued = false;
}

void goc_cond_init(goc_cond *c, goc_mutex *l) {
    c->L = l;
    atomic_store_explicit(&c->_lock, 0, memory_order_relaxed); /* before any sharing */
    c->_head = c->_tail = NULL;
}

/* deadline: goc_now's clock, -1 for none (goc_cond_wait). */
static bool cond_wait(goc_cond *c, int64_t deadline) {
    if (!c->L)
        goc_panic("sync: Cond.Wait with a NULL L");
    cond_waiter w = {.parked = false, .signalled = false};
    goc__parker_init(&w.pk);
    goc__lock_acquire(cond_qlock(c));
    cond_enqueue(c, &w);
    goc__lock_release(cond_qlock(c));
    goc_mutex_unlock(c->L);

    bool ok = true;
    goc__lock_acquire(cond_qlock(c));
    if (w.signalled) {
        goc__lock_release(cond_qlock(c));
    } else {
        w.parked = true;
        ok = goc__parker_park(&w.pk, goc__unlock_cb, cond_qlock(c), "sync.Cond.Wait", deadline);
        if (!ok) {
            /* Timed out. A signal may have taken us off the queue and lost
               the claim to our timer; then it moved on to the next waiter. */
            goc__lock_acquire(cond_qlock(c));
            if (w.queued)
                cond_dequeue(c, &w);
            goc__lock_release(cond_qlock(c));
        }
    }
    goc_mutex_lock(c->L);
    return ok;
}

bool goc_cond_wait_until(goc_cond *c, int64_t deadline) {
    /* every negative instant is in the past (the clock counts from boot);
       only goc_cond_wait waits with none */
    return cond_wait(c, deadline < 0 ? 0 : deadline);
}

void goc_cond_wait(goc_cond *c) {
    cond_wait(c, -1);
}

/* c->_lock held. Takes the oldest waiter that can still be signalled off the
   queue; returns it if it must be woken (parked), NULL otherwise. */
static cond_waiter *pick(goc_cond *c, bool *any) {
    cond_waiter *w;
    while ((w = c->_head) != NULL) {
        cond_dequeue(c, w);
        if (!w->parked) {
            w->signalled = true; /* it sees this under the lock and does not park */
            *any = true;
            return NULL;
        }
        if (goc__parker_claim(&w->pk)) {
            w->signalled = true;
            *any = true;
            return w;
        }
        /* its deadline won: it is leaving; try the next */
    }
    *any = false;
    return NULL;
}

void goc_cond_signal(goc_cond *c) {
    goc__lock_acquire(cond_qlock(c));
    bool any;
    cond_waiter *w = pick(c, &any);
    goc__lock_release(cond_qlock(c));
    if (w)
        goc__parker_wake(&w->pk);
}

void goc_cond_broadcast(goc_cond *c) {
    cond_waiter *wake = NULL, **tail = &wake;
    goc__lock_acquire(cond_qlock(c));
    for (;;) {
        bool any;
        cond_waiter *w = pick(c, &any);
        if (!any)
            break;
        if (w) {
            w->next = NULL; /* off the queue: reuse the link for the wake list */
            *tail = w;
            tail = &w->next;
        }
    }
    goc__lock_release(cond_qlock(c));
    while (wake) {
        cond_waiter *next = wake->next; /* read first: once woken, it may return */
        goc__parker_wake(&wake->pk);
        wake = next;
    }
}
