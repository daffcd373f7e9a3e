/* W6 select: 4 producers each send 1,000,000 ints on their own unbuffered
 * channel and close it; one consumer selects over the 4 channels until all
 * of them are closed. Together the producers send 0 .. 3,999,999 once each
 * (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w6_select/main.go. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

#define PRODUCERS 4
#define PER 1000000
#define TOTAL (PRODUCERS * PER)
#define WANT_SUM ((int64_t)TOTAL * (TOTAL - 1) / 2)

typedef struct prod {
    goc_chan *ch;
    int base;
} prod;

static void producer(void *arg) {
    prod *p = arg;
    for (int i = 0; i < PER; i++)
        goc_send(p->ch, p->base + i);
    goc_chan_close(p->ch);
}

static int bench_main(void *arg) {
    (void)arg;
    goc_chan *chans[PRODUCERS];
    int64_t start = goc_now();
    for (int p = 0; p < PRODUCERS; p++) {
        chans[p] = goc_chan_of(int, 0); /* unbuffered */
        prod a = {chans[p], p * PER};
        goc_go_copy(producer, &a, sizeof a);
    }
    int64_t n = 0, sum = 0;
    int v;
    bool ok;
    goc_case cases[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++)
        cases[p] = goc_case_recv(chans[p], &v, &ok);
    for (int open = PRODUCERS; open > 0;) {
        int i = goc_select(cases, PRODUCERS);
        if (!ok) {
            cases[i] = goc_case_recv(NULL, NULL, NULL); /* a nil channel is never ready */
            open--;
            continue;
        }
        n++;
        sum += v;
    }
    int64_t elapsed = goc_now() - start;
    if (n != TOTAL || sum != WANT_SUM) {
        fprintf(stderr, "select: got %lld ints summing to %lld, want %d summing to %lld\n",
                (long long)n, (long long)sum, TOTAL, (long long)WANT_SUM);
        exit(1);
    }
    printf("select_ns_per_msg %.1f ns\n", (double)elapsed / TOTAL);
    for (int p = 0; p < PRODUCERS; p++)
        goc_chan_free(chans[p]);
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
