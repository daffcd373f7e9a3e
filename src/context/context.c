/* Contexts: Go's context package (cancelCtx, timerCtx, valueCtx,
 * withoutCancelCtx, AfterFunc) with reference counting instead of a GC.
 *
 * Kinds: the static background; CANCEL and TIMER contexts, which can be
 * cancelled ("cancellable"); VALUE and WITHOUT contexts, which cannot, and
 * whose done/err/cause are those of their owner.
 *
 * Invariants:
 * - c->owner is c itself for a cancellable context, else the nearest
 *   cancellable ancestor, or NULL when nothing above can ever be cancelled
 *   (background, without_cancel). owner, parent, deadline, key and value
 *   never change after creation, so readers need no lock.
 * - A context holds one reference on its parent, so every ancestor (owners
 *   included) outlives it. An armed deadline timer holds one reference on
 *   its context, dropped by whoever takes the timer out of its heap
 *   (cancel_locked, or deadline_passed when a passed deadline is noticed
 *   before the timer fires) or, once it has fired, by its goroutine; an
 *   AfterFunc registration holds one on the owner it is registered with.
 * - The child set of a cancellable context (children, a circular list with
 *   a sentinel) holds child contexts whose parent's owner it is, AfterFunc
 *   registrations and waiters. It changes only under that context's lock;
 *   node.linked says whether a node is in a set. Cancellation empties the
 *   set for good: once err is set, nothing is ever linked again.
 * - err goes from 0 to its final value once, under the lock, after cause
 *   (release store; readers load it with acquire and may then read cause).
 * - At most one context lock is held at a time: cancellation takes a
 *   child context out of its parent's set under the parent's lock, with a
 *   reference, and cancels it after releasing that lock (a work list, not
 *   recursion). AfterFunc registrations and waiters, which cannot hold
 *   references, are fired under the lock of the set they are in, so
 *   unregistering under that lock tells "fired" from "not fired" exactly.
 * - A child leaves its parent's set (when cancelled by itself) under the
 *   parent's lock, only if it is still linked.
 * - A deadline timer's function never takes a lock: it only starts a
 *   goroutine that cancels. So goc__timer_del, which waits for a running
 *   function, may be called with context locks held, and the timer's memory
 *   (inside the context) is never freed by its own function.
 * - References are dropped with no context lock held (a drop may free a
 *   context, and freeing takes its parent's lock), except the timer's by
 *   cancel_locked, which is never the last.
 */
#include "context/ctx_internal.h"
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>

enum { CTX_BACKGROUND, CTX_CANCEL, CTX_TIMER, CTX_VALUE, CTX_WITHOUT };
enum { NODE_CTX = 1, NODE_AFTER, NODE_WAITER };
enum { AFTER_PENDING, AFTER_FIRED, AFTER_STOPPED };

struct goc_ctx {
    _Atomic int64_t refs;
    uint8_t kind;
    _Atomic bool released;          /* the creator's reference was released */
    goc_ctx *parent;
    goc_ctx *owner;
    int64_t deadline;               /* INT64_MAX: none */
    const void *key;
    void *value;
    /* cancellable contexts only */
    goc__lock lock;
    _Atomic int err;
    _Atomic int cause;
    _Atomic(goc_chan *) done;       /* made lazily; closed_chan if cancelled before */
    goc__ctx_node node;             /* in parent_owner's child set */
    goc_ctx *parent_owner;          /* the set it joined, or NULL */
    goc__ctx_node children;         /* sentinel */
    goc__timer timer;               /* TIMER only */
    bool timer_armed;               /* under lock; holds a reference while true */
    int deadline_cause;
    goc_ctx *work_next;             /* on a cancellation's work list */
};

struct goc_ctx_after {
    goc__ctx_node node;
    _Atomic int refs;               /* the handle's, and the registration's until it ends */
    _Atomic int state;              /* changes under owner's lock when owner is set */
    goc_ctx *owner;                 /* holds a reference; NULL: never cancelled */
    void (*fn)(void *);
    void *arg;
};

static goc_ctx background = {
    .kind = CTX_BACKGROUND,
    .deadline = INT64_MAX,
};

#define container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

static bool cancellable(const goc_ctx *c) {
    return c->kind == CTX_CANCEL || c->kind == CTX_TIMER;
}

/* ------------------------------------------------------------------------ */
/* The closed channel that a context cancelled before anyone asked for its  */
/* done channel hands out (Go's closedchan). Made once, never freed.         */

static _Atomic(goc_chan *) closed; /* read without the once, to compare (ctx_unref) */
static pthread_once_t closed_once = PTHREAD_ONCE_INIT;

static void closed_init(void) {
    goc_chan *c = goc_chan_make(0, 0);
    goc_chan_close(c);
    atomic_store_explicit(&closed, c, memory_order_release);
}

static goc_chan *closed_chan(void) {
    pthread_once(&closed_once, closed_init);
    return atomic_load_explicit(&closed, memory_order_relaxed);
}

/* ------------------------------------------------------------------------ */
/* Child sets.                                                              */

static void set_init(goc__ctx_node *s) {
    s->prev = s->next = s;
}

static void set_link(goc__ctx_node *s, goc__ctx_node *n) {
    n->prev = s->prev;
    n->next = s;
    s->prev->next = n;
    s->prev = n;
    n->linked = true;
}

static void set_unlink(goc__ctx_node *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
    n->linked = false;
}

/* ------------------------------------------------------------------------ */
/* References.                                                              */

static void ctx_ref(goc_ctx *c) {
    if (c->kind != CTX_BACKGROUND)
        /* relaxed: the caller holds a reference already (as any refcount) */
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void ctx_unref(goc_ctx *c);

/* ------------------------------------------------------------------------ */
/* Cancellation.                                                            */

/* One cancellation: its error and cause, and the descendants still to do.
   The tree is walked with a work list, not recursion, so a chain of any
   depth cancels on a small goroutine stack, and no two context locks are
   ever held at once. Each context on the list holds a reference that the
   walk drops. */
struct cancel_op {
    int err, cause;
    goc_ctx *work;
};

static void after_run(void *arg);

/* Cancels c (locked by the caller, not yet cancelled): sets err, closes
   done, fires AfterFuncs and waiters, stops the deadline timer, and moves
   child contexts to op's work list. Someone other than the timer holds a
   reference on c throughout (the caller, or the work list). */
static void cancel_locked(goc_ctx *c, struct cancel_op *op) {
    atomic_store_explicit(&c->cause, op->cause, memory_order_relaxed);
    /* release: pairs with the acquire loads in goc_ctx_err and goc_ctx_cause */
    atomic_store_explicit(&c->err, op->err, memory_order_release);
    goc_chan *done = atomic_load_explicit(&c->done, memory_order_relaxed);
    if (done)
        goc_chan_close(done);
    else
        /* release: pairs with goc_ctx_done's acquire load */
        atomic_store_explicit(&c->done, closed_chan(), memory_order_release);
    goc__ctx_node *n;
    while ((n = c->children.next) != &c->children) {
        set_unlink(n);
        switch (n->kind) {
        case NODE_CTX: {
            /* Unlinked, it no longer touches our set; the reference keeps
               it alive until the walk reaches it. */
            goc_ctx *child = container_of(n, goc_ctx, node);
            ctx_ref(child);
            child->work_next = op->work;
            op->work = child;
            break;
        }
        case NODE_AFTER: {
            goc_ctx_after *a = container_of(n, goc_ctx_after, node);
            atomic_store_explicit(&a->state, AFTER_FIRED, memory_order_relaxed);
            /* the registration's reference passes to the goroutine */
            goc_go_opts(after_run, a, &(goc_go_options){.name = "context.AfterFunc"});
            break;
        }
        case NODE_WAITER: {
            /* Under our lock: its owner cannot unwatch before fn returns. */
            goc__ctx_waiter *w = container_of(n, goc__ctx_waiter, node);
            w->err = op->err;
            w->fn(w, op->err);
            break;
        }
        }
    }
    if (c->timer_armed) {
        c->timer_armed = false;
        /* Never waits long: a deadline timer's function only starts a
           goroutine. true: it will not run, so its reference is ours to
           drop, and it is not the last one (see above); false: its
           goroutine drops it. */
        if (goc__timer_del(&c->timer))
            atomic_fetch_sub_explicit(&c->refs, 1, memory_order_relaxed);
    }
}

/* Cancels what cancel_locked put on the work list. No lock held. */
static void cancel_walk(struct cancel_op *op) {
    while (op->work) {
        goc_ctx *c = op->work;
        op->work = c->work_next;
        goc__lock_acquire(&c->lock);
        if (!atomic_load_explicit(&c->err, memory_order_relaxed))
            cancel_locked(c, op);
        goc__lock_release(&c->lock);
        ctx_unref(c);
    }
}

/* Takes c out of the set of its parent's owner, if it is still there. */
static void leave_parent(goc_ctx *c) {
    goc_ctx *po = c->parent_owner;
    if (!po)
        return;
    goc__lock_acquire(&po->lock);
    if (c->node.linked)
        set_unlink(&c->node);
    goc__lock_release(&po->lock);
}

/* Go's cancelCtx.cancel(true, err, cause): c is cancellable and the caller
   holds a reference on it. No lock held. */
static void ctx_cancel(goc_ctx *c, int err, int cause) {
    struct cancel_op op = {err, cause, NULL};
    goc__lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->err, memory_order_relaxed)) {
        goc__lock_release(&c->lock);
        return;
    }
    cancel_locked(c, &op);
    goc__lock_release(&c->lock);
    leave_parent(c);
    cancel_walk(&op);
}

/* Drops one reference; frees c, and then its ancestors that this leaves
   unreferenced, iteratively (a deep chain must not recurse). No context lock
   may be held. */
static void ctx_unref(goc_ctx *c) {
    while (c && c->kind != CTX_BACKGROUND) {
        /* acq_rel: the last dropper sees every other holder's writes */
        if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
            return;
        goc_ctx *parent = c->parent;
        if (cancellable(c)) {
            if (!atomic_load_explicit(&c->err, memory_order_relaxed)) {
                /* Dropped without a release (goc_ctx_drop misused): cancel
                   anyway, so it leaves its parent's set. Its set is empty
                   and its timer unarmed, or they would hold references. */
                ctx_cancel(c, ECANCELED, ECANCELED);
            }
            if (c->kind == CTX_TIMER)
                goc__timer_del(&c->timer); /* its function may still be returning */
            goc_chan *done = atomic_load_explicit(&c->done, memory_order_relaxed);
            if (done && done != atomic_load_explicit(&closed, memory_order_acquire))
                goc_chan_free(done);
        }
        free(c);
        c = parent;
    }
}

/* ------------------------------------------------------------------------ */
/* Creation.                                                                */

static goc_ctx *ctx_new(goc_ctx *parent, int kind) {
    if (!parent)
        goc_panic("cannot create context from nil parent");
    goc_ctx *c = calloc(1, sizeof *c);
    if (!c)
        goc__fatal("out of memory allocating a context");
    atomic_init(&c->refs, 1);
    c->kind = (uint8_t)kind;
    ctx_ref(parent);
    c->parent = parent;
    c->deadline = parent->deadline;
    c->owner = parent->owner;
    if (kind == CTX_CANCEL || kind == CTX_TIMER) {
        c->owner = c;
        c->node.kind = NODE_CTX;
        set_init(&c->children);
        c->timer.idx = -1;
    }
    return c;
}

/* Go's propagateCancel: joins the set of parent's owner, or is cancelled at
   once if that owner is already. c is new: nobody else can see it yet. */
static void propagate(goc_ctx *c) {
    goc_ctx *po = c->parent->owner;
    if (!po)
        return; /* nothing above can ever be cancelled */
    goc__lock_acquire(&po->lock);
    int err = atomic_load_explicit(&po->err, memory_order_relaxed);
    if (err) {
        int cause = atomic_load_explicit(&po->cause, memory_order_relaxed);
        goc__lock_release(&po->lock);
        struct cancel_op op = {err, cause, NULL};
        goc__lock_acquire(&c->lock);
        cancel_locked(c, &op); /* a new context: nothing on the work list */
        goc__lock_release(&c->lock);
        return;
    }
    c->parent_owner = po;
    set_link(&po->children, &c->node);
    goc__lock_release(&po->lock);
}

goc_ctx *goc_ctx_background(void) {
    return &background;
}

goc_ctx *goc_ctx_with_cancel(goc_ctx *parent) {
    goc_ctx *c = ctx_new(parent, CTX_CANCEL);
    propagate(c);
    return c;
}

/* The goroutine a deadline timer starts; it owns the timer's reference. */
static void deadline_run(void *arg) {
    goc_ctx *c = arg;
    ctx_cancel(c, ETIMEDOUT, c->deadline_cause);
    ctx_unref(c);
}

/* The timer's function: runs on a scheduler thread and must not block, so
   it hands the cancellation (which takes locks) to a goroutine, as Go's
   timerCtx does with time.AfterFunc; on a plain thread running the heaps
   while no goc_run runs, to that thread, once the timers have run. */
static void deadline_fire(goc__timer *t, void *arg) {
    (void)t;
    if (!goc__timer_defer(deadline_run, arg))
        goc_go_opts(deadline_run, arg, &(goc_go_options){.name = "context.deadline"});
}

goc_ctx *goc_ctx_with_deadline_cause(goc_ctx *parent, int64_t t, int cause) {
    if (!parent)
        goc_panic("cannot create context from nil parent");
    if (parent->deadline < t)
        return goc_ctx_with_cancel(parent); /* the parent's comes first */
    goc_ctx *c = ctx_new(parent, CTX_TIMER);
    c->deadline = t;
    c->deadline_cause = cause ? cause : ETIMEDOUT;
    propagate(c);
    if (goc_now() >= t) {
        ctx_cancel(c, ETIMEDOUT, c->deadline_cause);
    } else {
        goc__lock_acquire(&c->lock);
        if (!atomic_load_explicit(&c->err, memory_order_relaxed)) {
            ctx_ref(c); /* the timer's */
            c->timer.when = t;
            c->timer.fn = deadline_fire;
            c->timer.arg = c;
            c->timer_armed = true;
            goc__timer_add(&c->timer);
        }
        goc__lock_release(&c->lock);
    }
    return c;
}

goc_ctx *goc_ctx_with_deadline(goc_ctx *parent, int64_t t) {
    return goc_ctx_with_deadline_cause(parent, t, 0);
}

static int64_t deadline_after(goc_duration d) {
    int64_t now = goc_now();
    return d > INT64_MAX - now ? INT64_MAX - 1 : now + d;
}

goc_ctx *goc_ctx_with_timeout(goc_ctx *parent, goc_duration d) {
    return goc_ctx_with_deadline_cause(parent, deadline_after(d), 0);
}

goc_ctx *goc_ctx_with_timeout_cause(goc_ctx *parent, goc_duration d, int cause) {
    return goc_ctx_with_deadline_cause(parent, deadline_after(d), cause);
}

goc_ctx *goc_ctx_with_value(goc_ctx *parent, const void *key, void *value) {
    if (!parent)
        goc_panic("cannot create context from nil parent");
    if (!key)
        goc_panic("nil key");
    goc_ctx *c = ctx_new(parent, CTX_VALUE);
    c->key = key;
    c->value = value;
    return c;
}

goc_ctx *goc_ctx_without_cancel(goc_ctx *parent) {
    goc_ctx *c = ctx_new(parent, CTX_WITHOUT);
    c->owner = NULL;
    c->deadline = INT64_MAX;
    return c;
}

/* ------------------------------------------------------------------------ */
/* Cancel, release, references.                                             */

void goc_ctx_cancel_cause(goc_ctx *ctx, int cause) {
    if (!ctx || !cancellable(ctx))
        return;
    ctx_cancel(ctx, ECANCELED, cause ? cause : ECANCELED);
}

void goc_ctx_cancel(goc_ctx *ctx) {
    goc_ctx_cancel_cause(ctx, 0);
}

void goc_ctx_release(goc_ctx *ctx) {
    if (!ctx || ctx->kind == CTX_BACKGROUND)
        return;
    if (atomic_exchange_explicit(&ctx->released, true, memory_order_relaxed))
        goc_panic("goc_ctx_release: context released twice");
    goc_ctx_cancel(ctx);
    ctx_unref(ctx);
}

goc_ctx *goc_ctx_retain(goc_ctx *ctx) {
    if (ctx)
        ctx_ref(ctx);
    return ctx;
}

void goc_ctx_drop(goc_ctx *ctx) {
    ctx_unref(ctx);
}

/* ------------------------------------------------------------------------ */
/* Readers.                                                                 */

goc_chan *goc_ctx_done(goc_ctx *ctx) {
    goc_ctx *o = ctx ? ctx->owner : NULL;
    if (!o)
        return NULL;
    /* acquire: pairs with the release stores below and in cancel_locked */
    goc_chan *done = atomic_load_explicit(&o->done, memory_order_acquire);
    if (done)
        return done;
    goc__lock_acquire(&o->lock);
    done = atomic_load_explicit(&o->done, memory_order_relaxed);
    if (!done) {
        done = goc_chan_make(0, 0);
        atomic_store_explicit(&o->done, done, memory_order_release);
    }
    goc__lock_release(&o->lock);
    return done;
}

/* ctx's deadline has passed, and its timer may not have fired: no goc_run
   runs timers, or a goroutine keeps the only P without a switch. Cancels
   the context whose timer it is, as that timer would, and returns ctx's
   error. The caller holds a reference on ctx, and ctx on its ancestors,
   and no lock: this may yield until the timer's goroutine has run. */
static int deadline_passed(goc_ctx *ctx) {
    goc_ctx *c = ctx;
    while (c && !(c->kind == CTX_TIMER && c->deadline == ctx->deadline))
        c = c->parent;
    if (!c) /* cannot happen: a deadline comes from a timer context */
        return atomic_load_explicit(&ctx->owner->err, memory_order_acquire);
    /* Do the timer's work in its place if it has not fired: take it out of
       its heap, and its reference with it. If it has fired, its goroutine
       cancels (and drops that reference): we wait for it below. */
    goc__lock_acquire(&c->lock);
    bool armed = c->timer_armed && !atomic_load_explicit(&c->err, memory_order_relaxed);
    if (armed)
        c->timer_armed = false; /* ours now: a cancel meanwhile leaves it to us */
    goc__lock_release(&c->lock);
    if (armed && goc__timer_del(&c->timer))
        deadline_run(c); /* its reference is not the last: ctx holds one on c */
    else if (!armed)
        ctx_cancel(c, ETIMEDOUT, c->deadline_cause); /* a no-op if cancelled */
    int err;
    /* the timer's goroutine, or a canceller on another thread walking down
       to ctx, sets it soon; a goroutine lets the first run on its P */
    while (!(err = atomic_load_explicit(&ctx->owner->err, memory_order_acquire))) {
        if (goc__curg())
            goc_yield();
        else
            sched_yield();
    }
    return err;
}

/* Whether ctx's deadline has passed while its error is still unset. */
static inline bool deadline_missed(goc_ctx *ctx) {
    return GOC_UNLIKELY(ctx->deadline != INT64_MAX) &&
           !atomic_load_explicit(&ctx->owner->err, memory_order_relaxed) &&
           goc_now() >= ctx->deadline;
}

int goc_ctx_err(goc_ctx *ctx) {
    goc_ctx *o = ctx ? ctx->owner : NULL;
    if (!o)
        return 0;
    if (deadline_missed(ctx))
        return deadline_passed(ctx);
    /* acquire: pairs with cancel_locked's release store */
    return atomic_load_explicit(&o->err, memory_order_acquire);
}

int goc_ctx_cause(goc_ctx *ctx) {
    goc_ctx *o = ctx ? ctx->owner : NULL;
    if (!o || !goc_ctx_err(ctx))
        return 0;
    /* relaxed: written before err's release store, which we acquired */
    return atomic_load_explicit(&o->cause, memory_order_relaxed);
}

bool goc_ctx_deadline(goc_ctx *ctx, int64_t *t) {
    if (!ctx || ctx->deadline == INT64_MAX)
        return false;
    if (t)
        *t = ctx->deadline;
    return true;
}

void *goc_ctx_value(goc_ctx *ctx, const void *key) {
    for (goc_ctx *c = ctx; c; c = c->parent)
        if (c->kind == CTX_VALUE && c->key == key)
            return c->value;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* AfterFunc.                                                               */

static void after_unref(goc_ctx_after *a) {
    /* acq_rel: the last dropper sees the other holder's writes */
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
        return;
    ctx_unref(a->owner);
    free(a);
}

/* The goroutine of a fired registration; owns the registration's reference. */
static void after_run(void *arg) {
    goc_ctx_after *a = arg;
    a->fn(a->arg);
    after_unref(a);
}

goc_ctx_after *goc_ctx_after_func(goc_ctx *ctx, void (*fn)(void *), void *arg) {
    goc_ctx_after *a = calloc(1, sizeof *a);
    if (!a)
        goc__fatal("out of memory allocating a context AfterFunc");
    a->fn = fn;
    a->arg = arg;
    a->node.kind = NODE_AFTER;
    goc_ctx *o = ctx ? ctx->owner : NULL;
    if (!o) {
        /* Never cancelled: nothing to register; stop still reports once. */
        atomic_init(&a->refs, 1);
        return a;
    }
    atomic_init(&a->refs, 2);
    ctx_ref(o);
    a->owner = o;
    goc__lock_acquire(&o->lock);
    if (atomic_load_explicit(&o->err, memory_order_relaxed)) {
        atomic_store_explicit(&a->state, AFTER_FIRED, memory_order_relaxed);
        goc__lock_release(&o->lock);
        goc_go_opts(after_run, a, &(goc_go_options){.name = "context.AfterFunc"});
        return a;
    }
    set_link(&o->children, &a->node);
    goc__lock_release(&o->lock);
    return a;
}

bool goc_ctx_after_stop(goc_ctx_after *a) {
    goc_ctx *o = a->owner;
    int pending = AFTER_PENDING;
    if (!o)
        return atomic_compare_exchange_strong(&a->state, &pending, AFTER_STOPPED);
    goc__lock_acquire(&o->lock);
    bool stopped = atomic_load_explicit(&a->state, memory_order_relaxed) == AFTER_PENDING;
    if (stopped) {
        atomic_store_explicit(&a->state, AFTER_STOPPED, memory_order_relaxed);
        set_unlink(&a->node);
    }
    goc__lock_release(&o->lock);
    if (stopped)
        after_unref(a); /* the registration's; the caller still holds the handle's */
    return stopped;
}

void goc_ctx_after_free(goc_ctx_after *a) {
    if (a)
        after_unref(a);
}

/* ------------------------------------------------------------------------ */
/* Waiters (ctx_internal.h).                                                */

int goc__ctx_watch(goc_ctx *ctx, goc__ctx_waiter *w) {
    goc_ctx *o = ctx->owner;
    if (!o)
        return -1;
    goc__lock_acquire(&o->lock);
    int err = atomic_load_explicit(&o->err, memory_order_relaxed);
    if (!err) {
        w->owner = o;
        w->err = 0;
        w->node.kind = NODE_WAITER;
        set_link(&o->children, &w->node);
    }
    goc__lock_release(&o->lock);
    return err;
}

bool goc__ctx_unwatch(goc__ctx_waiter *w) {
    goc_ctx *o = w->owner;
    goc__lock_acquire(&o->lock);
    bool was = w->node.linked;
    if (was)
        set_unlink(&w->node);
    goc__lock_release(&o->lock);
    return was;
}

struct ctx_park {
    goc__ctx_waiter w;
    goc__parker *pk;
    int claimed_err;                /* set by the cancellation that claimed pk */
    goc_ctx *owner;
    bool (*unlock)(void *);
    void *arg;
};

/* The waiter's fn: under the owner's lock. The parked party cannot leave
   goc__ctx_park before it takes that lock in unwatch, so cp stays valid. */
static void park_wake(goc__ctx_waiter *w, int err) {
    struct ctx_park *cp = w->arg;
    if (goc__parker_claim(cp->pk)) {
        cp->claimed_err = err;
        goc__parker_wake(cp->pk);
    }
}

/* The unlock callback: the caller's unlock first, then the owner's lock, so
   whoever wakes the parker early finds it still inside goc__ctx_park. */
static bool park_unlock(void *arg) {
    struct ctx_park *cp = arg;
    goc_ctx *o = cp->owner;
    bool park = true;
    if (cp->unlock && !cp->unlock(cp->arg))
        park = !goc__parker_claim(cp->pk); /* claimed by someone else: await them */
    goc__lock_release(&o->lock);
    return park;
}

static bool unlock_and_park(void *arg) {
    struct ctx_park *cp = arg;
    if (cp->unlock)
        cp->unlock(cp->arg);
    return true;
}

int goc__ctx_park(goc_ctx *ctx, goc__parker *pk, bool (*unlock)(void *), void *arg,
                  const char *reason, int64_t deadline) {
    goc_ctx *o = ctx->owner;
    if (!o)
        return goc__parker_park(pk, unlock, arg, reason, deadline) ? 0 : -1;
    /* deadline_passed may wait for the timer's goroutine, yielding: never
       with the caller's lock held (goroutines spinning on it could keep
       every P, and that goroutine would never run). With a lock, the park
       below times out at once and does it after unlocking. */
    if (!unlock && deadline_missed(ctx))
        deadline_passed(ctx); /* then err is set: returned below */
    /* Wake at the context's deadline too, if it comes first: its timer
       may not fire in time (see deadline_passed). */
    bool ctx_first = ctx->deadline != INT64_MAX && (deadline < 0 || ctx->deadline < deadline);
    if (ctx_first)
        deadline = ctx->deadline;
    struct ctx_park cp = {.pk = pk, .owner = o, .unlock = unlock, .arg = arg};
    cp.w.fn = park_wake;
    cp.w.arg = &cp;
    goc__lock_acquire(&o->lock);
    int err = atomic_load_explicit(&o->err, memory_order_relaxed);
    if (err) {
        goc__lock_release(&o->lock);
        if (goc__parker_claim(pk)) {
            if (unlock)
                unlock(arg);
            return err;
        }
        /* Someone else claimed it and will wake it: wait for that. */
        goc__parker_park(pk, unlock_and_park, &cp, reason, -1);
        return 0;
    }
    cp.w.owner = o;
    cp.w.node.kind = NODE_WAITER;
    set_link(&o->children, &cp.w.node);
    bool in_time = goc__parker_park(pk, park_unlock, &cp, reason, deadline);
    goc__ctx_unwatch(&cp.w);
    if (cp.claimed_err)
        return cp.claimed_err;
    if (!in_time && ctx_first)
        return deadline_passed(ctx); /* we woke for the context's deadline */
    return in_time ? 0 : -1;
}

size_t goc__ctx_nchildren(goc_ctx *ctx) {
    if (!ctx || !cancellable(ctx))
        return 0;
    size_t n = 0;
    goc__lock_acquire(&ctx->lock);
    for (goc__ctx_node *x = ctx->children.next; x != &ctx->children; x = x->next)
        n++;
    goc__lock_release(&ctx->lock);
    return n;
}

/* ------------------------------------------------------------------------ */
/* Integration.                                                             */

int goc_sleep_ctx(goc_ctx *ctx, goc_duration d) {
    int err = goc_ctx_err(ctx);
    if (err)
        return err;
    if (d <= 0) {
        goc_yield();
        return 0;
    }
    int64_t now = goc_now();
    /* clamped, as goc_sleep: a timer that never fires (a pending timer, as
       in Go, not a deadlock) */
    int64_t deadline = d > INT64_MAX - now ? INT64_MAX : now + d;
    goc__parker pk;
    goc__parker_init(&pk);
    int r = goc__ctx_park(ctx, &pk, NULL, NULL, "sleep", deadline);
    return r > 0 ? r : 0;
}
