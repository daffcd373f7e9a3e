/* W11 pool: the seed's worker-pool pattern, in memory
 * (../shared/bench/WORKLOADS.md).
 *
 * The C twin of ../shared/bench/go/w11_pool/main.go: the same work, the
 * same output lines. A pager lists 1,000,000 keys in pages of 1,000 and
 * pushes them into a channel of capacity 1,000. 100 workers take keys and
 * delete them from a mutex-protected hash set; an atomic counter counts the
 * deletes. Deleting a key k with k % 100 == 99 fails (decided inside the
 * lock) and the worker offers the key to an error channel of capacity 100
 * with a select with default, dropping it when the channel is full; a
 * collector goroutine drains the error channel into a mutex-protected
 * array. The timed region runs from starting the collector to the
 * collector being done; filling the set is not timed. The checks are Go's:
 * exactly 990,000 deletes, 10,000 failures recorded + dropped, recorded keys
 * distinct failing keys, and exactly the failing keys left in the set.
 *
 * Go's map[int]struct{} becomes an open-addressing set of ints (linear
 * probing, backward-shift deletion) sized like Go's make(map, nKeys). */
#include <goc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_KEYS 1000000
#define PAGE_SIZE 1000
#define WORKERS 100
#define FAIL_EVERY 100
#define ERR_CAP 100
#define WANT_FAIL (N_KEYS / FAIL_EVERY)
#define WANT_DEL (N_KEYS - WANT_FAIL)

/* ---- the set: keys >= 0, -1 marks an empty slot ---- */
typedef struct intset {
    long *slot;
    size_t mask, n;
} intset;

static size_t home(const intset *s, long k) {
    return (size_t)((uint64_t)k * 0x9E3779B97F4A7C15ULL >> 20) & s->mask;
}

static void set_init(intset *s, size_t want) {
    size_t cap = 1;
    while (cap < want * 2)
        cap *= 2;
    s->slot = malloc(cap * sizeof *s->slot);
    memset(s->slot, 0xff, cap * sizeof *s->slot); /* all -1 */
    s->mask = cap - 1;
    s->n = 0;
}

static void set_add(intset *s, long k) {
    size_t i = home(s, k);
    while (s->slot[i] != -1 && s->slot[i] != k)
        i = (i + 1) & s->mask;
    if (s->slot[i] == -1)
        s->n++;
    s->slot[i] = k;
}

static void set_del(intset *s, long k) {
    size_t i = home(s, k);
    for (; s->slot[i] != k; i = (i + 1) & s->mask)
        if (s->slot[i] == -1)
            return;
    s->n--;
    for (size_t j = i;;) {
        s->slot[i] = -1;
        for (;;) {
            j = (j + 1) & s->mask;
            if (s->slot[j] == -1)
                return;
            size_t h = home(s, s->slot[j]);
            if (i <= j ? (h <= i || h > j) : (h <= i && h > j))
                break;
        }
        s->slot[i] = s->slot[j];
        i = j;
    }
}

/* ---- the store: the set behind a mutex; some deletes fail ---- */
static struct {
    goc_mutex mu;
    intset m;
} store;

static int store_delete(long key) {
    goc_mutex_lock(&store.mu);
    int err = 0;
    if (key % FAIL_EVERY == FAIL_EVERY - 1)
        err = 1; /* errDeleteFailed */
    else
        set_del(&store.m, key);
    goc_mutex_unlock(&store.mu);
    return err;
}

static goc_chan *keys, *errs;
static _Atomic long deleted, dropped;
static goc_mutex failed_mu;
static long *failed;
static size_t nfailed, capfailed;
static goc_wg workers_wg, collector_wg;

static void collector(void *arg) {
    (void)arg;
    long k;
    goc_chan_range(errs, k) {
        goc_mutex_lock(&failed_mu);
        if (nfailed == capfailed) {
            capfailed = capfailed ? capfailed * 2 : 1024;
            failed = realloc(failed, capfailed * sizeof *failed);
        }
        failed[nfailed++] = k;
        goc_mutex_unlock(&failed_mu);
    }
    goc_wg_done(&collector_wg);
}

static void worker(void *arg) {
    (void)arg;
    /* A local copy, as Go's closure captures the channel by value: the global
       shares a cache line with counters that every delete writes. */
    goc_chan *kc = keys;
    long k;
    goc_chan_range(kc, k) {
        if (store_delete(k) != 0) {
            goc_case c[] = {goc_case_send(errs, &k)};
            if (goc_try_select(c, 1) < 0) /* error channel full: the failure is lost */
                atomic_fetch_add(&dropped, 1);
            continue;
        }
        atomic_fetch_add(&deleted, 1);
    }
    goc_wg_done(&workers_wg);
}

/* listPage: fills buf with the page of keys that begins at first. */
static size_t list_page(long *buf, long first) {
    size_t n = 0;
    for (long k = first; k < first + PAGE_SIZE && k < N_KEYS; k++)
        buf[n++] = k;
    return n;
}

static void pager(void *arg) {
    (void)arg;
    long page[PAGE_SIZE];
    for (long first = 0; first < N_KEYS; first += PAGE_SIZE) {
        size_t n = list_page(page, first);
        for (size_t i = 0; i < n; i++)
            goc_chan_send(keys, &page[i]);
    }
    goc_chan_close(keys);
}

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pool: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int bench_main(void *arg) {
    (void)arg;
    /* Outside the timed region: fill the store. */
    set_init(&store.m, N_KEYS);
    for (long k = 0; k < N_KEYS; k++)
        set_add(&store.m, k);

    keys = goc_chan_of(long, PAGE_SIZE);
    errs = goc_chan_of(long, ERR_CAP);

    int64_t start = goc_now();
    goc_wg_add(&collector_wg, 1);
    goc_go(collector, NULL);
    goc_wg_add(&workers_wg, WORKERS);
    for (int w = 0; w < WORKERS; w++)
        goc_go(worker, NULL);
    goc_go(pager, NULL);

    goc_wg_wait(&workers_wg);
    goc_chan_close(errs);
    goc_wg_wait(&collector_wg);
    int64_t elapsed = goc_now() - start;

    long recorded = (long)nfailed, lost = atomic_load(&dropped);
    if (atomic_load(&deleted) != WANT_DEL)
        fail("%ld deleted, want %d", atomic_load(&deleted), WANT_DEL);
    if (recorded + lost != WANT_FAIL)
        fail("%ld failures recorded + %ld dropped, want %d in all", recorded, lost, WANT_FAIL);
    if (store.m.n != WANT_FAIL)
        fail("%zu keys left in the map, want %d", store.m.n, WANT_FAIL);
    for (size_t i = 0; i <= store.m.mask; i++) {
        long k = store.m.slot[i];
        if (k != -1 && k % FAIL_EVERY != FAIL_EVERY - 1)
            fail("key %ld is left in the map but its delete cannot fail", k);
    }
    qsort(failed, nfailed, sizeof *failed, cmp_long);
    for (size_t i = 0; i < nfailed; i++) {
        if (failed[i] % FAIL_EVERY != FAIL_EVERY - 1)
            fail("key %ld recorded as failed but its delete cannot fail", failed[i]);
        if (i > 0 && failed[i - 1] == failed[i])
            fail("key %ld recorded twice", failed[i]);
    }

    printf("pool_ms %.1f ms\n", (double)elapsed / 1e6);
    printf("pool_deleted %ld keys\n", atomic_load(&deleted));
    printf("pool_failed %ld keys\n", recorded + lost);
    printf("pool_failed_recorded %ld keys\n", recorded);
    printf("pool_failed_dropped %ld keys\n", lost);
    goc_chan_free(keys);
    goc_chan_free(errs);
    free(failed);
    free(store.m.slot);
    return 0;
}

int main(void) {
    return goc_run(bench_main, NULL);
}
