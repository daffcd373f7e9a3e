/* goc runtime: goroutines, the scheduler, and the process-wide knobs. */
#ifndef GOC_RUNTIME_H
#define GOC_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GOC_API __attribute__((visibility("default")))
#else
#define GOC_API
#endif

/* Time is int64_t nanoseconds: spans are goc_duration, instants are on
   goc_now's monotonic clock. */
typedef int64_t goc_duration;
#define GOC_NANOSECOND  ((goc_duration)1)
#define GOC_MICROSECOND ((goc_duration)1000)
#define GOC_MILLISECOND ((goc_duration)1000000)
#define GOC_SECOND      ((goc_duration)1000000000)
#define GOC_MINUTE      (60 * GOC_SECOND)
#define GOC_HOUR        (60 * GOC_MINUTE)

/* Options for goc_go_opts. Zero-filled means the defaults. */
typedef struct goc_go_options {
    size_t stack_size;      /* virtual stack size in bytes; 0: GOC_STACK_SIZE or 256 KiB */
    const char *name;       /* shown in dumps (copied, at most 31 bytes); NULL: none */
    const char *file;       /* where it was started, for dumps; the go() macro fills it */
    int line;
} goc_go_options;

/* Starts the scheduler, runs main_fn(arg) as the main goroutine and returns
   its result once it returns. Goroutines still alive then are abandoned, as
   when a Go program's main returns (GOC_DEBUG=leaks=1 lists them). goc_run
   may be called again afterwards; it must not be called from a goroutine. */
GOC_API int goc_run(int (*main_fn)(void *arg), void *arg);

/* Starts a goroutine running fn(arg). Callable from goroutines and plain
   threads (the goroutine then runs once goc_run is running). When the
   caller's run queue overflows (a loop starting goroutines faster than they
   run), the caller yields once so that queued ones run: goc_go is then a
   switch point, after which the caller may be on another thread. */
GOC_API void goc_go(void (*fn)(void *arg), void *arg);

/* As goc_go, but copies size bytes at arg onto the new goroutine's own stack
   and passes fn the address of the copy: a loop can pass a local struct. */
GOC_API void goc_go_copy(void (*fn)(void *arg), const void *arg, size_t size);

/* As goc_go with a stack size and a name. opts may be NULL. */
GOC_API void goc_go_opts(void (*fn)(void *arg), void *arg, const goc_go_options *opts);

/* goc_go that records where the goroutine was started, for dumps. */
#define goc_go_here(fn, arg) \
    goc_go_opts((fn), (arg), &(goc_go_options){.file = __FILE__, .line = __LINE__})
#ifndef GOC_NO_SHORT_NAMES
#define go(fn, arg) goc_go_here(fn, arg)
#endif

/* runtime.Gosched: lets other goroutines run; this one stays runnable. */
GOC_API void goc_yield(void);

/* Parks the goroutine for at least d (a plain thread sleeps). d <= 0 only yields. */
GOC_API void goc_sleep(goc_duration d);

/* Monotonic nanoseconds. */
GOC_API int64_t goc_now(void);

/* The current goroutine's id, unique for the life of the process (every
   goc_run's main is 1); 0 on a plain thread. */
GOC_API uint64_t goc_id(void);

/* The number of goroutines that exist now (runtime.NumGoroutine). */
GOC_API int goc_num_goroutine(void);

/* GOMAXPROCS: with n >= 1 sets the number of processors and returns the
   previous value; n < 1 only reads. Works while the program runs. The
   default is the number of cores, or the environment's GOC_MAXPROCS. */
GOC_API int goc_maxprocs(int n);

/* Prints every goroutine in Go's traceback style: id, state, wait reason,
   for how long, its name, where it was started, and a backtrace. SIGQUIT
   does the same on stderr (and exits with status 2, as Go). */
GOC_API void goc_dump(FILE *out);

/* Around a call that may block the thread in a way goc cannot see (a
   blocking read, a lock of another library, pthread_join): while inside, the
   goroutine does not count as deadlocked and the rest of the program runs on. */
GOC_API void goc_blocking_begin(void);
GOC_API void goc_blocking_end(void);

/* Prints "panic: <message>", a dump of every goroutine, and exits with
   status 2, as an unrecovered Go panic. printf-style. */
GOC_API void goc_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif
#endif
