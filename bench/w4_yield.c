/* W4 yield: two goroutines each call goc_yield 1,000,000 times
 * (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w4_yield/main.go. The workload is meant
 * for one thread (run it with GOC_MAXPROCS=1); like the Go program, which
 * takes GOMAXPROCS from the environment, it leaves the number of threads to
 * the environment, so both sides run the same variants. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

#define N 1000000

static goc_wg wg;
static int done[2]; /* yields completed per goroutine, read after Wait */

static void yielder(void *arg) {
    int *out = arg;
    int i = 0;
    for (; i < N; i++)
        goc_yield();
    *out = i;
    goc_wg_done(&wg);
}

static int bench_main(void *arg) {
    (void)arg;
    int64_t start = goc_now();
    goc_wg_add(&wg, 2);
    for (int g = 0; g < 2; g++)
        goc_go(yielder, &done[g]);
    goc_wg_wait(&wg);
    int64_t elapsed = goc_now() - start;

    /* Nothing is computed: the check is that both finished all their yields. */
    if (done[0] != N || done[1] != N) {
        fprintf(stderr, "yield: %d and %d yields done, want %d each\n", done[0], done[1], N);
        exit(1);
    }
    /* 2N yields in total; with one thread each one is a goroutine switch. */
    printf("yield_ns_per_switch %.1f ns\n", (double)elapsed / (2.0 * N));
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
