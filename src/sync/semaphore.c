/* Weighted semaphore, as golang.org/x/sync/semaphore, on goc's parkers.
 *
 * Waiters queue in arrival order, each asking for n units. A release grants
 * units from the front only: the first waiter that does not fit stops the
 * scan, so a large request is never overtaken (and starved) by small ones.
 * A waiter parks with goc__ctx_park, so either a release or its context's
 * cancellation wakes it; whoever claims the parker first decides.
 *
 * Invariants (under _lock):
 * - 0 <= _cur <= _size, counting units granted and not yet released.
 * - A waiter is in the queue exactly while w->queued. A release that claims
 *   it has added its units to _cur and taken it off the queue; a waiter
 *   whose context won the claim takes itself off (if still queued) and then
 *   re-runs the grant scan, since the waiters behind it may fit now.
 * - A claimed waiter is woken after _lock is released and cannot return
 *   before that wake, so its record (on its stack) is still there.
 */
#include "runtime/internal.h"
#include "context/ctx_internal.h"
#include <errno.h>

typedef struct wsema_waiter {
    goc__parker pk;
    int64_t n;
    struct wsema_waiter *next, *prev;
    bool queued;
} wsema_waiter;

static goc__lock *wsema_qlock(goc_sema *s) {
    return (goc__lock *)(void *)&s->_lock;
}

static void wsema_enqueue(goc_sema *s, wsema_waiter *w) {
    w->next = NULL;
    w->prev = s->_tail;
    if (s->_tail)
        ((wsema_waiter *)s->_tail)->next = w;
    else
        s->_head = w;
    s->_tail = w;
    w->queued = true;
}

static void wsema_dequeue(goc_sema *s, wsema_waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        s->_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        s->_tail = w->prev;
    w->queued = false;
}

/* _lock held. Grants units to the waiters at the front that fit; returns
   them (linked through next) to be woken once _lock is released. */
static wsema_waiter *wsema_grant(goc_sema *s) {
    wsema_waiter *wake = NULL, **tail = &wake;
    wsema_waiter *w;
    while ((w = s->_head) != NULL) {
        if (s->_size - s->_cur < w->n)
            break; /* FIFO: nobody overtakes the front waiter */
        wsema_dequeue(s, w);
        if (!goc__parker_claim(&w->pk))
            continue; /* its context won; it is leaving */
        s->_cur += w->n;
        w->next = NULL;
        *tail = w;
        tail = &w->next;
    }
    return wake;
}

static void wsema_wake_all(wsema_waiter *w) {
    while (w) {
        wsema_waiter *next = w->next; /* read first: once woken, it may return */
        goc__parker_wake(&w->pk);
        w = next;
    }
}

void goc_sema_init(goc_sema *s, int64_t size) {
    *s = (goc_sema)GOC_SEMA_INIT(size);
}

int goc_sema_acquire(goc_sema *s, goc_ctx *ctx, int64_t n) {
    if (ctx) {
        /* Done before the call: fail, even if the units are free (as x/sync). */
        int err = goc_ctx_err(ctx);
        if (err)
            return err;
    }
    goc__lock_acquire(wsema_qlock(s));
    if (s->_size - s->_cur >= n && s->_head == NULL) {
        s->_cur += n;
        goc__lock_release(wsema_qlock(s));
        return 0;
    }
    wsema_waiter w = {.n = n};
    goc__parker_init(&w.pk);
    if (n > s->_size) {
        /* Can never succeed: wait for the context only, blocking nobody. */
        goc__lock_release(wsema_qlock(s));
        if (!ctx) {
            goc__parker_park(&w.pk, NULL, NULL, "semaphore.Acquire", -1); /* for ever */
            return ECANCELED;
        }
        return goc__ctx_park(ctx, &w.pk, NULL, NULL, "semaphore.Acquire", -1);
    }
    wsema_enqueue(s, &w);
    int r;
    if (ctx)
        r = goc__ctx_park(ctx, &w.pk, goc__unlock_cb, wsema_qlock(s), "semaphore.Acquire", -1);
    else
        r = goc__parker_park(&w.pk, goc__unlock_cb, wsema_qlock(s), "semaphore.Acquire", -1) ? 0 : -1;
    if (r == 0)
        return 0; /* a release granted our units */
    /* Cancelled first. Leave the queue; those behind us may fit now. */
    goc__lock_acquire(wsema_qlock(s));
    if (w.queued)
        wsema_dequeue(s, &w);
    wsema_waiter *wake = wsema_grant(s);
    goc__lock_release(wsema_qlock(s));
    wsema_wake_all(wake);
    return r > 0 ? r : ECANCELED;
}

bool goc_sema_try_acquire(goc_sema *s, int64_t n) {
    goc__lock_acquire(wsema_qlock(s));
    bool ok = s->_size - s->_cur >= n && s->_head == NULL;
    if (ok)
        s->_cur += n;
    goc__lock_release(wsema_qlock(s));
    return ok;
}

void goc_sema_release(goc_sema *s, int64_t n) {
    goc__lock_acquire(wsema_qlock(s));
    s->_cur -= n;
    if (s->_cur < 0) {
        goc__lock_release(wsema_qlock(s));
        goc_panic("semaphore: released more than held");
    }
    wsema_waiter *wake = wsema_grant(s);
    goc__lock_release(wsema_qlock(s));
    wsema_wake_all(wake);
}
