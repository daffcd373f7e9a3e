/* Channels: Go's runtime/chan.go for goroutines and plain threads.
 *
 * A channel is a spinlock, a ring buffer (allocated with the channel, or
 * growing for an unbounded one) and two queues of waiters. A waiter is a
 * record on the blocked party's stack with a parker that blocks either a
 * goroutine or a plain thread, so every operation works from both.
 *
 * Invariants (see chan_internal.h for the full list):
 * - At least one of sendq and recvq is empty (save one select waiting on
 *   both ends of the same unbuffered channel).
 * - A waiting peer is served directly: a sender finding a receiver copies
 *   into the receiver's variable, and a receiver finding a sender of a full
 *   buffered channel takes the oldest buffered value and puts the sender's
 *   value in its slot, so FIFO order holds and nothing detours.
 * - A waker fills in the waiter's result, releases the channel's lock, and
 *   only then wakes it; after the wake it touches neither the channel nor the
 *   waiter, so the woken party may free both at once.
 * - A waiter that belongs to a select (must_claim) is served only by whoever
 *   wins goc__parker_claim; the losers just unlink it. A waiter of a
 *   goroutine an earlier goc_run abandoned is unlinked, never served.
 * - A close zeroes each receiver's variable under the lock (as Go's
 *   closechan), so a woken receiver needs nothing more from the channel.
 * - A timer's channel (c->timer set) is fed only by its timer: a receive
 *   polls the timer before anything else, and a receiver that parks is
 *   counted by the timer under c->lock and uncounted after the park with no
 *   lock held (src/time/time.c). Ordinary channels pay one test of
 *   c->timer per receive for this, and nothing per send.
 */
#include "chan/chan_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAN_UNBOUNDED_MIN 16 /* first buffer of an unbounded channel, in elements */

__attribute__((noreturn)) void goc__chan_panic_send_closed(void) {
    goc_panic("send on closed channel");
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        goc__fatal("out of memory allocating a channel (%zu bytes)", n);
    return p;
}

/* Copies one element. The common sizes (ints, pointers, small structs) are
   one load and one store instead of a call into the C library's memcpy,
   which costs more than the copy on every hand-off. */
static inline void elem_copy(void *dst, const void *src, size_t n) {
    /* The pointers pass through an empty asm (no instruction): inlined into
       a program built with -flto, the compiler would see the caller's
       object behind them and warn of overflows in the cases for other
       sizes, which that caller never takes (-Wstringop-overflow). */
    __asm__("" : "+r"(dst), "+r"(src));
    switch (n) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    case 16: memcpy(dst, src, 16); break;
    default: memcpy(dst, src, n); break;
    }
}

/* ------------------------------------------------------------------------ */
/* Making and freeing.                                                      */

/* The buffer starts after the record, aligned for any element type. */
#define CHAN_HDR (((sizeof(goc_chan) + 63) / 64) * 64)

static void chan_init(goc_chan *c, size_t elem_size, size_t cap) {
    memset(c, 0, sizeof *c);
    c->elem_size = elem_size;
    c->cap = cap;
}

goc_chan *goc_chan_make(size_t elem_size, size_t cap) {
    if (elem_size > ((size_t)1 << 16))
        goc_panic("makechan: invalid channel element type (%zu bytes; at most 65536)", elem_size);
    if (elem_size && cap > (SIZE_MAX - CHAN_HDR) / elem_size)
        goc_panic("makechan: size out of range");
    size_t bytes = elem_size * cap;
    goc_chan *c = xmalloc(CHAN_HDR + bytes);
    chan_init(c, elem_size, cap);
    c->buf = bytes ? (char *)c + CHAN_HDR : NULL;
    return c;
}

goc_chan *goc_chan_make_unbounded(size_t elem_size) {
    if (elem_size > ((size_t)1 << 16))
        goc_panic("makechan: invalid channel element type (%zu bytes; at most 65536)", elem_size);
    goc_chan *c = xmalloc(sizeof *c);
    chan_init(c, elem_size, 0);
    c->unbounded = true;
    return c;
}

/* Names the waiters of c in msg; returns how many are not merely the
   leftovers of a select that has already been served elsewhere (those of
   goroutines an earlier goc_run abandoned are dropped). c locked. */
static int describe_waiters(goc_chan *c, char *msg, size_t cap) {
    size_t len = 0;
    int live = 0;
    chan_waitq *qs[2] = {&c->recvq, &c->sendq};
    const char *what[2] = {"chan receive", "chan send"};
    msg[0] = 0;
    for (int i = 0; i < 2; i++) {
        for (chan_waiter *s = atomic_load_explicit(&qs[i]->first, memory_order_relaxed), *next; s;
             s = next) {
            next = s->next;
            if (goc__parker_abandoned(&s->w->pk)) {
                goc__chan_unlink(qs[i], s); /* never runs again: forget it */
                continue;
            }
            /* a claimed select waiter is about to unlink itself */
            if (s->w->must_claim && atomic_load_explicit(&s->w->pk.claimed, memory_order_acquire))
                continue;
            live++;
            if (len < cap) {
                int n;
                if (s->w->pk.g)
                    n = snprintf(msg + len, cap - len, "%sgoroutine %llu (%s)", live > 1 ? ", " : "",
                                 (unsigned long long)s->w->pk.g->id,
                                 s->w->must_claim ? "select" : what[i]);
                else
                    n = snprintf(msg + len, cap - len, "%sa plain thread (%s)", live > 1 ? ", " : "",
                                 s->w->must_claim ? "select" : what[i]);
                len += n > 0 ? (size_t)n : 0;
            }
        }
    }
    return live;
}

void goc__chan_wait_unused(goc_chan *c, const char *who) {
    for (;;) {
        goc__lock_acquire(&c->lock);
        bool empty = !atomic_load_explicit(&c->recvq.first, memory_order_relaxed) &&
                     !atomic_load_explicit(&c->sendq.first, memory_order_relaxed);
        if (empty)
            break;
        char msg[512];
        if (describe_waiters(c, msg, sizeof msg) > 0) {
            goc__lock_release(&c->lock);
            goc__fatal("%s: channel %p is still waited on by %s", who, (void *)c, msg);
        }
        /* Only selects that already completed through another case remain;
           they unlink themselves as soon as they run. */
        goc__lock_release(&c->lock);
        goc_yield();
    }
    goc__lock_release(&c->lock);
}

void goc_chan_free(goc_chan *c) {
    if (!c)
        return;
    goc__chan_wait_unused(c, "goc_chan_free");
    if (c->unbounded)
        free(c->buf);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Waiter queues. c->lock held for all of them.                             */

void goc__chan_enqueue(chan_waitq *q, chan_waiter *s) {
    s->next = NULL;
    s->prev = q->last;
    atomic_store_explicit(&s->queued, true, memory_order_relaxed); /* under the lock */
    if (q->last)
        q->last->next = s;
    else
        /* relaxed: the lock-free checks only need a value that existed;
           the lock's release publishes the rest */
        atomic_store_explicit(&q->first, s, memory_order_relaxed);
    q->last = s;
}

void goc__chan_unlink(chan_waitq *q, chan_waiter *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        atomic_store_explicit(&q->first, s->next, memory_order_relaxed); /* as in enqueue */
    if (s->next)
        s->next->prev = s->prev;
    else
        q->last = s->prev;
    /* release, and the last touch of s: pairs with select's pass 3 */
    atomic_store_explicit(&s->queued, false, memory_order_release);
}

/* Takes the first waiter that may be served: a select waiter only if we win
   its claim (else it completed elsewhere and we just drop it). */
chan_waiter *goc__chan_dequeue(chan_waitq *q) {
    for (;;) {
        chan_waiter *s = atomic_load_explicit(&q->first, memory_order_relaxed);
        if (!s)
            return NULL;
        if (GOC_UNLIKELY(goc__parker_abandoned(&s->w->pk))) {
            /* left by a goroutine an earlier goc_run abandoned: a value
               handed to it would be lost */
            goc__chan_unlink(q, s);
            continue;
        }
        /* Claim before unlinking: for a loser, the unlink is the last touch
           (its select may return as soon as it sees the waiter gone). */
        bool won = !s->w->must_claim || goc__parker_claim(&s->w->pk);
        goc__chan_unlink(q, s);
        if (!won)
            continue;
        return s;
    }
}

/* ------------------------------------------------------------------------ */
/* The buffer. c->lock held.                                                */

static void chan_grow(goc_chan *c) {
    size_t n = c->cap, size = c->elem_size;
    size_t ncap = n ? n * 2 : CHAN_UNBOUNDED_MIN;
    if (ncap < n || ncap > SIZE_MAX / size)
        goc__fatal("unbounded channel %p: buffer size out of range", (void *)c);
    /* Allocating under a spinlock: the others spin, then yield. Growth is
       rare (doubling), so this is cheaper than dropping and re-checking. */
    char *nbuf = xmalloc(ncap * size);
    if (n) {
        size_t head = n - c->recvx; /* elements from recvx to the end */
        memcpy(nbuf, c->buf + c->recvx * size, head * size);
        memcpy(nbuf + head * size, c->buf, c->recvx * size);
    }
    free(c->buf);
    c->buf = nbuf;
    c->recvx = 0;
    c->sendx = n;
    c->cap = ncap;
}

void goc__chan_buf_put(goc_chan *c, const void *elem) {
    size_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
    if (c->elem_size) {
        if (c->unbounded && n == c->cap)
            chan_grow(c);
        elem_copy(c->buf + c->sendx * c->elem_size, elem, c->elem_size);
        if (++c->sendx == c->cap)
            c->sendx = 0;
    }
    /* relaxed: lock-free readers only need some value it had */
    atomic_store_explicit(&c->count, n + 1, memory_order_relaxed);
}

void goc__chan_buf_get(goc_chan *c, void *out) {
    size_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
    if (c->elem_size) {
        if (out)
            elem_copy(out, c->buf + c->recvx * c->elem_size, c->elem_size);
        if (++c->recvx == c->cap)
            c->recvx = 0;
    }
    atomic_store_explicit(&c->count, n - 1, memory_order_relaxed); /* as in buf_put */
}

/* ------------------------------------------------------------------------ */
/* Hand-offs to a waiting peer.                                             */

/* Both: c locked, s dequeued (and claimed). They pass the value and fill in
   s's result; the caller then releases its locks and wakes s. */
static inline void set_result(chan_waiter *s, bool success) {
    s->w->fired = s;
    s->w->success = success;
}

void goc__chan_send_to(goc_chan *c, chan_waiter *s, const void *elem) {
    if (s->elem && c->elem_size)
        elem_copy(s->elem, elem, c->elem_size);
    set_result(s, true);
}

void goc__chan_recv_from(goc_chan *c, chan_waiter *s, void *out) {
    size_t size = c->elem_size;
    if (c->cap == 0) {
        if (out && size)
            elem_copy(out, s->elem, size);
    } else if (size) {
        /* The buffer is full: take its head, and put the sender's value at
           the tail, which is the same slot. */
        char *slot = c->buf + c->recvx * size;
        if (out)
            elem_copy(out, slot, size);
        elem_copy(slot, s->elem, size);
        if (++c->recvx == c->cap)
            c->recvx = 0;
        c->sendx = c->recvx;
    }
    set_result(s, true);
}

/* Releases c and wakes s; s (on the waiter's stack) is valid until the wake. */
static inline void unlock_and_wake(goc_chan *c, chan_waiter *s) {
    goc__parker *pk = &s->w->pk;
    goc__lock_release(&c->lock);
    goc__parker_wake(pk);
}

/* A NULL channel, or a select with nothing to wait on: parks for ever. */
void goc__chan_block_forever(const char *reason) {
    goc__parker pk;
    goc__parker_init(&pk);
    goc__parker_park(&pk, NULL, NULL, reason, -1);
    goc__fatal("woken from %s", reason);
}

/* ------------------------------------------------------------------------ */
/* Send and receive.                                                        */

static bool chan_send(goc_chan *c, const void *elem, bool block) {
    if (GOC_UNLIKELY(!c)) {
        if (!block)
            return false;
        goc__chan_block_forever("chan send (nil chan)");
    }
    /* Fast path for a non-blocking send that cannot proceed. A closed channel
       never becomes ready for sending again, so if we saw it open and full,
       there was a moment when it was both (Go's argument in chansend).
       relaxed: no data is read on this path. */
    if (!block && !atomic_load_explicit(&c->closed, memory_order_relaxed) && goc__chan_full(c))
        return false;

    goc__lock_acquire(&c->lock);
    if (GOC_UNLIKELY(atomic_load_explicit(&c->closed, memory_order_relaxed))) {
        goc__lock_release(&c->lock);
        goc__chan_panic_send_closed();
    }
    chan_waiter *r = goc__chan_dequeue(&c->recvq);
    if (r) {
        goc__chan_send_to(c, r, elem);
        unlock_and_wake(c, r);
        return true;
    }
    if (c->unbounded || atomic_load_explicit(&c->count, memory_order_relaxed) < c->cap) {
        goc__chan_buf_put(c, elem);
        goc__lock_release(&c->lock);
        return true;
    }
    if (!block) {
        goc__lock_release(&c->lock);
        return false;
    }
    chan_wait w;
    chan_waiter s;
    goc__parker_init(&w.pk);
    w.fired = NULL;
    w.success = false;
    w.must_claim = false;
    s.w = &w;
    s.elem = (void *)elem;
    s.case_index = 0;
    goc__chan_enqueue(&c->sendq, &s);
    goc__parker_park(&w.pk, goc__unlock_cb, &c->lock, "chan send", -1);
    if (!w.success)
        goc__chan_panic_send_closed();
    return true;
}

/* Returns whether it completed (always when block); *ok: a value came. */
static bool chan_recv(goc_chan *c, void *out, bool block, bool *ok) {
    if (GOC_UNLIKELY(!c)) {
        if (!block)
            return false;
        goc__chan_block_forever("chan receive (nil chan)");
    }
    /* A timer's channel: let a due timer that is in no heap deliver now
       (Go 1.23's maybeRunChan). The one test ordinary channels pay. */
    if (GOC_UNLIKELY(c->timer))
        goc__timerchan_poll(c->timer);
    size_t size = c->elem_size;
    /* Fast path for a non-blocking receive that cannot proceed. Empty is
       seen first, then closed (the acquire in goc__chan_empty keeps the order):
       if still open, it was empty and open at one moment; if closed, the
       second look at empty decides, since a closed channel cannot refill. */
    if (!block && goc__chan_empty(c)) {
        if (!atomic_load_explicit(&c->closed, memory_order_acquire)) /* pairs with close's store */
            return false;
        if (goc__chan_empty(c)) {
            if (out && size)
                memset(out, 0, size);
            *ok = false;
            return true;
        }
    }

    goc__lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed) &&
        atomic_load_explicit(&c->count, memory_order_relaxed) == 0) {
        goc__lock_release(&c->lock);
        if (out && size)
            memset(out, 0, size);
        *ok = false;
        return true;
    }
    chan_waiter *s = goc__chan_dequeue(&c->sendq);
    if (s) {
        goc__chan_recv_from(c, s, out);
        unlock_and_wake(c, s);
        *ok = true;
        return true;
    }
    if (atomic_load_explicit(&c->count, memory_order_relaxed) > 0) {
        goc__chan_buf_get(c, out);
        goc__lock_release(&c->lock);
        *ok = true;
        return true;
    }
    if (!block) {
        goc__lock_release(&c->lock);
        return false;
    }
    chan_wait w;
    chan_waiter r;
    goc__parker_init(&w.pk);
    w.fired = NULL;
    w.success = false;
    w.must_claim = false;
    r.w = &w;
    r.elem = out;
    r.case_index = 0;
    goc__chan_enqueue(&c->recvq, &r);
    struct goc_timer *timer = c->timer;
    if (GOC_UNLIKELY(timer))
        goc__timerchan_block(timer); /* the timer enters a heap while we wait */
    goc__parker_park(&w.pk, goc__unlock_cb, &c->lock, "chan receive", -1);
    if (GOC_UNLIKELY(timer))
        goc__timerchan_unblock(timer); /* no lock held: it may wait for the timer */
    if (!w.success && out && size)
        memset(out, 0, size);
    *ok = w.success;
    return true;
}

void goc_chan_send(goc_chan *c, const void *elem) {
    chan_send(c, elem, true);
}

bool goc_chan_recv(goc_chan *c, void *out) {
    bool ok;
    chan_recv(c, out, true, &ok);
    return ok;
}

bool goc_chan_try_send(goc_chan *c, const void *elem) {
    return chan_send(c, elem, false);
}

bool goc_chan_try_recv(goc_chan *c, void *out, bool *ok) {
    bool okv = false;
    bool done = chan_recv(c, out, false, &okv);
    if (done && ok)
        *ok = okv;
    return done;
}

void goc_chan_send_sized(goc_chan *c, const void *elem, size_t size) {
    if (GOC_UNLIKELY(c && size != c->elem_size))
        goc_panic("goc_send: value of %zu bytes on a channel of %zu-byte elements", size,
                  c->elem_size);
    chan_send(c, elem, true);
}

bool goc_chan_recv_sized(goc_chan *c, void *out, size_t size) {
    if (GOC_UNLIKELY(c && size != c->elem_size))
        goc_panic("goc_recv: variable of %zu bytes on a channel of %zu-byte elements", size,
                  c->elem_size);
    bool ok;
    chan_recv(c, out, true, &ok);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Close, drain, len, cap.                                                  */

void goc_chan_close(goc_chan *c) {
    if (!c)
        goc_panic("close of nil channel");
    goc__lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        goc__lock_release(&c->lock);
        goc_panic("close of closed channel");
    }
    /* release: pairs with the acquire load in try_recv's lock-free path */
    atomic_store_explicit(&c->closed, 1, memory_order_release);
    /* Collect every waiter (their next links are free once unlinked), then
       wake them without the lock. */
    chan_waiter *list = NULL, *s;
    while ((s = goc__chan_dequeue(&c->recvq))) {
        /* Zero the receiver's variable here, as Go's closechan does: once
           woken it must not touch c, which may be freed as soon as this
           returns. Claimed by the dequeue, so nobody else writes there. */
        if (s->elem && c->elem_size)
            memset(s->elem, 0, c->elem_size);
        set_result(s, false);
        s->next = list;
        list = s;
    }
    while ((s = goc__chan_dequeue(&c->sendq))) {
        set_result(s, false);
        s->next = list;
        list = s;
    }
    goc__lock_release(&c->lock);
    while (list) {
        s = list;
        list = s->next; /* read before the wake: the waiter may leave at once */
        goc__parker_wake(&s->w->pk);
    }
}

bool goc__chan_drain(goc_chan *c) {
    if (!c)
        return false;
    goc__lock_acquire(&c->lock);
    bool had = atomic_load_explicit(&c->count, memory_order_relaxed) > 0;
    atomic_store_explicit(&c->count, 0, memory_order_relaxed); /* under the lock; as buf_put */
    c->recvx = c->sendx = 0;
    /* Keep "sendq non-empty implies full": waiting senders refill it. */
    chan_waiter *list = NULL, *s;
    while ((c->unbounded || atomic_load_explicit(&c->count, memory_order_relaxed) < c->cap) &&
           (s = goc__chan_dequeue(&c->sendq))) {
        goc__chan_buf_put(c, s->elem);
        set_result(s, true);
        s->next = list;
        list = s;
    }
    goc__lock_release(&c->lock);
    while (list) {
        s = list;
        list = s->next;
        goc__parker_wake(&s->w->pk);
    }
    return had;
}

/* A timer's channel reports 0 for both, as Go 1.23's synchronous timer
   channels: its buffer of one is how the value waits for a receiver, not a
   capacity a program may use. */
size_t goc_chan_len(goc_chan *c) {
    if (!c || c->timer)
        return 0;
    return atomic_load_explicit(&c->count, memory_order_relaxed); /* a snapshot, as Go's len */
}

size_t goc_chan_cap(goc_chan *c) {
    if (!c || c->timer)
        return 0;
    return c->unbounded ? SIZE_MAX : c->cap;
}
