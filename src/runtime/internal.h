/* Private interface of the runtime layer: G, M, P, parking, timers, stacks.
 *
 * Layers above (chan, sync, time, context) use only what this header
 * declares under "For the layers above". Nothing here is exported from the
 * library (hidden visibility); names shared between files are goc__*.
 *
 * Invariants:
 * - A G runs on at most one M at a time; an M runs goroutines only while it
 *   holds a P.
 * - A goroutine's stack never moves; its G record lives at the top of its own
 *   stack mapping, and both are reused together (free lists per P, then a
 *   global list).
 * - Thread-local state belongs to the M, never to a G: it is read only through
 *   goc__getm(), an accessor the compiler cannot cache across a switch.
 * - A wake-up is never lost: park runs its unlock callback only after the
 *   parking goroutine's context is saved, so whoever takes the lock after it
 *   may make it ready at once.
 */
#ifndef GOC_RUNTIME_INTERNAL_H
#define GOC_RUNTIME_INTERNAL_H

#include <goc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>

#define GOC_HIDDEN __attribute__((visibility("hidden")))
#define GOC_LIKELY(x) __builtin_expect(!!(x), 1)
#define GOC_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- sanitizer detection (clang 14 defines neither __SANITIZE_* macro) ---- */
#if defined(__SANITIZE_ADDRESS__)
#define GOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOC_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GOC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GOC_TSAN 1
#endif
#endif

/* Dumps read other goroutines' records without synchronising, on purpose
   (they may run from a fatal error holding any lock): keep TSan out of them. */
#define GOC_NO_TSAN __attribute__((no_sanitize("thread")))
/* ...and a backtrace reads another goroutine's frames, redzones included,
   while it may be running: keep ASan out of that too. */
#define GOC_NO_SAN_WALK __attribute__((no_sanitize("thread"))) __attribute__((no_sanitize("address")))

/* ============================ For the layers above ======================= */

typedef struct goc__g goc__g;
typedef struct goc__m goc__m;
typedef struct goc__p goc__p;

/* A spinlock built from acquire/release atomics (TSan models these exactly;
   a pthread mutex may not be released by another fiber). Zero is unlocked.
   Held only for a few instructions; after a short spin it yields the thread. */
typedef struct goc__lock { _Atomic uint32_t v; } goc__lock;
GOC_HIDDEN void goc__lock_slow(goc__lock *l);
static inline void goc__cpu_relax(void) { /* one spin-wait pause */
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}
static inline void goc__lock_acquire(goc__lock *l) {
    uint32_t z = 0;
    if (GOC_LIKELY(atomic_compare_exchange_weak_explicit(&l->v, &z, 1, memory_order_acquire,
                                                         memory_order_relaxed)))
        return;
    goc__lock_slow(l);
}
static inline bool goc__lock_try(goc__lock *l) {
    uint32_t z = 0;
    return atomic_compare_exchange_strong_explicit(&l->v, &z, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}
static inline void goc__lock_release(goc__lock *l) {
    atomic_store_explicit(&l->v, 0, memory_order_release);
}
/* An unlock callback for goc__park that releases a goc__lock. */
GOC_HIDDEN bool goc__unlock_cb(void *lock);

/* The current goroutine, or NULL on a plain thread (or the scheduler). */
GOC_HIDDEN goc__g *goc__curg(void);

/* Parks the current goroutine with the wait reason shown in dumps. After its
   context is saved, unlock(arg) runs on the same thread; if it returns false
   the goroutine is not parked but resumes at once. Someone must later call
   goc__ready(g). Must be called from a goroutine. errno is preserved. */
GOC_HIDDEN void goc__park(bool (*unlock)(void *arg), void *arg, const char *reason);

/* Makes a parked goroutine runnable. Callable from goroutines, the scheduler
   and plain threads (timers, other pthreads). */
GOC_HIDDEN void goc__ready(goc__g *g);

/* A parker blocks either a goroutine (parks it) or a plain thread (sleeps on a
   futex), so every blocking operation works from both. It lives on the
   waiter's stack. Several parties may race to wake it (a channel, a timeout):
   each must win goc__parker_claim first, then call goc__parker_wake. */
typedef struct goc__parker {
    goc__g *g;                    /* the goroutine, or NULL for a plain thread */
    _Atomic uint32_t claimed;     /* 0 until someone claims the right to wake */
    _Atomic uint32_t woken;       /* plain threads: the futex word */
    bool timed_out;               /* set by the deadline timer before it wakes */
} goc__parker;
GOC_HIDDEN void goc__parker_init(goc__parker *pk);
static inline bool goc__parker_claim(goc__parker *pk) {
    uint32_t z = 0;
    return atomic_compare_exchange_strong_explicit(&pk->claimed, &z, 1, memory_order_acq_rel,
                                                   memory_order_relaxed);
}
GOC_HIDDEN void goc__parker_wake(goc__parker *pk);
/* Blocks until woken. unlock(arg) is called once the waiter can no longer
   miss a wake-up (as goc__park). With deadline >= 0 (goc_now's clock), a timer
   claims and wakes the parker at the deadline and sets timed_out; the caller
   must then take itself off whatever queue it was on. Returns !timed_out. */
GOC_HIDDEN bool goc__parker_park(goc__parker *pk, bool (*unlock)(void *arg), void *arg,
                                 const char *reason, int64_t deadline);

/* Go's semaphore (runtime/sema.go): waiters are kept in a table keyed by the
   address, so zero-filled user structures need no init. acquire waits until
   *addr > 0 and decrements it; release increments it and wakes one waiter
   (handoff: the waiter runs next on this P). lifo queues at the front. */
GOC_HIDDEN void goc__semacquire(_Atomic uint32_t *addr, bool lifo, const char *reason);
GOC_HIDDEN bool goc__semacquire_until(_Atomic uint32_t *addr, bool lifo, const char *reason,
                                      int64_t deadline);
GOC_HIDDEN void goc__semrelease(_Atomic uint32_t *addr, bool handoff);
/* Releases n tokens in one addition and wakes up to n waiters; *addr is not
   touched after that addition, so the waiters may free it once woken. */
GOC_HIDDEN void goc__semrelease_n(_Atomic uint32_t *addr, uint32_t n);

/* Timers: one 4-ary heap per P. fn runs on a scheduler thread, with no lock
   held, and must not block (it may goc__ready). A timer is owned by its
   caller (often on a goroutine's stack); goc__timer_del waits for a running
   fn to return, so after del the memory may be reused. */
typedef struct goc__timer {
    int64_t when;
    int64_t period;                 /* > 0: re-armed at when + period after each fire */
    void (*fn)(struct goc__timer *t, void *arg);
    void *arg;
    int32_t idx;                    /* its entry in p's timer refs, -1 when in no heap; under p's timer lock */
    _Atomic(goc__p *) p;            /* the heap it is in */
    _Atomic uint32_t running;       /* fn is running now */
} goc__timer;
GOC_HIDDEN void goc__timer_add(goc__timer *t);          /* t->when, fn, arg set; not in a heap */
GOC_HIDDEN bool goc__timer_del(goc__timer *t);          /* true if it was pending */
GOC_HIDDEN bool goc__timer_mod(goc__timer *t, int64_t when, int64_t period); /* true if it was pending */
/* For a timer function that would start a goroutine to do work that may
   block: on a plain thread that runs the timer heaps because no goc_run
   does (no goroutine would run), queues fn(arg) to run on that thread once
   the due timers have run, and returns true; elsewhere returns false. */
GOC_HIDDEN bool goc__timer_defer(void (*fn)(void *), void *arg);

/* The network poller (netpoll.c): fd readiness over edge-triggered epoll.
   A pollfd is registered once per fd; at most one reader and one writer wait
   on it at a time. Records are reused, never freed. */
typedef struct goc__pollfd {
    goc__lock lock;
    int fd;
    uint32_t seq;                   /* bumped at close: stale events are dropped */
    goc__parker *rwait, *wwait;     /* the waiting reader and writer */
    int rthread, wthread;           /* a plain thread waiting in poll(2) to read or
                                       write: its eventfd + 1 (0: none), written to
                                       wake it (close, goc__pollfd_wake) */
    bool rready, wready;            /* an edge came while nobody waited */
    bool closing;
    struct goc__pollfd *link;       /* free list */
} goc__pollfd;
#define GOC__POLL_READ 1
#define GOC__POLL_WRITE 2
/* Registers fd (which should be O_NONBLOCK). NULL and *err on failure. */
GOC_HIDDEN goc__pollfd *goc__pollfd_open(int fd, int *err);
/* Waits until fd may be ready for mode (one of READ, WRITE), the deadline
   passes (ETIMEDOUT; deadline < 0: none) or the pollfd is closed (EBADF).
   EBUSY if another waiter of that mode is already there. 0: retry the I/O. */
GOC_HIDDEN int goc__pollfd_wait(goc__pollfd *pd, int mode, int64_t deadline);
/* Wakes the waiters of mode (READ|WRITE) so they re-check (a deadline moved);
   with nobody waiting, the next wait of that mode returns 0 at once. */
GOC_HIDDEN void goc__pollfd_wake(goc__pollfd *pd, int mode);
/* Wakes every waiter with EBADF and makes later waits fail with EBADF at
   once, but keeps the record and the registration (Go's pollDesc.evict): a
   closer wakes everyone, waits for them to leave, then calls close. */
GOC_HIDDEN void goc__pollfd_evict(goc__pollfd *pd);
/* Wakes every waiter with EBADF and unregisters fd (the caller closes it). */
GOC_HIDDEN void goc__pollfd_close(goc__pollfd *pd);
/* Scheduler side: polls, readying waiters; until: 0 don't block, INT64_MAX
   no limit. Returns the number of events delivered. */
GOC_HIDDEN int goc__netpoll(int64_t until);
GOC_HIDDEN void goc__netpoll_break(void);

/* Fatal errors: print "fatal error: msg" (or "panic: msg"), a dump, exit 2. */
GOC_HIDDEN void goc__fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
GOC_HIDDEN void goc__fatal_nodump(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Debug knobs from GOC_DEBUG=name=value,... parsed once. */
typedef struct goc__debug_t {
    uint64_t shuffle;     /* 0: off; else the seed */
    int leaks;            /* list goroutines left when main returns */
    int sync;             /* sync debug checks */
    long guards;          /* guarded-stack budget override (-1: from vm.max_map_count) */
} goc__debug_t;
GOC_HIDDEN extern goc__debug_t goc__debug;

/* A cheap per-thread random number (wyrand), for select and stealing. */
GOC_HIDDEN uint32_t goc__fastrand(void);
GOC_HIDDEN uint32_t goc__fastrandn(uint32_t n);
GOC_HIDDEN uint64_t goc__fastrand64(void);

/* From a goroutine whose P has others queued: lets them run first (a
   goc_yield that a hand-off chain through runnext cannot prolong) and
   returns true; else false at once. */
GOC_HIDDEN bool goc__yield_to_queued(void);

/* One step of wyrand on a caller's state: a run of random numbers from one
   goc__fastrand64 seed, without a call (and a TLS read) for each. */
static inline uint64_t goc__wyrand(uint64_t *s) {
    *s += 0xa0761d6478bd642fULL;
    __uint128_t t = (__uint128_t)*s * (*s ^ 0xe7037ed1a0b428dbULL);
    return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

/* A number in [0, n) from a 32-bit random number (Lemire's reduction). */
static inline uint32_t goc__randn(uint32_t r, uint32_t n) {
    return (uint32_t)(((uint64_t)r * n) >> 32);
}

/* Under GOC_DEBUG=shuffle, yields half the time: called where a sync type
   has let others in but its caller has not returned yet, so that they run
   meanwhile (a type that touched itself after that point would be caught
   using memory its last user had freed). */
static inline void goc__shuffle_yield(void) {
    if (GOC_UNLIKELY(goc__debug.shuffle) && (goc__fastrand() & 1))
        goc_yield();
}

/* Current goroutine's wait-reason override and "blocked from a plain thread"
   accounting for deadlock detection. */
GOC_HIDDEN void goc__foreign_block_begin(void);
GOC_HIDDEN void goc__foreign_block_end(void);

/* errno through calls the compiler cannot fold: glibc declares
   __errno_location const, so around a switch to another thread a cached
   address would name the old thread's errno. */
GOC_HIDDEN int goc__errno_get(void);
GOC_HIDDEN void goc__errno_set(int e);

/* Futex helpers. */
GOC_HIDDEN void goc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline);
GOC_HIDDEN void goc__futex_wake(_Atomic uint32_t *addr, int n);

/* =============================== Runtime only ============================ */

#define GOC_RUNQ_SIZE 256           /* as Go: big enough that stealing half is worth it */
#define GOC_GLOBAL_CHECK_TICKS 61   /* as Go: a prime, so the check does not resonate with loops */
#define GOC_STARVE_NS 10000000     /* a G first in its ring this long sends runnext to the back (Go's time slice) */
#define GOC_MAX_PROCS 256           /* upper bound on GOMAXPROCS; Ps are allocated lazily */
#define GOC__MAX_STACK (1024 * 1024 * 1024) /* the largest goroutine stack */
#define GOC_G_NAME_MAX 32

enum { G_IDLE, G_RUNNABLE, G_RUNNING, G_WAITING, G_DEAD };

struct goc__g {
    void *sp;                       /* saved stack pointer while not running */
    uint64_t id;
    _Atomic int status;
    void (*fn)(void *);
    void *arg;
    goc__g *schedlink;              /* global run queue, free lists */
    goc__g *gbatch_next;            /* first G of a batch in sched.gfree: the next batch */
    int gbatch_n;                   /* ... and this batch's length */
    goc__g *allnext;                /* all Gs ever made; never unlinked (Gs are reused) */
    char *stack_lo;                 /* lowest usable byte (above the guard page, if any) */
    char *stack_hi;                 /* top of the usable stack (the G record starts here) */
    size_t stack_size;              /* size class: the mapping, guard and G record included
                                       (an unguarded slab slot is a page less: stack.c) */
    char *map_lo;                   /* start of the mapping */
    bool guarded;                   /* has a PROT_NONE guard page below stack_lo */
    bool from_slab;                 /* carved from a slab: never unmapped */
    bool trimmed;                   /* pages given back while pooled */
    bool is_main;                   /* the main goroutine of its goc_run */
    uint32_t epoch;                 /* the goc_run it belongs to */
    const char *wait_reason;
    int64_t wait_since;
    _Atomic int64_t runq_at;        /* coarse time it entered a P's ring (the fairness rule) */
    const char *file;
    int line;
    uint64_t parent_id;
    uintptr_t created_pc;           /* return address into the function that started it (dumps) */
    int locked_blocking;            /* depth of goc_blocking_begin/end nesting */
    char name[GOC_G_NAME_MAX];
    unsigned valgrind_id;
    void *asan_fake;                /* ASan fake stack of the suspended context */
    void *tsan_fiber;
    unsigned tsan_runs;             /* goroutines its TSan fiber has run (stack.c) */
};

typedef void (*goc__after_fn)(goc__m *m, goc__g *prev, void *arg);

struct goc__p {
    int id;
    /* head, tail and an ABA tag in one word (see sched.c): the owner pushes
       new Gs at the tail and readied or yielding ones at the head, and pops
       at the tail (depth first); thieves take the older half from the head. */
    _Atomic uint64_t runqw;
    _Atomic(goc__g *) runq[GOC_RUNQ_SIZE];
    _Atomic(goc__g *) runnext;      /* the G to run next (readied by the running G) */
    _Atomic uint32_t schedtick;     /* owner writes (relaxed); the deadlock check reads it */
    /* Stealing for this P (sched.c, runq_grab): its tick and clock at its
       last steal, whether that steal is yet to be judged, and, since a steal
       that bought nothing, how many more short rings it leaves alone and
       until when at most. Owner only. */
    uint32_t steal_tick;
    bool steal_judge;
    int reluctant;
    int64_t steal_time, reluctant_until;
    uint32_t sysmon_tick;           /* schedtick when sysmon last looked (only sysmon) */
    /* Solo: GOMAXPROCS is 1, so no thief can come, and the owner takes from
       its ring and runnext with plain loads and stores instead of locked
       instructions (a CAS costs 7 ns here, a third of a switch). Only the
       owner changes it, at a switch; entering, it waits until no thief is
       inside (nthieves, which thieves raise before they read solo). */
    _Atomic bool solo;
    _Atomic int nthieves __attribute__((aligned(64)));
    /* The owner calls no thief for a short ring until schedtick reaches
       this: set by a thief that found it switching too fast to be worth
       robbing (runq_grab); thieves write it, the owner reads it. */
    _Atomic uint32_t quiet_until;
    goc__m *m;                      /* the M holding it, NULL when idle */
    goc__p *link;                   /* idle list */
    _Atomic bool idle;              /* in the idle list; read without the lock by sysmon */
    /* free Gs with stacks of the default size */
    goc__g *gfree;
    int ngfree;
    _Atomic int64_t ngoroutines;    /* started minus ended here (owner stores; may go negative) */
    /* ids handed out in batches so spawning does not contend */
    uint64_t goid_next, goid_end;
    /* timers */
    goc__lock timers_lock;
    struct goc__timer_slot *timers; /* the heap: see timer.c */
    void *timers_mem;               /* its allocation (timers sits 3 slots in) */
    struct goc__timer_ref *timer_refs; /* timers_cap entries: each heap timer and its index */
    int ntimers, timers_cap;
    int timer_ref_free;             /* first free ref, or -1 */
    _Atomic int64_t timer0;         /* earliest when, or INT64_MAX: read without the lock */
    uint64_t shuffle_state;
    /* goc_blocking_begin/end: the M's address while that M is in a blocking
       call (the P stays with it), else 0. sysmon CASes it to 0 to hand the P
       to another M when the call lasts; the M takes it back by CAS M -> 0,
       which fails once the P is gone (even if another M now blocks on it). */
    _Atomic uintptr_t psys;
    _Atomic int64_t sys_since;
    goc__g *runnext_urgent;         /* owner only: runnext holds this G, readied by a timer,
                                       while equal; an ordinary ready does not displace it */
    _Atomic(goc__g *) yielder;      /* a select letting the queued Gs run first
                                       (goc__yield_to_queued): readies go behind it */
};

struct goc__m {
    goc__g g0;                      /* the thread's own context (the scheduler loop) */
    goc__g *curg;
    goc__p *p;
    int id;
    pthread_t thread;
    _Atomic uint32_t park;          /* futex word while idle */
    goc__m *link;                   /* idle list */
    bool spinning;
    bool is_main;                   /* the thread that called goc_run */
    /* what the next context runs right after a switch (Go's mcall step) */
    goc__after_fn after;
    goc__g *after_g;
    void *after_arg;
    uint64_t rand;
    int in_step;                    /* running an after-switch step or timers: never switch */
    bool in_timers;                 /* running due timers: what they ready is urgent */
    _Atomic bool polling;           /* idle and blocked in epoll_wait (netpoll) */
    int *errno_loc;                 /* this thread's errno (saves a TLS lookup per switch) */
    void *altstack;
    _Atomic int64_t sleep_until;    /* idle: when it wakes for a timer (INT64_MIN: deciding) */
    sigset_t sigmask;               /* the creator's mask, restored once the thread is set up */
};

/* Scheduler globals. */
typedef struct goc__sched_t {
    goc__lock lock;                 /* global runq, idle P and M lists, allgs */
    goc__g **runq;                  /* global run queue: a growable ring of G pointers */
    uint32_t runq_cap, runq_first;  /* (an array, not a list through the Gs: taking a
                                       batch then touches no G record) */
    _Atomic int runq_size;
    goc__p *pidle;
    _Atomic int npidle;
    goc__m *midle;
    int nmidle;
    _Atomic int nmspinning;
    int mcount;
    _Atomic int gomaxprocs;
    goc__p *allp[GOC_MAX_PROCS];
    _Atomic int nallp;              /* Ps ever made */
    _Atomic(goc__g *) allgs;        /* every G ever made, newest first; push-only */
    _Atomic int64_t ngoroutines;    /* live goroutines: the part started or ended without a P */
    _Atomic int64_t nblocking;      /* inside goc_blocking_begin/end */
    _Atomic int64_t nnetwait;       /* plain threads waiting on fds (netpoll) */
    _Atomic int64_t nnetwait_g[2];  /* goroutines parked on fds, by the parity of their
                                       epoch: a run reads its own; the one two runs back
                                       (abandoned, never waking) is cleared for the next */
    _Atomic bool netpolling;        /* an idle M is blocked in epoll_wait */
    _Atomic int64_t netpoll_until;  /* ... until then */
    _Atomic int64_t last_poll;      /* when the network was last polled */
    /* goc_now() to within sysmon's period (at most 10 ms old while a P is
       busy): what a park records as the start of its wait, without a clock
       read per park. sysmon stores it each round, and whoever wakes sysmon. */
    _Atomic int64_t coarse_clock;
    _Atomic int64_t nforeign;       /* plain threads that use goc and are not blocked in it */
    _Atomic int64_t nforeign_blocked; /* ... and those blocked in it */
    _Atomic int64_t nforeign_timed; /* of those, the ones whose wait has a deadline:
                                       they wake by themselves, as a timer would */
    goc__lock gfree_lock;
    goc__g *gfree;                  /* global free Gs, under gfree_lock: batches (see gfput) */
    _Atomic int ngfree;             /* its length; read without the lock as a hint */
    goc__g *gtrimmed;               /* free Gs whose stack pages went back to the kernel */
    _Atomic bool gtrimmed_nonempty; /* hint, read without the lock */
    _Atomic uint64_t stack_misses;  /* spawns that found no free G and faulted in a fresh stack */
    _Atomic uint64_t stack_misses_seen; /* stack_misses when an idle M last prefaulted */
    _Atomic uint64_t goidgen;       /* ids handed out: 1 is every run's main, others from 2 */
    _Atomic uint32_t epoch;         /* incremented when a goc_run ends */
    _Atomic bool running;           /* inside goc_run */
    int main_result;
    _Atomic uint32_t main_done;     /* futex word */
    _Atomic uint32_t deadlock_checking;
    size_t default_stack;
} goc__sched_t;
GOC_HIDDEN extern goc__sched_t goc__sched;

/* Whether pk's goroutine was abandoned by a goc_run that has returned: it
   never runs again, so a waiter record of it must not be handed anything.
   Inline: every channel hand-off asks. */
static inline bool goc__parker_abandoned(const goc__parker *pk) {
    return pk->g && pk->g->epoch != atomic_load_explicit(&goc__sched.epoch, memory_order_relaxed);
}

#if defined(__x86_64__)
/* This thread's M. Read only through goc__getm: after a switch the
   goroutine may run on another thread, and a compiler that kept the
   thread pointer (%fs base) or the variable's address in a register across
   the switch would read the old thread's M. */
GOC_HIDDEN extern __thread goc__m *goc__tls_m __attribute__((tls_model("initial-exec")));
static inline __attribute__((always_inline)) goc__m *goc__getm(void) {
    goc__m *m;
    /* One load through %fs each time, in an asm the compiler neither
       repeats nor moves across the switch's (both volatile): no call (a
       call per read cost W4's yield about 1 ns in two). The GOT load of
       the offset is the initial-exec model, which the linker relaxes to a
       constant in an executable. */
    __asm__ volatile("movq goc__tls_m@gottpoff(%%rip), %0\n\t"
                     "movq %%fs:(%0), %0"
                     : "=r"(m));
    return m;
}
#else
GOC_HIDDEN goc__m *goc__getm(void);
#endif
GOC_HIDDEN void goc__runtime_init(void);

/* arch */
/* AArch64's switch (src/arch/switch_aarch64.S); the scheduler calls
   goc__switch_ctx (src/arch/switch.h), inline assembly on x86-64. */
GOC_HIDDEN void goc__switch(void **save_sp, void *load_sp);
GOC_HIDDEN void *goc__stack_init(char *top, void (*entry)(void));

/* stack */
GOC_HIDDEN goc__g *goc__stack_alloc(size_t size);   /* a fresh G record with its stack */
GOC_HIDDEN goc__g *goc__stack_try_alloc(size_t size); /* the same, or NULL (errno set) */
GOC_HIDDEN void goc__stack_pool_odd(goc__g *g);     /* pool a stack of a non-default size */
GOC_HIDDEN goc__g *goc__stack_take_odd(size_t size);
GOC_HIDDEN void goc__stack_trim(goc__g *g);         /* give pooled stack pages back */
GOC_HIDDEN void goc__stack_reuse(goc__g *g);        /* prepare a pooled stack for a new goroutine */
GOC_HIDDEN void goc__stack_check(goc__g *g);        /* fatal on a broken canary */
GOC_HIDDEN void goc__signals_init(void);
GOC_HIDDEN void goc__m_signal_stack(goc__m *m);
GOC_HIDDEN size_t goc__stack_default(void);

/* timers (runtime side) */
GOC_HIDDEN int64_t goc__timers_run(goc__p *p, int64_t now);  /* runs expired; returns next when */
GOC_HIDDEN int64_t goc__timers_earliest(void);                /* over all Ps */
/* Takes the timers for which drop is true out of p's heap (they never fire). */
GOC_HIDDEN void goc__timers_drop(goc__p *p, bool (*drop)(goc__timer *));
GOC_HIDDEN int64_t goc__timers_move(goc__p *from, goc__p *to); /* returns the earliest moved */
GOC_HIDDEN void goc__timers_wake(int64_t when);               /* a new earliest timer */
GOC_HIDDEN int64_t goc__timers_count(void);

GOC_HIDDEN void goc__sched_register_g(goc__g *g);

/* The P whose queues m's code may use now, or NULL: none on a plain thread,
   none for an idle M blocked in the poller (startm may be handing it one: a
   racy m->p), and none inside a blocking section, whose P sysmon may have
   lent away. Work made then goes to the global queue (or P 0's timers). */
static inline goc__p *goc__own_p(goc__m *m) {
    /* polling first: a poller's m->p must not even be read */
    if (!m || atomic_load_explicit(&m->polling, memory_order_relaxed) || !m->p ||
        (m->curg && m->curg->locked_blocking))
        return NULL;
    return m->p;
}

/* Ps held by an M now (a hint; npidle also counts the idle Ps beyond
   GOMAXPROCS, so GOMAXPROCS - npidle would undercount). */
static inline int goc__busy_procs(void) {
    return atomic_load_explicit(&goc__sched.nallp, memory_order_relaxed) -
           atomic_load_explicit(&goc__sched.npidle, memory_order_relaxed);
}

/* dump */
GOC_HIDDEN void goc__dump_all(FILE *out, bool to_fd2);
GOC_HIDDEN void goc__dump_others(FILE *out);   /* every goroutine but the caller */
/* A stack overflow's dump: g (the caller's current goroutine) with its frames
   from fp and pc (0: the caller's), then, with others, every other one. */
GOC_HIDDEN void goc__dump_overflow(FILE *out, goc__g *g, uintptr_t fp, uintptr_t pc, bool others);
GOC_HIDDEN void goc__debug_init(void);

#endif
