/* Private interface of the context layer, for the layers that block on a
 * context (goc_sleep_ctx, goc_sema_acquire, the network's dial): a waiter
 * that cancellation wakes, without a goroutine or a channel per wait.
 *
 * A waiter sits in the child set of the context's nearest cancellable
 * ancestor (its "owner"), beside child contexts. Cancellation runs the
 * waiter's fn under the owner's lock, once, and unlinks it. See
 * docs/design-context.md.
 *
 * The caller of any of these must hold a reference on ctx (or be inside a
 * call that was given ctx by someone who does) for the whole wait: the
 * waiter record does not keep the context alive.
 */
#ifndef GOC_CTX_INTERNAL_H
#define GOC_CTX_INTERNAL_H

#include "runtime/internal.h"

/* A member of a context's child set: a child context, an AfterFunc
   registration or a waiter. Private to context.c; under the owner's lock. */
typedef struct goc__ctx_node {
    struct goc__ctx_node *prev, *next;
    uint8_t kind;
    bool linked;
} goc__ctx_node;

typedef struct goc__ctx_waiter goc__ctx_waiter;
struct goc__ctx_waiter {
    goc__ctx_node node;             /* private */
    goc_ctx *owner;                 /* private: the context it is registered with */
    /* Runs when the context is cancelled, on the cancelling thread, with the
       context's lock held: it must not block, must not call into the context
       layer, and may take only locks that are never held around a call of
       goc__ctx_watch, goc__ctx_unwatch or goc_ctx_cancel. Claiming and
       waking a parker (goc__parker_claim, goc__parker_wake) is the use. */
    void (*fn)(goc__ctx_waiter *w, int err);
    void *arg;
    int err;                        /* set to the error before fn runs */
};

/* Registers w (fn and arg set by the caller). Returns 0 when registered; the
   context's error if ctx is already done (not registered, fn not called); -1
   if ctx can never be cancelled (not registered). */
GOC_HIDDEN int goc__ctx_watch(goc_ctx *ctx, goc__ctx_waiter *w);

/* Unregisters w. Returns true if it was still registered (fn has not run and
   never will); false if fn has run (it has returned by now). Either way w's
   memory is the caller's again when this returns. */
GOC_HIDDEN bool goc__ctx_unwatch(goc__ctx_waiter *w);

/* Parks pk as goc__parker_park(pk, unlock, arg, reason, deadline) does, and
   also lets ctx's cancellation claim and wake it. The registration with ctx
   is made before unlock(arg) runs, under ctx's lock, so no cancellation is
   missed; unlock(arg) (may be NULL) runs exactly once, also when ctx is
   already done (then the parker is claimed here and nothing parks). If
   unlock returns false the parker is claimed here too, or, if someone else
   claimed it first, this waits for that wake.
   Returns 0 when someone else claimed and woke pk; -1 when deadline (>= 0,
   goc_now's clock) passed; otherwise ctx's error (ECANCELED, ETIMEDOUT),
   the parker having been claimed by the cancellation. */
GOC_HIDDEN int goc__ctx_park(goc_ctx *ctx, goc__parker *pk, bool (*unlock)(void *arg), void *arg,
                             const char *reason, int64_t deadline);

/* For tests: the size of ctx's child set (contexts, AfterFuncs, waiters). */
GOC_HIDDEN size_t goc__ctx_nchildren(goc_ctx *ctx);

#endif
