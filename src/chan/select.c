/* select: Go's runtime/select.go (selectgo) for goroutines and plain threads.
 *
 * 0. Beyond Go: look without locks, in poll order, for a case that seems
 *    ready, and try it under its own channel's lock only; a select only has
 *    to run one ready case, so when one is ready this is the whole select.
 *    A blocking select that finds none while others are queued on its P
 *    lets them run once (goc__yield_to_queued) and looks again.
 * 1. Otherwise lock every channel of the cases in address order (each
 *    once), so two selects over the same channels cannot deadlock.
 * 2. Poll the cases in a random order (array order for goc_select_ordered);
 *    the first that can proceed runs, and the select returns.
 * 3. Otherwise queue one waiter per channel case, all sharing one parker, in
 *    lock order (built from the poll order, so cases on one channel queue
 *    in a random order), and park; the unlock callback releases the
 *    channels only once the waiter cannot miss a wake-up. Timeout cases become the parker's deadline: no
 *    channel, no timer object beyond the parker's own, nothing allocated.
 * 4. Exactly one party wins the parker's claim (a peer on one of the
 *    channels, a closer, or the deadline timer); it fills in which waiter
 *    fired. On waking, lock the channels again and unlink the other waiters.
 *
 * Timer channels (Go 1.23): before step 0 each receive case on a timer's
 * channel polls its timer (a due one delivers now); at step 3 each is
 * counted by its timer, which enters a heap while we wait, and after step 4
 * uncounted, with no lock held.
 *
 * Invariants:
 * - A select's waiters are in queues only between steps 3 and 4, and only
 *   the owner or a party holding that channel's lock unlinks them.
 * - Nobody but the claim winner touches a waiter's elem, so the value moves
 *   exactly once, and a select never meets its own waiter (it holds every
 *   lock of its channels from its poll to its park).
 */
#include "chan/chan_internal.h"
#include <stdlib.h>
#include <string.h>

/* Cases handled with arrays on the stack; more take one malloc freed before
   return. 64 covers every select written by hand. */
#define SELECT_STACK_CASES 64

typedef struct sel {
    goc_case *cases;
    uint32_t *lockorder; /* indices of channel cases, by channel address */
    size_t nlock;
} sel;

static void sel_lock(const sel *s) {
    goc_chan *prev = NULL;
    for (size_t k = 0; k < s->nlock; k++) {
        goc_chan *c = s->cases[s->lockorder[k]]._chan;
        if (c != prev)
            goc__lock_acquire(&c->lock);
        prev = c;
    }
}

static void sel_unlock(const sel *s) {
    for (size_t k = s->nlock; k-- > 0;) {
        goc_chan *c = s->cases[s->lockorder[k]]._chan;
        if (k > 0 && s->cases[s->lockorder[k - 1]]._chan == c)
            continue;
        goc__lock_release(&c->lock);
    }
}

static bool sel_unlock_cb(void *arg) {
    sel_unlock(arg);
    return true;
}

/* Sorts lockorder by channel address: insertion sort for the usual few
   cases, heapsort beyond (no allocation, O(n log n), as Go). */
static inline uintptr_t addr_of(const goc_case *cases, uint32_t i) {
    return (uintptr_t)cases[i]._chan;
}

static void sift(const goc_case *cases, uint32_t *a, size_t root, size_t n) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && addr_of(cases, a[child + 1]) > addr_of(cases, a[child]))
            child++;
        if (addr_of(cases, a[root]) >= addr_of(cases, a[child]))
            return;
        uint32_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void sort_lockorder(const goc_case *cases, uint32_t *a, size_t n) {
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            uint32_t v = a[i];
            size_t j = i;
            for (; j > 0 && addr_of(cases, a[j - 1]) > addr_of(cases, v); j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    for (size_t i = n / 2; i-- > 0;)
        sift(cases, a, i, n);
    for (size_t end = n; end-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift(cases, a, 0, end);
    }
}

/* The recv case i completed with (ok); fills in its ok pointer, zeroes its
   variable for a closed channel. */
static inline void recv_done(goc_case *cs, bool ok) {
    if (!ok && cs->_elem && cs->_chan->elem_size)
        memset(cs->_elem, 0, cs->_chan->elem_size);
    if (cs->_ok)
        *cs->_ok = ok;
}

/* When a timeout or deadline case becomes ready (now: the select's start). */
static inline int64_t case_deadline(const goc_case *cs, int64_t now) {
    int64_t t = cs->_kind == GOC_CASE_DEADLINE_ ? cs->_time
                : cs->_time > INT64_MAX - now ? INT64_MAX
                                              : now + cs->_time;
    return t < 0 ? 0 : t;
}

enum { POLL_NOT_READY, POLL_DONE, POLL_CLOSED, POLL_SEND_CLOSED };

/* Runs case cs if it can proceed now. Its channel (if any) is locked by
   the caller. On POLL_DONE with a peer, the caller wakes the peer after
   unlocking; POLL_SEND_CLOSED means the caller must unlock and panic.
   start: the select's start, from which a timeout counts. */
static int poll_case(goc_case *cs, int64_t start, int64_t now, chan_waiter **peer) {
    goc_chan *c = cs->_chan;
    switch (cs->_kind) {
    case GOC_CASE_RECV_:
        if ((*peer = goc__chan_dequeue(&c->sendq))) {
            goc__chan_recv_from(c, *peer, cs->_elem);
            return POLL_DONE;
        }
        if (atomic_load_explicit(&c->count, memory_order_relaxed) > 0) {
            goc__chan_buf_get(c, cs->_elem);
            return POLL_DONE;
        }
        if (atomic_load_explicit(&c->closed, memory_order_relaxed))
            return POLL_CLOSED;
        return POLL_NOT_READY;
    case GOC_CASE_SEND_:
        if (atomic_load_explicit(&c->closed, memory_order_relaxed))
            return POLL_SEND_CLOSED;
        if ((*peer = goc__chan_dequeue(&c->recvq))) {
            goc__chan_send_to(c, *peer, cs->_elem);
            return POLL_DONE;
        }
        if (c->unbounded || atomic_load_explicit(&c->count, memory_order_relaxed) < c->cap) {
            goc__chan_buf_put(c, cs->_elem);
            return POLL_DONE;
        }
        return POLL_NOT_READY;
    default: /* a timeout or deadline */
        return case_deadline(cs, start) <= now ? POLL_DONE : POLL_NOT_READY;
    }
}

/* After poll_case succeeded and every lock is released. */
static void finish_case(goc_case *cs, int r, chan_waiter *peer) {
    if (r == POLL_SEND_CLOSED)
        goc__chan_panic_send_closed();
    if (peer)
        goc__parker_wake(&peer->w->pk);
    if (cs->_kind == GOC_CASE_RECV_)
        recv_done(cs, r == POLL_DONE);
}

/* Looks, without locks, whether case cs could proceed (a hint only). */
static inline bool looks_ready(const goc_case *cs) {
    goc_chan *c = cs->_chan;
    if (cs->_kind == GOC_CASE_RECV_)
        return !goc__chan_empty(c) || atomic_load_explicit(&c->closed, memory_order_relaxed);
    return !goc__chan_full(c) || atomic_load_explicit(&c->closed, memory_order_relaxed);
}

static int do_select(goc_case *cases, size_t n, bool block, bool ordered) {
    if (n > UINT32_MAX / 2)
        goc_panic("goc_select: too many cases (%zu)", n);
    uint32_t pollbuf[SELECT_STACK_CASES], lockbuf[SELECT_STACK_CASES];
    chan_waiter wbuf[SELECT_STACK_CASES];
    uint32_t *pollorder = pollbuf, *lockorder = lockbuf;
    chan_waiter *waiters = wbuf;
    void *heap = NULL;
    if (n > SELECT_STACK_CASES) {
        heap = malloc(n * (2 * sizeof(uint32_t) + sizeof(chan_waiter)));
        if (!heap)
            goc__fatal("out of memory in goc_select (%zu cases)", n);
        waiters = heap;
        pollorder = (uint32_t *)(waiters + n);
        lockorder = pollorder + n;
    }

    /* Which cases can ever be ready, in poll order; timeouts to deadlines. */
    int64_t now = -1, deadline = -1;
    int tcase = -1;
    size_t npoll = 0, nlock = 0, ntimers = 0;
    uint64_t rand_state = 0; /* seeded at the second case: the first needs none */
    for (size_t i = 0; i < n; i++) {
        goc_case *cs = &cases[i];
        switch (cs->_kind) {
        case GOC_CASE_RECV_:
            if (cs->_chan && GOC_UNLIKELY(cs->_chan->timer)) {
                /* as chan_recv: a due timer delivers before we look */
                goc__timerchan_poll(cs->_chan->timer);
                ntimers++;
            }
            /* fall through */
        case GOC_CASE_SEND_:
            if (!cs->_chan)
                continue; /* a nil channel is never ready */
            nlock++;
            break;
        case GOC_CASE_TIMEOUT_:
        case GOC_CASE_DEADLINE_: {
            if (now < 0)
                now = goc_now();
            int64_t t = case_deadline(cs, now);
            if (deadline < 0 || t < deadline) {
                deadline = t;
                tcase = (int)i;
            }
            break;
        }
        default:
            continue; /* a zero-filled case: never ready */
        }
        if (ordered) {
            pollorder[npoll++] = (uint32_t)i;
        } else {
            /* inside-out Fisher-Yates, as Go builds pollorder; one call
               for the seed, then inline steps (the calls were 15% of a
               select's instructions in W6) */
            uint32_t j = 0;
            if (npoll > 0) {
                if (npoll == 1)
                    rand_state = goc__fastrand64();
                j = goc__randn((uint32_t)goc__wyrand(&rand_state), (uint32_t)npoll + 1);
            }
            pollorder[npoll++] = pollorder[j];
            pollorder[j] = (uint32_t)i;
        }
    }

    int result = -1;
    if (nlock == 0) {
        /* Only timeouts, or nothing at all: no lock to take. */
        if (deadline >= 0 && deadline <= now) {
            result = tcase;
        } else if (block) {
            free(heap);
            if (deadline < 0)
                goc__chan_block_forever(n == 0 ? "select (no cases)" : "select");
            goc__parker pk;
            goc__parker_init(&pk);
            while (goc__parker_park(&pk, NULL, NULL, "select", deadline)) {
                /* nobody else knows this parker: only the deadline wakes it */
                goc__parker_init(&pk);
            }
            return tcase;
        }
        free(heap);
        return result;
    }

    /* Pass 0: the first case that looks ready in poll order, under its own
       lock only. Running one ready case is all a select does, so this is
       Go's select without taking every lock when something is ready; only
       "nothing is ready" needs all the locks at once (pass 1).

       Nothing ready, and others queued on this P (often the very peers this
       select readied when it took their values): they run first, once, and
       pass 0 looks again. Parking costs every channel's lock twice (to
       queue the waiters, and again on waking to take the others out), and
       the peer that completes it a claim; the peers that run now meet no
       waiter and queue themselves instead, for the next pass 0. W6 (a
       consumer selecting over four producers): with one thread, 83 to 59 ns
       a message, the consumer hardly parking any more. */
    const int64_t start = now; /* timeouts count from here, also after a yield */
    for (bool yielded = false;; yielded = true) {
        for (size_t k = 0; k < npoll; k++) {
            int i = (int)pollorder[k];
            goc_case *cs = &cases[i];
            if (!cs->_chan) {
                if (case_deadline(cs, start) <= now) {
                    free(heap);
                    return i;
                }
                continue;
            }
            if (!looks_ready(cs))
                continue;
            goc__lock_acquire(&cs->_chan->lock);
            chan_waiter *peer = NULL;
            int r = poll_case(cs, start, now, &peer);
            goc__lock_release(&cs->_chan->lock);
            if (r != POLL_NOT_READY) {
                free(heap);
                finish_case(cs, r, peer);
                return i;
            }
        }
        if (!block || yielded || !goc__yield_to_queued())
            break;
        /* Time passed: a timeout case or a timer may have come due. */
        if (now >= 0)
            now = goc_now();
        for (size_t i = 0; ntimers > 0 && i < n; i++)
            if (cases[i]._kind == GOC_CASE_RECV_ && cases[i]._chan &&
                GOC_UNLIKELY(cases[i]._chan->timer))
                goc__timerchan_poll(cases[i]._chan->timer);
    }

    /* The lock order starts from the poll order: the sort keeps the order
       of cases on one channel (insertion sort is stable; heapsort mixes
       anyway), and the waiters go in in lock order, so a peer that comes
       later meets those cases in a random order too, not always the first
       of them (Go builds its lock order from the poll order for this). */
    for (size_t k = 0, m = 0; k < npoll; k++) {
        uint32_t i = pollorder[k];
        if (cases[i]._kind == GOC_CASE_SEND_ || cases[i]._kind == GOC_CASE_RECV_)
            lockorder[m++] = i;
    }
    sort_lockorder(cases, lockorder, nlock);
    sel s = {cases, lockorder, nlock};
    sel_lock(&s);

    /* Pass 1: the first ready case in poll order. */
    for (size_t k = 0; k < npoll; k++) {
        int i = (int)pollorder[k];
        chan_waiter *peer = NULL;
        int r = poll_case(&cases[i], start, now, &peer);
        if (r == POLL_NOT_READY)
            continue;
        sel_unlock(&s);
        free(heap);
        finish_case(&cases[i], r, peer);
        return i;
    }

    if (!block) {
        sel_unlock(&s);
        free(heap);
        return -1;
    }

    /* Pass 2: a waiter per channel case, in lock order, then park. */
    chan_wait w;
    goc__parker_init(&w.pk);
    w.fired = NULL;
    w.success = false;
    w.must_claim = true;
    for (size_t k = 0; k < nlock; k++) {
        uint32_t i = lockorder[k];
        chan_waiter *wt = &waiters[k];
        wt->w = &w;
        wt->elem = cases[i]._elem;
        wt->case_index = (int)i;
        goc_chan *c = cases[i]._chan;
        goc__chan_enqueue(cases[i]._kind == GOC_CASE_SEND_ ? &c->sendq : &c->recvq, wt);
        wt->timer_blocked = GOC_UNLIKELY(c->timer) && cases[i]._kind == GOC_CASE_RECV_;
        if (wt->timer_blocked)
            goc__timerchan_block(c->timer); /* its timer enters a heap while we wait */
    }
    goc__parker_park(&w.pk, sel_unlock_cb, &s, "select", deadline);

    /* Pass 3: unlink the waiters that did not fire, one channel at a time
       (the outcome is decided), and only on channels where one of ours may
       still be queued. A channel whose waiters were all taken off (by the
       case that fired, or a close) is not touched again: its peer may free it
       as soon as its own operation returned, as goc_chan_free allows. */
    for (size_t k = 0; k < nlock;) {
        goc_chan *c = cases[lockorder[k]]._chan;
        size_t end = k;
        bool queued = false;
        for (; end < nlock && cases[lockorder[end]]._chan == c; end++)
            queued |= atomic_load_explicit(&waiters[end].queued, memory_order_acquire);
        if (queued) {
            goc__lock_acquire(&c->lock);
            for (size_t j = k; j < end; j++) {
                chan_waiter *wt = &waiters[j];
                if (atomic_load_explicit(&wt->queued, memory_order_relaxed)) {
                    goc_case *cs = &cases[wt->case_index];
                    goc__chan_unlink(cs->_kind == GOC_CASE_SEND_ ? &c->sendq : &c->recvq, wt);
                }
            }
            goc__lock_release(&c->lock);
        }
        k = end;
    }
    /* Uncount us at the timers, with no lock held (the last receiver out
       takes the timer off its heap, waiting for a running timer function,
       which takes its channel's lock). A timer that fired while another
       case won found our waiter claimed and left its value buffered. */
    if (GOC_UNLIKELY(ntimers > 0)) {
        /* only timer channels: another case's channel may be freed by now */
        for (size_t k = 0; k < nlock; k++)
            if (waiters[k].timer_blocked)
                goc__timerchan_unblock(cases[lockorder[k]]._chan->timer);
    }
    /* w.fired points into waiters, which live in heap past 64 cases */
    int i = w.fired ? w.fired->case_index : -1;
    free(heap);

    if (i < 0)
        return tcase; /* the deadline won the claim */
    if (cases[i]._kind == GOC_CASE_SEND_) {
        if (!w.success)
            goc__chan_panic_send_closed();
    } else if (cases[i]._ok) {
        /* a close zeroed the variable already: c may be freed by now */
        *cases[i]._ok = w.success;
    }
    return i;
}

int goc_select(goc_case *cases, size_t n) {
    return do_select(cases, n, true, false);
}

int goc_try_select(goc_case *cases, size_t n) {
    return do_select(cases, n, false, false);
}

int goc_select_ordered(goc_case *cases, size_t n) {
    return do_select(cases, n, true, true);
}
