/* Go's runtime semaphore (runtime/sema.go), the sleeping half of the sync
 * package: a table of waiter lists keyed by the semaphore's address, so that
 * any zero-filled uint32 in a user's structure can be waited on.
 *
 * Invariants:
 * - b->nwait counts the waiters queued in bucket b (all addresses); it is
 *   changed under b->lock and read without it as a hint by release.
 * - A waiter is in its bucket's list exactly while w->queued is true; it is
 *   taken out only under b->lock, by a releaser or by its own timeout.
 * - release adds its token to *addr before looking for waiters, so a token
 *   is never lost: a woken waiter re-tries the counter unless the releaser
 *   handed the token over directly (w->ticket).
 */
#include "runtime/internal.h"

#define SEMTAB_SIZE 251 /* as Go: a prime, so addresses spread over buckets */

typedef struct sema_waiter {
    goc__parker pk;
    _Atomic uint32_t *addr;
    struct sema_waiter *next, *prev;
    bool queued;
    bool ticket; /* the releaser took the token for us */
} sema_waiter;

typedef struct sema_bucket {
    goc__lock lock;
    _Atomic uint32_t nwait;
    sema_waiter *head, *tail;
} __attribute__((aligned(64))) sema_bucket;

static sema_bucket semtab[SEMTAB_SIZE];

static sema_bucket *bucket_of(_Atomic uint32_t *addr) {
    return &semtab[((uintptr_t)addr >> 3) % SEMTAB_SIZE];
}

static bool can_acquire(_Atomic uint32_t *addr) {
    uint32_t v = atomic_load(addr);
    while (v > 0)
        if (atomic_compare_exchange_weak(addr, &v, v - 1))
            return true;
    return false;
}

static void enqueue(sema_bucket *b, sema_waiter *w, bool lifo) {
    w->queued = true;
    if (lifo) {
        w->prev = NULL;
        w->next = b->head;
        if (b->head)
            b->head->prev = w;
        else
            b->tail = w;
        b->head = w;
    } else {
        w->next = NULL;
        w->prev = b->tail;
        if (b->tail)
            b->tail->next = w;
        else
            b->head = w;
        b->tail = w;
    }
}

static void dequeue(sema_bucket *b, sema_waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        b->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        b->tail = w->prev;
    w->queued = false;
    atomic_fetch_sub(&b->nwait, 1);
}

bool goc__semacquire_until(_Atomic uint32_t *addr, bool lifo, const char *reason, int64_t deadline) {
    if (can_acquire(addr))
        return true;
    sema_bucket *b = bucket_of(addr);
    sema_waiter w;
    w.addr = addr;
    for (;;) {
        goc__lock_acquire(&b->lock);
        atomic_fetch_add(&b->nwait, 1);
        /* after counting ourselves: a release that missed our count left its
           token in *addr, which we take here */
        if (can_acquire(addr)) {
            atomic_fetch_sub(&b->nwait, 1);
            goc__lock_release(&b->lock);
            return true;
        }
        goc__parker_init(&w.pk);
        w.ticket = false;
        enqueue(b, &w, lifo);
        if (!goc__parker_park(&w.pk, goc__unlock_cb, &b->lock, reason, deadline)) {
            goc__lock_acquire(&b->lock);
            if (w.queued)
                dequeue(b, &w);
            goc__lock_release(&b->lock);
            return false;
        }
        if (w.ticket || can_acquire(addr))
            return true;
    }
}

void goc__semacquire(_Atomic uint32_t *addr, bool lifo, const char *reason) {
    goc__semacquire_until(addr, lifo, reason, -1);
}

/* Adds n tokens to *addr, then wakes up to n of its waiters. With handoff
   (n is 1) the releaser takes the token back for the waiter (w->ticket) and
   lets it run now. Without it, *addr is not touched after the addition, so
   the woken waiters may free it. */
static void release(_Atomic uint32_t *addr, uint32_t n, bool handoff) {
    sema_bucket *b = bucket_of(addr);
    atomic_fetch_add(addr, n);
    /* Nobody counted as waiting: a waiter that counts itself later sees our
       tokens when it re-checks under the lock. */
    if (atomic_load(&b->nwait) == 0)
        return;
    sema_waiter *wake = NULL, **tail = &wake;
    goc__lock_acquire(&b->lock);
    for (sema_waiter *w = b->head, *next; w && n > 0; w = next) {
        next = w->next;
        if (w->addr != addr)
            continue;
        dequeue(b, w);
        if (!goc__parker_claim(&w->pk))
            continue; /* it timed out at the same moment; it returns without a token */
        w->next = NULL;
        *tail = w;
        tail = &w->next;
        n--;
    }
    bool ticket = handoff && wake && can_acquire(addr);
    if (ticket)
        wake->ticket = true;
    goc__lock_release(&b->lock);
    while (wake) {
        sema_waiter *next = wake->next; /* read first: once woken, it may return */
        goc__parker_wake(&wake->pk);
        wake = next;
    }
    if (ticket && goc__curg())
        goc_yield(); /* the woken G is usually in runnext (not behind a timer-woken or
                        yielding one): let it run now */
}

void goc__semrelease(_Atomic uint32_t *addr, bool handoff) {
    release(addr, 1, handoff);
}

void goc__semrelease_n(_Atomic uint32_t *addr, uint32_t n) {
    if (n > 0)
        release(addr, n, false);
}
