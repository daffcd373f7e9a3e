/* W13 timers churn: a million timers started, all live at once, then
 * stopped and freed; the cost of one timer's whole life.
 *
 * The C twin of bench/go/w13_timers_churn/main.go (time.NewTimer + Stop; Go's
 * GC frees what goc_timer_free frees here). The timers are an hour long, so
 * none fires: the figure is the heap insert, the removal and the allocation,
 * with a heap of up to a million entries. They are stopped in an order
 * unrelated to their deadlines, as timeouts that are cancelled early are.
 * Prints timers_churn_ns_per_op: (new + stop + free) per timer. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

#define N 1000000
#define STRIDE 7919 /* a prime, coprime with N: visits every timer once, scattered */

static int bench_main(void *arg) {
    (void)arg;
    goc_timer **ts = malloc(N * sizeof *ts);
    if (!ts)
        return 1;
    int64_t start = goc_now();
    for (int i = 0; i < N; i++)
        ts[i] = goc_timer_new(GOC_HOUR + (int64_t)(i % 1000) * GOC_MILLISECOND);
    int stopped = 0;
    for (long i = 0; i < N; i++) {
        goc_timer *t = ts[(i * STRIDE) % N];
        stopped += goc_timer_stop(t);
        goc_timer_free(t);
    }
    int64_t elapsed = goc_now() - start;
    free(ts);
    if (stopped != N) {
        fprintf(stderr, "timers_churn: %d of %d timers stopped before firing\n", stopped, N);
        return 1;
    }
    printf("timers_churn_ns_per_op %.1f ns\n", (double)elapsed / N);
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
