/* W3 pingpong: two goroutines bounce an int over two unbuffered channels,
 * 1,000,000 round trips. Each side adds 1, so the final value is 2*n
 * (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w3_pingpong/main.go: the main goroutine
 * is one of the two, as in the Go program. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

#define N 1000000

static goc_chan *ping, *pong;

/* The partner: receive on ping, send back one more on pong. */
static void partner(void *arg) {
    (void)arg;
    int v;
    goc_chan_range(ping, v) goc_send(pong, v + 1);
}

static int bench_main(void *arg) {
    (void)arg;
    ping = goc_chan_of(int, 0);
    pong = goc_chan_of(int, 0);
    goc_go(partner, NULL);
    int v = 0;
    int64_t start = goc_now();
    for (int i = 0; i < N; i++) {
        goc_send(ping, v + 1);
        goc_recv(pong, &v);
    }
    int64_t elapsed = goc_now() - start;
    goc_chan_close(ping);
    if (v != 2 * N) {
        fprintf(stderr, "pingpong: final value %d, want %d\n", v, 2 * N);
        exit(1);
    }
    printf("pingpong_ns_per_roundtrip %.1f ns\n", (double)elapsed / N);
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
