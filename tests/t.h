/* goc's test harness: one program per area, a list of cases, and children.
 *
 * - T_CHECK records a failure and goes on; it never jumps, so it is safe in
 *   goroutines (tests should still collect results and check them on the
 *   main goroutine when they can).
 * - A child case is a program that must die: t_child() re-runs this binary
 *   with "--child NAME" (and extra environment), captures its stderr and
 *   returns its exit status, so misuse tests check message and status. A
 *   child still running after t_child_timeout() seconds gets SIGQUIT, so
 *   that a hang fails its test with goc's goroutine dump in the stderr the
 *   test prints, instead of running into CTest's timeout with no trace.
 * - Each program ends with "N passed, N failed" (and exits non-zero on any
 *   failure); CTest's summary closes the whole run.
 */
#ifndef GOC_TEST_T_H
#define GOC_TEST_T_H

#define _GNU_SOURCE
#include <goc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* T_TSAN: built with ThreadSanitizer, whose per-goroutine state is large. */
#if defined(__SANITIZE_THREAD__)
#define T_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define T_TSAN 1
#endif
#endif

static _Atomic int t_failures;

#define T_CHECK(cond)                                                                    \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            atomic_fetch_add(&t_failures, 1);                                            \
        }                                                                                \
    } while (0)

#define T_CHECK_EQ(a, b)                                                                 \
    do {                                                                                 \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                          \
        if (t_a_ != t_b_) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", __FILE__,  \
                    __LINE__, #a, #b, t_a_, t_b_);                                       \
            atomic_fetch_add(&t_failures, 1);                                            \
        }                                                                                \
    } while (0)

typedef struct t_case {
    const char *name;
    void (*fn)(void);
} t_case;

static char t_self[4096];

/* Seconds a child may run (GOC_TEST_CHILD_TIMEOUT; longer under an emulator). */
static inline int t_child_timeout(void) {
    const char *v = getenv("GOC_TEST_CHILD_TIMEOUT");
    if (v && atoi(v) > 0)
        return atoi(v);
    const char *emu = getenv("GOC_TEST_EMULATOR");
    return emu && *emu ? 400 : 200;
}

static inline double t_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs "--child name" with extra environment ("A=1 B=2", may be NULL). Puts
   its stderr (NUL-terminated, malloc'd) in *err. Returns the exit status, or
   128+signal. */
static inline int t_child(const char *name, const char *env, char **err) {
    int pfd[2];
    if (pipe(pfd) != 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        if (env) {
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", env);
            char *save = NULL;
            for (char *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
                putenv(strdup(kv));
        }
        /* Cross builds run under an emulator (qemu-user), which a child
           needs too: GOC_TEST_EMULATOR="qemu-aarch64 -L /usr/aarch64-linux-gnu". */
        const char *emu = getenv("GOC_TEST_EMULATOR");
        if (emu && *emu) {
            char *argv[16];
            int ac = 0;
            char *copy = strdup(emu), *save = NULL;
            for (char *w = strtok_r(copy, " ", &save); w && ac < 12; w = strtok_r(NULL, " ", &save))
                argv[ac++] = w;
            argv[ac++] = t_self;
            argv[ac++] = (char *)"--child";
            argv[ac++] = (char *)name;
            argv[ac] = NULL;
            execvp(argv[0], argv);
        } else {
            execl(t_self, t_self, "--child", name, (char *)NULL);
        }
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    /* SIGQUIT at the timeout (the child dumps its goroutines and exits),
       SIGKILL 20 s later if it still has not. */
    double quit_at = t_seconds() + t_child_timeout(), kill_at = 0;
    for (;;) {
        double now = t_seconds(), until = kill_at ? kill_at : quit_at;
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        int r = poll(&pf, 1, now < until ? (int)((until - now) * 1000) + 1 : 0);
        if (r < 0)
            continue; /* EINTR */
        if (r == 0) {
            if (t_seconds() < until)
                continue;
            if (!kill_at) {
                fprintf(stderr, "child %s still running after %d s: SIGQUIT\n", name,
                        t_child_timeout());
                kill(pid, SIGQUIT);
                kill_at = t_seconds() + 20;
            } else {
                kill(pid, SIGKILL);
                kill_at = t_seconds() + 3600;
            }
            continue;
        }
        if ((n = read(pfd[0], buf + len, cap - len - 1)) <= 0)
            break;
        len += (size_t)n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = 0;
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (err)
        *err = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Checks that child `name` exits with `status` and its stderr contains `want`. */
#define T_CHILD_DIES(name, env, status, want)                                            \
    do {                                                                                 \
        char *t_err_ = NULL;                                                             \
        int t_st_ = t_child((name), (env), &t_err_);                                     \
        if (t_st_ != (status) || !strstr(t_err_, (want))) {                              \
            fprintf(stderr, "%s:%d: child %s: status %d (want %d), stderr:\n%s\n--- want: %s\n", \
                    __FILE__, __LINE__, (name), t_st_, (status), t_err_, (want));        \
            atomic_fetch_add(&t_failures, 1);                                            \
        }                                                                                \
        free(t_err_);                                                                    \
    } while (0)

/* Counts goroutines whose dump line reads "[reason" (with ']' or ',' after
   it): lets a test wait, without sleeping, until n goroutines are parked for
   that reason. */
static inline int t_parked_for(const char *reason) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    goc_dump(f);
    fclose(f);
    char pat[64];
    snprintf(pat, sizeof pat, "[%s", reason);
    int n = 0;
    for (char *p = buf; (p = strstr(p, pat)); p++) {
        char end = p[strlen(pat)];
        if (end == ']' || end == ',')
            n++;
    }
    free(buf);
    return n;
}

static inline void t_wait_parked(const char *reason, int n) {
    while (t_parked_for(reason) < n)
        goc_yield();
}

/* Whether thread tid (a kernel thread id, from gettid) is asleep in the
   kernel (state S in its stat): lets a test wait, without sleeping, until a
   plain thread blocks. */
static inline bool t_thread_asleep(long tid) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *r = strrchr(buf, ')');
    return r && r[1] == ' ' && r[2] == 'S';
}

/* main(): runs every case (or those named on the command line), or one child. */
static inline int t_main(int argc, char **argv, const t_case *cases, size_t ncases,
                         const t_case *children, size_t nchildren) {
    ssize_t n = readlink("/proc/self/exe", t_self, sizeof t_self - 1);
    if (n > 0)
        t_self[n] = 0;
    if (argc == 3 && !strcmp(argv[1], "--child")) {
        for (size_t i = 0; i < nchildren; i++)
            if (!strcmp(children[i].name, argv[2])) {
                children[i].fn();
                fprintf(stderr, "child %s returned\n", argv[2]);
                return 100;
            }
        fprintf(stderr, "no child %s\n", argv[2]);
        return 101;
    }
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < ncases; i++) {
        if (argc > 1) {
            bool want = false;
            for (int a = 1; a < argc; a++)
                want |= !strcmp(argv[a], cases[i].name);
            if (!want)
                continue;
        }
        int before = atomic_load(&t_failures);
        int64_t t0 = goc_now();
        cases[i].fn();
        double ms = (double)(goc_now() - t0) / 1e6;
        if (atomic_load(&t_failures) == before) {
            passed++;
            printf("ok   %-40s %8.1f ms\n", cases[i].name, ms);
        } else {
            failed++;
            printf("FAIL %-40s %8.1f ms\n", cases[i].name, ms);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define T_CASE(fn) {#fn, fn}
#define T_RUN(cases, children)                                                           \
    t_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), children,                \
           sizeof(children) / sizeof(children[0]))

#endif
