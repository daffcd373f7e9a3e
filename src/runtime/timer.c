/* Timers: a 4-ary min-heap per P, ordered by when.
 *
 * A goroutine adds its timers to its own P's heap, a plain thread to P 0's;
 * the timers of a P retired by goc_maxprocs move to P 0's (goc__timers_move).
 * Each P runs its due timers at every switch (after the switch's own step)
 * and from its scheduler loop; an M that finds no work steals due timers
 * from every P, and idle Ms sleep until the earliest timer of all.
 *
 * Invariants:
 * - t->idx (its entry in the P's ref table) and t->p change only under the
 *   heap's timers_lock; t->p is NULL exactly when t is in no heap, and then
 *   t->idx is -1.
 * - A heap slot's when equals its timer's when: when changes only while the
 *   timer is in no heap, or under the lock with the slot (a periodic re-arm).
 * - p->timer0 is the when of the heap's root, or INT64_MAX when empty; it is
 *   written under the lock and read without it (a hint, re-checked under it).
 * - A one-shot timer leaves the heap before its fn runs; a periodic one is
 *   re-armed first. t->running is set under the lock before the lock is
 *   dropped to run fn, and cleared after fn returns: goc__timer_del waits for
 *   it, so after del returns the timer's memory is the caller's again.
 *   A timer's fn never runs twice at once: a periodic timer that comes due
 *   while its fn still runs on another M is re-armed without running.
 */
#include "runtime/internal.h"
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define HEAP_ARITY 4 /* as Go: shallower than binary, and siftdown stays cheap */
#define HEAP_PAD 3   /* slots before the heap's first: see struct goc__timer_slot */

/* A heap entry keeps its timer's when and the number of its ref, never a
   pointer to the timer: a sift reads and writes only the heap array and the
   dense ref table, never the timers themselves, which live on goroutine
   stacks, a page (and a TLB miss) each. With 100,000 sleeping goroutines
   (W9) the sifts took a third of the run when they compared through the
   pointers, and a fifth when they still stored each moved timer's heap
   index in the timer. The four children of a node share one 64-byte line:
   the array starts HEAP_PAD slots into a 64-byte-aligned block, so slot
   4i+1 is aligned. */
struct goc__timer_slot {
    int64_t when;  /* == the timer's when */
    int32_t ref;   /* its entry in p->timer_refs */
    int32_t unused;
};

/* A timer's entry in its P's ref table: t->idx names it, and it holds the
   timer's place in the heap. Free entries are chained through pos, so the
   free list holds exactly timers_cap - ntimers entries. */
struct goc__timer_ref {
    goc__timer *t;
    int32_t pos;   /* heap index; for a free entry, the next free one or -1 */
    int32_t unused;
};

static inline void heap_set(goc__p *p, int i, struct goc__timer_slot s) {
    p->timers[i] = s;
    p->timer_refs[s.ref].pos = i;
}

static void sift_up(goc__p *p, int i) {
    struct goc__timer_slot s = p->timers[i];
    while (i > 0) {
        int parent = (i - 1) / HEAP_ARITY;
        if (p->timers[parent].when <= s.when)
            break;
        heap_set(p, i, p->timers[parent]);
        i = parent;
    }
    heap_set(p, i, s);
}

static void sift_down(goc__p *p, int i) {
    int n = p->ntimers;
    struct goc__timer_slot s = p->timers[i];
    for (;;) {
        int c = i * HEAP_ARITY + 1;
        if (c >= n)
            break;
        int best = c;
        for (int k = c + 1; k < c + HEAP_ARITY && k < n; k++)
            if (p->timers[k].when < p->timers[best].when)
                best = k;
        if (p->timers[best].when >= s.when)
            break;
        heap_set(p, i, p->timers[best]);
        i = best;
    }
    heap_set(p, i, s);
}

static void update_timer0(goc__p *p) {
    atomic_store(&p->timer0, p->ntimers ? p->timers[0].when : INT64_MAX);
}

static inline goc__timer *heap_timer(goc__p *p, int i) {
    return p->timer_refs[p->timers[i].ref].t;
}

/* Chains every ref from first on as free (the heap holds none of them). */
static void refs_free_from(goc__p *p, int first) {
    for (int r = first; r < p->timers_cap; r++) {
        p->timer_refs[r].t = NULL;
        p->timer_refs[r].pos = r + 1 < p->timers_cap ? r + 1 : -1;
    }
    p->timer_ref_free = first < p->timers_cap ? first : -1;
}

/* Frees ref r, whose timer has left the heap, and marks the timer as in no
   heap (lock held). */
static void ref_release(goc__p *p, int r) {
    goc__timer *t = p->timer_refs[r].t;
    p->timer_refs[r].t = NULL;
    p->timer_refs[r].pos = p->timer_ref_free;
    p->timer_ref_free = r;
    t->idx = -1;
    /* release: pairs with del's acquire load; a running flag set before
       this is then visible to del */
    atomic_store_explicit(&t->p, NULL, memory_order_release);
}

/* Removes the timer at index i (lock held). */
static void heap_remove(goc__p *p, int i) {
    int r = p->timers[i].ref;
    int last = --p->ntimers;
    if (i != last) {
        heap_set(p, i, p->timers[last]);
        sift_down(p, i);
        sift_up(p, p->timer_refs[p->timers[last].ref].pos);
    }
    ref_release(p, r);
}

/* Doubles p's heap and ref table (lock held; both full). */
static void heap_grow(goc__p *p) {
    int old = p->timers_cap;
    int cap = old ? old * 2 : 64;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, (size_t)(cap + HEAP_PAD) * sizeof(struct goc__timer_slot)) != 0)
        goc__fatal("out of memory growing a timer heap");
    struct goc__timer_slot *h = (struct goc__timer_slot *)mem + HEAP_PAD;
    if (p->ntimers)
        memcpy(h, p->timers, (size_t)p->ntimers * sizeof *h);
    struct goc__timer_ref *refs = realloc(p->timer_refs, (size_t)cap * sizeof *refs);
    if (!refs)
        goc__fatal("out of memory growing a timer heap");
    free(p->timers_mem);
    p->timers_mem = mem;
    p->timers = h;
    p->timer_refs = refs;
    p->timers_cap = cap;
    refs_free_from(p, old); /* the old refs are all in use: the heap was full */
}

static goc__p *timer_home(void) {
    goc__p *p = goc__own_p(goc__getm());
    if (p)
        return p;
    goc__runtime_init();
    return goc__sched.allp[0];
}

/* Inserts t into p's heap (p's lock held). */
static void heap_insert(goc__p *p, goc__timer *t) {
    if (p->ntimers == p->timers_cap)
        heap_grow(p);
    int r = p->timer_ref_free;
    p->timer_ref_free = p->timer_refs[r].pos;
    int i = p->ntimers++;
    p->timer_refs[r].t = t;
    p->timers[i] = (struct goc__timer_slot){.when = t->when, .ref = r};
    p->timer_refs[r].pos = i;
    t->idx = r;
    atomic_store_explicit(&t->p, p, memory_order_relaxed);
    sift_up(p, i);
}

void goc__timer_add(goc__timer *t) {
    goc__p *p = timer_home();
    goc__lock_acquire(&p->timers_lock);
    heap_insert(p, t);
    bool earliest = p->timer_refs[t->idx].pos == 0;
    /* Read under the lock: once it is released, a periodic timer may fire
       and be re-armed (t->when written) on another thread. */
    int64_t when = t->when;
    if (earliest)
        update_timer0(p);
    goc__lock_release(&p->timers_lock);
    if (earliest)
        goc__timers_wake(when);
}

static void wait_not_running(goc__timer *t) {
    while (atomic_load_explicit(&t->running, memory_order_acquire))
        sched_yield();
}

bool goc__timer_del(goc__timer *t) {
    for (;;) {
        goc__p *p = atomic_load_explicit(&t->p, memory_order_acquire);
        if (!p) {
            /* Not in a heap. Its fn may still be running: wait. The runner
               sets the running flag before it clears t->p (release), so
               having read NULL (acquire) we see the flag. */
            wait_not_running(t);
            return false;
        }
        goc__lock_acquire(&p->timers_lock);
        if (atomic_load_explicit(&t->p, memory_order_relaxed) != p) {
            goc__lock_release(&p->timers_lock);
            continue;
        }
        heap_remove(p, p->timer_refs[t->idx].pos);
        update_timer0(p);
        goc__lock_release(&p->timers_lock);
        wait_not_running(t); /* a periodic timer is re-armed before its fn runs */
        return true;
    }
}

bool goc__timer_mod(goc__timer *t, int64_t when, int64_t period) {
    bool pending = goc__timer_del(t);
    t->when = when;
    t->period = period;
    goc__timer_add(t);
    return pending;
}

/* Firing a timer is mostly waiting for memory: a sleeping goroutine's timer
   lies in one of its frames, with the frames it will return through and
   its saved context below it and its G record above, on a page last
   touched when it went to sleep (with 100,000 sleepers, W9, a cache and TLB
   miss each time). Fired one after the other, those misses came one after
   the other. So before firing, the runner starts loading the neighbourhood
   of the next few due timers, found in the heap's top levels (a due slot's
   parent is due too): the misses overlap, and the firing of each finds its
   memory arriving (W9 on one thread: spawning 400 to 315 ms with the
   prefetch in parker_timeout). For a timer outside a goroutine's stack the
   lines around it are only wasted loads. */
#define AHEAD_TIMERS 8     /* due timers prefetched at once */
#define AHEAD_SLOTS 21     /* the heap's first three levels */
#define NEAR_BELOW 7       /* lines prefetched below a timer: the frames under it */
#define NEAR_ABOVE 6       /* and above it: the rest of its frame, the G record */

/* Prefetches around the due timers in the heap's top levels after the
   root (lock held); returns how many. */
static int prefetch_due(goc__p *p, int64_t now) {
    int lim = p->ntimers < AHEAD_SLOTS ? p->ntimers : AHEAD_SLOTS, k = 0;
    for (int i = 1; i < lim && k < AHEAD_TIMERS; i++) {
        if (p->timers[i].when > now)
            continue;
        uintptr_t t = (uintptr_t)heap_timer(p, i);
        for (int l = -NEAR_BELOW; l < NEAR_ABOVE; l++)
            __builtin_prefetch((const void *)(t + 64 * (uintptr_t)(intptr_t)l), 1);
        k++;
    }
    return k;
}

int64_t goc__timers_run(goc__p *p, int64_t now) {
    if (atomic_load_explicit(&p->timer0, memory_order_relaxed) > now)
        return atomic_load_explicit(&p->timer0, memory_order_relaxed);
    goc__lock_acquire(&p->timers_lock);
    int ahead = 0; /* fires left before prefetching again */
    while (p->ntimers > 0 && p->timers[0].when <= now) {
        /* Again after half of those prefetched have fired: their
           successors have come up into the top levels. */
        if (--ahead <= 0)
            ahead = prefetch_due(p, now) / 2;
        goc__timer *t = heap_timer(p, 0);
        if (t->period > 0) {
            /* Re-arm at the next multiple of the period after now: ticks a
               slow reader misses are dropped, not queued. */
            int64_t missed = (now - t->when) / t->period;
            t->when += (missed + 1) * t->period;
            p->timers[0].when = t->when;
            sift_down(p, 0);
            /* Its function may still be running from an earlier tick: on
               another M that ran this heap's timers too (a thief, or the
               owner of a P that goc_maxprocs retired, whose timers moved
               here meanwhile). Never two at once: del's wait for the flag
               would end while one still ran. This tick is dropped, as a slow
               reader's is. A set flag is seen: it was set under this heap's
               lock, or under the retired P's, which the move held before it
               took this one. acquire: a clear flag read here orders the
               other M's last write to t before ours (del, which syncs with
               our clear, then knows t idle). */
            if (atomic_load_explicit(&t->running, memory_order_acquire)) {
                update_timer0(p);
                continue;
            }
            atomic_store_explicit(&t->running, 1, memory_order_relaxed);
        } else {
            /* Before it leaves the heap: del, finding t->p NULL (stored
               with release there), must see the flag and wait. */
            atomic_store_explicit(&t->running, 1, memory_order_relaxed);
            heap_remove(p, 0);
        }
        update_timer0(p);
        void (*fn)(goc__timer *, void *) = t->fn;
        void *arg = t->arg;
        goc__lock_release(&p->timers_lock);
        fn(t, arg);
        /* release: whoever waits in del sees everything fn did */
        atomic_store_explicit(&t->running, 0, memory_order_release);
        goc__lock_acquire(&p->timers_lock);
    }
    int64_t next = p->ntimers ? p->timers[0].when : INT64_MAX;
    goc__lock_release(&p->timers_lock);
    return next;
}

/* Moves every timer of from (a P beyond GOMAXPROCS, which nobody runs any
   more) into to's heap, as Go's procresize does; returns the earliest when
   moved, or INT64_MAX. Lock order: from, then to; to is always P 0, which
   is never retired, so two moves cannot wait for each other. */
int64_t goc__timers_move(goc__p *from, goc__p *to) {
    goc__lock_acquire(&from->timers_lock);
    if (from->ntimers == 0) {
        goc__lock_release(&from->timers_lock);
        return INT64_MAX;
    }
    int64_t earliest = from->timers[0].when;
    goc__lock_acquire(&to->timers_lock);
    for (int k = 0; k < from->ntimers; k++) {
        /* a del waiting on from's lock re-reads t->p and follows it */
        heap_insert(to, heap_timer(from, k));
    }
    from->ntimers = 0;
    refs_free_from(from, 0);
    update_timer0(from);
    update_timer0(to);
    goc__lock_release(&to->timers_lock);
    goc__lock_release(&from->timers_lock);
    return earliest;
}

int64_t goc__timers_earliest(void) {
    int64_t e = INT64_MAX;
    int n = atomic_load(&goc__sched.nallp);
    for (int i = 0; i < n; i++) {
        int64_t w = atomic_load(&goc__sched.allp[i]->timer0);
        if (w < e)
            e = w;
    }
    return e;
}

int64_t goc__timers_count(void) {
    int64_t c = 0;
    int n = atomic_load(&goc__sched.nallp);
    for (int i = 0; i < n; i++) {
        goc__p *p = goc__sched.allp[i];
        goc__lock_acquire(&p->timers_lock);
        c += p->ntimers;
        goc__lock_release(&p->timers_lock);
    }
    return c;
}

/* Keeps the timers for which drop is false: compacts the heap array, then
   rebuilds the heap bottom up (O(n), no allocation under the lock). */
void goc__timers_drop(goc__p *p, bool (*drop)(goc__timer *)) {
    goc__lock_acquire(&p->timers_lock);
    int n = 0;
    for (int i = 0; i < p->ntimers; i++) {
        struct goc__timer_slot s = p->timers[i];
        if (drop(p->timer_refs[s.ref].t))
            ref_release(p, s.ref);
        else
            heap_set(p, n++, s);
    }
    p->ntimers = n;
    for (int i = (n - 2) / HEAP_ARITY; n > 1 && i >= 0; i--)
        sift_down(p, i);
    update_timer0(p);
    goc__lock_release(&p->timers_lock);
}
