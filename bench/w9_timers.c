/* W9 timers: 100,000 goroutines each sleep a pseudo-random 1..50 ms, 5 times
 * in a row (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w9_timers/main.go: the durations come from
 * the same splitmix64 sequence, seeded with the goroutine's index, so both
 * programs sleep exactly the same. Besides the wall time it prints the bound
 * (the longest total sleep of any single goroutine, which nothing can beat)
 * and how long starting the goroutines took. */
#include <goc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define N 100000
#define ROUNDS 5
#define MAX_MS 50

static goc_wg wg;
static _Atomic int64_t slept; /* total ms requested, summed over all goroutines */

/* Advances *state and returns the next pseudo-random number. */
static uint64_t splitmix64(uint64_t *state) {
    *state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The next sleep, 1..50 ms, of a goroutine's sequence. */
static int64_t sleep_ms(uint64_t *state) {
    return 1 + (int64_t)(splitmix64(state) % MAX_MS);
}

static void sleeper(void *arg) {
    uint64_t state = (uint64_t)(uintptr_t)arg;
    int64_t sum = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int64_t ms = sleep_ms(&state);
        goc_sleep(ms * GOC_MILLISECOND);
        sum += ms;
    }
    /* Relaxed: the WaitGroup orders this before main's read. */
    atomic_fetch_add_explicit(&slept, sum, memory_order_relaxed);
    goc_wg_done(&wg);
}

static int bench_main(void *arg) {
    (void)arg;
    /* Outside the timed region: the planned total and the longest goroutine. */
    int64_t want_total = 0, bound_ms = 0;
    for (int i = 0; i < N; i++) {
        uint64_t state = (uint64_t)i;
        int64_t sum = 0;
        for (int r = 0; r < ROUNDS; r++)
            sum += sleep_ms(&state);
        want_total += sum;
        if (sum > bound_ms)
            bound_ms = sum;
    }

    int64_t start = goc_now();
    goc_wg_add(&wg, N);
    for (int i = 0; i < N; i++)
        goc_go(sleeper, (void *)(uintptr_t)i);
    int64_t spawned = goc_now() - start;
    goc_wg_wait(&wg);
    int64_t elapsed = goc_now() - start;

    int64_t total = atomic_load(&slept);
    if (total != want_total) {
        fprintf(stderr, "timers: slept %lld ms in total, want %lld\n", (long long)total,
                (long long)want_total);
        exit(1);
    }
    if (elapsed < bound_ms * GOC_MILLISECOND) {
        fprintf(stderr, "timers: done after %.1f ms, less than the longest sleep sequence %lld ms\n",
                (double)elapsed / 1e6, (long long)bound_ms);
        exit(1);
    }
    printf("timers_wall_ms %.1f ms\n", (double)elapsed / 1e6);
    printf("timers_bound_ms %lld ms\n", (long long)bound_ms);
    printf("timers_spawn_ms %.1f ms\n", (double)spawned / 1e6);
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
