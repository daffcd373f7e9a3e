/* Epoch-based reclamation (Fraser's scheme, three epochs) for lock-free
 * readers; see ebr.h for the rules.
 *
 * One global epoch E. Each thread that reads has a record, padded to its own
 * cache line: local = (epoch << 1) | 1 while inside a section, 0 outside.
 * Readers write only their own record, so reads scale across cores.
 *
 * Invariants:
 * - E moves from e to e + 1 only when every record inside a section shows
 *   e. So once E >= r + 2, every reader inside a section entered after E
 *   reached r + 1, after anything retired at epoch r had been unlinked
 *   (retirers read E after unlinking), and cannot reach it.
 * - All operations on E, on records and on the data readers follow are
 *   seq_cst: a reader's store of its record is ordered before its loads of
 *   shared pointers, and an advancer that missed the store is ordered
 *   before it (so that reader sees the unlink). TSan models this exactly
 *   (no fences).
 * - Records are never freed; a thread's record is marked unused when the
 *   thread exits and a later thread adopts it. The number of records is the
 *   largest number of threads that ever read at once.
 *
 * Why a thread and not a goroutine owns a record: entering must be a few
 * nanoseconds and touch nothing shared; the P would do as well, but plain
 * threads read too. Sections never span a park, so the goroutine cannot move
 * between enter and exit.
 */
#include "sync/ebr.h"
#include <stdlib.h>
#include <string.h>

struct goc__ebr_rec {
    _Atomic uint64_t local;
    _Atomic uint32_t used;
    goc__ebr_rec *next; /* written once, before the record is published */
} __attribute__((aligned(64)));

static _Atomic uint64_t epoch = 1;
static _Atomic(goc__ebr_rec *) records;
static pthread_key_t rec_key;
static pthread_once_t rec_once = PTHREAD_ONCE_INIT;
static __thread goc__ebr_rec *my_rec;

static void rec_release(void *v) {
    goc__ebr_rec *r = v;
    atomic_store(&r->local, 0);
    atomic_store(&r->used, 0);
}

static void rec_key_init(void) {
    pthread_key_create(&rec_key, rec_release);
}

static __attribute__((noinline)) goc__ebr_rec *rec_new(void) {
    pthread_once(&rec_once, rec_key_init);
    goc__ebr_rec *r;
    for (r = atomic_load(&records); r; r = r->next) {
        uint32_t z = 0;
        if (atomic_load(&r->used) == 0 && atomic_compare_exchange_strong(&r->used, &z, 1))
            break;
    }
    if (!r) {
        r = aligned_alloc(64, sizeof *r);
        if (!r)
            goc__fatal("out of memory (sync reclamation record)");
        memset(r, 0, sizeof *r);
        atomic_store(&r->used, 1);
        goc__ebr_rec *head = atomic_load(&records);
        do
            r->next = head;
        while (!atomic_compare_exchange_weak(&records, &head, r));
    }
    pthread_setspecific(rec_key, r);
    my_rec = r;
    return r;
}

/* The thread's record through a getter the compiler cannot cache across a
   switch (PLATFORM-NOTES: TLS and migration). */
static __attribute__((noinline)) goc__ebr_rec *rec_get(void) {
    goc__ebr_rec *r = my_rec;
    __asm__ volatile("" : "+r"(r)::"memory");
    return GOC_LIKELY(r != NULL) ? r : rec_new();
}

goc__ebr_rec *goc__ebr_enter(void) {
    goc__ebr_rec *r = rec_get();
    atomic_store(&r->local, (atomic_load(&epoch) << 1) | 1);
    return r;
}

void goc__ebr_exit(goc__ebr_rec *r) {
    /* release: the section's reads happen before an advancer sees us out */
    atomic_store_explicit(&r->local, 0, memory_order_release);
}

uint64_t goc__ebr_epoch(void) {
    return atomic_load(&epoch);
}

static void try_advance(void) {
    uint64_t e = atomic_load(&epoch);
    for (goc__ebr_rec *r = atomic_load(&records); r; r = r->next) {
        uint64_t l = atomic_load(&r->local);
        if ((l & 1) && (l >> 1) != e)
            return; /* a reader is still in an older epoch */
    }
    atomic_compare_exchange_strong(&epoch, &e, e + 1);
}

bool goc__ebr_safe(uint64_t e) {
    if (atomic_load(&epoch) < e + 2)
        try_advance();
    if (atomic_load(&epoch) < e + 2)
        try_advance();
    return atomic_load(&epoch) >= e + 2;
}
