/* W7 mutex: 8 goroutines each lock a goc_mutex, increment a shared counter
 * and unlock, 1,000,000 times (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w7_mutex/main.go: the same work, the same
 * output line. With the argument --uncontended it also measures a lock and
 * unlock pair that never contends (one goroutine, 10,000,000 pairs) and
 * prints it as mutex_uncontended_ns_per_pair; Go has no such line. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 8
#define PER 1000000
#define TOTAL ((long)WORKERS * PER)
#define UNCONTENDED 10000000

static goc_mutex mu;
static goc_wg wg;
static long counter;
static bool uncontended;

static void worker(void *arg) {
    (void)arg;
    for (int i = 0; i < PER; i++) {
        goc_mutex_lock(&mu);
        counter++;
        goc_mutex_unlock(&mu);
    }
    goc_wg_done(&wg);
}

static int bench_main(void *arg) {
    (void)arg;
    int64_t start = goc_now();
    goc_wg_add(&wg, WORKERS);
    for (int w = 0; w < WORKERS; w++)
        goc_go(worker, NULL);
    goc_wg_wait(&wg);
    int64_t elapsed = goc_now() - start;

    if (counter != TOTAL) {
        fprintf(stderr, "mutex: counter %ld, want %ld\n", counter, TOTAL);
        exit(1);
    }
    printf("mutex_ns_per_lock %.1f ns\n", (double)elapsed / TOTAL);

    if (uncontended) {
        goc_mutex m = {0};
        volatile long n = 0;
        start = goc_now();
        for (int i = 0; i < UNCONTENDED; i++) {
            goc_mutex_lock(&m);
            n = n + 1;
            goc_mutex_unlock(&m);
        }
        elapsed = goc_now() - start;
        printf("mutex_uncontended_ns_per_pair %.1f ns\n", (double)elapsed / UNCONTENDED);
    }
    return 0;
}

int main(int argc, char **argv) {
    uncontended = argc > 1 && !strcmp(argv[1], "--uncontended");
    return goc_run(bench_main, NULL);
}
