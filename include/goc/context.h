/* goc context: Go's context package: cancellation, deadlines and
 * request-scoped values that cross goroutines. See docs/api-time-context.md
 * for the reference and docs/design-context.md for the design.
 *
 * Contexts form a tree. Cancelling a context cancels every descendant;
 * a cancelled context leaves its parent's set of children at once. A child of
 * a context that is already cancelled is born cancelled, with the parent's
 * error and cause. A child's deadline is never later than its parent's.
 *
 * Errors are errno values: goc_ctx_err returns 0 while the context is live,
 * then ECANCELED (Go's Canceled) or ETIMEDOUT (Go's DeadlineExceeded).
 * A cause is any int (an errno value, or an application code).
 *
 * Ownership (who frees what):
 * - Each goc_ctx_with_* (and goc_ctx_without_cancel) returns ONE reference,
 *   which its creator drops exactly once with goc_ctx_release. Release also
 *   cancels the context (Go's `defer cancel()`), so it is the last thing to
 *   do with a context one created. Releasing twice is misuse: it panics when
 *   goc can still see it, and is a use after free otherwise.
 * - goc_ctx_cancel and goc_ctx_cancel_cause drop nothing; they may be called
 *   any number of times, from any goroutine or thread, as long as the caller
 *   holds a reference.
 * - A child holds a reference on its parent, so a parent lives as long as
 *   any of its descendants: releasing a parent before its children is fine.
 * - Whoever uses a context must hold a reference while it does. A goroutine
 *   that may outlive its creator's reference takes its own with
 *   goc_ctx_retain before it is started and drops it with goc_ctx_drop
 *   (which does not cancel) when it is done.
 * - The background context is static: retain, drop and release ignore it.
 * - Everything a context allocated (its done channel included) is freed when
 *   its last reference goes. The done channel may therefore be used only
 *   while one holds a reference.
 *
 * Every function is safe from any goroutine or plain thread, concurrently.
 * Value keys compare by address. A value context's done, err, cause and
 * deadline are those of its nearest cancellable ancestor.
 */
#ifndef GOC_CONTEXT_H
#define GOC_CONTEXT_H
#include <goc/runtime.h>
#include <goc/chan.h>
#include <errno.h> /* ECANCELED and ETIMEDOUT, which the context's errors are */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goc_ctx goc_ctx;

/* context.Background: never cancelled, no deadline, no values. Static. */
GOC_API goc_ctx *goc_ctx_background(void);

/* context.WithCancel: a child cancelled by goc_ctx_cancel (or its release)
   or when parent is. Panics "cannot create context from nil parent". */
GOC_API goc_ctx *goc_ctx_with_cancel(goc_ctx *parent);

/* context.WithDeadline: as with_cancel, and cancelled with ETIMEDOUT at the
   instant t (goc_now's clock), or at once if t has passed. If parent's
   deadline is earlier, this is with_cancel (the child's deadline is the
   parent's). */
GOC_API goc_ctx *goc_ctx_with_deadline(goc_ctx *parent, int64_t t);

/* context.WithTimeout: with_deadline(parent, goc_now() + d). */
GOC_API goc_ctx *goc_ctx_with_timeout(goc_ctx *parent, goc_duration d);

/* Go 1.21's WithDeadlineCause / WithTimeoutCause: as above, and when the
   deadline passes, goc_ctx_cause returns cause (err is still ETIMEDOUT).
   cause 0 means ETIMEDOUT. */
GOC_API goc_ctx *goc_ctx_with_deadline_cause(goc_ctx *parent, int64_t t, int cause);
GOC_API goc_ctx *goc_ctx_with_timeout_cause(goc_ctx *parent, goc_duration d, int cause);

/* context.WithValue: a child that carries key -> value; key compares by
   address and must not be NULL (panic "nil key"). Not cancellable itself:
   done, err and cause are the parent's. */
GOC_API goc_ctx *goc_ctx_with_value(goc_ctx *parent, const void *key, void *value);

/* context.WithoutCancel (Go 1.21): keeps parent's values, but is never
   cancelled and has no deadline, whatever happens to parent. */
GOC_API goc_ctx *goc_ctx_without_cancel(goc_ctx *parent);

/* Go's CancelFunc: cancels ctx and its descendants with ECANCELED. Drops no
   reference. Idempotent. No effect on contexts that are not cancellable
   (background, value and without_cancel contexts). */
GOC_API void goc_ctx_cancel(goc_ctx *ctx);

/* Go's CancelCauseFunc: as goc_ctx_cancel, and records cause (0 means
   ECANCELED). The first cancellation wins. */
GOC_API void goc_ctx_cancel_cause(goc_ctx *ctx, int cause);

/* Cancels ctx (as goc_ctx_cancel) and drops the reference its goc_ctx_with_*
   returned. `defer cancel()`. NULL and the background context are ignored. */
GOC_API void goc_ctx_release(goc_ctx *ctx);

/* Takes another reference, for a goroutine that may outlive the caller's;
   returns ctx. Drop it with goc_ctx_drop. */
GOC_API goc_ctx *goc_ctx_retain(goc_ctx *ctx);

/* Drops a reference taken with goc_ctx_retain, without cancelling. */
GOC_API void goc_ctx_drop(goc_ctx *ctx);

/* ctx.Done(): a channel closed when ctx is cancelled, for goc_chan_recv or a
   goc_case_recv in goc_select. NULL (Go's nil channel: never ready) for a
   context that can never be cancelled. Owned by the context: never free it. */
GOC_API goc_chan *goc_ctx_done(goc_ctx *ctx);

/* ctx.Err(): 0 while live, then ECANCELED or ETIMEDOUT. */
GOC_API int goc_ctx_err(goc_ctx *ctx);

/* context.Cause: 0 while live; then the first cause given to
   goc_ctx_cancel_cause, the deadline's cause, or the error itself
   (ECANCELED, ETIMEDOUT) when none was given. A child cancelled by its
   parent has the parent's cause. */
GOC_API int goc_ctx_cause(goc_ctx *ctx);

/* ctx.Deadline(): true and *t (may be NULL) when ctx has a deadline. */
GOC_API bool goc_ctx_deadline(goc_ctx *ctx, int64_t *t);

/* ctx.Value(key): the value of the nearest context with that key, or NULL. */
GOC_API void *goc_ctx_value(goc_ctx *ctx, const void *key);

/* ---- context.AfterFunc (Go 1.21) ---- */

/* A registration made by goc_ctx_after_func; the handle of Go's stop func. */
typedef struct goc_ctx_after goc_ctx_after;

/* Arranges for fn(arg) to run in its own goroutine once ctx is done (at
   once, if it is already done). Returns a handle that the caller frees with
   goc_ctx_after_free; the handle keeps ctx's memory alive until then. */
GOC_API goc_ctx_after *goc_ctx_after_func(goc_ctx *ctx, void (*fn)(void *arg), void *arg);

/* Go's stop(): stops fn from being run. true if this call stopped it; false
   if fn has already been started or was already stopped. */
GOC_API bool goc_ctx_after_stop(goc_ctx_after *a);

/* Frees the handle. Does not stop fn: if ctx is done later, fn still runs.
   NULL is ignored. */
GOC_API void goc_ctx_after_free(goc_ctx_after *a);

/* ---- Integration ---- */

/* Sleeps for d, or less if ctx is done first. Returns 0 after the full
   sleep, or ctx's error (ECANCELED, ETIMEDOUT) if it ended first or was
   already done. Parks the goroutine (a plain thread blocks); costs no
   goroutine and no channel. */
GOC_API int goc_sleep_ctx(goc_ctx *ctx, goc_duration d);

#ifdef __cplusplus
}
#endif
#endif
