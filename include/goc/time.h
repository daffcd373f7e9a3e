/* goc time: Go's time.Timer, time.AfterFunc and time.Ticker, with Go 1.23's
 * channel semantics. See docs/api-time-context.md.
 *
 * Instants are int64_t nanoseconds on goc_now's monotonic clock; spans are
 * goc_duration. A timer's channel carries int64_t elements: the instant the
 * timer was due to fire (also when the value is received late, as Go 1.23;
 * for a ticker, a tick of its grid: start + k * period).
 *
 * Go 1.23 semantics:
 * - After goc_timer_stop or goc_timer_reset returns, no value prepared
 *   before the call can be received from the timer's channel.
 * - The channel is synchronous, as Go 1.23's timer channels:
 *   goc_chan_len and goc_chan_cap of it report 0.
 * - A ticker whose reader is slow drops the ticks it misses; it never queues
 *   more than one.
 * - A timer or ticker that nobody waits on costs nothing on the runtime's
 *   timer heaps: it is in a heap only while a goroutine or thread is blocked
 *   receiving from its channel (goc_chan_recv, or goc_select without a ready
 *   case). Any receive first checks whether the timer is due and, if so,
 *   takes the value then. A ticker nobody reads does not fire at all. Stop
 *   and reset are O(log n) and never scan.
 * - Without goc_run running, a plain thread that blocks runs the due
 *   timers of the heaps itself and wakes for the next, so blocking on a
 *   timer's channel works there too; a non-blocking receive
 *   (goc_chan_try_recv, goc_try_select) gets a due value anyway. An
 *   AfterFunc's function, which runs in a goroutine, waits for a goc_run.
 *
 * Memory: every goc_timer and goc_ticker is freed by exactly one call to
 * goc_timer_free / goc_ticker_free, which also stops it; no stop is needed
 * first. The channel belongs to the timer and is freed with it, under
 * goc_chan_free's rule: nobody may still be blocked on it (a fatal error),
 * while a select that completed through another case may still be
 * returning (the free waits for it). An after_func timer
 * must still be freed, also after its function ran (the function may free
 * it itself). Stop, reset and free may be called from any goroutine or
 * thread, concurrently with each other, except that free must come last.
 */
#ifndef GOC_TIME_H
#define GOC_TIME_H
#include <goc/runtime.h>
#include <goc/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goc_timer goc_timer;
typedef struct goc_ticker goc_ticker;

/* ---- Timer ---- */

/* time.NewTimer: sends the current instant on its channel once, d from now
   (d <= 0: at once). Aborts on out of memory. */
GOC_API goc_timer *goc_timer_new(goc_duration d);

/* The timer's channel of int64_t (NULL for an after_func timer, as Go's nil
   C field: receiving from it blocks forever). */
GOC_API goc_chan *goc_timer_chan(goc_timer *t);

/* Stops the timer. Returns true if the call stopped it: it had not fired
   yet, or (channel timers) it had fired but its value had not been received,
   which is then discarded. false: it had already fired and its value was
   received (or its function started), or it had been stopped. */
GOC_API bool goc_timer_stop(goc_timer *t);

/* Re-arms the timer to fire d from now, discarding any value not yet
   received. Returns what goc_timer_stop would have returned. For an
   after_func timer the function runs again (in a new goroutine) when the
   timer fires. */
GOC_API bool goc_timer_reset(goc_timer *t, goc_duration d);

/* Stops the timer and frees it with its channel. NULL is ignored. */
GOC_API void goc_timer_free(goc_timer *t);

/* time.AfterFunc: after d, runs fn(arg) in a new goroutine. goc_timer_stop
   before then prevents it (it returns true exactly when it did).
   goc_timer_free frees the timer; fn may still be running then. */
GOC_API goc_timer *goc_after_func(goc_duration d, void (*fn)(void *arg), void *arg);

/* ---- Ticker ---- */

/* time.NewTicker: sends the current instant on its channel every d. Missed
   ticks are dropped. Panics "non-positive interval for NewTicker" if d <= 0. */
GOC_API goc_ticker *goc_ticker_new(goc_duration d);

/* The ticker's channel of int64_t. */
GOC_API goc_chan *goc_ticker_chan(goc_ticker *t);

/* Stops the ticker: no tick is sent after it returns, and a tick not yet
   received is discarded. It may be restarted with goc_ticker_reset. */
GOC_API void goc_ticker_stop(goc_ticker *t);

/* Stops the ticker and restarts it with period d, the next tick d from now.
   Panics "non-positive interval for Ticker.Reset" if d <= 0. */
GOC_API void goc_ticker_reset(goc_ticker *t, goc_duration d);

/* Stops the ticker and frees it with its channel. NULL is ignored. */
GOC_API void goc_ticker_free(goc_ticker *t);

#ifdef __cplusplus
}
#endif
#endif
