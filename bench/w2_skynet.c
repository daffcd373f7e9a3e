/* W2 skynet: every node spawns 10 children until there are 1,000,000
 * leaves; a leaf sends its number to its parent, a parent sends the sum of
 * its 10 children up. The root total is 0+1+...+999,999 = 499999500000
 * (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w2_skynet/main.go: the same tree, one
 * unbuffered channel per inner node, the same output lines. */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

#define LEAVES 1000000
#define DIV 10
#define WANT ((int64_t)LEAVES * (LEAVES - 1) / 2)

typedef struct node {
    goc_chan *c;
    int64_t num, size;
} node;

/* Computes the sum of num .. num+size-1 with a tree of goroutines and sends
   it on c. The argument is a copy on the goroutine's own stack. */
static void skynet(void *arg) {
    node *n = arg;
    if (n->size == 1) {
        goc_send(n->c, n->num);
        return;
    }
    goc_chan *rc = goc_chan_of(int64_t, 0); /* unbuffered, as in the original */
    int64_t sub = n->size / DIV;
    for (int64_t i = 0; i < DIV; i++) {
        node child = {rc, n->num + i * sub, sub};
        goc_go_copy(skynet, &child, sizeof child);
    }
    int64_t sum = 0;
    for (int i = 0; i < DIV; i++) {
        int64_t v;
        goc_recv(rc, &v);
        sum += v;
    }
    goc_chan_free(rc); /* every child's send has completed */
    goc_send(n->c, sum);
}

static int bench_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int64_t, 0);
    int64_t start = goc_now();
    node root = {c, 0, LEAVES};
    goc_go_copy(skynet, &root, sizeof root);
    int64_t total;
    goc_recv(c, &total);
    int64_t elapsed = goc_now() - start;
    if (total != WANT) {
        fprintf(stderr, "skynet: total %lld, want %lld\n", (long long)total, (long long)WANT);
        exit(1);
    }
    printf("skynet_ms %.1f ms\n", (double)elapsed / 1e6);
    printf("skynet_total %lld sum\n", (long long)total);
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
