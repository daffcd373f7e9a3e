/* W1 spawn: start 1,000,000 goroutines that each only mark a WaitGroup
 * done; main waits for all of them (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w1_spawn/main.go: the same work, the same
 * output line. As there, the counter is raised once by n before the first
 * goroutine starts, and the check that every goroutine has exited is outside
 * the timed region. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

#define N 1000000

static goc_wg wg;

static void worker(void *arg) {
    (void)arg;
    goc_wg_done(&wg);
}

static int bench_main(void *arg) {
    (void)arg;
    int64_t start = goc_now();
    goc_wg_add(&wg, N);
    for (int i = 0; i < N; i++)
        goc_go(worker, NULL);
    goc_wg_wait(&wg);
    int64_t elapsed = goc_now() - start;

    /* Wait returned, so exactly N Done calls happened (one more would panic).
       Also check that every goroutine has exited. */
    int64_t deadline = goc_now() + 5 * GOC_SECOND;
    while (goc_num_goroutine() > 1) {
        if (goc_now() > deadline) {
            fprintf(stderr, "spawn: %d goroutines still alive after Wait\n", goc_num_goroutine() - 1);
            exit(1);
        }
        goc_sleep(GOC_MILLISECOND);
    }
    printf("spawn_ns_per_goroutine %.1f ns\n", (double)elapsed / N);
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
