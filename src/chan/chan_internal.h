/* Private interface of the channel layer: the channel record, its waiter
 * queues, and the hooks other layers (time, context) use.
 *
 * Invariants (as Go's runtime/chan.go):
 * - At least one of c->sendq and c->recvq is empty, except for an
 *   unbuffered channel where one select waits to send and receive on it at
 *   once (it never rendezvouses with itself).
 * - For a buffered channel: count > 0 implies recvq is empty; count < cap
 *   implies sendq is empty. An unbounded channel never has senders waiting.
 * - Every field is changed only under c->lock. count, closed and the queue
 *   heads are atomics so the lock-free checks of the non-blocking paths may
 *   read them without the lock.
 * - c->timer is set once, before the channel is shared, for the channel of
 *   a goc_timer or goc_ticker, and is NULL for every other channel. Only the
 *   timer sends on such a channel; every receive polls the timer first, and
 *   a receiver that parks is counted by the timer (block/unblock below).
 */
#ifndef GOC_CHAN_INTERNAL_H
#define GOC_CHAN_INTERNAL_H

#include "runtime/internal.h"

typedef struct chan_wait chan_wait;

/* One queued operation (Go's sudog). It lives on the waiter's stack. */
typedef struct chan_waiter {
    struct chan_waiter *next, *prev;
    chan_wait *w;            /* the blocked goroutine or thread */
    void *elem;              /* send: the value; recv: where it goes (may be NULL) */
    int case_index;          /* select: the case it stands for */
    _Atomic bool queued;     /* in a queue now; written under the channel's lock. Its
                                clearing is the last touch of whoever unlinks it, so a
                                select that reads false (acquire) may leave that
                                channel alone: the peer may have freed it already */
    bool timer_blocked;      /* select: its case blocked a timer channel's timer (read
                                after the wake instead of the channel, which may be gone) */
} chan_waiter;

/* What a blocked goroutine or thread waits on: one parker for all its
   waiters. A waker claims the parker (if must_claim), fills fired and
   success, releases the channel's lock, then wakes it. */
struct chan_wait {
    goc__parker pk;
    chan_waiter *fired;      /* the waiter that completed; NULL: timed out */
    bool success;            /* true: a value passed; false: woken by close */
    bool must_claim;         /* select: several channels or a timer may race */
};

typedef struct chan_waitq {
    _Atomic(chan_waiter *) first; /* read without the lock by the fast paths */
    chan_waiter *last;
} chan_waitq;

struct goc_chan {
    goc__lock lock;
    _Atomic uint32_t closed;
    _Atomic size_t count;    /* elements in the buffer */
    size_t cap;              /* buffer slots (unbounded: the current size) */
    size_t elem_size;
    size_t sendx, recvx;     /* ring indices */
    char *buf;
    struct goc_timer *timer; /* the timer that feeds this channel, or NULL; in
                                the first cache line, beside what recv reads */
    bool unbounded;
    chan_waitq recvq, sendq;
};

/* Discards every buffered value, under the channel's lock, without polling
   a timer (timer stop and reset: no stale value). Waiting senders, if any,
   refill the buffer. Returns true if it discarded a value. */
GOC_HIDDEN bool goc__chan_drain(goc_chan *c);

/* Parks the caller for ever with the wait reason shown in dumps (a NULL
   channel, a select with no case that can fire); counts toward deadlock. */
GOC_HIDDEN __attribute__((noreturn)) void goc__chan_block_forever(const char *reason);

/* ---- timer channels (implemented in src/time/time.c) ----
   Go 1.23 keeps a channel timer out of the timer heap unless someone is
   blocked receiving from its channel; these are its hooks (Go's
   maybeRunChan, blockTimerChan, unblockTimerChan). */

/* Before a receive attempt, with no channel lock held: if the timer is due
   and in no heap, puts its value into the channel now. */
GOC_HIDDEN void goc__timerchan_poll(struct goc_timer *t);
/* c->lock held (and maybe other channels' locks, for a select), the
   receiver queued and about to park: counts it, and puts the timer in a
   heap if it is armed and not there yet. Takes only the timer's state lock
   and the heap's lock. */
GOC_HIDDEN void goc__timerchan_block(struct goc_timer *t);
/* After the park ended (and a select unlinked its waiters), with no lock
   held: uncounts it; the last one out takes the timer out of the heap
   (waiting for a running timer function, which takes c->lock). */
GOC_HIDDEN void goc__timerchan_unblock(struct goc_timer *t);
/* Returns once nobody is queued on c. A goroutine or thread still waiting
   is a fatal error ("<who>: channel ... is still waited on by ..."); a
   select that completed through another case and has yet to unlink its
   waiter is waited for (it does so as soon as it runs). */
GOC_HIDDEN void goc__chan_wait_unused(goc_chan *c, const char *who);

/* For select.c. c must be locked by the caller for all of these. */
GOC_HIDDEN void goc__chan_enqueue(chan_waitq *q, chan_waiter *s);
GOC_HIDDEN void goc__chan_unlink(chan_waitq *q, chan_waiter *s);
GOC_HIDDEN chan_waiter *goc__chan_dequeue(chan_waitq *q);
/* c locked; s dequeued from recvq. Passes elem to s and fills in its result;
   the caller releases its locks, then wakes s (goc__parker_wake). */
GOC_HIDDEN void goc__chan_send_to(goc_chan *c, chan_waiter *s, const void *elem);
/* c locked; s dequeued from sendq. Receives into out, as send_to. */
GOC_HIDDEN void goc__chan_recv_from(goc_chan *c, chan_waiter *s, void *out);
/* c locked, count < cap or unbounded: appends elem to the buffer. */
GOC_HIDDEN void goc__chan_buf_put(goc_chan *c, const void *elem);
/* c locked, count > 0: takes the oldest buffered element into out. */
GOC_HIDDEN void goc__chan_buf_get(goc_chan *c, void *out);
GOC_HIDDEN __attribute__((noreturn)) void goc__chan_panic_send_closed(void);

/* ---- the lock-free readiness checks (Go's full and empty) ---- */

/* A send would block. Reads without the lock: the answer was true at some
   moment during the call, which is all a non-blocking send promises. */
static inline bool goc__chan_full(goc_chan *c) {
    if (c->unbounded)
        return false;
    if (c->cap == 0)
        return atomic_load_explicit(&c->recvq.first, memory_order_relaxed) == NULL;
    return atomic_load_explicit(&c->count, memory_order_relaxed) == c->cap;
}

/* A receive would block. acquire: the caller's later load of closed must not
   move above this one (see chan_recv's fast path). */
static inline bool goc__chan_empty(goc_chan *c) {
    if (!c->unbounded && c->cap == 0) /* cap changes only for unbounded channels */
        return atomic_load_explicit(&c->sendq.first, memory_order_acquire) == NULL;
    return atomic_load_explicit(&c->count, memory_order_acquire) == 0;
}

#endif
