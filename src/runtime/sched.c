/* The scheduler: goroutines (G) on threads (M) that hold processors (P).
 *
 * Go's design (src/runtime/proc.go), rebuilt for C:
 * - Each P has a 256-slot lock-free ring and a runnext slot for the G that
 *   the running G just made ready. Unlike Go, the owner takes the newest G
 *   of its ring first (depth first: trees of goroutines stay small), while
 *   readied and yielding Gs queue at the head and take turns in FIFO order,
 *   and when the G first in line has waited 10 ms, runnext goes to the back
 *   of the line (see find_local). A G that due timers ready keeps runnext
 *   against the running G's readies (put_local), since timers run just
 *   after a pick where Go runs them just before. Thieves take the oldest
 *   half. A locked
 *   global queue takes overflow and goroutines started from plain threads;
 *   it is checked every 61 ticks.
 * - An M with no work steals half of a random victim's ring (runnext
 *   alone, and a short ring after a steal that bought nothing, only from an
 *   owner that is slow to get to it); at most GOMAXPROCS/2 Ms spin looking
 *   for work; the rest sleep on a futex.
 * - Switching is direct, goroutine to goroutine. What Go does on g0 after a
 *   switch (release the lock of a park, queue a yielding G, free an exited G)
 *   is the "after" step: the switching side stores it in its M and the side
 *   that resumes runs it first thing, once the old context is fully saved.
 * - goc_run's caller does not run goroutines: it waits for the main
 *   goroutine, so goc_run returns as soon as main does, as a Go program ends.
 * - sysmon (a thread, asleep while every P is idle) wakes Ms for queued
 *   work, takes the P of a blocking section that lasts over 20 us, polls the
 *   network when nobody has, trims pooled stacks, and re-checks for deadlock
 *   when plain threads start waiting (and every 100 ms while only threads
 *   goc does not know of rule a deadlock out).
 * - A goroutine of a goc_run that has returned (an older epoch) is
 *   abandoned: it is never made ready again, a yield drops it, a channel
 *   drops its waiters, the next goc_run drops its sleep timers, and its
 *   descriptor waits no longer count (per-epoch counts). A G started after
 *   main returned has the new epoch and is kept for the next run.
 * - Between runs no M runs timers (idle Ms sleep with no deadline; a run
 *   wakes one for the earliest); a plain thread that blocks while no run
 *   runs fires them itself (run_timers_unscheduled).
 * - During a run, an idle M that wakes for a due timer and finds every P
 *   busy sleeps with no deadline (the busy Ps run their timers at their
 *   switches): whoever idles a P with timers pending covers them, an M
 *   entering stopm with their deadline, or sysmon handing a retaken P to
 *   an M.
 *
 * Invariants:
 * - A G runs on at most one M; an M runs Gs only while it holds a P (a G
 *   inside goc_blocking_begin/end may have lent its P away: it then queues
 *   work globally, and takes a P back before it parks or leaves the section).
 * - A G in a run queue has status G_RUNNABLE and a saved context.
 * - G status moves RUNNABLE -> RUNNING -> (WAITING | RUNNABLE | DEAD); only
 *   a CAS from WAITING makes a parked G runnable, so a double ready is inert.
 * - Gs are never freed: a finished G keeps its stack and waits in a free list.
 * - sched.lock guards the global run queue (a ring of G pointers), the idle P
 *   and M lists, and an idle M's park word; it is never held across a
 *   switch. The all-G list is push-only and lock-free.
 */
#include "runtime/internal.h"
#include "arch/switch.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#if GOC_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if GOC_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
void __tsan_set_fiber_name(void *fiber, const char *name);
#endif

#define RUNNEXT_GRACE_NS 3000 /* as Go: how long a thief leaves a busy P's runnext alone */
#define SPIN_ROUNDS 4           /* as Go: steal attempts over all Ps before giving up */
/* Stealing short rings (runq_grab): */
#define SMALL_RING 4            /* a ring this short ... */
#define FRUITLESS_SWITCHES 4    /* ... after a steal whose Gs ran for fewer switches than this */
#define FRUITLESS_NS 3000       /* ... and less time than this ... */
#define RELUCTANT_ROUNDS 64     /* ... is left to a fast owner this many times ... */
#define RELUCTANT_NS 10000000   /* ... within this time ... */
#define FAST_SWITCHES 8         /* ... (one switching this often during the thief's nap) ... */
#define QUIET_SWITCHES 4096     /* ... who then calls no thief for it for this many switches */
#define GFREE_LOCAL_MAX 64      /* free Gs kept per P before half move to the global list */
#define GOID_BATCH 16           /* as Go: ids handed to a P at a time */

goc__sched_t goc__sched;

/* ------------------------------------------------------------------------ */
/* Thread-local M, read through an accessor the compiler cannot cache.       */

#if defined(__x86_64__)
/* Read by the inline goc__getm (internal.h), from an asm string: used, or
   LTO would drop it. */
__attribute__((used)) __thread goc__m *goc__tls_m __attribute__((tls_model("initial-exec")));
#else
static __thread goc__m *goc__tls_m;

__attribute__((noinline)) goc__m *goc__getm(void) {
    goc__m *m = goc__tls_m;
    __asm__ volatile("" : "+r"(m)::"memory");
    return m;
}
#endif

__attribute__((noinline)) static void set_m(goc__m *m) {
    goc__tls_m = m;
    __asm__ volatile("" ::: "memory");
}

goc__g *goc__curg(void) {
    goc__m *m = goc__getm();
    return m ? m->curg : NULL;
}

static inline int64_t coarse_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t goc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Random numbers: wyrand per M (or per thread for plain threads).          */

static __thread uint64_t tls_rand;

uint64_t goc__fastrand64(void) {
    goc__m *m = goc__getm();
    if (m && m->p && goc__debug.shuffle)
        return goc__wyrand(&m->p->shuffle_state);
    if (m)
        return goc__wyrand(&m->rand);
    if (tls_rand == 0)
        tls_rand = (uint64_t)(uintptr_t)&tls_rand ^ (uint64_t)goc_now();
    return goc__wyrand(&tls_rand);
}

uint32_t goc__fastrand(void) {
    return (uint32_t)goc__fastrand64();
}

uint32_t goc__fastrandn(uint32_t n) {
    return goc__randn(goc__fastrand(), n);
}

/* ------------------------------------------------------------------------ */
/* The switch, with what the sanitizers must be told around it.             */

static inline __attribute__((always_inline)) void switch_to(goc__g *from, goc__g *to) {
#if GOC_ASAN
    bool exiting = atomic_load_explicit(&from->status, memory_order_relaxed) == G_DEAD;
    __sanitizer_start_switch_fiber(exiting ? NULL : &from->asan_fake, to->stack_lo,
                                   (size_t)(to->stack_hi - to->stack_lo));
#endif
#if GOC_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    goc__switch_ctx(&from->sp, to->sp);
#if GOC_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
}

/* Runs p's due timers on m, marking what they ready as urgent (see
   queue_readied). */
static inline int64_t run_timers(goc__m *m, goc__p *p, int64_t now) {
    m->in_timers = true;
    int64_t next = goc__timers_run(p, now);
    m->in_timers = false;
    return next;
}

/* Runs the step the previous context left for us (see the file comment),
   then this P's due timers: only here, after the step, are the locks of a
   parking goroutine released, which a timer's function may need. */
static inline void run_after(goc__m *m) {
    goc__after_fn f = m->after;
    if (f) {
        m->after = NULL;
        m->in_step++;
        f(m, m->after_g, m->after_arg);
        m->in_step--;
    }
    goc__p *p = m->p;
    if (p && GOC_UNLIKELY(atomic_load_explicit(&p->timer0, memory_order_relaxed) != INT64_MAX)) {
        m->in_step++;
        run_timers(m, p, goc_now());
        m->in_step--;
    }
}

/* ------------------------------------------------------------------------ */
/* Global run queue (sched.lock held). */

/* The capacity is a power of two (indices wrap with a mask); runq_size is
   written only under the lock, so plain stores do (others read it as a hint). */
static inline void globrunq_set_size(uint32_t n) {
    atomic_store_explicit(&goc__sched.runq_size, (int)n, memory_order_relaxed);
}

static inline uint32_t globrunq_size(void) {
    return (uint32_t)atomic_load_explicit(&goc__sched.runq_size, memory_order_relaxed);
}

static void globrunq_grow(uint32_t need) {
    uint32_t size = globrunq_size();
    if (size + need <= goc__sched.runq_cap)
        return;
    uint32_t cap = goc__sched.runq_cap ? goc__sched.runq_cap : 1024;
    while (cap < size + need)
        cap *= 2;
    goc__g **q = malloc(cap * sizeof *q);
    if (!q)
        goc__fatal_nodump("out of memory growing the global run queue");
    for (uint32_t i = 0; i < size; i++)
        q[i] = goc__sched.runq[(goc__sched.runq_first + i) & (goc__sched.runq_cap - 1)];
    free(goc__sched.runq);
    goc__sched.runq = q;
    goc__sched.runq_cap = cap;
    goc__sched.runq_first = 0;
}

static void globrunq_putbatch(goc__g **batch, uint32_t n) {
    globrunq_grow(n);
    uint32_t size = globrunq_size(), mask = goc__sched.runq_cap - 1;
    for (uint32_t i = 0; i < n; i++)
        goc__sched.runq[(goc__sched.runq_first + size + i) & mask] = batch[i];
    globrunq_set_size(size + n);
}

static void globrunq_put(goc__g *g) {
    globrunq_putbatch(&g, 1);
}

/* Puts g at the front (the main goroutine runs first). */
static void globrunq_push_front(goc__g *g) {
    globrunq_grow(1);
    goc__sched.runq_first = (goc__sched.runq_first - 1) & (goc__sched.runq_cap - 1);
    goc__sched.runq[goc__sched.runq_first] = g;
    globrunq_set_size(globrunq_size() + 1);
}

static goc__g *globrunq_pop(void) {
    goc__g *g = goc__sched.runq[goc__sched.runq_first];
    goc__sched.runq_first = (goc__sched.runq_first + 1) & (goc__sched.runq_cap - 1);
    globrunq_set_size(globrunq_size() - 1);
    return g;
}

/* Drops the Gs of runs that have ended; keeps those of the current epoch
   (started since main returned, the next run's), in order. */
static void globrunq_clear(void) {
    uint32_t e = atomic_load(&goc__sched.epoch);
    /* each G once round the ring: a kept one goes back at the tail (the
       queue only shrinks, so it never grows the ring) */
    for (uint32_t n = globrunq_size(); n > 0; n--) {
        goc__g *g = globrunq_pop();
        if (g->epoch == e)
            globrunq_put(g);
    }
}

static bool runq_put_tail(goc__p *p, goc__g *g);

/* Takes up to max Gs (0: a fair share) from the global queue: returns one,
   puts the rest in p's ring. */
static goc__g *globrunq_get(goc__p *p, int max) {
    int size = atomic_load_explicit(&goc__sched.runq_size, memory_order_relaxed);
    if (size == 0)
        return NULL;
    int gmp = atomic_load_explicit(&goc__sched.gomaxprocs, memory_order_relaxed);
    int n = size / gmp + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > GOC_RUNQ_SIZE / 2)
        n = GOC_RUNQ_SIZE / 2;
    goc__g *g = globrunq_pop();
    for (n--; n > 0; n--)
        runq_put_tail(p, globrunq_pop());
    return g;
}

/* ------------------------------------------------------------------------ */
/* Per-P run queue: Go's lock-free single-producer multi-consumer ring.     */

/* Whether the owner of p may use plain loads and stores on its queue. */
static inline bool p_solo(goc__p *p) {
    return atomic_load_explicit(&p->solo, memory_order_relaxed);
}

/* Owner side, at a switch: follows GOMAXPROCS into or out of solo mode. */
static void p_update_solo(goc__p *p, bool solo) {
    if (solo) {
        /* Dekker with the thieves' increment: either a thief sees solo and
           backs off, or we see it inside and wait for it to leave. */
        atomic_store_explicit(&p->solo, true, memory_order_seq_cst);
        while (atomic_load_explicit(&p->nthieves, memory_order_seq_cst) != 0)
            sched_yield(); /* a thief holds it for a few loads */
    } else {
        atomic_store_explicit(&p->solo, false, memory_order_release);
    }
}

/* The ring's state is one word, so that every consumer's CAS checks all of
   it: head (bits 0-15) and tail (16-31) are indices mod 65536 (the slot is
   the index mod 256), and the tag (32-63) changes at every owner operation
   that can bring head and tail back to values a thief may have read: a pop
   at the tail, a push at the head, and (by carry) the tail's wrap. So a
   thief's CAS succeeds only if the ring is exactly as it read it (no ABA). */
#define RQ_HEAD(w) ((uint32_t)(w)&0xFFFFu)
#define RQ_TAIL(w) ((uint32_t)((w) >> 16) & 0xFFFFu)
#define RQ_TAG(w) ((uint32_t)((w) >> 32))
#define RQ_LEN(w) ((RQ_TAIL(w) - RQ_HEAD(w)) & 0xFFFFu)
#define RQ_SLOT(p, i) (&(p)->runq[(i) % GOC_RUNQ_SIZE])

static inline uint64_t rq_make(uint32_t h, uint32_t t, uint32_t tag) {
    return ((uint64_t)tag << 32) | ((uint64_t)(t & 0xFFFFu) << 16) | (h & 0xFFFFu);
}

/* Owner side: replaces w by nw. Solo, a store; else a CAS that fails if a
   thief took from the head meanwhile (the caller then starts over).
   release: a thief that reads nw sees the slots written before it. */
static inline bool rq_update(goc__p *p, uint64_t w, uint64_t nw) {
    if (p_solo(p)) {
        atomic_store_explicit(&p->runqw, nw, memory_order_release);
        return true;
    }
    return atomic_compare_exchange_strong_explicit(&p->runqw, &w, nw, memory_order_acq_rel,
                                                   memory_order_relaxed);
}

/* Owner side: puts g (or NULL) in runnext and returns what was there. Solo,
   plain loads and stores. Else an exchange when runnext holds a G, which a
   thief may be taking at the same moment (runq_grab's last resort); but an
   empty runnext only the owner can fill (a thief only empties a full one),
   so there a release store does: a hand-off into an empty runnext costs no
   locked instruction (W3 on two threads: one of its two per hand-off). */
static inline goc__g *runnext_swap(goc__p *p, goc__g *g) {
    goc__g *old = atomic_load_explicit(&p->runnext, memory_order_relaxed);
    if (p_solo(p) || !old) {
        atomic_store_explicit(&p->runnext, g, memory_order_release);
        return old;
    }
    return atomic_exchange_explicit(&p->runnext, g, memory_order_acq_rel);
}

/* Notes when g entered a ring, for the fairness rule (find_local). */
static inline void stamp_queued(goc__g *g) {
    atomic_store_explicit(&g->runq_at,
                          atomic_load_explicit(&goc__sched.coarse_clock, memory_order_relaxed),
                          memory_order_relaxed);
}

/* Moves the older half of a full ring and g to the global queue. */
static bool runq_put_slow(goc__p *p, goc__g *g, uint64_t w) {
    goc__g *batch[GOC_RUNQ_SIZE / 2 + 1];
    uint32_t h = RQ_HEAD(w), n = RQ_LEN(w) / 2;
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(RQ_SLOT(p, h + i), memory_order_relaxed);
    if (!rq_update(p, w, rq_make(h + n, RQ_TAIL(w), RQ_TAG(w))))
        return false;
    batch[n] = g;
    goc__lock_acquire(&goc__sched.lock);
    globrunq_putbatch(batch, n + 1);
    goc__lock_release(&goc__sched.lock);
    return true;
}

/* Puts g at the tail of p's ring (or half the ring in the global queue).
   Returns true when the ring had to overflow. */
static bool runq_put_tail(goc__p *p, goc__g *g) {
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_acquire);
        if (RQ_LEN(w) < GOC_RUNQ_SIZE) {
            stamp_queued(g);
            /* the slot past the tail: only the owner writes there */
            atomic_store_explicit(RQ_SLOT(p, RQ_TAIL(w)), g, memory_order_relaxed);
            /* only the owner moves the tail, so an add publishes it whatever
               thieves did to the head meanwhile (a wrap carries into the tag) */
            if (p_solo(p))
                atomic_store_explicit(&p->runqw, w + (1u << 16), memory_order_release);
            else
                atomic_fetch_add_explicit(&p->runqw, (uint64_t)1 << 16, memory_order_release);
            return false;
        }
        if (runq_put_slow(p, g, w))
            return true;
    }
}

/* Puts g at the head of p's ring: behind everything queued (a yield).
   Returns false when the ring is full. */
static inline __attribute__((always_inline)) bool runq_put_head(goc__p *p, goc__g *g) {
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_acquire);
        if (RQ_LEN(w) >= GOC_RUNQ_SIZE)
            return false;
        uint32_t h = RQ_HEAD(w) - 1;
        stamp_queued(g);
        /* free (the ring is not full); a thief that still reads it from a
           stale view fails its CAS, since the tag changes */
        atomic_store_explicit(RQ_SLOT(p, h), g, memory_order_relaxed);
        if (rq_update(p, w, rq_make(h, RQ_TAIL(w), RQ_TAG(w) + 1)))
            return true;
    }
}

/* Puts g in p's queue; with next, in the runnext slot, and the old occupant
   goes to the ring. A new goroutine (spawn) goes to the tail, which the
   owner takes first: work started last runs first (depth first). A readied
   one goes to the head: readied goroutines take turns in the order they
   were readied, as in Go, after the spawned ones. Returns true when there
   is more queued work than runnext. */
static bool runq_put(goc__p *p, goc__g *g, bool next, bool spawned) {
    if (goc__debug.shuffle && (goc__wyrand(&p->shuffle_state) & 1))
        next = !next;
    if (next) {
        g = runnext_swap(p, g);
        if (!g)
            return RQ_LEN(atomic_load_explicit(&p->runqw, memory_order_relaxed)) != 0;
    }
    if (spawned || !runq_put_head(p, g))
        runq_put_tail(p, g); /* a full ring overflows from the tail */
    return true;
}

/* The newest G of the ring (the owner works depth first: what a goroutine
   just started or displaced runs before older work, which keeps the
   working set, and the stacks in use, small). */
static inline __attribute__((always_inline)) goc__g *runq_pop_tail(goc__p *p) {
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_acquire);
        if (RQ_LEN(w) == 0)
            return NULL;
        uint32_t t = RQ_TAIL(w) - 1;
        goc__g *g = atomic_load_explicit(RQ_SLOT(p, t), memory_order_relaxed);
        if (rq_update(p, w, rq_make(RQ_HEAD(w), t, RQ_TAG(w) + 1)))
            return g;
    }
}

/* Owner: moves the G in runnext, if any, to the back of the ring's line. */
static void demote_runnext(goc__p *p) {
    goc__g *g = runnext_swap(p, NULL);
    if (g && !runq_put_head(p, g))
        runq_put_tail(p, g); /* a full ring overflows from the tail */
}

static inline __attribute__((always_inline)) goc__g *runq_get(goc__p *p) {
    /* look first: an empty runnext costs no locked instruction */
    if (atomic_load_explicit(&p->runnext, memory_order_relaxed)) {
        goc__g *next = runnext_swap(p, NULL); /* NULL if a thief was first */
        if (next)
            return next;
    }
    return runq_pop_tail(p);
}

/* Whether p's ring holds more than a thief leaves to a busy owner (a hint). */
static bool runq_long(goc__p *p) {
    return RQ_LEN(atomic_load_explicit(&p->runqw, memory_order_acquire)) > SMALL_RING;
}

/* Whether a thief lately found p switching too fast to rob of a short
   ring (see runq_grab): schedtick is within QUIET_SWITCHES below
   quiet_until (modulo 2^32: a stale mark is far off, not in the window;
   the owner clears one it finds stale, so it cannot come round again). */
static bool p_quiet(goc__p *p) {
    uint32_t left = atomic_load_explicit(&p->quiet_until, memory_order_relaxed) -
                    atomic_load_explicit(&p->schedtick, memory_order_relaxed);
    return left - 1 < QUIET_SWITCHES;
}

/* p_quiet for p's owner, which also clears a stale mark. */
static bool p_quiet_owner(goc__p *p) {
    if (p_quiet(p))
        return true;
    if (atomic_load_explicit(&p->quiet_until, memory_order_relaxed) != 0)
        atomic_store_explicit(&p->quiet_until, 0, memory_order_relaxed);
    return false;
}

/* Owner: whether p's last steal bought nothing, lately (see findrunnable). */
static bool p_reluctant(goc__p *p, int64_t now) {
    return p->reluctant > 0 && now < p->reluctant_until;
}

/* Whether p's ring is one a thief should come for: long, or short but not
   marked quiet (runq_grab). */
static bool runq_wants_thief(goc__p *p) {
    uint32_t len = RQ_LEN(atomic_load_explicit(&p->runqw, memory_order_acquire));
    return len > SMALL_RING || (len != 0 && !p_quiet(p));
}

/* Whether p has nothing queued (a hint, for other threads too). */
static bool runq_empty(goc__p *p) {
    return RQ_LEN(atomic_load_explicit(&p->runqw, memory_order_acquire)) == 0 &&
           atomic_load_explicit(&p->runnext, memory_order_acquire) == NULL;
}

/* Sleeps RUNNEXT_GRACE_NS (the Ms' timer slack is 1 ns) and returns how
   many times victim's owner switched meanwhile. Asleep, not spinning: a
   spinning vCPU slows its sibling, the owner (W7 on two threads went from
   21 to 27 ns a lock when this spun). */
static uint32_t victim_switches_in_nap(goc__p *victim) {
    uint32_t tick = atomic_load_explicit(&victim->schedtick, memory_order_relaxed);
    struct timespec ts = {0, RUNNEXT_GRACE_NS};
    nanosleep(&ts, NULL);
    return atomic_load_explicit(&victim->schedtick, memory_order_relaxed) - tick;
}

/* Grabs half of victim's ring into batch starting at batch_head (thief side).

   A reluctant thief (see findrunnable) treats a short ring (at most
   SMALL_RING) as runnext: it takes it only on the last round (steal_next),
   and only if its owner switched fewer than FAST_SWITCHES times while we
   napped (3 us asked, 16 us on average on this VM). The case: W6's
   consumer selects over four producers, each of which sends once and
   blocks again. Each value it takes readies a producer into its ring; a
   thief takes it, it sends once on the other P and blocks, the consumer
   finds a value waiting and never parks, and every message crosses cores
   twice (W6 on two threads: 500,000 steals, each followed by two or three
   switches, and 250 ns a message, against 82 with one thread). Left alone,
   the group runs on one P (85 ns). A pipeline's stolen stages (W10) keep
   talking to each other on the thief's P, hundreds of switches a steal:
   that thief is not reluctant and steals as Go. *gave_up is set when a
   fast owner kept its ring. */
static uint32_t runq_grab(goc__p *victim, _Atomic(goc__g *) *batch, uint32_t batch_head,
                          bool steal_next, bool reluctant, bool *gave_up) {
    bool napped = false, ring_napped = !reluctant;
    for (;;) {
        if (atomic_load_explicit(&victim->solo, memory_order_seq_cst))
            return 0; /* its owner uses plain stores (see p_update_solo) */
        uint64_t w = atomic_load_explicit(&victim->runqw, memory_order_acquire);
        uint32_t h = RQ_HEAD(w), len = RQ_LEN(w), n = len - len / 2;
        if (len != 0 && len <= SMALL_RING && !ring_napped) {
            if (!steal_next)
                return 0;
            if (victim_switches_in_nap(victim) >= FAST_SWITCHES) {
                /* and tell it not to call us for such a ring for a while:
                   each call costs both sides a futex and us a nap */
                uint32_t now = atomic_load_explicit(&victim->schedtick, memory_order_relaxed);
                atomic_store_explicit(&victim->quiet_until, now + QUIET_SWITCHES,
                                      memory_order_relaxed);
                *gave_up = true;
                return 0;
            }
            ring_napped = true;
            continue; /* the ring may have changed meanwhile */
        }
        if (n == 0) {
            goc__g *next = steal_next ? atomic_load_explicit(&victim->runnext, memory_order_acquire)
                                      : NULL;
            if (!next)
                return 0;
            if (!napped) {
                /* As Go: the owner is probably about to run its runnext (it
                   was readied by a goroutine that now blocks: a hand-off
                   takes 50 to 100 ns). Taking it would split a pair that
                   talks, each message then crossing cores (W3 on two
                   threads). So only if the owner has not switched while
                   we napped. */
                if (victim_switches_in_nap(victim) != 0)
                    return 0;
                napped = true;
                continue; /* the ring may have filled meanwhile: half of it, then */
            }
            if (!atomic_compare_exchange_strong_explicit(&victim->runnext, &next, NULL,
                                                         memory_order_acq_rel, memory_order_relaxed)) {
                napped = false; /* it ran: a new one gets its grace too */
                continue;
            }
            atomic_store_explicit(&batch[batch_head % GOC_RUNQ_SIZE], next, memory_order_relaxed);
            return 1;
        }
        for (uint32_t i = 0; i < n; i++) {
            goc__g *g = atomic_load_explicit(RQ_SLOT(victim, h + i), memory_order_relaxed);
            atomic_store_explicit(&batch[(batch_head + i) % GOC_RUNQ_SIZE], g,
                                  memory_order_relaxed);
        }
        if (atomic_compare_exchange_strong_explicit(&victim->runqw, &w,
                                                    rq_make(h + n, RQ_TAIL(w), RQ_TAG(w)),
                                                    memory_order_acq_rel, memory_order_relaxed))
            return n;
    }
}

static goc__g *runq_steal(goc__p *p, goc__p *victim, bool steal_next, bool reluctant) {
    uint32_t t = RQ_TAIL(atomic_load_explicit(&p->runqw, memory_order_relaxed));
    bool gave_up = false;
    atomic_fetch_add_explicit(&victim->nthieves, 1, memory_order_seq_cst);
    uint32_t n = runq_grab(victim, p->runq, t, steal_next, reluctant, &gave_up);
    atomic_fetch_sub_explicit(&victim->nthieves, 1, memory_order_release);
    if (gave_up)
        p->reluctant--; /* at 0, the next short ring is stolen: a fresh test */
    if (n == 0)
        return NULL;
    p->steal_judge = true;
    p->steal_tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
    p->steal_time = goc_now();
    n--;
    goc__g *g = atomic_load_explicit(&p->runq[(t + n) % GOC_RUNQ_SIZE], memory_order_relaxed);
    if (n == 0)
        return g;
    /* only the owner moves the tail (see runq_put_tail) */
    atomic_fetch_add_explicit(&p->runqw, (uint64_t)n << 16, memory_order_release);
    return g;
}

/* ------------------------------------------------------------------------ */
/* Idle Ps and Ms (sched.lock held).                                        */

static void pidleput(goc__p *p) {
    p->m = NULL;
    p->idle = true;
    p->link = goc__sched.pidle;
    goc__sched.pidle = p;
    atomic_fetch_add(&goc__sched.npidle, 1);
}

/* Takes an idle P whose id is below GOMAXPROCS (retired Ps stay out). */
static goc__p *pidleget(void) {
    int gmp = atomic_load(&goc__sched.gomaxprocs);
    goc__p **pp = &goc__sched.pidle;
    while (*pp) {
        goc__p *p = *pp;
        if (p->id < gmp) {
            *pp = p->link;
            p->idle = false;
            p->link = NULL;
            atomic_fetch_sub(&goc__sched.npidle, 1);
            return p;
        }
        pp = &p->link;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Ms: creation, sleeping, waking.                                          */

static void *m_main(void *arg);
static sigset_t init_sigmask; /* the signal mask of the thread that started goc */
static _Atomic uint32_t sysmon_wake;
static _Atomic bool sysmon_sleeping;

static void newm(goc__p *p, bool spinning) {
    goc__m *m = calloc(1, sizeof *m);
    if (!m)
        goc__fatal_nodump("out of memory allocating an M");
    m->p = p;
    m->spinning = spinning;
    m->rand = (uint64_t)(uintptr_t)m ^ (uint64_t)goc_now();
    goc__lock_acquire(&goc__sched.lock);
    m->id = ++goc__sched.mcount;
    goc__lock_release(&goc__sched.lock);
    if (p)
        p->m = m;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* Block every signal in the new thread while it starts, as Go does, so a
       handler never runs before the thread has its alternate stack. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* The M runs with the mask of the thread that started goc, not its
       creator's: sysmon, which blocks everything, creates Ms too. */
    m->sigmask = init_sigmask;
    int rc = pthread_create(&m->thread, &attr, m_main, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        goc__fatal("newm: pthread_create failed: %s", strerror(rc));
}

/* Hands p (or an idle P) to an idle or new M. spinning: the M was counted in
   nmspinning by the caller. */
static void startm(goc__p *p, bool spinning) {
    goc__lock_acquire(&goc__sched.lock);
    if (!p) {
        p = pidleget();
        if (!p) {
            goc__lock_release(&goc__sched.lock);
            if (spinning)
                atomic_fetch_sub(&goc__sched.nmspinning, 1);
            return;
        }
    }
    goc__m *m = goc__sched.midle;
    if (m) {
        goc__sched.midle = m->link;
        goc__sched.nmidle--;
    }
    if (m) {
        m->p = p;
        p->m = m;
        m->spinning = spinning;
        /* park is set under the lock: an M leaving the idle list by itself
           (stopm's timer path) checks it under the lock and must see it. */
        atomic_store_explicit(&m->park, 1, memory_order_release);
        goc__lock_release(&goc__sched.lock);
        if (atomic_load(&m->polling))
            goc__netpoll_break();
        else
            goc__futex_wake(&m->park, 1);
        return;
    }
    goc__lock_release(&goc__sched.lock);
    newm(p, spinning);
}

/* Wakes an M to look for work if there is an idle P and nobody spins. */
static void wakep(void) {
    if (atomic_load_explicit(&goc__sched.npidle, memory_order_relaxed) == 0)
        return;
    int zero = 0;
    if (atomic_load_explicit(&goc__sched.nmspinning, memory_order_relaxed) != 0 ||
        !atomic_compare_exchange_strong(&goc__sched.nmspinning, &zero, 1))
        return;
    startm(NULL, true);
}

static void sysmon_kick(void) {
    if (atomic_load_explicit(&sysmon_sleeping, memory_order_relaxed) &&
        atomic_exchange(&sysmon_sleeping, false)) {
        atomic_store_explicit(&goc__sched.coarse_clock, coarse_now(), memory_order_relaxed);
        atomic_store(&sysmon_wake, 1);
        goc__futex_wake(&sysmon_wake, 1);
    }
}

static void acquirep(goc__m *m, goc__p *p) {
    m->p = p;
    p->m = m;
    sysmon_kick(); /* a P is busy: sysmon has work to watch */
}

/* Whether every P is idle (a retired one is busy until its owner's next
   switch). */
static bool all_idle(void) {
    int n = atomic_load(&goc__sched.nallp);
    for (int i = 0; i < n; i++)
        if (!atomic_load_explicit(&goc__sched.allp[i]->idle, memory_order_relaxed))
            return false;
    return true;
}

/* Goroutines are counted per P (a store by the owner: no locked add on a
   line that every spawning and exiting thread shares) plus a global part
   for plain threads; goc_num_goroutine adds them up. */
static void count_goroutines(goc__p *p, int d) {
    if (p)
        atomic_store_explicit(&p->ngoroutines,
                              atomic_load_explicit(&p->ngoroutines, memory_order_relaxed) + d,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&goc__sched.ngoroutines, d, memory_order_relaxed);
}

static int64_t num_goroutines(void) {
    int64_t n = atomic_load_explicit(&goc__sched.ngoroutines, memory_order_relaxed);
    int np = atomic_load(&goc__sched.nallp);
    for (int i = 0; i < np; i++)
        n += atomic_load_explicit(&goc__sched.allp[i]->ngoroutines, memory_order_relaxed);
    return n;
}

/* Sets the count to n (no P runs a goroutine: at goc_run's start and end). */
static void set_num_goroutines(int64_t n) {
    int np = atomic_load(&goc__sched.nallp);
    for (int i = 0; i < np; i++)
        atomic_store_explicit(&goc__sched.allp[i]->ngoroutines, 0, memory_order_relaxed);
    atomic_store(&goc__sched.ngoroutines, n);
}

/* ------------------------------------------------------------------------ */
/* Free Gs with their stacks.                                               */

/* The global free list is a stack of batches, each a schedlink chain whose
   first G holds the chain's length and the next batch: a P hands over or
   takes a batch in O(1), never walking Gs that another core freed last (a
   cache miss each, 70% of a spawn in W1 when the walk was per G). */
static void gfree_push_batch(goc__g *head, int n) {
    head->gbatch_n = n;
    goc__lock_acquire(&goc__sched.gfree_lock);
    head->gbatch_next = goc__sched.gfree;
    goc__sched.gfree = head;
    atomic_fetch_add_explicit(&goc__sched.ngfree, n, memory_order_relaxed);
    goc__lock_release(&goc__sched.gfree_lock);
}

/* gfree_lock held: takes the first batch whole (one G if one). */
static goc__g *gfree_pop_locked(bool one, int *n) {
    goc__g *b = goc__sched.gfree;
    if (!b)
        return NULL;
    if (one && b->gbatch_n > 1) {
        goc__g *rest = b->schedlink;
        rest->gbatch_n = b->gbatch_n - 1;
        rest->gbatch_next = b->gbatch_next;
        goc__sched.gfree = rest;
        b->schedlink = NULL;
        *n = 1;
    } else {
        goc__sched.gfree = b->gbatch_next;
        *n = b->gbatch_n;
    }
    atomic_fetch_sub_explicit(&goc__sched.ngfree, *n, memory_order_relaxed);
    return b;
}

static void gfput(goc__p *p, goc__g *g) {
    if (g->stack_size != goc__sched.default_stack) {
        goc__stack_pool_odd(g);
        return;
    }
    g->schedlink = p->gfree;
    p->gfree = g;
    p->ngfree++;
    if (p->ngfree >= GFREE_LOCAL_MAX) {
        /* the older half (freed here, so in this core's cache) goes global */
        goc__g *last = p->gfree;
        for (int i = 1; i < GFREE_LOCAL_MAX / 2; i++)
            last = last->schedlink;
        goc__g *head = last->schedlink;
        last->schedlink = NULL;
        int n = p->ngfree - GFREE_LOCAL_MAX / 2;
        p->ngfree = GFREE_LOCAL_MAX / 2;
        gfree_push_batch(head, n);
    }
}

static goc__g *gfget(goc__p *p, size_t size) {
    if (size != goc__sched.default_stack)
        return goc__stack_take_odd(size);
    if (p && !p->gfree && atomic_load_explicit(&goc__sched.ngfree, memory_order_relaxed) > 0) {
        int n = 0;
        goc__lock_acquire(&goc__sched.gfree_lock);
        goc__g *b = gfree_pop_locked(false, &n);
        goc__lock_release(&goc__sched.gfree_lock);
        p->gfree = b;
        p->ngfree = b ? n : 0;
    }
    if (p && !p->gfree && atomic_load_explicit(&goc__sched.gtrimmed_nonempty, memory_order_relaxed)) {
        goc__lock_acquire(&goc__sched.gfree_lock);
        goc__g *x = goc__sched.gtrimmed;
        if (x)
            goc__sched.gtrimmed = x->schedlink;
        atomic_store_explicit(&goc__sched.gtrimmed_nonempty, goc__sched.gtrimmed != NULL,
                              memory_order_relaxed);
        goc__lock_release(&goc__sched.gfree_lock);
        if (x)
            return x;
    }
    if (p && p->gfree) {
        goc__g *g = p->gfree;
        p->gfree = g->schedlink;
        p->ngfree--;
        if (p->gfree)
            __builtin_prefetch(p->gfree, 1); /* the next spawn's G, maybe from another core */
        return g;
    }
    if (!p && atomic_load_explicit(&goc__sched.ngfree, memory_order_relaxed) > 0) {
        int n;
        goc__lock_acquire(&goc__sched.gfree_lock);
        goc__g *g = gfree_pop_locked(true, &n);
        goc__lock_release(&goc__sched.gfree_lock);
        return g;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Making goroutines ready.                                                 */

/* Queues g on the global queue and wakes an M for it (from a thread that
   has no P of its own to run it on). */
static void globrunq_put_wake(goc__g *g) {
    goc__lock_acquire(&goc__sched.lock);
    globrunq_put(g);
    goc__lock_release(&goc__sched.lock);
    /* A spinning M decrements nmspinning (a locked RMW) and then reads
       runq_size; we wrote runq_size and read nmspinning: without a full
       fence on our side both could miss the other (store buffering), and
       with every P idle nobody would come for g. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&goc__sched.running)) /* goc_go before goc_run: main's M comes later */
        wakep();
}

/* Puts g, readied by m on its P p, in p's queue: runnext as a rule, the
   old occupant going to the ring. Returns runq_put's answer (more queued
   than runnext).
   What due timers ready is urgent: Go runs due timers just before it picks
   the next G, so what they ready goes first. Here they run just after the
   pick (the parking G's locks are released only then), so such a G must
   keep runnext against what the G now running readies, or a hand-off chain
   through runnext would keep it waiting until the starvation rule (10 ms).
   Those go to the front of the line instead, to run right after it (at the
   back, a run of timers that keeps coming would hold a hand-off for 10 ms
   at each hop), and a second urgent one to the back (at the front, such a
   run would starve the line). What timers start (a context's cancellation,
   an AfterFunc) is not urgent: making it so, with the second urgent one in
   front, slowed kvpurge's TSan test fourfold. While a select waits behind
   the queued Gs (goc__yield_to_queued), readies go behind it. */
static inline bool put_local(goc__m *m, goc__p *p, goc__g *g) {
    bool next = atomic_load_explicit(&p->yielder, memory_order_relaxed) == NULL, front = false;
    goc__g *urgent = p->runnext_urgent;
    if (GOC_UNLIKELY(urgent != NULL)) {
        if (atomic_load_explicit(&p->runnext, memory_order_relaxed) != urgent)
            p->runnext_urgent = urgent = NULL; /* taken since */
        else if (next)
            next = false, front = !m->in_timers;
    }
    if (GOC_UNLIKELY(m->in_timers) && next)
        p->runnext_urgent = g;
    return runq_put(p, g, next, front);
}

/* Queues g, just made runnable, where the caller runs. */
static void queue_readied(goc__g *g) {
    goc__m *m = goc__getm();
    goc__p *p = goc__own_p(m);
    if (p) {
        /* Another M is woken only when this P has more queued than the one
           G in runnext: a G that readies another and then blocks (a channel
           hand-off) lets it run here at once, and sysmon wakes an M if this
           P keeps both waiting. */
        if (put_local(m, p, g) && (runq_long(p) || !p_quiet_owner(p)))
            wakep();
        return;
    }
    globrunq_put_wake(g);
}

void goc__ready(goc__g *g) {
    if (g->epoch != atomic_load_explicit(&goc__sched.epoch, memory_order_relaxed))
        return; /* abandoned by a goc_run that has returned */
    int w = G_WAITING;
    if (!atomic_compare_exchange_strong_explicit(&g->status, &w, G_RUNNABLE, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return;
    queue_readied(g);
}

/* goc__ready for a G parked on a parker, by the one party that won its claim
   (or, for a waiter that needs no claim, took it from a queue under the
   lock the park released): nobody else can ready it, and it is surely
   G_WAITING, since the lock or the claim was published after park_after
   stored that. So a plain store does, not goc__ready's locked CAS. */
static void ready_claimed(goc__g *g) {
    if (g->epoch != atomic_load_explicit(&goc__sched.epoch, memory_order_relaxed))
        return; /* abandoned by a goc_run that has returned */
    /* A waker that could come before the park's unlock step would queue a
       running goroutine: a bug in goc, caught here rather than as two
       threads on one stack. */
    if (GOC_UNLIKELY(atomic_load_explicit(&g->status, memory_order_relaxed) != G_WAITING))
        goc__fatal("goc: internal error: goroutine %llu woken through its parker while not parked",
                   (unsigned long long)g->id);
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
    queue_readied(g);
}

/* ------------------------------------------------------------------------ */
/* Finding work.                                                            */

static void drop_p_for_epoch(goc__m *m);

/* Local work only: the fast path when a goroutine gives up its M. Timers
   run only from g0 (timers true), never while a parking G holds locks. */
static inline __attribute__((always_inline)) goc__g *find_local(goc__p *p, bool timers) {
    if (GOC_UNLIKELY(p_solo(p) !=
                     (atomic_load_explicit(&goc__sched.gomaxprocs, memory_order_relaxed) == 1)))
        p_update_solo(p, !p_solo(p));
    /* relaxed: only the owner writes; others read it as a progress hint */
    uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->schedtick, tick, memory_order_relaxed);
    if (GOC_UNLIKELY(tick % GOC_GLOBAL_CHECK_TICKS == 0) &&
        atomic_load_explicit(&goc__sched.runq_size, memory_order_relaxed) > 0) {
        goc__lock_acquire(&goc__sched.lock);
        goc__g *g = globrunq_get(p, 1);
        goc__lock_release(&goc__sched.lock);
        if (g)
            return g;
    }
    if (timers && atomic_load_explicit(&p->timer0, memory_order_relaxed) != INT64_MAX)
        run_timers(goc__getm(), p, goc_now());
    /* Fairness. The ring is depth first for new goroutines, FIFO for readied
       and yielding ones (see runq_put), and runnext goes before it all: a
       chain that keeps readying or starting its successor through runnext
       would starve the ring. So when the G first in line (the head) has
       waited GOC_STARVE_NS (Go's time slice), the G in runnext goes to the
       back of the line, as Go's preemption sends such a chain to the back:
       everything queued runs before it. Checked every 61 switches (the
       head's G record may be cold). By the head's own wait, not by how long
       the ring has held work: a ring whose work flows (W6's producers) must
       not be reordered, which slows such flows by 15%; and by a time, not
       a count of switches: each reordering can start old subtrees beside
       the current one (a rule of one in 127 switches kept 130 MB alive in
       skynet, where depth first keeps 2 MB). */
    if (GOC_UNLIKELY(tick % GOC_GLOBAL_CHECK_TICKS == GOC_GLOBAL_CHECK_TICKS / 2)) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_acquire);
        if (RQ_LEN(w) != 0) {
            goc__g *first = atomic_load_explicit(RQ_SLOT(p, RQ_HEAD(w)), memory_order_relaxed);
            int64_t now = atomic_load_explicit(&goc__sched.coarse_clock, memory_order_relaxed);
            if (now - atomic_load_explicit(&first->runq_at, memory_order_relaxed) >= GOC_STARVE_NS)
                demote_runnext(p);
        }
    }
    goc__g *g = runq_get(p);
    if (g)
        return g;
    if (atomic_load_explicit(&goc__sched.runq_size, memory_order_relaxed) > 0) {
        goc__lock_acquire(&goc__sched.lock);
        g = globrunq_get(p, 0);
        goc__lock_release(&goc__sched.lock);
    }
    return g;
}

/* Goroutines and plain threads waiting on descriptors: while any wait, the
   network is polled and the program is not deadlocked. */
static inline int64_t netwaiters(void) {
    uint32_t e = atomic_load_explicit(&goc__sched.epoch, memory_order_relaxed);
    return atomic_load(&goc__sched.nnetwait_g[e & 1]) + atomic_load(&goc__sched.nnetwait);
}

static void reset_spinning(goc__m *m) {
    m->spinning = false;
    if (atomic_fetch_sub(&goc__sched.nmspinning, 1) == 1)
        wakep(); /* we were the last spinner and found work: there may be more */
}

static void check_dead(bool from_sysmon);
static void stopm(goc__m *m);

#define PREFAULT_BATCH 8     /* stacks an M without work faults in before it looks again */
#define PREFAULT_RESERVE 64  /* ... while the global free list holds fewer than this */

/* An M that finds no local work while goroutines are being started on fresh
   stacks (a spawn found no free G since an M last looked here) faults in the
   next few stacks on its own core and pools them. Every new live goroutine
   costs a page fault, a fresh page's costing 1 to 6 us on a VM, most of it
   zeroing: the spawner alone would take every one of those in turn. This
   runs before the M steals: the spawner's goroutines, stolen one or two at
   a time, would otherwise keep it busy without ever sharing the faults (W8,
   a million parked goroutines on two cores: 4-8 s when only the spawner
   faulted, 1.8-3.9 s when idle Ms helped, 0.9-1.2 s now). The price: an M
   woken for queued work may fault in a batch (8 pages, 10-50 us) before it
   takes it, while spawns keep missing. A program that stops spawning stops
   this at once; what it costs at most is PREFAULT_RESERVE pooled stacks,
   below sysmon's trim bound. Returns whether it did anything (the caller
   looks for work again). */
static bool prefault_stacks(goc__m *m) {
    uint64_t miss = atomic_load_explicit(&goc__sched.stack_misses, memory_order_relaxed);
    uint64_t seen = atomic_load_explicit(&goc__sched.stack_misses_seen, memory_order_relaxed);
    if (miss == seen ||
        atomic_load_explicit(&goc__sched.ngfree, memory_order_relaxed) >= PREFAULT_RESERVE ||
        !atomic_compare_exchange_strong(&goc__sched.stack_misses_seen, &seen, miss))
        return false;
    if (m->spinning) { /* busy for a while: let wakep start another M meanwhile */
        m->spinning = false;
        atomic_fetch_sub(&goc__sched.nmspinning, 1);
    }
    goc__g *head = NULL;
    int n = 0;
    for (; n < PREFAULT_BATCH; n++) {
        /* out of memory: no error here; a spawn that needs a stack says so */
        goc__g *g = goc__stack_try_alloc(goc__sched.default_stack);
        if (!g)
            break;
        g->schedlink = head;
        head = g;
    }
    if (n > 0)
        gfree_push_batch(head, n);
    return n > 0;
}

/* On g0: finds a runnable G, stealing and sleeping as needed. Returns with
   m->p held. */
static goc__g *findrunnable(goc__m *m) {
    for (;;) {
        goc__p *p = m->p;
        if (!p) {
            stopm(m);
            continue;
        }
        if (GOC_UNLIKELY(p->id >= atomic_load(&goc__sched.gomaxprocs) ||
                         !atomic_load(&goc__sched.running))) {
            drop_p_for_epoch(m);
            continue;
        }
        goc__g *g = find_local(p, true);
        if (g) {
            if (m->spinning)
                reset_spinning(m);
            return g;
        }
        /* The network, without blocking, unless an idle M already blocks on it. */
        if (netwaiters() > 0 && !atomic_load_explicit(&goc__sched.netpolling, memory_order_relaxed)) {
            atomic_store_explicit(&goc__sched.last_poll, goc_now(), memory_order_relaxed);
            if (goc__netpoll(0) > 0 && (g = runq_get(p)) != NULL) {
                if (m->spinning)
                    reset_spinning(m);
                return g;
            }
        }
        if (prefault_stacks(m))
            continue;
        /* Steal, if not too many already spin (Go's limit: half the busy Ps). */
        int busy = goc__busy_procs();
        if (m->spinning || 2 * atomic_load(&goc__sched.nmspinning) < busy) {
            if (!m->spinning) {
                m->spinning = true;
                atomic_fetch_add(&goc__sched.nmspinning, 1);
            }
            /* Judge our last steal: did its goroutines run here for a
               while (a pipeline's stages talking among themselves, or a
               computation) or block again at once, each needing a partner
               on the P they came from (runq_grab)? By switches and time
               both: a goroutine that computed for 2 ms and ended made as
               few switches as W6's producers, and was worth stealing. */
            int64_t now = goc_now();
            if (p->steal_judge) {
                p->steal_judge = false;
                uint32_t ran = atomic_load_explicit(&p->schedtick, memory_order_relaxed) -
                               p->steal_tick;
                bool fruitless = ran < FRUITLESS_SWITCHES && now - p->steal_time < FRUITLESS_NS;
                p->reluctant = fruitless ? RELUCTANT_ROUNDS : 0;
                p->reluctant_until = now + RELUCTANT_NS;
            }
            bool reluctant = p_reluctant(p, now);
            int nallp = atomic_load(&goc__sched.nallp);
            for (int round = 0; round < SPIN_ROUNDS && !g; round++) {
                uint32_t start = goc__fastrandn((uint32_t)nallp);
                for (int i = 0; i < nallp && !g; i++) {
                    goc__p *v = goc__sched.allp[(start + (uint32_t)i) % (uint32_t)nallp];
                    if (v == p)
                        continue;
                    if (atomic_load_explicit(&v->timer0, memory_order_relaxed) <= now) {
                        run_timers(m, v, now);
                        g = runq_get(p);
                        if (g)
                            break;
                    }
                    /* a retired P too: its owner hands its queue over
                       only at its next switch, which a long goroutine
                       delays */
                    g = runq_steal(p, v, round == SPIN_ROUNDS - 1, reluctant);
                }
            }
            if (g) {
                if (m->spinning)
                    reset_spinning(m);
                return g;
            }
        }
        /* Nothing: give the P back and sleep. */
        goc__lock_acquire(&goc__sched.lock);
        if (atomic_load(&goc__sched.runq_size) > 0) {
            g = globrunq_get(p, 0);
            goc__lock_release(&goc__sched.lock);
            if (m->spinning)
                reset_spinning(m);
            return g;
        }
        if (!runq_empty(p)) {
            goc__lock_release(&goc__sched.lock);
            continue;
        }
        /* read now: p is not ours once idle */
        bool reluctant = p_reluctant(p, goc_now());
        m->p = NULL;
        pidleput(p);
        goc__lock_release(&goc__sched.lock);

        if (m->spinning) {
            m->spinning = false;
            atomic_fetch_sub(&goc__sched.nmspinning, 1);
            /* A G may have been queued after we looked and before we
               stopped spinning (its readier saw us spinning and woke
               nobody): look once more. */
            int n = atomic_load(&goc__sched.nallp);
            bool work = atomic_load(&goc__sched.runq_size) > 0; /* plain threads queue there */
            for (int i = 0; i < n && !work; i++)
                /* a solo P's queue cannot be stolen: its owner leaves solo
                   mode at its next switch, and spinning here meanwhile
                   would only burn the CPU; nor, by a reluctant thief, a
                   short ring of an owner marked quiet (runq_grab), which
                   sysmon watches instead */
                work = !p_solo(goc__sched.allp[i]) &&
                       (runq_long(goc__sched.allp[i]) ||
                        (!runq_empty(goc__sched.allp[i]) &&
                         (!reluctant || !p_quiet(goc__sched.allp[i]))));
            if (work) {
                goc__lock_acquire(&goc__sched.lock);
                goc__p *p2 = pidleget();
                goc__lock_release(&goc__sched.lock);
                if (p2) {
                    acquirep(m, p2);
                    m->spinning = true;
                    atomic_fetch_add(&goc__sched.nmspinning, 1);
                }
            }
            if (m->p)
                continue;
        }
        check_dead(false);
        stopm(m);
    }
}

/* Moves the timers of p, beyond GOMAXPROCS, to P 0: nobody runs a retired
   P's timers, and idle Ms would wake for them again and again. */
static void retire_timers(goc__p *p) {
    int64_t when = goc__timers_move(p, goc__sched.allp[0]);
    if (when != INT64_MAX)
        goc__timers_wake(when);
}

/* Leaves the P of a finished goc_run, or one beyond GOMAXPROCS. */
static void drop_p_for_epoch(goc__m *m) {
    goc__p *p = m->p;
    bool retired = atomic_load(&goc__sched.running) && p->id >= atomic_load(&goc__sched.gomaxprocs);
    /* A retired P's Gs go to the global queue (its timers to P 0). After a
       run, its Gs are abandoned, as when a Go program's main returns; but
       a G started since then (a timer's function run here after main
       returned) is the next run's: it goes to the global queue too. */
    uint32_t e = atomic_load(&goc__sched.epoch);
    goc__g *g;
    goc__lock_acquire(&goc__sched.lock);
    while ((g = runq_get(p)))
        if (retired || g->epoch == e)
            globrunq_put(g);
    goc__lock_release(&goc__sched.lock);
    if (retired)
        retire_timers(p);
    goc__lock_acquire(&goc__sched.lock);
    m->p = NULL;
    pidleput(p);
    goc__lock_release(&goc__sched.lock);
    if (m->spinning) {
        m->spinning = false;
        atomic_fetch_sub(&goc__sched.nmspinning, 1);
    }
    if (retired)
        wakep();
}

/* Sleeps until handed a P, or until the earliest timer is due. */
static void stopm(goc__m *m) {
    goc__lock_acquire(&goc__sched.lock);
    atomic_store(&m->park, 0);
    m->link = goc__sched.midle;
    goc__sched.midle = m;
    goc__sched.nmidle++;
    goc__lock_release(&goc__sched.lock);

    bool no_deadline = false; /* a due timer found every P busy */
    for (;;) {
        /* Publish our deadline, then look again: a timer added meanwhile
           either sees the deadline (and wakes us) or is seen here. */
        atomic_store(&m->sleep_until, INT64_MIN);
        /* Between runs no M runs timers (it would only take a P and drop
           it again, in a loop while one is due): sleep until the next run
           starts an M. Plain threads that wait run them meanwhile. */
        bool run = atomic_load(&goc__sched.running);
        int64_t until = run && !no_deadline ? goc__timers_earliest() : INT64_MAX;
        atomic_store(&m->sleep_until, until);
        if (run ? !no_deadline && goc__timers_earliest() < until : atomic_load(&goc__sched.running))
            continue; /* a timer came, or a run began (its wake saw no deadline yet) */
        if (atomic_load_explicit(&m->park, memory_order_acquire) != 0)
            break;
        bool expect = false;
        if (netwaiters() > 0 &&
            atomic_compare_exchange_strong(&goc__sched.netpolling, &expect, true)) {
            /* The one M that blocks on the network, until the next timer.
               startm and goc__timers_wake interrupt it through the eventfd. */
            atomic_store(&goc__sched.netpoll_until, until);
            atomic_store(&m->polling, true);
            if (atomic_load_explicit(&m->park, memory_order_acquire) == 0)
                goc__netpoll(until); /* wakes go to the global queue and wakep */
            atomic_store(&m->polling, false);
            atomic_store(&goc__sched.last_poll, goc_now());
            atomic_store(&goc__sched.netpolling, false);
        } else {
            goc__futex_wait(&m->park, 0, until);
        }
        if (atomic_load_explicit(&m->park, memory_order_acquire) != 0)
            break;
        /* Woken without a P (goc__timers_wake: a P is idle now, or a new
           earliest timer) or timed out: compute the deadline afresh. */
        no_deadline = false;
        if (until != INT64_MAX && goc_now() >= until) {
            /* A timer is due: leave the idle list and take a P to run it. */
            goc__lock_acquire(&goc__sched.lock);
            if (atomic_load(&m->park) != 0) {
                goc__lock_release(&goc__sched.lock);
                break;
            }
            goc__m **mp = &goc__sched.midle;
            while (*mp && *mp != m)
                mp = &(*mp)->link;
            if (!*mp) {
                /* not in the list: startm took us (and set park) */
                goc__lock_release(&goc__sched.lock);
                break;
            }
            *mp = m->link;
            goc__sched.nmidle--;
            goc__p *p = pidleget();
            if (p) {
                goc__lock_release(&goc__sched.lock);
                acquirep(m, p);
                return;
            }
            /* Every P is busy: their Ms run timers at their next switch.
               Sleep until handed a P, with no deadline: the timer stays
               due until a busy P runs it, and waking for it again found
               the same expired deadline, in a loop of futex calls (about
               15 us of CPU each in a VM) that took a third thread's worth
               of CPU from the busy Ms (W9). Whoever makes a P idle with
               timers pending sleeps with their deadline: an M that gives
               up its P enters stopm, and sysmon idles a P only without
               timers (otherwise it hands the P to an M). */
            atomic_store(&m->park, 0);
            m->link = goc__sched.midle;
            goc__sched.midle = m;
            goc__sched.nmidle++;
            goc__lock_release(&goc__sched.lock);
            no_deadline = true;
        }
    }
    /* startm handed us a P (m->p set under the lock). */
    goc__lock_acquire(&goc__sched.lock);
    goc__lock_release(&goc__sched.lock);
    if (m->p)
        acquirep(m, m->p);
}

/* Called when a new timer becomes the earliest: make sure some idle M wakes
   for it if every M sleeps without a deadline and a P is idle. */
static void foreign_waiters_kick(void);

void goc__timers_wake(int64_t when) {
    if (!atomic_load(&goc__sched.running)) {
        /* No M runs the heaps between runs (the next run's do); the plain
           threads that wait do. */
        foreign_waiters_kick();
        return;
    }
    if (atomic_load(&goc__sched.netpolling) && atomic_load(&goc__sched.netpoll_until) > when)
        goc__netpoll_break(); /* the poller recomputes its deadline */
    if (atomic_load(&goc__sched.npidle) == 0)
        return; /* every P is busy: their Ms run timers at each switch */
    goc__lock_acquire(&goc__sched.lock);
    goc__m *m = goc__sched.midle;
    if (!m) {
        goc__lock_release(&goc__sched.lock);
        startm(NULL, false);
        return;
    }
    for (goc__m *x = m; x; x = x->link) {
        if (atomic_load(&x->sleep_until) <= when) {
            goc__lock_release(&goc__sched.lock);
            return; /* someone wakes in time */
        }
    }
    /* Woken with park still 0, an idle M only recomputes its deadline. */
    goc__futex_wake(&m->park, 1);
    goc__lock_release(&goc__sched.lock);
}

/* ------------------------------------------------------------------------ */
/* Deadlock detection.                                                      */

/* Threads taken as unrelated to goroutines: those the process had when it
   loaded goc, other than the one that loaded it (an emulator's helpers,
   qemu-user's; a library's), and under TSan those it had when goc started
   (TSan's helper starts with the first pthread_create). A thread the program
   makes later is a potential waker until it blocks in goc: it may be about
   to send (a false deadlock would kill a correct program). */
static long base_threads, load_threads = -1;

static long count_threads(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[128];
    long threads = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8))
            threads = atol(line + 8);
    fclose(f);
    return threads;
}

#if GOC_TSAN
/* TSan starts a helper thread at the first pthread_create, which may come
   before this constructor (another constructor's thread) or after: start
   one here, held until the count is taken, so that the helper is counted
   with the threads from load time exactly once. */
static pthread_mutex_t load_hold = PTHREAD_MUTEX_INITIALIZER;
static void *load_probe(void *arg) {
    (void)arg;
    pthread_mutex_lock(&load_hold);
    pthread_mutex_unlock(&load_hold);
    return NULL;
}
#endif

/* Counted when goc is loaded, before main runs, in the loading thread. */
__attribute__((constructor)) static void count_load_threads(void) {
    long others = 1; /* this thread */
#if GOC_TSAN
    pthread_t probe;
    pthread_mutex_lock(&load_hold);
    bool probing = pthread_create(&probe, NULL, load_probe, NULL) == 0;
    others += probing;
#endif
    long n = count_threads();
    load_threads = n > others ? n - others : 0;
#if GOC_TSAN
    pthread_mutex_unlock(&load_hold);
    if (probing)
        pthread_join(probe, NULL);
#endif
}

/* Whether the process has threads goc does not know of: a pthread that has
   not yet used goc may still wake goroutines (unlock a mutex they wait for,
   send on a channel), so their presence rules a deadlock out. Known: the
   base threads, the Ms, sysmon, and plain threads blocked in goc
   (goc_run's caller among them). */
static bool unknown_threads(void) {
    long threads = count_threads();
    if (threads < 0)
        return false;
    goc__lock_acquire(&goc__sched.lock);
    long known = goc__sched.mcount;
    goc__lock_release(&goc__sched.lock);
    known += base_threads + 1 + (long)atomic_load(&goc__sched.nforeign_blocked);
    return threads > known;
}

/* The state that any progress changes (a hint that only has to differ after
   progress): a goroutine scheduled (a P's tick),
   queued, made or ended, a plain thread starting or stopping to wait. */
static uint64_t progress_snapshot(void) {
    uint64_t h = (uint64_t)atomic_load(&goc__sched.runq_size) * 31 +
                 (uint64_t)atomic_load(&goc__sched.nforeign) * 37 +
                 (uint64_t)atomic_load(&goc__sched.nforeign_blocked) * 41 +
                 (uint64_t)num_goroutines() * 43;
    int n = atomic_load(&goc__sched.nallp);
    for (int i = 0; i < n; i++)
        h = h * 1000003 + atomic_load_explicit(&goc__sched.allp[i]->schedtick, memory_order_relaxed) +
            (atomic_load(&goc__sched.allp[i]->idle) ? 7 : 0);
    return h;
}

/* Whether nothing can run: every P idle, no queued goroutine, nobody in a
   blocking section, on the network or on a timer, no plain thread that could
   wake anyone. */
static bool looks_dead(bool *threads_only) {
    goc__lock_acquire(&goc__sched.lock);
    int gmp = atomic_load(&goc__sched.gomaxprocs);
    bool dead = atomic_load(&goc__sched.npidle) >= gmp &&
                atomic_load(&goc__sched.runq_size) == 0 &&
                atomic_load(&goc__sched.nblocking) == 0 &&
                netwaiters() == 0 &&
                atomic_load(&goc__sched.nforeign) == 0 &&
                atomic_load(&goc__sched.nforeign_timed) == 0;
    for (int i = 0; dead && i < atomic_load(&goc__sched.nallp); i++)
        if (!goc__sched.allp[i]->idle || !runq_empty(goc__sched.allp[i]))
            dead = false;
    goc__lock_release(&goc__sched.lock);
    if (!dead || goc__timers_count() != 0)
        return false;
    if (unknown_threads()) {
        *threads_only = true;
        return false;
    }
    return true;
}

#define DEADLOCK_CONFIRM_ROUNDS 3            /* checks, 10 ms apart, that must all agree */
#define DEADLOCK_CONFIRM_NS (10 * GOC_MILLISECOND)

static void deadcheck_poll_start(bool from_sysmon);

/* from_sysmon: called by sysmon itself, which then polls on its own. */
static void check_dead(bool from_sysmon) {
    if (!atomic_load(&goc__sched.running) || atomic_load(&goc__sched.main_done))
        return;
    bool threads_only = false;
    if (!looks_dead(&threads_only)) {
        /* Only threads goc does not know of rule it out: one that exits
           without a word to goc would leave the deadlock unseen. */
        if (threads_only)
            deadcheck_poll_start(from_sysmon);
        return;
    }
    /* Confirm: plain threads move between "running" and "waiting in goc"
       without a lock that this check could take, so a single look can fall
       into a gap. A real deadlock stays put; anything else moves. */
    uint64_t snap = progress_snapshot();
    for (int r = 0; r < DEADLOCK_CONFIRM_ROUNDS; r++) {
        struct timespec ts = {0, DEADLOCK_CONFIRM_NS};
        nanosleep(&ts, NULL);
        if (progress_snapshot() != snap || !looks_dead(&threads_only) ||
            atomic_load(&goc__sched.main_done)) {
            if (threads_only) /* a thread appeared meanwhile: it may exit silently */
                deadcheck_poll_start(from_sysmon);
            return;
        }
    }
    if (atomic_exchange(&goc__sched.deadlock_checking, 1) == 0)
        goc__fatal("all goroutines are asleep - deadlock!");
}

/* ------------------------------------------------------------------------ */
/* Giving up the M from a goroutine: park, yield, exit.                     */

/* g is the current goroutine on m. Picks the next G (or the scheduler loop),
   leaves after(g, arg) to run once g's context is saved, and switches. */
static inline bool p_current(goc__p *p, goc__g *g) {
    return GOC_LIKELY(p->id < atomic_load_explicit(&goc__sched.gomaxprocs, memory_order_relaxed) &&
                      g->epoch == atomic_load_explicit(&goc__sched.epoch, memory_order_relaxed));
}

/* Returns the M that g resumed on (maybe another thread). */
static inline __attribute__((always_inline)) goc__m *schedule_to(goc__m *m, goc__g *g, goc__g *next, goc__after_fn after, void *arg) {
    if (g->from_slab)
        goc__stack_check(g);
    m->after = after;
    m->after_g = g;
    m->after_arg = arg;
    if (next) {
        m->curg = next;
        atomic_store_explicit(&next->status, G_RUNNING, memory_order_relaxed);
        switch_to(g, next);
    } else {
        m->curg = NULL;
        switch_to(g, &m->g0);
    }
    m = goc__getm();
    run_after(m);
    return m;
}

static goc__m *schedule_from(goc__m *m, goc__g *g, goc__after_fn after, void *arg) {
    goc__p *p = m->p;
    return schedule_to(m, g, p_current(p, g) ? find_local(p, false) : NULL, after, arg);
}

static goc__m *blocking_exit(goc__m *m, goc__g *g);
static void blocking_enter(goc__m *m);

struct park_args {
    bool (*unlock)(void *);
    void *arg;
    goc__timer *timer;
};

static void park_after(goc__m *m, goc__g *g, void *a) {
    (void)m;
    struct park_args *pa = a;
    /* Read everything first: once unlocked, g may run and pa vanish. */
    bool (*unlock)(void *) = pa->unlock;
    void *arg = pa->arg;
    goc__timer *t = pa->timer;
    atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
    if (t)
        goc__timer_add(t);
    if (unlock && !unlock(arg)) {
        /* Not parking after all. By the parker protocol the waiter then
           holds its own claim, so a deadline timer that fired lost it and
           readies nobody: delete it (waiting for a running fn) and resume g.
           (goc__ready's CAS makes a second ready harmless anyway.) */
        if (t)
            goc__timer_del(t);
        goc__ready(g);
    }
}

static void park_impl(bool (*unlock)(void *), void *arg, const char *reason, goc__timer *t) {
    goc__m *m = goc__getm();
    goc__g *g = m->curg;
    if (GOC_UNLIKELY(!g))
        goc__fatal("goc__park called outside a goroutine");
    int blocking = g->locked_blocking;
    if (GOC_UNLIKELY(blocking)) {
        /* Waiting on goc inside a blocking section (to tell the deadlock
           detector that a thread goc cannot see will wake us): the P may
           have been lent away; take one back for the park. */
        g->locked_blocking = 0;
        m = blocking_exit(m, g);
    }
    g->wait_reason = reason;
    g->wait_since = atomic_load_explicit(&goc__sched.coarse_clock, memory_order_relaxed);
    int saved = *m->errno_loc;
    struct park_args pa = {unlock, arg, t};
    m = schedule_from(m, g, park_after, &pa);
    *m->errno_loc = saved; /* the errno of the thread we resumed on */
    if (GOC_UNLIKELY(blocking)) {
        g->locked_blocking = blocking;
        blocking_enter(m);
    }
}

void goc__park(bool (*unlock)(void *), void *arg, const char *reason) {
    park_impl(unlock, arg, reason, NULL);
}

/* A goroutine of a goc_run that has returned is abandoned where it yields,
   as where it parks: queued again, one that keeps yielding would keep its P
   from the next goc_run for ever. */
static inline bool yield_abandons(goc__g *g) {
    if (GOC_LIKELY(g->epoch == atomic_load_explicit(&goc__sched.epoch, memory_order_relaxed)))
        return false;
    atomic_store_explicit(&g->status, G_WAITING, memory_order_relaxed);
    return true;
}

static void yield_global_after(goc__m *m, goc__g *g, void *a) {
    (void)m;
    (void)a;
    if (yield_abandons(g))
        return;
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
    goc__lock_acquire(&goc__sched.lock);
    globrunq_put(g);
    goc__lock_release(&goc__sched.lock);
}

static void yield_after(goc__m *m, goc__g *g, void *a) {
    (void)a;
    if (yield_abandons(g))
        return;
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
    if (!runq_put_head(m->p, g)) /* behind everything queued here */
        yield_global_after(m, g, NULL);
}

bool goc__yield_to_queued(void) {
    goc__m *m = goc__getm();
    if (!m || !m->curg || m->curg->locked_blocking || m->in_step || !m->p ||
        runq_empty(m->p))
        return false;
    /* While g waits behind what is queued, the readies of those Gs go to
       the back of the line too, not to runnext: a hand-off chain through
       runnext would otherwise keep g waiting until the starvation rule
       (10 ms), timeouts and all. g clears it when it runs again, on the P
       it set it on, unless a later yielder replaced it (relaxed: a hint;
       goc_run clears what an abandoned yielder left). */
    goc__g *g = m->curg;
    goc__p *p = m->p;
    atomic_store_explicit(&p->yielder, g, memory_order_relaxed);
    goc_yield();
    goc__g *expect = g;
    atomic_compare_exchange_strong_explicit(&p->yielder, &expect, NULL, memory_order_relaxed,
                                            memory_order_relaxed);
    return true;
}

void goc_yield(void) {
    goc__m *m = goc__getm();
    if (!m || !m->curg || m->curg->locked_blocking) {
        sched_yield();
        return;
    }
    if (m->in_step)
        return; /* called from a timer function or a park's unlock step */
    goc__g *g = m->curg;
    goc__p *p = m->p;
    if (!p_current(p, g)) {
        int saved = *m->errno_loc; /* as every switch: errno is the goroutine's */
        m = schedule_to(m, g, NULL, yield_after, NULL);
        *m->errno_loc = saved;
        return;
    }
    goc__g *next = find_local(p, false);
    if (!next) {
        /* Nobody else here: run due timers and, if that readied someone, switch. */
        if (atomic_load_explicit(&p->timer0, memory_order_relaxed) != INT64_MAX) {
            m->in_step++;
            run_timers(m, p, goc_now());
            m->in_step--;
        }
        next = runq_get(p);
        if (!next)
            return;
    }
    int saved = *m->errno_loc;
    g->wait_reason = NULL;
    goc__after_fn after = yield_after;
    if (p_solo(p)) {
        /* No other M can take from this ring: queue ourselves before the
           switch and leave no after-switch step. The next pop from this
           ring happens only once our context is saved. */
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
        if (runq_put_head(p, g))
            after = NULL;
    }
    m = schedule_to(m, g, next, after, NULL);
    *m->errno_loc = saved;
}

static void exit_after(goc__m *m, goc__g *g, void *a) {
    (void)a;
    gfput(m->p, g);
}

static void main_finished(goc__g *g);

static __attribute__((noreturn)) void goexit(void) {
    goc__m *m = goc__getm();
    goc__g *g = m->curg;
    if (GOC_UNLIKELY(g->locked_blocking)) {
        /* returned inside goc_blocking_begin/end: end the sections, taking
           a P back, since the exit switches like a park, and uncount them
           (the deadlock detector would take them for running calls) */
        atomic_fetch_sub(&goc__sched.nblocking, g->locked_blocking);
        g->locked_blocking = 0;
        m = blocking_exit(m, g);
    }
    if (g->is_main)
        main_finished(g);
    count_goroutines(goc__own_p(m), -1);
    atomic_store_explicit(&g->status, G_DEAD, memory_order_relaxed);
    schedule_from(m, g, exit_after, NULL);
    __builtin_unreachable();
}

/* First C code of every goroutine (called by the trampoline). */
static void g_entry(void) {
#if GOC_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    goc__m *m = goc__getm();
    run_after(m);
    goc__g *g = m->curg;
    g->fn(g->arg);
    goexit();
}

/* ------------------------------------------------------------------------ */
/* Starting goroutines.                                                     */

/* Ids are unique for the life of the process, as Go's: a goroutine started
   before goc_run (from a plain thread) or between runs keeps its id, so the
   counter never restarts. Every run's main is 1, as Go's main goroutine is;
   the others count from 2. Only the P's owner touches its batch. */
static uint64_t new_goid(goc__p *p) {
    if (!p)
        return atomic_fetch_add(&goc__sched.goidgen, 1) + 2;
    if (p->goid_next == p->goid_end) {
        p->goid_next = atomic_fetch_add(&goc__sched.goidgen, GOID_BATCH) + 2;
        p->goid_end = p->goid_next + GOID_BATCH;
    }
    return p->goid_next++;
}

static goc__g *newproc(void (*fn)(void *), void *arg, const goc_go_options *opts,
                       const void *copy, size_t copy_size, uintptr_t created_pc) {
    goc__runtime_init();
    goc__m *m = goc__getm();
    goc__p *p = goc__own_p(m); /* not m->p: a blocking section may have lent it away */
    if (GOC_UNLIKELY(!fn))
        goc__fatal("go of nil func value");
    size_t size = goc__sched.default_stack;
    if (opts && opts->stack_size) {
        size = opts->stack_size;
        if (size < 16384)
            size = 16384;
        if (size > GOC__MAX_STACK)
            goc_panic("goc_go_opts: stack size %zu over the limit of %d bytes", size,
                      GOC__MAX_STACK);
        size = (size + 4095) & ~(size_t)4095;
    }
    goc__g *g = gfget(p, size);
    if (g) {
        goc__stack_reuse(g);
    } else {
        g = goc__stack_alloc(size);
        if (size == goc__sched.default_stack)
            atomic_fetch_add_explicit(&goc__sched.stack_misses, 1, memory_order_relaxed);
    }
    char *top = g->stack_hi;
    if (copy_size) {
        if (copy_size > (size_t)(g->stack_hi - g->stack_lo) / 2)
            goc__fatal("goc_go_copy: %zu bytes do not fit on a %zu-byte stack", copy_size, size);
        top = (char *)(((uintptr_t)top - copy_size) & ~(uintptr_t)63);
        memcpy(top, copy, copy_size);
        arg = top;
    }
    g->fn = fn;
    g->arg = arg;
    g->sp = goc__stack_init(top, g_entry);
    g->epoch = atomic_load_explicit(&goc__sched.epoch, memory_order_relaxed);
    g->wait_reason = NULL;
    g->file = opts ? opts->file : NULL;
    g->line = opts ? opts->line : 0;
    g->name[0] = 0;
    if (opts && opts->name) {
        strncpy(g->name, opts->name, GOC_G_NAME_MAX - 1);
        g->name[GOC_G_NAME_MAX - 1] = 0;
    }
    /* The creator: not the goroutine the M switched to when a timer's
       function (an AfterFunc) starts one from the switch's step */
    goc__g *cur = m && !m->in_timers ? m->curg : NULL;
    g->parent_id = cur ? cur->id : 0;
    g->created_pc = created_pc;
    g->locked_blocking = 0;
    g->is_main = false;
    g->id = new_goid(p);
    count_goroutines(p, 1);
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
    return g;
}

/* The spawner whose ring overflowed queues itself behind the half of the
   ring that went to the global queue (Go's Gosched): it resumes only once
   those have been taken, so the queued goroutines cannot pile up faster
   than they run, even with one P (where a spawner that went back to its own
   ring would find it ahead of the global queue every time). */
static void spawn_yield(goc__m *m) {
    goc__g *g = m->curg;
    goc__p *p = m->p;
    goc__g *next = p_current(p, g) ? find_local(p, false) : NULL;
    int saved = *m->errno_loc;
    g->wait_reason = NULL;
    m = schedule_to(m, g, next, yield_global_after, NULL);
    *m->errno_loc = saved;
}

/* Queues a new goroutine. When the spawner's ring overflows (it starts
   goroutines faster than they run), the spawner yields once, so that this P
   runs the queued ones too: their stacks return to the pool and the next
   spawns reuse them instead of faulting in fresh pages (14 to 50 us each
   here). Go gets the same effect from preempting the spawner. */
static void spawn(goc__g *g) {
    goc__m *m = goc__getm();
    goc__p *p = goc__own_p(m);
    if (p) {
        uint32_t before = RQ_HEAD(atomic_load_explicit(&p->runqw, memory_order_relaxed));
        runq_put(p, g, true, true);
        wakep();
        /* half the ring left it during our put: it overflowed (or a thief
           took half): either way, a long queue */
        if (GOC_UNLIKELY(((RQ_HEAD(atomic_load_explicit(&p->runqw, memory_order_relaxed)) - before) &
                          0xFFFFu) >= GOC_RUNQ_SIZE / 2) &&
            m->curg && !m->in_step) /* own_p: not in a blocking section */
            spawn_yield(m);
        return;
    }
    globrunq_put_wake(g);
}

/* Each records its return address: the dump names the function that
   started the goroutine ("created by main_fn in goroutine 1"), as Go's.
   Never inlined (LTO would put them in goc_wg_go and the timers' starters,
   whose callers would then be named). A caller that ends in a tail call
   to them is named as its own caller: the go() macro's file:line is exact. */
#define CALLER_PC ((uintptr_t)__builtin_return_address(0))

__attribute__((noinline)) void goc_go(void (*fn)(void *), void *arg) {
    spawn(newproc(fn, arg, NULL, NULL, 0, CALLER_PC));
}

__attribute__((noinline)) void goc_go_opts(void (*fn)(void *), void *arg,
                                           const goc_go_options *opts) {
    spawn(newproc(fn, arg, opts, NULL, 0, CALLER_PC));
}

__attribute__((noinline)) void goc_go_copy(void (*fn)(void *), const void *arg, size_t size) {
    spawn(newproc(fn, NULL, NULL, arg, size, CALLER_PC));
}

/* ------------------------------------------------------------------------ */
/* The M's own loop (g0).                                                   */

static void m_init_thread(goc__m *m) {
    set_m(m);
    goc__m_signal_stack(m);
    pthread_attr_t attr;
    void *lo = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &lo, &size);
        pthread_attr_destroy(&attr);
    }
    m->g0.stack_lo = lo;
    m->g0.stack_hi = (char *)lo + size;
    m->g0.id = 0;
    m->errno_loc = &errno;
    /* The default 50 us of slack would stretch a thief's 3 us nap
       (runq_grab) and every timed sleep of an idle M (timers) */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#if GOC_TSAN
    m->g0.tsan_fiber = __tsan_get_current_fiber();
#endif
}

static void *m_main(void *arg) {
    goc__m *m = arg;
    m_init_thread(m);
    pthread_sigmask(SIG_SETMASK, &m->sigmask, NULL); /* the alternate stack is ready */
    if (m->p)
        acquirep(m, m->p);
    for (;;) {
        goc__g *g = findrunnable(m);
        m->curg = g;
        atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
        switch_to(&m->g0, g);
        run_after(m);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* sysmon: wakes an M when a busy P keeps queued work waiting, and gives    */
/* the pages of surplus pooled stacks back to the kernel.                   */

#define GFREE_KEEP 256     /* pooled stacks kept committed; beyond, pages go back */
#define SYSMON_MIN_US 20      /* as Go: first delay */
#define SYSMON_MAX_US 10000   /* as Go: delay after 50 idle rounds, doubling */
#define TRIM_BUSY 64       /* stacks trimmed per sysmon round while busy */
#define TRIM_IDLE 16       /* per 10 ms while idle: about 6% of a core (madvise ~40 us a page) */

/* Trims up to max stacks beyond GFREE_KEEP in the global free list and
   moves them to the trimmed list, which gfget uses only when the first is
   empty. The madvise calls run without the lock: the batch is off both lists
   meanwhile. Returns whether untrimmed stacks beyond GFREE_KEEP remain. */
static bool trim_gfree(int max) {
    if (atomic_load_explicit(&goc__sched.ngfree, memory_order_relaxed) <= GFREE_KEEP)
        return false;
    goc__g *batch = NULL, *last = NULL;
    int n = 0;
    goc__lock_acquire(&goc__sched.gfree_lock);
    while (n < max && atomic_load(&goc__sched.ngfree) > GFREE_KEEP) {
        int k = 0;
        goc__g *b = gfree_pop_locked(false, &k);
        goc__g *t = b;
        while (t->schedlink)
            t = t->schedlink;
        t->schedlink = batch;
        batch = b;
        if (!last)
            last = t;
        n += k;
    }
    goc__lock_release(&goc__sched.gfree_lock);
    for (goc__g *g = batch; g; g = g->schedlink)
        goc__stack_trim(g);
    if (batch) {
        goc__lock_acquire(&goc__sched.gfree_lock);
        last->schedlink = goc__sched.gtrimmed;
        goc__sched.gtrimmed = batch;
        atomic_store_explicit(&goc__sched.gtrimmed_nonempty, true, memory_order_relaxed);
        goc__lock_release(&goc__sched.gfree_lock);
    }
    return atomic_load_explicit(&goc__sched.ngfree, memory_order_relaxed) > GFREE_KEEP;
}

static void retake(void);
static _Atomic bool deadcheck_req;
/* Only threads goc does not know of rule a deadlock out: while every P is
   idle sysmon looks again every DEADCHECK_POLL_NS (reading /proc/self/status,
   some microseconds), since such a thread may exit without a word to goc. */
static _Atomic bool deadcheck_poll;
#define DEADCHECK_POLL_NS (100 * GOC_MILLISECOND)

static void deadcheck_poll_start(bool from_sysmon) {
    if (atomic_exchange(&deadcheck_poll, true) || from_sysmon)
        return;
    atomic_store(&sysmon_wake, 1); /* into its idle loop again, now polling */
    goc__futex_wake(&sysmon_wake, 1);
}

/* A plain thread began to wait in goc, or ended: with every P idle that may
   complete a deadlock no M will notice (none goes idle again): sysmon looks. */
static void request_deadcheck(void) {
    if (!atomic_load(&goc__sched.running) || !all_idle())
        return;
    atomic_store(&deadcheck_req, true);
    atomic_store(&sysmon_wake, 1);
    goc__futex_wake(&sysmon_wake, 1);
}

static void *sysmon_main(void *arg) {
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    unsigned delay = SYSMON_MIN_US;
    int idle = 0;
    for (;;) {
        if (!atomic_load(&goc__sched.running) || all_idle()) {
            atomic_store(&sysmon_wake, 0);
            atomic_store(&sysmon_sleeping, true);
            if (atomic_load(&goc__sched.running) && !all_idle()) {
                atomic_store(&sysmon_sleeping, false);
            } else {
                /* Idle: finish trimming pooled stacks slowly, then sleep. */
                while (atomic_load(&sysmon_wake) == 0) {
                    if (atomic_exchange(&deadcheck_req, false) ||
                        atomic_exchange(&deadcheck_poll, false))
                        check_dead(true); /* sets deadcheck_poll again if need be */
                    int64_t until = trim_gfree(TRIM_IDLE) ? goc_now() + 10 * GOC_MILLISECOND : -1;
                    if (until < 0 && atomic_load(&deadcheck_poll))
                        until = goc_now() + DEADCHECK_POLL_NS;
                    goc__futex_wait(&sysmon_wake, 0, until);
                }
            }
            delay = SYSMON_MIN_US;
            idle = 0;
        }
        usleep(delay);
        atomic_store_explicit(&goc__sched.coarse_clock, coarse_now(), memory_order_relaxed);
        retake();
        trim_gfree(TRIM_BUSY);
        /* As Go: if nobody polled the network for 10 ms (every P busy), poll
           here; the woken goroutines go to the global queue. */
        if (netwaiters() > 0 && !atomic_load(&goc__sched.netpolling) &&
            goc_now() - atomic_load(&goc__sched.last_poll) > 10 * GOC_MILLISECOND) {
            atomic_store(&goc__sched.last_poll, goc_now());
            goc__netpoll(0);
        }
        bool woke = false;
        if (atomic_load(&goc__sched.npidle) > 0 && atomic_load(&goc__sched.nmspinning) == 0) {
            int n = atomic_load(&goc__sched.nallp);
            if (atomic_load(&goc__sched.runq_size) > 0) {
                wakep();
                woke = true;
            }
            for (int i = 0; i < n && !woke; i++) { /* retired Ps too (see findrunnable) */
                goc__p *p = goc__sched.allp[i];
                if (p->idle || p_solo(p))
                    continue;
                /* A G alone in runnext of a P that switched since our
                   last look is about to run there (a hand-off): a woken M
                   would only take it away from its partner; the same for
                   a short ring of a P marked quiet (runq_grab). */
                uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
                bool progressed = tick != p->sysmon_tick;
                if (progressed) /* the line is the owner's: write only when it changed */
                    p->sysmon_tick = tick;
                if (runq_wants_thief(p) || (!progressed && !runq_empty(p))) {
                    wakep();
                    woke = true;
                }
            }
        }
        if (woke || idle < 50) {
            idle = woke ? 0 : idle + 1;
            if (woke)
                delay = SYSMON_MIN_US;
        } else if (delay < SYSMON_MAX_US) {
            delay *= 2;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Processors and start-up.                                                 */

static goc__p *newp(int id) {
    goc__p *p = aligned_alloc(64, (sizeof(goc__p) + 63) & ~(size_t)63);
    if (!p)
        goc__fatal_nodump("out of memory allocating a P");
    memset(p, 0, sizeof *p);
    p->id = id;
    atomic_store(&p->timer0, INT64_MAX);
    p->shuffle_state = goc__debug.shuffle + (uint64_t)id * 0x9E3779B97F4A7C15ULL;
    return p;
}

/* Makes Ps up to n exist (sched.lock held). New ones are idle. */
static void grow_procs(int n) {
    while (atomic_load(&goc__sched.nallp) < n) {
        int id = atomic_load(&goc__sched.nallp);
        goc__p *p = newp(id);
        goc__sched.allp[id] = p;
        atomic_store(&goc__sched.nallp, id + 1);
        pidleput(p);
    }
}

/* A positive count from the environment, at most max (larger: max);
   anything else is reported and def is used. */
static int env_int(const char *name, int def, int max) {
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < 1) {
        fprintf(stderr, "goc: ignoring %s=%s (want a positive integer)\n", name, s);
        return def;
    }
    if (errno == ERANGE || v > max) {
        fprintf(stderr, "goc: %s=%s is over the limit: using %d\n", name, s, max);
        return max;
    }
    return (int)v;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void runtime_init_once(void) {
    goc__debug_init();
    pthread_sigmask(SIG_BLOCK, NULL, &init_sigmask);
    goc__sched.default_stack = goc__stack_default();
    int n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        n = CPU_COUNT(&set);
    n = env_int("GOC_MAXPROCS", n < 1 ? 1 : n, GOC_MAX_PROCS);
    if (n > GOC_MAX_PROCS)
        n = GOC_MAX_PROCS;
    atomic_store(&goc__sched.gomaxprocs, n);
    atomic_store(&goc__sched.coarse_clock, coarse_now());
    goc__lock_acquire(&goc__sched.lock);
    grow_procs(n);
    goc__lock_release(&goc__sched.lock);
    goc__signals_init();
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, sysmon_main, NULL) != 0)
        goc__fatal_nodump("cannot start the sysmon thread");
    pthread_attr_destroy(&attr);
    /* Not counted: this thread and sysmon. */
    long now = count_threads();
    base_threads = now > 2 ? now - 2 : 0;
    /* Those from load time (under TSan, its helper among them), at most
       those alive now (some may have exited). A thread the program made
       before goc started is a potential waker. */
    if (load_threads >= 0 && load_threads < base_threads)
        base_threads = load_threads;
}

void goc__runtime_init(void) {
    pthread_once(&init_once, runtime_init_once);
}

int goc_maxprocs(int n) {
    goc__runtime_init();
    int old = atomic_load(&goc__sched.gomaxprocs);
    if (n < 1)
        return old;
    if (n > GOC_MAX_PROCS)
        n = GOC_MAX_PROCS;
    goc__lock_acquire(&goc__sched.lock);
    grow_procs(n);
    atomic_store(&goc__sched.gomaxprocs, n);
    goc__lock_release(&goc__sched.lock);
    /* Idle Ps beyond n keep their timers until moved; Ps beyond n still
       held by an M move theirs again when that M lets go (drop_p_for_epoch). */
    for (int i = n; i < old; i++)
        retire_timers(goc__sched.allp[i]);
    /* The caller's own P follows the new count into or out of solo mode now,
       not at its next switch: a caller that keeps computing would keep the
       new Ps from stealing its queue. */
    goc__m *m = goc__getm();
    goc__p *own = goc__own_p(m);
    if (own && m->curg && !m->in_step && p_solo(own) != (n == 1))
        p_update_solo(own, n == 1);
    /* Ps beyond n are given up at their Ms' next switch; new ones get Ms. */
    for (int i = old; i < n; i++)
        wakep();
    return old;
}

int goc_num_goroutine(void) {
    return (int)num_goroutines();
}

uint64_t goc_id(void) {
    goc__g *g = goc__curg();
    return g ? g->id : 0;
}

/* ------------------------------------------------------------------------ */
/* goc_run.                                                                 */

struct main_args {
    int (*fn)(void *);
    void *arg;
};

static void main_trampoline(void *a) {
    struct main_args *ma = a;
    goc__sched.main_result = ma->fn(ma->arg);
}

static void main_finished(goc__g *g) {
    (void)g;
    if (goc__debug.leaks) {
        int64_t others = num_goroutines() - 1;
        if (others > 0) {
            fprintf(stderr, "goc: %lld goroutine(s) still alive when main returned:\n\n",
                    (long long)others);
            goc__dump_others(stderr); /* not main itself */
        }
    }
    atomic_store(&goc__sched.running, false);
    /* The next run counts its goroutines waiting on descriptors in the slot
       of the run before this one, whose goroutines were abandoned when this
       one began and never wake: they count no more (they would hide a
       deadlock). This run's stay in the other slot, which the next run does
       not read: some may still be running now. */
    uint32_t e = atomic_load(&goc__sched.epoch);
    atomic_store(&goc__sched.nnetwait_g[(e + 1) & 1], 0);
    atomic_fetch_add(&goc__sched.epoch, 1);
    /* Plain threads waiting relied on this run's Ms for the timers: they
       run them themselves from now on. */
    foreign_waiters_kick();
    atomic_store_explicit(&goc__sched.main_done, 1, memory_order_release);
    goc__futex_wake(&goc__sched.main_done, 1);
}

static void parker_timeout(goc__timer *t, void *arg);

/* A timer of a goroutine an earlier run abandoned, parked with a deadline:
   it could only ready a G that is never made ready again, and while it
   waits in a heap it would keep a deadlock of this run from being seen.
   Every other timer (a goc_timer, AfterFunc, a context's deadline, made
   before this run or in an earlier one) stays: it belongs to the program. */
static bool abandoned_timer(goc__timer *t) {
    return t->fn == parker_timeout && goc__parker_abandoned(t->arg);
}

/* Timers made before this run (between runs, idle Ms sleep with no
   deadline): an idle M must wake for the earliest, or one on another P than
   main's would wait until some M looked at that heap. */
static __attribute__((noinline, cold)) void wake_for_early_timers(void) {
    int64_t earliest = goc__timers_earliest();
    if (earliest != INT64_MAX)
        goc__timers_wake(earliest);
}

int goc_run(int (*main_fn)(void *), void *arg) {
    if (goc__curg())
        goc__fatal("goc_run called from a goroutine");
    if (!main_fn)
        goc__fatal_nodump("go of nil func value (goc_run's main)");
    goc__runtime_init();
    if (atomic_exchange(&goc__sched.running, true))
        goc__fatal_nodump("goc_run: already running (one goc_run at a time)");
    /* Wait until the Ms of an earlier run have let go of their Ps. */
    for (;;) {
        goc__lock_acquire(&goc__sched.lock);
        int busy = 0;
        for (int i = 0; i < atomic_load(&goc__sched.nallp); i++)
            if (!goc__sched.allp[i]->idle)
                busy++;
        goc__lock_release(&goc__sched.lock);
        if (!busy)
            break;
        usleep(100);
    }
    for (int i = 0; i < atomic_load(&goc__sched.nallp); i++) {
        goc__timers_drop(goc__sched.allp[i], abandoned_timer);
        /* hints about Gs of the old run, which may never run again */
        atomic_store_explicit(&goc__sched.allp[i]->yielder, NULL, memory_order_relaxed);
        goc__sched.allp[i]->runnext_urgent = NULL;
    }
    set_num_goroutines(atomic_load(&goc__sched.runq_size));
    atomic_store(&goc__sched.main_done, 0);
    atomic_store(&goc__sched.deadlock_checking, 0);

    struct main_args ma = {main_fn, arg};
    goc__g *g = newproc(main_trampoline, &ma, &(goc_go_options){.name = "main"}, NULL, 0, 0);
    g->is_main = true;
    g->id = 1; /* as Go's main goroutine, in every run (see new_goid) */
    /* the main goroutine runs first, as in Go */
    goc__lock_acquire(&goc__sched.lock);
    globrunq_push_front(g);
    goc__lock_release(&goc__sched.lock);
    /* Count this thread as waiting before main can run: the deadlock check
       must not take it for a thread that could still wake someone. */
    goc__foreign_block_begin();
    startm(NULL, false);
    wake_for_early_timers();
    while (atomic_load_explicit(&goc__sched.main_done, memory_order_acquire) == 0)
        goc__futex_wait(&goc__sched.main_done, 0, -1);
    goc__foreign_block_end();
    /* Abandon the goroutines left in the global queue. */
    goc__lock_acquire(&goc__sched.lock);
    globrunq_clear();
    goc__lock_release(&goc__sched.lock);
    set_num_goroutines(0);
    return goc__sched.main_result;
}

/* ------------------------------------------------------------------------ */
/* Blocking sections and plain threads.                                     */

/* As Go's entersyscall/exitsyscall. The P stays with the M (a short call
   costs two atomic stores); if the call lasts over BLOCKING_RETAKE_NS, sysmon
   hands the P to another M so the P's goroutines run on. On the way out the M
   takes its P back if it is still there, else any idle P, else it queues its
   goroutine globally and goes idle itself. Inside the section the goroutine
   must not call what could park it (goc__park says so). */
#define BLOCKING_RETAKE_NS (20 * GOC_MICROSECOND) /* as Go's sysmon: 20 us */

/* Marks m's P as lent to a blocking call. */
static void blocking_enter(goc__m *m) {
    goc__p *p = m->p;
    atomic_store_explicit(&p->sys_since, coarse_now(), memory_order_relaxed);
    atomic_store_explicit(&p->psys, (uintptr_t)m, memory_order_release);
    sysmon_kick();
}

static void blocking_exit_after(goc__m *m, goc__g *g, void *a) {
    (void)m;
    (void)a;
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
    globrunq_put_wake(g);
}

/* Takes m's P back, or another, or waits for one. Returns the M g runs on. */
static goc__m *blocking_exit(goc__m *m, goc__g *g) {
    goc__p *p = m->p;
    uintptr_t mine = (uintptr_t)m;
    if (atomic_compare_exchange_strong(&p->psys, &mine, 0))
        return m;
    /* sysmon gave our P away: find another, or wait for one */
    m->p = NULL;
    goc__lock_acquire(&goc__sched.lock);
    goc__p *p2 = pidleget();
    goc__lock_release(&goc__sched.lock);
    if (p2) {
        acquirep(m, p2);
        return m;
    }
    g->wait_reason = "blocking call (waiting for a P)";
    int saved = *m->errno_loc;
    m = schedule_to(m, g, NULL, blocking_exit_after, NULL);
    *m->errno_loc = saved;
    return m;
}

/* A plain thread's nesting of blocking sections (it never migrates). */
static __thread int plain_blocking;

void goc_blocking_begin(void) {
    atomic_fetch_add(&goc__sched.nblocking, 1);
    goc__m *m = goc__getm();
    goc__g *g = m ? m->curg : NULL;
    if (!g) {
        plain_blocking++;
        return;
    }
    if (g->locked_blocking++)
        return; /* nested */
    blocking_enter(m);
}

void goc_blocking_end(void) {
    goc__m *m = goc__getm();
    goc__g *g = m ? m->curg : NULL;
    /* Unbalanced, it would lend a P that is not lent, or leave the
       deadlock detector counting a blocking call for ever. */
    if (GOC_UNLIKELY(g ? g->locked_blocking == 0 : plain_blocking == 0))
        goc__fatal("goc_blocking_end without goc_blocking_begin");
    if (!g)
        plain_blocking--;
    else if (--g->locked_blocking == 0)
        blocking_exit(m, g);
    atomic_fetch_sub(&goc__sched.nblocking, 1);
}

/* sysmon: hands the P of a long blocking call to another M, or idles it. */
static void retake(void) {
    int n = atomic_load(&goc__sched.nallp);
    int64_t now = coarse_now();
    for (int i = 0; i < n; i++) {
        goc__p *p = goc__sched.allp[i];
        uintptr_t owner = atomic_load_explicit(&p->psys, memory_order_acquire);
        if (!owner ||
            now - atomic_load_explicit(&p->sys_since, memory_order_relaxed) < BLOCKING_RETAKE_NS)
            continue;
        if (!atomic_compare_exchange_strong(&p->psys, &owner, 0))
            continue;
        /* p is ours now: its old M will not touch it again. */
        p->m = NULL;
        goc__lock_acquire(&goc__sched.lock);
        /* Any P's timers count: an idle M that found every P busy when a
           timer came due sleeps without a deadline (stopm), and a P handed
           over by startm reaches it through park, which no race loses. */
        bool work = !runq_empty(p) || atomic_load(&goc__sched.runq_size) > 0 ||
                    goc__timers_earliest() != INT64_MAX;
        if (!work) {
            pidleput(p);
            goc__lock_release(&goc__sched.lock);
            continue;
        }
        goc__lock_release(&goc__sched.lock);
        startm(p, false);
    }
}

/* A plain thread that has used goc counts as able to wake goroutines (so no
   deadlock is declared) except while it is blocked in goc itself. */
static pthread_key_t foreign_key;
static pthread_once_t foreign_once = PTHREAD_ONCE_INIT;
static __thread int foreign_state; /* 0 unknown, 1 counted, 2 blocked */

static void foreign_exit(void *v) {
    (void)v;
    if (foreign_state == 1)
        atomic_fetch_sub(&goc__sched.nforeign, 1);
    foreign_state = 0;
    request_deadcheck(); /* the goroutines may have been waiting for us */
}

static void foreign_key_init(void) {
    pthread_key_create(&foreign_key, foreign_exit);
}

static void foreign_register(void) {
    if (foreign_state == 0) {
        pthread_once(&foreign_once, foreign_key_init);
        pthread_setspecific(foreign_key, (void *)1);
        foreign_state = 1;
        atomic_fetch_add(&goc__sched.nforeign, 1);
    }
}

void goc__foreign_block_begin(void) {
    foreign_register();
    if (foreign_state == 1) {
        foreign_state = 2;
        atomic_fetch_add(&goc__sched.nforeign_blocked, 1);
        atomic_fetch_sub(&goc__sched.nforeign, 1);
        request_deadcheck();
    }
}

void goc__foreign_block_end(void) {
    if (foreign_state == 2) {
        foreign_state = 1;
        atomic_fetch_add(&goc__sched.nforeign, 1);
        atomic_fetch_sub(&goc__sched.nforeign_blocked, 1);
    }
}

/* ------------------------------------------------------------------------ */
/* Parkers: a goroutine or a plain thread.                                  */

void goc__parker_init(goc__parker *pk) {
    pk->g = goc__curg();
    atomic_store_explicit(&pk->claimed, 0, memory_order_relaxed);
    atomic_store_explicit(&pk->woken, 0, memory_order_relaxed);
    pk->timed_out = false;
}

void goc__parker_wake(goc__parker *pk) {
    goc__g *g = pk->g;
    if (g) {
        ready_claimed(g);
        return;
    }
    /* Count the thread as able to wake goroutines again before it runs:
       if this waker parks next, the deadlock check must not see a gap. The
       thread itself then skips its own count (goc__parker_park). */
    atomic_fetch_add(&goc__sched.nforeign, 1);
    atomic_store_explicit(&pk->woken, 1, memory_order_release);
    goc__futex_wake(&pk->woken, 1);
}

#define SWITCH_LINES 8 /* cache lines above a parked goroutine's saved sp that switching in reads */

static void parker_timeout(goc__timer *t, void *arg) {
    (void)t;
    goc__parker *pk = arg;
    if (goc__parker_claim(pk)) {
        pk->timed_out = true;
        if (pk->g) {
            /* The goroutine's saved context and the frames it returns
               through lie just above its saved stack pointer, cold after
               its wait (see the prefetching in timer.c): start loading them
               all now, or switching in waits for them one line at a time. */
            const char *sp = pk->g->sp;
            for (int i = 0; i < SWITCH_LINES; i++)
                __builtin_prefetch(sp + 64 * i, 0);
        }
        goc__parker_wake(pk);
    }
}

/* Plain threads waiting in goc__parker_park. While no goc_run runs, each
   runs the timer heaps itself and sleeps until the earliest timer; a timer
   added or moved earlier since (goc__timers_wake), or the end of a run
   whose threads it relied on, must make it look again. A kick adds 2 to
   its futex word, whose bit 0 is the real wake: a kick between its look
   and its sleep changes the word, so the sleep returns at once. */
struct foreign_waiter {
    goc__parker *pk;
    struct foreign_waiter *next, *prev;
};
static goc__lock foreign_waiters_lock;
static struct foreign_waiter *foreign_waiters;
static _Atomic int nforeign_waiters;

static void foreign_waiter_add(struct foreign_waiter *w) {
    goc__lock_acquire(&foreign_waiters_lock);
    w->prev = NULL;
    w->next = foreign_waiters;
    if (w->next)
        w->next->prev = w;
    foreign_waiters = w;
    atomic_fetch_add(&nforeign_waiters, 1);
    goc__lock_release(&foreign_waiters_lock);
}

static void foreign_waiter_remove(struct foreign_waiter *w) {
    goc__lock_acquire(&foreign_waiters_lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        foreign_waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    atomic_fetch_sub(&nforeign_waiters, 1);
    goc__lock_release(&foreign_waiters_lock);
}

static void foreign_waiters_kick(void) {
    if (atomic_load(&nforeign_waiters) == 0)
        return;
    goc__lock_acquire(&foreign_waiters_lock);
    for (struct foreign_waiter *w = foreign_waiters; w; w = w->next) {
        atomic_fetch_add_explicit(&w->pk->woken, 2, memory_order_relaxed);
        goc__futex_wake(&w->pk->woken, 1);
    }
    goc__lock_release(&foreign_waiters_lock);
}

/* Work that timer functions run by this plain thread deferred to it
   (goc__timer_defer); valid while it runs the heaps. */
struct timer_deferred {
    void (*fn)(void *);
    void *arg;
    struct timer_deferred *next;
};
static __thread struct timer_deferred **timer_deferred_tail;

bool goc__timer_defer(void (*fn)(void *), void *arg) {
    if (!timer_deferred_tail)
        return false;
    struct timer_deferred *d = malloc(sizeof *d);
    if (!d)
        goc__fatal("out of memory deferring a timer's work");
    *d = (struct timer_deferred){fn, arg, NULL};
    *timer_deferred_tail = d;
    timer_deferred_tail = &d->next;
    return true;
}

/* For a plain thread waiting while no goc_run runs: runs the due timers of
   every heap, then the work their functions deferred; returns the earliest
   when left. A goc_run that starts meanwhile runs them too: the heaps'
   locks serialise the two. */
static int64_t run_timers_unscheduled(void) {
    int64_t now = goc_now(), next = INT64_MAX;
    struct timer_deferred *work = NULL;
    timer_deferred_tail = &work;
    int n = atomic_load(&goc__sched.nallp);
    for (int i = 0; i < n; i++) {
        int64_t w = goc__timers_run(goc__sched.allp[i], now);
        if (w < next)
            next = w;
    }
    timer_deferred_tail = NULL;
    if (!work)
        return next;
    while (work) {
        struct timer_deferred *d = work;
        work = d->next;
        d->fn(d->arg);
        free(d);
    }
    return goc__timers_earliest(); /* the work may have added or deleted timers */
}

bool goc__parker_park(goc__parker *pk, bool (*unlock)(void *), void *arg, const char *reason,
                      int64_t deadline) {
    if (pk->g) {
        if (deadline < 0) {
            park_impl(unlock, arg, reason, NULL);
            return true;
        }
        goc__timer t = {.when = deadline, .fn = parker_timeout, .arg = pk, .idx = -1};
        park_impl(unlock, arg, reason, &t);
        /* Also after a timeout: the timer's function readied us, but the
           runtime still clears t.running after it returns, and t is on this
           stack; del waits for that. */
        goc__timer_del(&t);
        return !pk->timed_out;
    }
    int saved = errno;
    foreign_register();
    /* A timed wait ends by itself, like a goroutine's timer: while it
       lasts the program is not deadlocked. Counted before the thread counts
       as blocked (which asks for a deadlock check). */
    bool timed = deadline >= 0;
    if (timed)
        atomic_fetch_add(&goc__sched.nforeign_timed, 1);
    goc__foreign_block_begin();
    if (unlock && !unlock(arg)) {
        if ((atomic_load_explicit(&pk->woken, memory_order_acquire) & 1) && foreign_state == 2) {
            foreign_state = 1; /* a waker counted us already */
            atomic_fetch_sub(&goc__sched.nforeign_blocked, 1);
        } else
            goc__foreign_block_end();
        if (timed)
            atomic_fetch_sub(&goc__sched.nforeign_timed, 1);
        errno = saved;
        return true;
    }
    struct foreign_waiter fw = {.pk = pk};
    foreign_waiter_add(&fw);
    for (;;) {
        uint32_t word = atomic_load_explicit(&pk->woken, memory_order_acquire);
        if (word & 1)
            break;
        if (deadline >= 0 && goc_now() >= deadline) {
            if (goc__parker_claim(pk)) {
                pk->timed_out = true;
                break;
            }
            deadline = -1; /* a waker claimed us first: wait for it */
            continue;
        }
        int64_t until = deadline;
        if (!atomic_load(&goc__sched.running)) {
            /* No goc_run runs the timer heaps: a timer this thread waits
               for (a timer channel's, which entered a heap when we blocked)
               would never fire. Run the due ones here, and wake for the
               next, or when kicked (an earlier timer came). */
            int64_t next = run_timers_unscheduled();
            if (next != INT64_MAX && (until < 0 || next < until))
                until = next;
            if (atomic_load_explicit(&pk->woken, memory_order_acquire) & 1)
                break;
        }
        /* word as read above: a kick since then changed it, and the wait
           returns at once */
        goc__futex_wait(&pk->woken, word, until);
    }
    foreign_waiter_remove(&fw);
    if (!pk->timed_out && foreign_state == 2) {
        foreign_state = 1; /* the waker counted us (goc__parker_wake) */
        atomic_fetch_sub(&goc__sched.nforeign_blocked, 1);
    } else
        goc__foreign_block_end();
    if (timed)
        atomic_fetch_sub(&goc__sched.nforeign_timed, 1);
    errno = saved;
    return !pk->timed_out;
}

void goc_sleep(goc_duration d) {
    if (d <= 0) {
        goc_yield();
        return;
    }
    int64_t now = goc_now();
    int64_t deadline = d > INT64_MAX - now ? INT64_MAX : now + d;
    /* a goroutine parks; a plain thread sleeps on the parker's futex, a
       timed wait that rules a deadlock out (goc__parker_park) */
    goc__parker pk;
    goc__parker_init(&pk);
    goc__parker_park(&pk, NULL, NULL, "sleep", deadline);
}

/* ------------------------------------------------------------------------ */
/* For dumps: walk every G.                                                 */

void goc__sched_register_g(goc__g *g) {
    /* lock-free push: the list only grows, and a dump reads it unlocked */
    goc__g *head = atomic_load_explicit(&goc__sched.allgs, memory_order_relaxed);
    do {
        g->allnext = head;
    } while (!atomic_compare_exchange_weak_explicit(&goc__sched.allgs, &head, g,
                                                    memory_order_release, memory_order_relaxed));
}
