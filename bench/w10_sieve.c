/* W10 sieve: the concurrent prime sieve. A generator sends 2, 3, 4, ...
 * down a daisy chain of filter goroutines, one per prime found so far, over
 * unbuffered channels; the 5,000th prime is 48611
 * (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w10_sieve/main.go. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

#define NTH 5000
#define WANT 48611

/* Sends 2, 3, 4, ... on ch forever. */
static void generate(void *arg) {
    goc_chan *ch = arg;
    for (int i = 2;; i++)
        goc_send(ch, i);
}

typedef struct filter_args {
    goc_chan *in, *out;
    int prime;
} filter_args;

/* Passes on from in to out the values not divisible by prime. */
static void filter(void *arg) {
    filter_args a = *(filter_args *)arg;
    for (;;) {
        int i;
        goc_recv(a.in, &i);
        if (i % a.prime != 0)
            goc_send(a.out, i);
    }
}

static int bench_main(void *arg) {
    (void)arg;
    int64_t start = goc_now();
    goc_chan *ch = goc_chan_of(int, 0);
    goc_go(generate, ch);
    int prime = 0;
    for (int i = 1;; i++) {
        goc_recv(ch, &prime);
        if (i == NTH)
            break;
        goc_chan *next = goc_chan_of(int, 0);
        filter_args a = {ch, next, prime};
        goc_go_copy(filter, &a, sizeof a);
        ch = next;
    }
    int64_t elapsed = goc_now() - start;
    /* The generator and filters stay blocked; returning from main ends them. */
    if (prime != WANT) {
        fprintf(stderr, "sieve: prime %d is %d, want %d\n", NTH, prime, WANT);
        exit(1);
    }
    printf("sieve_ms %.1f ms\n", (double)elapsed / 1e6);
    printf("sieve_prime_%d %d prime\n", NTH, prime);
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
