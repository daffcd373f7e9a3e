/* W5 buffered: 10,000,000 ints through one channel of capacity 128, first
 * from 1 producer to 1 consumer, then from 4 producers to 4 consumers.
 * Together the producers send every int in 0 .. total-1 exactly once
 * (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w5_buffered/main.go. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

#define TOTAL 10000000
#define CAPACITY 128
#define WANT_SUM ((int64_t)TOTAL * (TOTAL - 1) / 2)
#define MAXG 4

static goc_chan *ch;
static int per;
static int64_t counts[MAXG], sums[MAXG];
static goc_wg pwg, cwg;

static void consumer(void *arg) {
    int c = (int)(intptr_t)arg;
    int64_t n = 0, s = 0;
    int v;
    goc_chan_range(ch, v) {
        n++;
        s += v;
    }
    counts[c] = n;
    sums[c] = s;
    goc_wg_done(&cwg);
}

static void producer(void *arg) {
    int base = (int)(intptr_t)arg;
    for (int i = 0; i < per; i++)
        goc_send(ch, base + i);
    goc_wg_done(&pwg);
}

/* Moves TOTAL ints from producers to consumers; returns the time taken. */
static int64_t run(int producers, int consumers, int64_t *n, int64_t *s) {
    ch = goc_chan_of(int, CAPACITY);
    per = TOTAL / producers;
    int64_t start = goc_now();
    goc_wg_add(&cwg, consumers);
    for (int c = 0; c < consumers; c++)
        goc_go(consumer, (void *)(intptr_t)c);
    goc_wg_add(&pwg, producers);
    for (int p = 0; p < producers; p++)
        goc_go(producer, (void *)(intptr_t)(p * per));
    goc_wg_wait(&pwg);
    goc_chan_close(ch);
    goc_wg_wait(&cwg);
    int64_t elapsed = goc_now() - start;
    *n = *s = 0;
    for (int c = 0; c < consumers; c++) {
        *n += counts[c];
        *s += sums[c];
    }
    goc_chan_free(ch);
    return elapsed;
}

static int bench_main(void *arg) {
    (void)arg;
    static const struct { const char *name; int prod, cons; } variants[] = {
        {"buffered_1p1c_ns_per_msg", 1, 1},
        {"buffered_4p4c_ns_per_msg", 4, 4},
    };
    for (int i = 0; i < 2; i++) {
        int64_t n, s;
        int64_t elapsed = run(variants[i].prod, variants[i].cons, &n, &s);
        if (n != TOTAL || s != WANT_SUM) {
            fprintf(stderr, "buffered %dp%dc: got %lld ints summing to %lld, want %d summing to %lld\n",
                    variants[i].prod, variants[i].cons, (long long)n, (long long)s, TOTAL,
                    (long long)WANT_SUM);
            exit(1);
        }
        printf("%s %.1f ns\n", variants[i].name, (double)elapsed / TOTAL);
    }
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
