/* goc_dump and the dumps of fatal errors: every goroutine in Go's style.
 *
 *   goroutine 7 [chan receive, 3 minutes]:
 *   	name "worker"
 *   	0x55d0c2a1b2c3 worker_loop+0x43 (./prog)
 *   	...
 *   created by main_fn in goroutine 1
 *   	prog.c:42
 *
 * Backtraces follow frame pointers (goc builds with -fno-omit-frame-pointer;
 * code built without them shows fewer frames). A parked goroutine's walk
 * starts from the frame the switch saved; a goroutine running on another
 * thread shows no frames, as its stack is changing under us. Symbols come
 * from dladdr and, for the executable's functions it does not export, from
 * the executable's own symbol table (.symtab, loaded at the first dump and
 * published once, lock-free); a stripped executable shows addresses.
 *
 * The caller's goroutine comes first, then the others oldest first, as Go
 * lists them. The all-G list only grows (Gs are reused, never freed), so it
 * is walked without a lock: a dump may be taken from a fatal error that
 * holds any lock, or in a signal handler (so no malloc: the snapshot that
 * reverses the list is mapped with mmap).
 */
#include "runtime/internal.h"
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAMES 48

/* The executable's own symbol table (.symtab), for the static functions
   that dladdr cannot name. Mapped once, read-only, never unmapped. Several
   threads may dump at once (and a signal handler may interrupt a load), so
   each loads on its own until one publishes its table; the losers unmap
   theirs. No lock, no malloc: a dump may run in a signal handler. */
struct exe_table {
    const ElfW(Sym) *syms;
    size_t nsyms;
    const char *strs;
    uintptr_t bias;
};
static const struct exe_table no_exe_table; /* loading failed: no names */
static _Atomic(const struct exe_table *) exe_table;

static int first_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    *(uintptr_t *)data = info->dlpi_addr;
    return 1; /* the first object is the executable */
}

/* Publishes t (or, if another thread was first, returns that one's). */
static const struct exe_table *exe_table_publish(const struct exe_table *t) {
    const struct exe_table *expect = NULL;
    /* acq_rel: publishes t's fields; on failure reads the winner's */
    if (atomic_compare_exchange_strong_explicit(&exe_table, &expect, t, memory_order_acq_rel,
                                                memory_order_acquire))
        return t;
    return expect;
}

static const struct exe_table *load_exe_symbols(void) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return exe_table_publish(&no_exe_table);
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(ElfW(Ehdr))) {
        close(fd);
        return exe_table_publish(&no_exe_table);
    }
    size_t len = (size_t)st.st_size;
    const char *img = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (img == MAP_FAILED)
        return exe_table_publish(&no_exe_table);
    struct exe_table *t = NULL;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)img;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_shoff != 0 &&
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) <= len) {
        const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(img + eh->e_shoff);
        for (int i = 0; i < eh->e_shnum; i++) {
            if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
                continue;
            const ElfW(Shdr) *strsh = &sh[sh[i].sh_link];
            if (sh[i].sh_offset + sh[i].sh_size > len || strsh->sh_offset + strsh->sh_size > len)
                break;
            void *m = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
            if (m == MAP_FAILED)
                break;
            t = m;
            t->syms = (const ElfW(Sym) *)(img + sh[i].sh_offset);
            t->nsyms = sh[i].sh_size / sizeof(ElfW(Sym));
            t->strs = img + strsh->sh_offset;
            dl_iterate_phdr(first_object, &t->bias);
            break;
        }
    }
    const struct exe_table *won = exe_table_publish(t ? t : &no_exe_table);
    if (won != t) {
        if (t)
            munmap(t, sizeof *t);
        munmap((void *)img, len);
    }
    return won;
}

/* Name of the executable's function containing pc, or NULL. */
static const char *exe_symbol(uintptr_t pc, uintptr_t *start) {
    const struct exe_table *t = atomic_load_explicit(&exe_table, memory_order_acquire);
    if (!t)
        t = load_exe_symbols();
    uintptr_t a = pc - t->bias;
    for (size_t i = 0; i < t->nsyms; i++) {
        const ElfW(Sym) *sym = &t->syms[i];
        if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC || sym->st_shndx == SHN_UNDEF)
            continue;
        if (a >= sym->st_value && a < sym->st_value + (sym->st_size ? sym->st_size : 1)) {
            *start = sym->st_value + t->bias;
            return t->strs + sym->st_name;
        }
    }
    return NULL;
}

/* The name of the function that return address pc is in, or NULL. */
static const char *pc_symbol(uintptr_t pc) {
    Dl_info info;
    uintptr_t start;
    const char *name = exe_symbol(pc - 1, &start);
    if (!name && dladdr((void *)(pc - 1), &info) && info.dli_sname)
        name = info.dli_sname;
    return name && *name ? name : NULL;
}

static void print_pc(FILE *out, uintptr_t pc) {
    Dl_info info;
    uintptr_t start;
    const char *name;
    /* pc is a return address: look up pc-1 so a call at a function's end
       is attributed to that function. */
    if ((name = exe_symbol(pc - 1, &start)) != NULL) {
        fprintf(out, "\t%#lx %s+%#lx\n", (unsigned long)pc, name, (unsigned long)(pc - start));
    } else if (dladdr((void *)(pc - 1), &info) && info.dli_sname) {
        fprintf(out, "\t%#lx %s+%#lx (%s)\n", (unsigned long)pc, info.dli_sname,
                (unsigned long)(pc - (uintptr_t)info.dli_saddr), info.dli_fname ? info.dli_fname : "?");
    } else if (dladdr((void *)(pc - 1), &info) && info.dli_fname) {
        fprintf(out, "\t%#lx ?? (%s+%#lx)\n", (unsigned long)pc, info.dli_fname,
                (unsigned long)(pc - (uintptr_t)info.dli_fbase));
    } else {
        fprintf(out, "\t%#lx ??\n", (unsigned long)pc);
    }
}

GOC_NO_SAN_WALK static void walk(FILE *out, uintptr_t fp, uintptr_t pc, uintptr_t lo, uintptr_t hi) {
    uintptr_t last = 0;
    for (int i = 0; i < MAX_FRAMES && pc; i++) {
        if (pc != last) /* an inlined caller's frame repeats its pc */
            print_pc(out, pc);
        last = pc;
        if (fp < lo || fp + 16 > hi || (fp & 7))
            break;
        uintptr_t *f = (uintptr_t *)fp;
        uintptr_t next_fp = f[0];
        pc = f[1];
        if (next_fp <= fp)
            break;
        fp = next_fp;
    }
}

GOC_NO_SAN_WALK static void backtrace_parked(FILE *out, goc__g *g) {
    uintptr_t *sp = g->sp;
    if (!sp)
        return;
#if defined(__x86_64__)
    uintptr_t fp = sp[1], pc = sp[2]; /* src/arch/switch.h */
#elif defined(__aarch64__)
    uintptr_t fp = sp[10], pc = sp[11];
#endif
    walk(out, fp, pc, (uintptr_t)g->stack_lo, (uintptr_t)g->stack_hi);
}

GOC_NO_TSAN static const char *state_of(goc__g *g, int st) {
    switch (st) {
    case G_RUNNABLE: return "runnable";
    case G_RUNNING: return g->locked_blocking ? "syscall" : "running";
    case G_WAITING: return g->wait_reason ? g->wait_reason : "waiting";
    default: return "idle";
    }
}

/* fp, pc: where g == self's frames start (0: this function's caller);
   state: what to print as its state (NULL: its own). */
GOC_NO_TSAN static void dump_g(FILE *out, goc__g *g, goc__g *self, int64_t now, uintptr_t fp,
                               uintptr_t pc, const char *state) {
    int st = atomic_load_explicit(&g->status, memory_order_relaxed);
    fprintf(out, "goroutine %llu [%s", (unsigned long long)g->id, state ? state : state_of(g, st));
    if (st == G_WAITING && g->wait_since) {
        int64_t mins = (now - g->wait_since) / GOC_MINUTE;
        if (mins >= 1) /* "1 minutes" too: Go's wording, which tools parse */
            fprintf(out, ", %lld minutes", (long long)mins);
    }
    fprintf(out, "]:\n");
    /* Copied here, where TSan does not look, before fprintf reads it (its
       interceptor would report the race with a goroutine being started:
       a dump does not stop the world). */
    char name[GOC_G_NAME_MAX];
    for (size_t i = 0; i < sizeof name; i++)
        if (!(name[i] = ((volatile const char *)g->name)[i]))
            break;
    name[sizeof name - 1] = 0;
    if (name[0])
        fprintf(out, "\tname \"%s\"\n", name);
    if (g == self) {
        if (!fp) {
            fp = (uintptr_t)__builtin_frame_address(0);
            pc = (uintptr_t)__builtin_return_address(0);
        }
        walk(out, fp, pc, (uintptr_t)g->stack_lo, (uintptr_t)g->stack_hi);
    } else if (st == G_WAITING || st == G_RUNNABLE) {
        backtrace_parked(out, g);
    }
    if (g->parent_id || g->file || g->created_pc) {
        /* Go's "created by main.main in goroutine 1": the function whose
           call started it, then where (the go() macro's file:line, else
           the call's address) */
        const char *by = g->created_pc ? pc_symbol(g->created_pc) : NULL;
        fprintf(out, "created by %s", by ? by : "??"); /* "??": a stripped binary */
        if (g->parent_id)
            fprintf(out, " in goroutine %llu", (unsigned long long)g->parent_id);
        fputc('\n', out);
        if (g->file)
            fprintf(out, "\t%s:%d\n", g->file, g->line);
        else if (g->created_pc)
            print_pc(out, g->created_pc);
    }
    fputc('\n', out);
}

/* g, unless it is self or not a live goroutine of this run (epoch). */
GOC_NO_TSAN static void dump_other(FILE *out, goc__g *g, goc__g *self, int64_t now, uint32_t epoch,
                                   int *live, int *active) {
    int st = atomic_load_explicit(&g->status, memory_order_relaxed);
    if (g == self || st == G_IDLE || st == G_DEAD || g->epoch != epoch || g->id == 0)
        return;
    dump_g(out, g, self, now, 0, 0, NULL);
    (*live)++;
    if (st != G_WAITING)
        (*active)++;
}

/* Every goroutine of this run; the caller's first, or not at all (leaks=1
   lists only those that main leaves behind). */
GOC_NO_TSAN static void dump_goroutines(FILE *out, bool with_self) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    uint32_t epoch = atomic_load(&goc__sched.epoch);
    goc__g *self = goc__curg();
    int live = 0, active = 0;
    /* the current goroutine first, as Go prints it */
    if (self && with_self) {
        dump_g(out, self, self, now, 0, 0, NULL);
        live++;
        active++;
    }
    /* Then the others oldest first, as Go lists them (its allgs grows at
       the end; ours at the head): the list read once into an array from
       mmap, which a signal handler may call; newest first if that fails.
       Goroutines started meanwhile are not in the snapshot. */
    goc__g *head = atomic_load_explicit(&goc__sched.allgs, memory_order_acquire);
    size_t n = 0;
    for (goc__g *g = head; g; g = g->allnext)
        n++;
    goc__g **order = NULL;
    size_t bytes = n * sizeof *order;
    if (n > 1) {
        order = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (order == MAP_FAILED)
            order = NULL;
    }
    size_t k = 0;
    for (goc__g *g = head; order && g && k < n; g = g->allnext)
        order[k++] = g;
    if (order) {
        for (size_t i = k; i-- > 0;)
            dump_other(out, order[i], self, now, epoch, &live, &active);
    } else {
        for (goc__g *g = head; g; g = g->allnext)
            dump_other(out, g, self, now, epoch, &live, &active);
    }
    if (order)
        munmap(order, bytes);
    if (live && !active) {
        int64_t timers = goc__timers_count();
        if (timers > 0)
            fprintf(out, "goc: every goroutine is waiting; only %lld pending timer%s keep%s the "
                         "program alive\n\n",
                    (long long)timers, timers == 1 ? "" : "s", timers == 1 ? "s" : "");
    }
    fflush(out);
}

GOC_NO_TSAN void goc__dump_overflow(FILE *out, goc__g *g, uintptr_t fp, uintptr_t pc, bool others) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    dump_g(out, g, g, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, fp, pc, "running");
    if (others)
        dump_goroutines(out, false); /* every other: g is this thread's current one */
}

void goc__dump_all(FILE *out, bool to_fd2) {
    (void)to_fd2;
    dump_goroutines(out, true);
}

void goc__dump_others(FILE *out) {
    dump_goroutines(out, false);
}

void goc_dump(FILE *out) {
    goc__runtime_init();
    goc__dump_all(out ? out : stderr, false);
}
