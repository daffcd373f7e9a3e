/* W8 parked: start 1,000,000 goroutines that each park on one gate until all
 * have started, then release them and wait for all to finish
 * (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w8_parked/main.go. It prints how much
 * memory one parked goroutine costs: the growth of the process's peak RSS
 * (VmHWM) plus the growth of its page tables (VmPTE), divided by 1,000,000,
 * read while every goroutine is parked. As in the Go program, the baseline is
 * VmRSS before anything starts and the gate is a WaitGroup of count 1. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 1000000

static goc_wg started, done, gate;

/* Returns a field such as "VmRSS" of /proc/self/status in KiB; exits if it
   cannot be read. */
static long long proc_status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) {
        perror("parked: /proc/self/status");
        exit(1);
    }
    char line[256];
    size_t len = strlen(field);
    long long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            if (sscanf(line + len + 1, "%lld", &v) != 1)
                v = -1;
            break;
        }
    }
    fclose(f);
    if (v < 0) {
        fprintf(stderr, "parked: no %s in /proc/self/status\n", field);
        exit(1);
    }
    return v;
}

static void parked(void *arg) {
    (void)arg;
    goc_wg_done(&started);
    goc_wg_wait(&gate);
    goc_wg_done(&done);
}

static int bench_main(void *arg) {
    (void)arg;
    long long rss0 = proc_status_kib("VmRSS"), pte0 = proc_status_kib("VmPTE");

    goc_wg_add(&gate, 1);
    goc_wg_add(&started, N);
    goc_wg_add(&done, N);
    int64_t start = goc_now();
    for (int i = 0; i < N; i++)
        goc_go(parked, NULL);
    goc_wg_wait(&started);
    int64_t spawned = goc_now() - start;
    long long rss1 = proc_status_kib("VmHWM"), pte1 = proc_status_kib("VmPTE");
    goc_wg_done(&gate);
    goc_wg_wait(&done);
    int64_t elapsed = goc_now() - start;

    double per_g = (double)((rss1 - rss0) + (pte1 - pte0)) * 1024 / N;
    printf("parked_spawn_s %.3f s\n", (double)spawned / GOC_SECOND);
    printf("parked_wall_s %.3f s\n", (double)elapsed / GOC_SECOND);
    printf("parked_bytes_per_goroutine %.0f B\n", per_g);
    printf("parked_pte_bytes_per_goroutine %.0f B\n", (double)(pte1 - pte0) * 1024 / N);
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
