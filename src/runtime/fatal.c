/* Fatal errors and panics: Go's message, a dump of every goroutine, exit 2.
 *
 * goc has no recover: a panic ends the program as an unrecovered Go panic
 * does. stdout is flushed first so a program's own output is not lost; exit
 * handlers do not run (other threads may hold their locks). */
#include "runtime/internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static _Atomic int dying;

static __attribute__((noreturn)) void die(const char *prefix, bool dump, const char *fmt, va_list ap) {
    if (atomic_exchange(&dying, 1)) {
        /* a second fatal error while reporting the first: stop here */
        for (;;)
            pause();
    }
    fflush(stdout);
    /* Straight to stderr, whole (Go prints all of a panic's value); stderr
       is unbuffered, so one write per piece. */
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    if (dump) {
        fputc('\n', stderr);
        goc__dump_all(stderr, false);
    }
    fflush(stderr);
    _exit(2);
}

void goc__fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    die("fatal error: ", true, fmt, ap);
}

void goc__fatal_nodump(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    die("fatal error: ", false, fmt, ap);
}

void goc_panic(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    die("panic: ", true, fmt, ap);
}
