/* Timers, AfterFunc and Tickers: Go's time.Timer and time.Ticker with Go
 * 1.23's channel semantics, on the runtime's per-P timer heaps.
 *
 * A goc_timer is a runtime timer (goc__timer) plus either a channel of one
 * int64_t (NewTimer, NewTicker) or a function to start in a goroutine
 * (AfterFunc). An AfterFunc timer is in a heap from new or reset until it
 * fires or is stopped. A channel timer is in a heap only while some
 * goroutine or thread is blocked receiving on its channel (Go 1.23's
 * blockTimerChan): otherwise it is merely *armed*, and every receive on the
 * channel (blocking, non-blocking or in a select) first polls it and, when
 * it is due, delivers its value into the channel right then (Go's
 * maybeRunChan). So a timer or ticker that nobody waits on costs nothing on
 * the heap, and a ticker nobody reads does not fire at all.
 *
 * Locks (acquired in this order only; nothing waits on a lock before it):
 *   t->lock -> c->lock -> t->mu -> the heap's lock
 * - t->lock serialises the operations that take the runtime timer out of its
 *   heap or deliver a value outside the timer function: stop, reset, free,
 *   unblock and poll. goc__timer_del, which waits for a running timer
 *   function, is called only under t->lock and with no other lock held.
 * - t->mu guards the state (armed, inheap, blocked, when; rt.period, which
 *   the runtime reads, is written only while rt is in no heap). It is held
 *   for a few instructions and never while taking a channel lock, so block
 *   may take it under the channel's lock (a receiver about to park).
 * - The timer function (on a scheduler thread) takes t->mu, releases it,
 *   then sends with goc_chan_try_send; it takes no other lock of this file,
 *   so waiting for it under t->lock cannot deadlock.
 *
 * Invariants (channel timers):
 * - armed: a value will be produced at when. inheap: the runtime timer was
 *   added and neither deleted nor (one-shot) run yet; it implies armed.
 * - inheap is set only while blocked > 0; the last receiver out deletes the
 *   runtime timer before it uncounts itself (free waits for blocked to be 0,
 *   then takes t->lock); and blocked > 0 && armed implies inheap once
 *   the operation that changed either (block, unblock, reset) has returned.
 * - due (read without locks by poll) is when if armed && !inheap, else
 *   INT64_MAX. While inheap, the heap alone delivers.
 * - The channel's buffer holds at most one value. Values enter it only from
 *   the timer function or from poll under t->lock, and only while armed; a
 *   full buffer drops the value (a ticker's slow reader). stop and reset
 *   disarm, take the runtime timer out of its heap (waiting out a running
 *   function), then empty the buffer, all under t->lock: once they return,
 *   no value prepared before the call can arrive (Go 1.23's no stale
 *   values). Disarmed first, so that no receiver puts it back meanwhile (an
 *   old heap entry would fire early, with the new when as its value).
 * - A ticker's runtime timer is periodic while in a heap (the runtime re-arms
 *   it in place before each run). Its ticks lie on one grid, when + k *
 *   period, and t->when is always the first tick not yet taken: whoever
 *   delivers (the function, or poll) takes the latest tick at or before now
 *   and drops the earlier ones a slow reader missed, so no tick is sent
 *   twice and the phase is kept.
 * - The value sent is the instant the timer was due (a tick of the grid,
 *   for a ticker), also when delivered late, as Go 1.23 sends.
 */
#include "chan/chan_internal.h"
#include <stdlib.h>

struct goc_timer {
    goc__timer rt;                  /* first: the runtime's record; rt.period is a
                                       ticker's period (0: a timer), set only while
                                       rt is in no heap */
    goc__lock lock;                 /* serialises stop, reset, free, unblock, poll */
    goc__lock mu;                   /* guards armed, inheap, blocked, when */
    bool armed;                     /* a value will come at when */
    bool inheap;                    /* rt was added, not yet deleted or run */
    int32_t blocked;                /* receivers parked on c (select cases count) */
    goc_chan *c;                    /* NULL for AfterFunc */
    union {                         /* a million timers: keep the record small */
        struct {                    /* channel timers */
            int64_t when;           /* the value to come (a ticker: its next tick) */
            _Atomic int64_t due;    /* armed && !inheap ? when : INT64_MAX */
        };
        struct {                    /* AfterFunc */
            void (*fn)(void *);
            void *arg;
        };
    };
};

/* A ticker is a timer with a period; a separate type keeps Go's API apart. */
struct goc_ticker {
    goc_timer t;
};

static int64_t when_after(goc_duration d) {
    int64_t now = goc_now();
    if (d <= 0)
        return now;
    return d > INT64_MAX - now ? INT64_MAX : now + d;
}

/* t->mu held, t armed: takes the value due at now, if any. A ticker takes
   the latest tick of its grid at or before now (the earlier ones a slow
   reader missed are dropped) and moves when to the tick after it; a timer
   is disarmed. when is thus always the first tick not yet taken. */
static bool take_value(goc_timer *t, int64_t now, int64_t *v) {
    if (t->when > now)
        return false;
    int64_t period = t->rt.period;
    if (period > 0) {
        *v = t->when + (now - t->when) / period * period; /* <= now: no overflow */
        t->when = *v > INT64_MAX - period ? INT64_MAX : *v + period;
    } else {
        *v = t->when;
        t->armed = false;
    }
    return true;
}

/* t->mu held: republish the poll hint after armed, inheap or when changed.
   release: pairs with poll's acquire, so a receiver that learnt of a reset
   through some synchronisation sees its when. */
static void publish_due(goc_timer *t) {
    atomic_store_explicit(&t->due, t->armed && !t->inheap ? t->when : INT64_MAX,
                          memory_order_release);
}

/* t->mu held, rt in no heap and its function not running: put rt in a heap
   at when (periodic for a ticker, so the runtime re-arms it in place). */
static void heap_add(goc_timer *t) {
    t->rt.when = t->when;
    t->inheap = true;
    publish_due(t);
    goc__timer_add(&t->rt);
}

/* t->lock held, no other lock: takes rt out of its heap and waits for a
   running function. Until t->lock is released nobody else adds it (block
   adds only when !inheap, and inheap is still set then), so the caller may
   go on to update the state. */
static void heap_del(goc_timer *t) {
    goc__timer_del(&t->rt);
    goc__lock_acquire(&t->mu);
    t->inheap = false;
    publish_due(t);
    goc__lock_release(&t->mu);
}

/* Channel timers' function, on a scheduler thread with no lock held. The
   runtime took rt off its heap (a timer) or re-armed it in place (a
   ticker); inheap is still set, so poll has left the delivery to us. */
static void send_time(goc__timer *rt, void *arg) {
    (void)rt;
    goc_timer *t = arg;
    int64_t v = 0;
    goc__lock_acquire(&t->mu);
    bool send = false;
    if (t->armed) {
        if (t->rt.period == 0)
            t->inheap = false; /* one-shot: the runtime dropped it */
        /* A ticker whose function ran late may find its tick taken already
           (when is past now): it sends nothing then. A timer runs only
           once due, and (stop and reset disarm before they delete) never
           from a heap entry older than its when. */
        send = take_value(t, t->rt.period > 0 ? goc_now() : t->when, &v);
        publish_due(t);
    }
    goc__lock_release(&t->mu);
    if (send)
        goc_chan_try_send(t->c, &v); /* full: a slow reader; the value is dropped */
}

/* AfterFunc's function: start the user's in its own goroutine, as Go. */
static void go_func(goc__timer *rt, void *arg) {
    (void)rt;
    goc_timer *t = arg;
    goc_go_opts(t->fn, t->arg, &(goc_go_options){.name = "time.AfterFunc"});
}

static goc_timer *timer_make(void (*fn)(goc__timer *, void *), int64_t period) {
    goc_timer *t = calloc(1, sizeof *t);
    if (!t)
        goc__fatal("out of memory allocating a timer");
    t->rt.fn = fn;
    t->rt.arg = t;
    t->rt.idx = -1;
    t->rt.period = period;
    return t;
}

/* A channel timer, armed for d from now and in no heap. */
static goc_timer *chan_timer_make(goc_duration d, int64_t period) {
    goc_timer *t = timer_make(send_time, period);
    t->c = goc_chan_make(sizeof(int64_t), 1);
    t->c->timer = t; /* before anyone else sees the channel */
    t->when = when_after(d);
    t->armed = true;
    publish_due(t);
    return t;
}

/* ---- the channel layer's hooks (chan_internal.h) ---- */

void goc__timerchan_poll(goc_timer *t) {
    /* acquire: pairs with publish_due. A stale INT64_MAX only delays the
       value to the receiver's blocking path, where block puts the timer in
       a heap; a stale when is re-checked under the locks. */
    int64_t due = atomic_load_explicit(&t->due, memory_order_acquire);
    if (GOC_LIKELY(due == INT64_MAX))
        return;
    int64_t now = goc_now();
    if (due > now)
        return;
    goc__lock_acquire(&t->lock);
    goc__lock_acquire(&t->mu);
    int64_t v = 0;
    bool send = t->armed && !t->inheap && take_value(t, now, &v);
    publish_due(t);
    goc__lock_release(&t->mu);
    if (!send) {
        goc__lock_release(&t->lock);
        return;
    }
    /* Under t->lock, so stop and reset (which drain under it) cannot miss
       it. A full buffer holds an older tick: this one is dropped. */
    goc_chan_try_send(t->c, &v);
    goc__lock_release(&t->lock);
}

void goc__timerchan_block(goc_timer *t) {
    goc__lock_acquire(&t->mu);
    t->blocked++;
    if (t->armed && !t->inheap)
        heap_add(t);
    goc__lock_release(&t->mu);
}

/* goc_timer_free waits for blocked to reach 0 and then takes t->lock, so a
   caller here must touch t only under t->mu while counted, or under
   t->lock: on the fast path it uncounts itself under t->mu and leaves; on
   the slow path it stays counted until it holds t->lock, whose release is
   its last touch. (A select that completed through another case uncounts
   itself after its peer may already have gone on to free the timer.) */
void goc__timerchan_unblock(goc_timer *t) {
    goc__lock_acquire(&t->mu);
    if (t->blocked > 1 || !t->inheap) {
        t->blocked--;
        goc__lock_release(&t->mu);
        return;
    }
    goc__lock_release(&t->mu);
    /* The last receiver out takes the timer off its heap. */
    goc__lock_acquire(&t->lock);
    heap_del(t);
    goc__lock_acquire(&t->mu);
    t->blocked--;
    /* A receiver that blocked meanwhile found inheap still set and left the
       heap to us: put the timer back for it. */
    if (t->blocked > 0 && t->armed && !t->inheap)
        heap_add(t);
    goc__lock_release(&t->mu);
    goc__lock_release(&t->lock);
}

/* ---- stop and reset ---- */

/* t->lock held: takes t out of its heap, disarms it and empties its
   channel. Returns true if a value was still to come or had not been
   received (Go 1.23's Stop result). */
static bool timer_stop_locked(goc_timer *t) {
    if (!t->c)
        return goc__timer_del(&t->rt);
    /* Disarm first: between the heap's delete and the disarm, a receiver
       that blocked would find the timer armed and in no heap and put it
       back, at its old when; reset would then re-arm it while it sat in a
       heap, and it fired early with the new when as its value. Disarmed,
       block leaves it alone and a function running now sends nothing. */
    goc__lock_acquire(&t->mu);
    bool pending = t->armed;
    t->armed = false;
    publish_due(t);
    goc__lock_release(&t->mu);
    heap_del(t);
    /* Nothing sends now: the function is not running (del waited) and poll
       needs t->lock. Emptying without polling (poll would take t->lock). */
    if (goc__chan_drain(t->c))
        pending = true;
    return pending;
}

/* t->lock held, t stopped: arms it for d from now with period. */
static void timer_start_locked(goc_timer *t, goc_duration d, int64_t period) {
    if (!t->c) {
        t->rt.when = when_after(d);
        goc__timer_add(&t->rt);
        return;
    }
    goc__lock_acquire(&t->mu);
    t->when = when_after(d);
    t->rt.period = period;
    t->armed = true;
    if (t->blocked > 0)
        heap_add(t); /* a receiver is parked: Go's Reset wakes it in time */
    else
        publish_due(t);
    goc__lock_release(&t->mu);
}

/* ---- Timer ---- */

goc_timer *goc_timer_new(goc_duration d) {
    return chan_timer_make(d, 0);
}

goc_timer *goc_after_func(goc_duration d, void (*fn)(void *), void *arg) {
    goc_timer *t = timer_make(go_func, 0);
    t->fn = fn;
    t->arg = arg;
    t->rt.when = when_after(d);
    goc__timer_add(&t->rt);
    return t;
}

goc_chan *goc_timer_chan(goc_timer *t) {
    return t->c;
}

bool goc_timer_stop(goc_timer *t) {
    goc__lock_acquire(&t->lock);
    bool pending = timer_stop_locked(t);
    goc__lock_release(&t->lock);
    return pending;
}

bool goc_timer_reset(goc_timer *t, goc_duration d) {
    goc__lock_acquire(&t->lock);
    bool pending = timer_stop_locked(t);
    timer_start_locked(t, d, 0);
    goc__lock_release(&t->lock);
    return pending;
}

/* who: the public name, for the fatal error. */
static void timer_free(goc_timer *t, const char *who) {
    /* As goc_chan_free: a receiver still waiting is a fatal error, and a
       select that completed through another case is waited for, until it
       has left the channel's queue and uncounted itself here too. */
    while (t->c) {
        goc__chan_wait_unused(t->c, who);
        goc__lock_acquire(&t->mu);
        bool idle = t->blocked == 0;
        goc__lock_release(&t->mu);
        if (idle)
            break;
        goc_yield();
    }
    goc__lock_acquire(&t->lock);
    goc__timer_del(&t->rt); /* waits for a running function: then t is ours */
    goc__lock_release(&t->lock);
    goc_chan_free(t->c);
    free(t);
}

void goc_timer_free(goc_timer *t) {
    if (t)
        timer_free(t, "goc_timer_free");
}

/* ---- Ticker ---- */

goc_ticker *goc_ticker_new(goc_duration d) {
    if (d <= 0)
        goc_panic("non-positive interval for NewTicker");
    /* The ticker is the timer's first member (so free(t) frees it). */
    _Static_assert(offsetof(goc_ticker, t) == 0, "goc_ticker must start with its timer");
    return (goc_ticker *)chan_timer_make(d, d);
}

goc_chan *goc_ticker_chan(goc_ticker *k) {
    return k->t.c;
}

void goc_ticker_stop(goc_ticker *k) {
    goc_timer_stop(&k->t);
}

void goc_ticker_reset(goc_ticker *k, goc_duration d) {
    if (d <= 0)
        goc_panic("non-positive interval for Ticker.Reset");
    goc_timer *t = &k->t;
    goc__lock_acquire(&t->lock);
    timer_stop_locked(t);
    timer_start_locked(t, d, d);
    goc__lock_release(&t->lock);
}

void goc_ticker_free(goc_ticker *k) {
    if (k)
        timer_free(&k->t, "goc_ticker_free");
}
