/* Goroutine stacks, and the signal handling that reports their overflow.
 *
 * A stack is one anonymous mapping, committed lazily by the kernel as it is
 * touched; the G record sits at its top, so a goroutine that only waits costs
 * one page. Two kinds:
 * - guarded: a PROT_NONE page at the bottom; an overflow faults there and the
 *   SIGSEGV handler (on an alternate stack) reports it. Each costs two kernel
 *   memory areas, and vm.max_map_count (65,530 by default) bounds those, so
 *   only a budget taken from that limit is guarded. On Linux 6.13 and later
 *   (x86-64) a guard is a guard region instead
 *   (madvise MADV_GUARD_INSTALL on a slab slot's bottom page): a marker in
 *   the page table, no memory area of its own, and a quarter of the cost of
 *   an mmap and an mprotect (W9's spawning: 535 to 410 ms);
 * - beyond the budget, stacks are carved from large slabs without guards. The
 *   slot is a page smaller than its size class, the page a guarded stack
 *   spends on its guard, so both kinds have the same room. The
 *   CANARY_BYTES just below such a stack must stay zero (fresh pages are);
 *   they are checked at every switch away from the goroutine, and a non-zero
 *   byte is reported as a stack overflow. They are the top bytes of the
 *   mapping below, whose G record already keeps that page resident, so the
 *   check faults in no page of its own; every stack leaves its top
 *   CANARY_BYTES unused for this. A slab's first slot is never handed out:
 *   it only holds the canary of the second, above a guard page that stops
 *   a recursion which never switches (the SIGSEGV handler then reports it
 *   by the goroutine's stack pointer). Such a recursion may make another
 *   thread fault first, over a trampled G record: that fault reports the
 *   running goroutine whose canary is broken, found through the Ps and
 *   trusted only if its record's own fields are those of a slab slot.
 *
 * Invariants:
 * - A stack never moves and is reused only after its goroutine has finished.
 * - Stacks are never unmapped: those of the default size wait in the
 *   scheduler's free lists (sysmon gives back the pages of the surplus),
 *   those of other sizes in a list of their own, their pages given back at
 *   once.
 */
#include "runtime/internal.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <time.h>
#include <unistd.h>

#if GOC_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if GOC_TSAN
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_set_fiber_name(void *fiber, const char *name);
#endif
#if defined(GOC_HAVE_VALGRIND_H) && !defined(GOC_ASAN) && !defined(GOC_TSAN)
#include <valgrind/valgrind.h>
#define GOC_VALGRIND 1
#endif

#define DEFAULT_STACK (256 * 1024)
#define MIN_STACK (16 * 1024)
#define MAX_STACK GOC__MAX_STACK
#define CANARY_BYTES 64
#define SLAB_STACKS 1024            /* stacks per slab: 256 MiB of address space at the default size */
#define MAP_COUNT_RESERVE 16384     /* kernel areas left for malloc, threads, libraries */
#define ALTSTACK_SIZE (64 * 1024)
#define TSAN_FIBER_RUNS 1024        /* goroutines per TSan fiber (goc__stack_reuse) */
#define G_REC ((sizeof(goc__g) + 63) & ~(size_t)63) /* the G record, below the top's canary */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102      /* Linux 6.13 */
#endif

static size_t page_size;
static _Atomic long guarded_budget = -1;
static _Atomic long guarded_count;
static goc__lock slab_lock;
/* Two slabs are carved at once: one for guarded slots, one for unguarded. */
static struct slab {
    char *next, *end;
    size_t slot;
} slabs[2];
static bool guard_regions;          /* the kernel has MADV_GUARD_INSTALL */
static _Atomic bool unguarded_made; /* an unguarded slab exists (read by the SIGSEGV handler) */

static size_t round_page(size_t n) {
    return (n + page_size - 1) & ~(page_size - 1);
}

/* Bytes, with an optional K, M or G suffix (KiB, MB... accepted); 0 for
   anything else, a sign included (strtoull would take -1 for 2^64 - 1). */
static size_t parse_size(const char *s) {
    char *end;
    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno == ERANGE)
        return 0;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (v > (ULLONG_MAX >> shift))
        return 0;
    v <<= shift;
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    return *end ? 0 : (size_t)v;
}

size_t goc__stack_default(void) {
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = DEFAULT_STACK;
    const char *env = getenv("GOC_STACK_SIZE");
    if (env && *env) {
        size_t v = parse_size(env);
        if (v == 0) {
            fprintf(stderr, "goc: ignoring GOC_STACK_SIZE=%s (want bytes, or a K, M or G suffix)\n", env);
        } else {
            if (v > MAX_STACK) {
                fprintf(stderr, "goc: GOC_STACK_SIZE=%s is over the limit: using %d bytes\n",
                        env, MAX_STACK);
                v = MAX_STACK;
            }
            size = v;
        }
    }
    if (size < MIN_STACK)
        size = MIN_STACK;
    /* The guard budget: half of what vm.max_map_count leaves after a reserve,
       since a guarded stack is two areas. */
    long max_maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &max_maps) != 1)
            max_maps = 65530;
        fclose(f);
    }
    long budget = (max_maps - MAP_COUNT_RESERVE) / 2;
    /* Guard regions take no memory area, but installing one costs about as
       much as the stack's first page fault when many goroutines start at
       once (W8: 4.1 s to 9.8 s for a million), so the budget stays. */
#if defined(__x86_64__)
    /* x86-64 only: AArch64 is tested under qemu-user, which passes the
       madvise to the host but does not deliver a fault in a guard region to
       the program's handler (the overflow would not be reported). */
    char *probe = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (probe != MAP_FAILED) {
        guard_regions = madvise(probe, page_size, MADV_GUARD_INSTALL) == 0;
        munmap(probe, 2 * page_size);
    }
#endif
    if (goc__debug.guards >= 0)
        budget = goc__debug.guards;
    atomic_store(&guarded_budget, budget < 0 ? 0 : budget);
    return round_page(size);
}

/* Fills in the G record at the top of a mapping of len bytes, below the
   canary bytes that belong to the stack above it in a slab. size is the
   stack's size class (what it was asked for). */
static goc__g *g_at_top(char *map_lo, size_t len, size_t size, char *stack_lo) {
    goc__g *g = (goc__g *)(map_lo + len - CANARY_BYTES - G_REC);
    memset(g, 0, sizeof *g);
    g->map_lo = map_lo;
    g->stack_size = size;
    g->stack_lo = stack_lo;
    g->stack_hi = (char *)g;
    atomic_store_explicit(&g->status, G_IDLE, memory_order_relaxed);
    return g;
}

/* Carves a slot of slot bytes from the current slab of its kind (guarded
   or not; a new slab if needed). */
static char *slab_carve(size_t slot, bool guarded) {
    struct slab *sl = &slabs[guarded];
    goc__lock_acquire(&slab_lock);
    if (sl->slot != slot || sl->next == sl->end) {
        size_t len = slot * SLAB_STACKS;
        char *s = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (s == MAP_FAILED) {
            goc__lock_release(&slab_lock);
            return NULL;
        }
        /* Slot 0 only holds slot 1's canary, above a guard page: a
           recursion that never switches runs down through the unguarded
           stacks of the slab and stops there, reported as an overflow,
           instead of in whatever mapping lies below (a thread's stack). */
        if (!(guard_regions && madvise(s, page_size, MADV_GUARD_INSTALL) == 0))
            mprotect(s, page_size, PROT_NONE);
        sl->next = s + slot;
        sl->end = s + len;
        sl->slot = slot;
        if (!guarded)
            atomic_store_explicit(&unguarded_made, true, memory_order_relaxed);
    }
    char *lo = sl->next;
    sl->next += slot;
    goc__lock_release(&slab_lock);
    return lo;
}

/* The G of an unguarded slab slot at lo. The slot is a page smaller than
   size: a guarded stack spends that page on its guard, so both kinds give
   a goroutine the same room, and the tops of the slots (the pages a parked
   goroutine keeps) lie closer, more of them under one page-table page:
   2 MiB / 252 KiB instead of / 256 KiB, 8 bytes per parked goroutine. */
static goc__g *slab_g(char *lo, size_t size) {
    goc__g *g = g_at_top(lo, size - page_size, size, lo);
    g->from_slab = true;
    return g;
}

/* A slab stack with a canary below it. */
static goc__g *slab_alloc(size_t size) {
    char *lo = slab_carve(size - page_size, false);
    return lo ? slab_g(lo, size) : NULL;
}

/* A slab stack whose bottom page is a guard region. */
static goc__g *slab_alloc_guarded(size_t size) {
    char *lo = slab_carve(size, true);
    if (!lo)
        return NULL;
    if (madvise(lo, page_size, MADV_GUARD_INSTALL) != 0) {
        /* cannot happen once probed: make it a guard page */
        if (mprotect(lo, page_size, PROT_NONE) != 0)
            return NULL;
    }
    goc__g *g = g_at_top(lo, size, size, lo + page_size);
    g->guarded = true;
    return g;
}

static goc__g *guarded_alloc(size_t size) {
    char *lo = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
    if (lo == MAP_FAILED)
        return NULL;
    if (mprotect(lo, page_size, PROT_NONE) != 0) {
        munmap(lo, size);
        return NULL;
    }
    goc__g *g = g_at_top(lo, size, size, lo + page_size);
    g->guarded = true;
    return g;
}

goc__g *goc__stack_try_alloc(size_t size) {
    if (!page_size)
        goc__runtime_init();
    goc__g *g = NULL;
    bool pooled = size == goc__sched.default_stack;
    if (atomic_fetch_add(&guarded_count, 1) < atomic_load(&guarded_budget) || !pooled)
        g = guard_regions && pooled ? slab_alloc_guarded(size) : guarded_alloc(size);
    else
        atomic_fetch_sub(&guarded_count, 1);
    if (!g && pooled)
        g = slab_alloc(size);
    if (!g)
        return NULL;
#if GOC_VALGRIND
    g->valgrind_id = VALGRIND_STACK_REGISTER(g->stack_lo, g->stack_hi);
#endif
#if GOC_TSAN
    g->tsan_fiber = __tsan_create_fiber(0);
#endif
    goc__sched_register_g(g);
    return g;
}

goc__g *goc__stack_alloc(size_t size) {
    goc__g *g = goc__stack_try_alloc(size);
    if (!g && size != goc__sched.default_stack)
        goc__fatal("cannot allocate a %zu-byte goroutine stack: %s", size, strerror(errno));
    if (!g)
        goc__fatal("cannot allocate a goroutine stack (%zu bytes): %s; "
                   "see docs/design.md on vm.max_map_count and memory limits",
                   size, strerror(errno));
    return g;
}

void goc__stack_reuse(goc__g *g) {
    g->trimmed = false;
#if GOC_ASAN
    /* Uninstrumented code (libc) leaves stale poison behind: clear it. */
    ASAN_UNPOISON_MEMORY_REGION(g->stack_lo, (size_t)(g->stack_hi - g->stack_lo));
#endif
#if GOC_TSAN
    /* A goroutine's outermost frames (g_entry, and goexit's switch away)
       never return, so TSan's shadow stack of the fiber keeps a few entries
       of every goroutine it ran; past 65,536 TSan fails a CHECK (a program
       that starts 22,000 goroutines one after another on one P). A fresh
       fiber every TSAN_FIBER_RUNS goroutines keeps it short. The old one is
       current nowhere: its goroutine has switched away for good. */
    if (++g->tsan_runs >= TSAN_FIBER_RUNS) {
        __tsan_destroy_fiber(g->tsan_fiber);
        g->tsan_fiber = __tsan_create_fiber(0);
        g->tsan_runs = 0;
    }
#endif
}

void goc__stack_trim(goc__g *g) {
    char *hi = (char *)((uintptr_t)g & ~(uintptr_t)(page_size - 1));
    if (hi > g->stack_lo)
        madvise(g->stack_lo, (size_t)(hi - g->stack_lo), MADV_DONTNEED);
    g->trimmed = true;
}

static bool canary_ok(goc__g *g) {
    const uint64_t *c = (const uint64_t *)(g->stack_lo - CANARY_BYTES);
    uint64_t acc = 0;
    for (int i = 0; i < CANARY_BYTES / 8; i++)
        acc |= c[i];
    return acc == 0;
}

/* Go's report, then g with its frames from fp and pc (the faulting
   context's; 0 from a switch, on g's own stack), and, as in any fatal error,
   every other goroutine, but only when a guard page stopped the overflow
   (stopped): an unguarded one ran into the slab stacks below, whose G
   records it may have overwritten (a dump walking them crashed). In the
   SIGSEGV handler too, as the SIGQUIT dump is: the walk reads only frames
   it bounds-checks. */
static void report_overflow(goc__g *g, const char *how, bool stopped, uintptr_t fp,
                            uintptr_t pc) {
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "runtime: goroutine stack exceeds its %zu-byte limit (%s)\n"
                     "fatal error: stack overflow\n\n",
                     g->stack_size, how);
    if (n > (int)sizeof buf - 1)
        n = (int)sizeof buf - 1;
    fflush(stdout);
    if (write(2, buf, (size_t)n) < 0) {
    }
    goc__dump_overflow(stderr, g, fp, pc, stopped);
    fflush(stderr);
    _exit(2);
}

void goc__stack_check(goc__g *g) {
    if (GOC_UNLIKELY(!canary_ok(g)))
        report_overflow(g, "canary overwritten", false, 0, 0);
}

/* ---- odd-size stacks: kept per size in a small global list ---- */

static goc__lock odd_lock;
static goc__g *odd_list;

/* Pools a stack of a non-default size; its pages go back to the kernel now
   (odd sizes are rare, and large ones are why people ask for them). */
void goc__stack_pool_odd(goc__g *g) {
    goc__stack_trim(g);
    goc__lock_acquire(&odd_lock);
    g->schedlink = odd_list;
    odd_list = g;
    goc__lock_release(&odd_lock);
}

goc__g *goc__stack_take_odd(size_t size) {
    goc__lock_acquire(&odd_lock);
    goc__g **pp = &odd_list;
    while (*pp && (*pp)->stack_size != size)
        pp = &(*pp)->schedlink;
    goc__g *g = *pp;
    if (g)
        *pp = g->schedlink;
    goc__lock_release(&odd_lock);
    return g;
}

/* ---- signals ---- */

static struct sigaction old_segv, old_bus;

/* The stack pointer, frame pointer and pc of the interrupted code. */
static char *fault_sp(void *uc) {
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    return (char *)(uintptr_t)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (char *)(uintptr_t)u->uc_mcontext.sp;
#endif
}

static void fault_fp_pc(void *uc, uintptr_t *fp, uintptr_t *pc) {
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    *fp = (uintptr_t)u->uc_mcontext.gregs[REG_RBP];
    *pc = (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    *fp = (uintptr_t)u->uc_mcontext.regs[29];
    *pc = (uintptr_t)u->uc_mcontext.pc;
#endif
}

#define OVERFLOW_SP_REACH (64 << 20) /* how far below its stack a goroutine's sp may have run */

/* A goroutine running on some M whose canary is broken, or NULL. Found
   through the Ps, racily (a hint, from a signal handler). The G records
   are read with care: the overflow may have trampled those of the
   goroutines below it, some of them running too; one counts only if its
   own fields place it at the top of an unguarded slab slot, so that its
   canary is mapped memory to read. */
GOC_NO_TSAN static goc__g *overflowing_g(void) {
    size_t size = goc__sched.default_stack;
    if (!page_size || size < page_size + CANARY_BYTES + G_REC)
        return NULL;
    uintptr_t span = size - page_size - CANARY_BYTES - G_REC; /* slab_g's g - stack_lo */
    int n = atomic_load_explicit(&goc__sched.nallp, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        goc__p *p = goc__sched.allp[i];
        goc__m *m = p ? *(goc__m *volatile *)&p->m : NULL;
        goc__g *g = m ? *(goc__g *volatile *)&m->curg : NULL;
        if (!g)
            continue;
        /* from_slab, the record's last field, is the first an overflow
           from above reaches; guarded, map_lo and the rest must agree too */
        unsigned char from_slab = *(volatile unsigned char *)&g->from_slab;
        unsigned char guarded = *(volatile unsigned char *)&g->guarded;
        char *lo = *(char *volatile *)&g->stack_lo;
        char *map_lo = *(char *volatile *)&g->map_lo;
        size_t gsize = *(volatile size_t *)&g->stack_size;
        if (from_slab != 1 || guarded != 0 || map_lo != lo || gsize != size ||
            (uintptr_t)g - (uintptr_t)lo != span)
            continue; /* guarded, odd-size, or a trampled record */
        if (!canary_ok(g))
            return g;
    }
    return NULL;
}

static void segv_handler(int sig, siginfo_t *si, void *uc) {
    goc__m *m = goc__getm();
    goc__g *g = m ? m->curg : NULL;
    char *addr = si->si_addr;
    uintptr_t fp, pc;
    fault_fp_pc(uc, &fp, &pc);
    if (g && g->guarded && addr >= g->map_lo && addr < g->stack_lo + page_size)
        report_overflow(g, "guard page hit", true, fp, pc);
    if (g && g->from_slab && addr < g->stack_lo && addr >= g->stack_lo - 65536)
        report_overflow(g, "ran below its stack", false, fp, pc);
    /* A recursion that never switches runs through the slab stacks below an
       unguarded one (their pages are mapped) until it faults far below, and
       a frame bigger than the guard page jumps over it: either way the
       goroutine's own stack pointer is below its stack. */
    char *sp = fault_sp(uc);
    if (g && sp < g->stack_lo &&
        (sp >= g->stack_lo - OVERFLOW_SP_REACH || /* a frame bigger than the guard */
         (addr < sp + 65536 && addr + 65536 > sp))) /* a stack access, however far down */
        report_overflow(g, "its stack pointer ran below its stack", false, fp, pc);
    /* Not this thread's goroutine. But a goroutine on another thread may
       be running down through the unguarded slab stacks below its own
       (a recursion that never switches), trampling the stacks and G records
       there, and this fault may be its doing (a walk of the goroutine list
       through a trampled record): its canary broke first, so report it from
       here. Else give its own fault time to come first. */
    goc__g *o = overflowing_g();
    if (!o && atomic_load_explicit(&unguarded_made, memory_order_relaxed)) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        o = overflowing_g();
    }
    if (o)
        report_overflow(o, "canary overwritten", false, 0, 0);
    /* Not ours: hand it to whoever had the signal before (a sanitizer), or
       let the default action happen (a core dump, as usual). */
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler) {
        old->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void quit_handler(int sig) {
    (void)sig;
    /* One dump: a second SIGQUIT (timeout -s QUIT sends two, say), caught
       on another thread meanwhile, waits here for the first to exit. */
    static _Atomic int quitting;
    if (atomic_exchange(&quitting, 1))
        for (;;)
            pause();
    static const char head[] = "SIGQUIT: quit\n\n";
    if (write(2, head, sizeof head - 1) < 0) {
    }
    goc__dump_all(stderr, true);
    _exit(2);
}

void goc__m_signal_stack(goc__m *m) {
    m->altstack = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m->altstack == MAP_FAILED) {
        m->altstack = NULL;
        return;
    }
    stack_t ss = {.ss_sp = m->altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    sigaltstack(&ss, NULL);
}

void goc__signals_init(void) {
    /* Faults that are not a goroutine's stack overflow go on to the handler
       that was there before (a sanitizer's, say). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    struct sigaction oldq, sq;
    memset(&sq, 0, sizeof sq);
    sigaction(SIGQUIT, NULL, &oldq);
    /* As Go, unless the program has a handler of its own (an inherited
       SIG_IGN, as a shell gives background jobs, is replaced). */
    if (!(oldq.sa_flags & SA_SIGINFO) && (oldq.sa_handler == SIG_DFL || oldq.sa_handler == SIG_IGN)) {
        sq.sa_handler = quit_handler;
        sq.sa_flags = SA_ONSTACK;
        sigemptyset(&sq.sa_mask);
        sigaction(SIGQUIT, &sq, NULL);
    }
}
