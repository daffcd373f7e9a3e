/* Timers, AfterFunc and Tickers: Go's time.Timer and time.Ticker with Go
 * 1.23's channel semantics, on the runtime's per-P timer heaps.
 *
 * A goc_timer is a runtime timer (goc__timer) plus either a channel of one
 * int64_t (NewTimer, NewTicker) or a function to start in a goroutine
 * (AfterFunc). Stop and reset are O(log n): one removal from a 4-ary heap,
 * never a scan; a stopped timer leaves the heap at once instead of lingering
 * as a deleted entry.
 *
 * Invariants:
 * - The channel's buffer holds at most one value, and only the timer's
 *   function sends on it (goc_chan_try_send: a full buffer drops the value,
 *   which is how a ticker drops the ticks a slow reader misses).
 * - t->lock serialises stop, reset and free of one timer (two resets at
 *   once must not add it to a heap twice). Under it, stop and reset first
 *   take the runtime timer out of its heap with goc__timer_del, which also
 *   waits for a function that is running now; only then do they empty the
 *   buffer. So once they return, no value prepared before the call can still
 *   arrive: Go 1.23's "no stale values" guarantee.
 * - The timer's function runs on a scheduler thread and takes no lock but
 *   the channel's (try_send) or the scheduler's (goc_go), so waiting for it
 *   under t->lock cannot deadlock.
 */
#include "runtime/internal.h"
#include <stdlib.h>

struct goc_timer {
    goc__timer rt;                  /* first: the runtime's record */
    goc__lock lock;                 /* serialises stop, reset and free */
    goc_chan *c;                    /* NULL for AfterFunc */
    void (*fn)(void *);             /* AfterFunc */
    void *arg;
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

/* Channel timers' function: send the instant, or drop it if the buffer is
   full (a ticker's slow reader). */
static void send_time(goc__timer *rt, void *arg) {
    (void)rt;
    goc_timer *t = arg;
    int64_t now = goc_now();
    goc_chan_try_send(t->c, &now);
}

/* AfterFunc's function: start the user's in its own goroutine, as Go. */
static void go_func(goc__timer *rt, void *arg) {
    (void)rt;
    goc_timer *t = arg;
    goc_go_opts(t->fn, t->arg, &(goc_go_options){.name = "time.AfterFunc"});
}

static goc_timer *timer_make(void (*fn)(goc__timer *, void *)) {
    goc_timer *t = calloc(1, sizeof *t);
    if (!t)
        goc__fatal("out of memory allocating a timer");
    t->rt.fn = fn;
    t->rt.arg = t;
    t->rt.idx = -1;
    return t;
}

/* Takes t out of its heap and empties its channel (t->lock held). Returns
   true if a fire was pending or a sent value had not been received. */
static bool timer_stop_locked(goc_timer *t) {
    bool pending = goc__timer_del(&t->rt);
    if (t->c) {
        /* At most one value is buffered, and the function that sends is
           not running (del waited for it): one try_recv empties it. */
        bool ok = false;
        if (goc_chan_try_recv(t->c, NULL, &ok) && ok)
            pending = true;
    }
    return pending;
}

/* ---- Timer ---- */

goc_timer *goc_timer_new(goc_duration d) {
    goc_timer *t = timer_make(send_time);
    t->c = goc_chan_make(sizeof(int64_t), 1);
    t->rt.when = when_after(d);
    goc__timer_add(&t->rt);
    return t;
}

goc_timer *goc_after_func(goc_duration d, void (*fn)(void *), void *arg) {
    goc_timer *t = timer_make(go_func);
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
    t->rt.when = when_after(d);
    t->rt.period = 0;
    goc__timer_add(&t->rt);
    goc__lock_release(&t->lock);
    return pending;
}

void goc_timer_free(goc_timer *t) {
    if (!t)
        return;
    goc__lock_acquire(&t->lock);
    goc__timer_del(&t->rt); /* waits for a running function: then t is ours */
    goc__lock_release(&t->lock);
    goc_chan_free(t->c);
    free(t);
}

/* ---- Ticker ---- */

goc_ticker *goc_ticker_new(goc_duration d) {
    if (d <= 0)
        goc_panic("non-positive interval for NewTicker");
    goc_ticker *k = calloc(1, sizeof *k);
    if (!k)
        goc__fatal("out of memory allocating a ticker");
    goc_timer *t = &k->t;
    t->rt.fn = send_time;
    t->rt.arg = t;
    t->rt.idx = -1;
    t->c = goc_chan_make(sizeof(int64_t), 1);
    t->rt.when = when_after(d);
    t->rt.period = d;
    goc__timer_add(&t->rt);
    return k;
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
    t->rt.when = when_after(d);
    t->rt.period = d;
    goc__timer_add(&t->rt);
    goc__lock_release(&t->lock);
}

void goc_ticker_free(goc_ticker *k) {
    if (k)
        goc_timer_free(&k->t);
}
