/* sync.Map, as Go's read-only map plus dirty map (sync/map.go before Go
 * 1.24), with epoch-based reclamation (ebr.c) standing in for the collector.
 *
 * Structures:
 * - An entry holds one key (copied) and an atomic value slot p: a user value
 *   (any pointer, NULL included), DELETED (the key is absent), or EXPUNGED
 *   (absent, and the entry is in _read but not in _dirty). The two marks are
 *   addresses inside this library, so no user value can equal them.
 * - A table is an open-addressing hash table of entry pointers. _read points
 *   to an immutable table (never written once published; 0 is the empty
 *   table), its low bit "amended" telling that _dirty has keys _read lacks.
 *   _dirty is a mutable table under _mu, or NULL.
 *
 * Invariants:
 * - Every live key is in _read or _dirty. When _dirty is non-NULL it holds
 *   every entry of _read except the EXPUNGED ones, plus the amended keys.
 * - An entry leaves EXPUNGED only under _mu (unexpunge, which also puts it
 *   back in _dirty). A value slot changes from DELETED to EXPUNGED only under
 *   _mu, when _dirty is rebuilt.
 * - Loads, and stores to keys present in _read, take no lock: they run inside
 *   an EBR section, and every table or entry that becomes unreachable is
 *   retired to _limbo (under _mu) and freed after the grace period:
 *     _read replaced by _dirty (promotion): the old table, and its EXPUNGED
 *       entries (the only ones _dirty lacks);
 *     a key deleted from _dirty while absent from _read: its entry;
 *     clear: the read table and every entry.
 *   Paths that take _mu finish their work on an entry before unlocking (an
 *   entry reachable under _mu cannot be retired meanwhile), so no section
 *   ever spans a lock, a park or user code.
 * - After len(_dirty) loads have missed _read, _dirty is promoted to _read,
 *   so a stable key set is soon served without locks (Go's amortisation).
 *
 * Limits: retired memory is freed by later locked operations on the same
 * map (or goc_map_free); a map that stops changing keeps its last retired
 * tables until then. range copies the live pairs first (O(n) memory), so it
 * can call fn outside any section: fn may block or use the map.
 */
#include "runtime/internal.h"
#include "sync/ebr.h"
#include <stdlib.h>
#include <string.h>

typedef struct map_entry {
    _Atomic(void *) p;
    struct map_entry *rnext; /* retired list */
    uint64_t hash;
    size_t klen;
    unsigned char key[];
} map_entry;

typedef struct map_table {
    size_t mask; /* capacity - 1; capacity a power of two */
    size_t n;
    struct map_table *rnext; /* retired list */
    map_entry *slot[];
} map_table;

/* Things retired at one epoch. */
typedef struct map_batch {
    struct map_batch *next;
    uint64_t epoch;
    map_table *tables;
    map_entry *entries;
} map_batch;

static char deleted_mark, expunged_mark; /* distinct addresses no user value can have */
#define DELETED ((void *)&deleted_mark)
#define EXPUNGED ((void *)&expunged_mark)
#define AMENDED ((uintptr_t)1)
#define MAP_MIN_CAP 8

/* ------------------------------------------------------------------------ */
/* Hashing and tables.                                                      */

static uint64_t hash_seed;

__attribute__((constructor)) static void map_seed_init(void) {
    uint64_t s = (uint64_t)goc_now() ^ (uint64_t)(uintptr_t)&hash_seed;
    hash_seed = s * 0x9E3779B97F4A7C15ULL | 1;
}

static inline uint64_t mix(uint64_t a, uint64_t b) {
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* wyhash-style: 8 bytes at a time, a 64x64->128 multiply to mix. */
static uint64_t hash_key(const void *key, size_t n) {
    const unsigned char *p = key;
    uint64_t h = hash_seed ^ mix(n, 0xa0761d6478bd642fULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h ^ w, 0xe7037ed1a0b428dbULL);
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n) /* the empty key may be NULL, which memcpy may not be given */
        memcpy(&w, p, n);
    return mix(h ^ w, 0x8ebc6af09c88c6e3ULL);
}

static bool key_eq(const map_entry *e, uint64_t h, const void *key, size_t klen) {
    return e->hash == h && e->klen == klen && (klen == 0 || memcmp(e->key, key, klen) == 0);
}

static map_table *table_new(size_t cap) {
    map_table *t = calloc(1, sizeof *t + cap * sizeof(map_entry *));
    if (!t)
        goc__fatal("out of memory (sync.Map table)");
    t->mask = cap - 1;
    return t;
}

static map_entry *table_find(const map_table *t, uint64_t h, const void *key, size_t klen) {
    if (!t)
        return NULL;
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        map_entry *e = t->slot[i];
        if (!e || key_eq(e, h, key, klen))
            return e;
    }
}

static void table_put(map_table *t, map_entry *e) {
    size_t i = e->hash & t->mask;
    while (t->slot[i])
        i = (i + 1) & t->mask;
    t->slot[i] = e;
    t->n++;
}

/* Adds e to *tp (a mutable table), growing it to keep the load under 3/4. */
static void table_insert(map_table **tp, map_entry *e) {
    map_table *t = *tp;
    if ((t->n + 1) * 4 > (t->mask + 1) * 3) {
        map_table *g = table_new((t->mask + 1) * 2);
        for (size_t i = 0; i <= t->mask; i++)
            if (t->slot[i])
                table_put(g, t->slot[i]);
        free(t); /* a mutable table is only ever seen under _mu */
        *tp = t = g;
    }
    table_put(t, e);
}

/* Removes the entry for key from a mutable table (backward-shift deletion,
   so linear probing needs no tombstones); returns it or NULL. */
static map_entry *table_remove(map_table *t, uint64_t h, const void *key, size_t klen) {
    size_t i = h & t->mask;
    for (;; i = (i + 1) & t->mask) {
        if (!t->slot[i])
            return NULL;
        if (key_eq(t->slot[i], h, key, klen))
            break;
    }
    map_entry *found = t->slot[i];
    size_t j = i;
    for (;;) {
        t->slot[i] = NULL;
        for (;;) {
            j = (j + 1) & t->mask;
            if (!t->slot[j])
                goto done;
            size_t home = t->slot[j]->hash & t->mask;
            /* can slot j's entry move to the hole at i? only if its home is
               not cyclically within (i, j] */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        t->slot[i] = t->slot[j];
        i = j;
    }
done:
    t->n--;
    return found;
}

static map_entry *entry_new(uint64_t h, const void *key, size_t klen, void *value) {
    map_entry *e = malloc(sizeof *e + klen);
    if (!e)
        goc__fatal("out of memory (sync.Map entry)");
    atomic_init(&e->p, value);
    e->rnext = NULL;
    e->hash = h;
    e->klen = klen;
    if (klen)
        memcpy(e->key, key, klen);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Entries (Go's entry methods). Values are never DELETED or EXPUNGED.      */

static bool entry_load(map_entry *e, void **value) {
    void *p = atomic_load(&e->p);
    if (p == DELETED || p == EXPUNGED)
        return false;
    if (value)
        *value = p;
    return true;
}

/* Stores v unless the entry is expunged. Sets *prev and *loaded. */
static bool entry_try_swap(map_entry *e, void *v, void **prev, bool *loaded) {
    void *p = atomic_load(&e->p);
    for (;;) {
        if (p == EXPUNGED)
            return false;
        if (atomic_compare_exchange_weak(&e->p, &p, v)) {
            *loaded = p != DELETED;
            if (*loaded && prev)
                *prev = p;
            return true;
        }
    }
}

/* 1: loaded (*actual), 0: stored, -1: expunged (nothing done). */
static int entry_try_load_or_store(map_entry *e, void *v, void **actual) {
    void *p = atomic_load(&e->p);
    for (;;) {
        if (p == EXPUNGED)
            return -1;
        if (p != DELETED) {
            if (actual)
                *actual = p;
            return 1;
        }
        if (atomic_compare_exchange_weak(&e->p, &p, v)) {
            if (actual)
                *actual = v;
            return 0;
        }
    }
}

static bool entry_delete(map_entry *e, void **value) {
    void *p = atomic_load(&e->p);
    for (;;) {
        if (p == DELETED || p == EXPUNGED)
            return false;
        if (atomic_compare_exchange_weak(&e->p, &p, DELETED)) {
            if (value)
                *value = p;
            return true;
        }
    }
}

static bool entry_cas(map_entry *e, void *old, void *new_value) {
    void *p = atomic_load(&e->p);
    for (;;) {
        if (p == DELETED || p == EXPUNGED || p != old)
            return false;
        if (atomic_compare_exchange_weak(&e->p, &p, new_value))
            return true;
    }
}

static bool entry_compare_and_delete(map_entry *e, void *old) {
    return entry_cas(e, old, DELETED);
}

/* _mu held: EXPUNGED -> DELETED; true if it was expunged. */
static bool entry_unexpunge(map_entry *e) {
    void *x = EXPUNGED;
    return atomic_compare_exchange_strong(&e->p, &x, DELETED);
}

/* _mu held: DELETED -> EXPUNGED; true if the entry is (now) expunged. */
static bool entry_try_expunge(map_entry *e) {
    void *p = atomic_load(&e->p);
    while (p == DELETED)
        if (atomic_compare_exchange_weak(&e->p, &p, EXPUNGED))
            return true;
    return p == EXPUNGED;
}

/* ------------------------------------------------------------------------ */
/* Reclamation (all under _mu).                                             */

static map_batch *batch_now(goc_map *m) {
    uint64_t e = goc__ebr_epoch(); /* read after the unlink it covers */
    map_batch *b = m->_limbo;
    if (b && b->epoch == e)
        return b;
    b = calloc(1, sizeof *b);
    if (!b)
        goc__fatal("out of memory (sync.Map)");
    b->epoch = e;
    b->next = m->_limbo;
    m->_limbo = b;
    return b;
}

static void retire_entry(goc_map *m, map_entry *e) {
    map_batch *b = batch_now(m);
    e->rnext = b->entries;
    b->entries = e;
}

static void retire_table(goc_map *m, map_table *t) {
    if (!t)
        return;
    map_batch *b = batch_now(m);
    t->rnext = b->tables;
    b->tables = t;
}

static void batch_free(map_batch *b) {
    while (b) {
        map_batch *next = b->next;
        for (map_entry *e = b->entries, *en; e; e = en) {
            en = e->rnext;
            free(e);
        }
        for (map_table *t = b->tables, *tn; t; t = tn) {
            tn = t->rnext;
            free(t);
        }
        free(b);
        b = next;
    }
}

/* Frees the batches no reader can see any more (the list is newest first). */
static void reclaim(goc_map *m) {
    map_batch **pp = (map_batch **)&m->_limbo;
    while (*pp && !goc__ebr_safe((*pp)->epoch))
        pp = &(*pp)->next;
    map_batch *old = *pp;
    *pp = NULL;
    batch_free(old);
}

/* ------------------------------------------------------------------------ */
/* The map (Go's methods).                                                  */

static inline map_table *read_table(uintptr_t r) {
    return (map_table *)(r & ~AMENDED);
}

/* seq_cst: inside a section, ordered after the record store (ebr.c) */
static inline uintptr_t load_read(goc_map *m) {
    return atomic_load(&m->_read);
}

static void unlock_map(goc_map *m) {
    if (m->_limbo)
        reclaim(m);
    goc_mutex_unlock(&m->_mu);
}

/* _mu held. Go's missLocked: promote _dirty once enough loads missed _read. */
static void miss_locked(goc_map *m) {
    m->_misses++;
    map_table *d = m->_dirty;
    if (m->_misses < (d ? d->n : 0))
        return;
    map_table *old = read_table(load_read(m));
    atomic_store(&m->_read, (uintptr_t)d);
    m->_dirty = NULL;
    m->_misses = 0;
    /* the old table's EXPUNGED entries are the only ones _dirty lacked */
    if (old) {
        for (size_t i = 0; i <= old->mask; i++)
            if (old->slot[i] && atomic_load(&old->slot[i]->p) == EXPUNGED)
                retire_entry(m, old->slot[i]);
        retire_table(m, old);
    }
}

/* _mu held. Go's dirtyLocked: make _dirty from _read, expunging the deleted. */
static void dirty_locked(goc_map *m) {
    if (m->_dirty)
        return;
    map_table *r = read_table(load_read(m));
    size_t cap = MAP_MIN_CAP;
    while (r && cap * 3 < (r->n + 1) * 4 + 4)
        cap *= 2;
    map_table *d = table_new(cap);
    if (r)
        for (size_t i = 0; i <= r->mask; i++)
            if (r->slot[i] && !entry_try_expunge(r->slot[i]))
                table_insert(&d, r->slot[i]);
    m->_dirty = d;
}

/* _mu held: a new key goes to _dirty (amending _read first if needed). */
static void add_dirty(goc_map *m, uint64_t h, const void *key, size_t klen, void *value) {
    uintptr_t r = load_read(m);
    if (!(r & AMENDED)) {
        dirty_locked(m);
        atomic_store(&m->_read, r | AMENDED);
    }
    table_insert((map_table **)&m->_dirty, entry_new(h, key, klen, value));
}

bool goc_map_load(goc_map *m, const void *key, size_t klen, void **value) {
    uint64_t h = hash_key(key, klen);
    goc__ebr_rec *rec = goc__ebr_enter();
    uintptr_t r = load_read(m);
    map_entry *e = table_find(read_table(r), h, key, klen);
    if (e || !(r & AMENDED)) {
        bool ok = e && entry_load(e, value);
        goc__ebr_exit(rec);
        return ok;
    }
    goc__ebr_exit(rec);
    goc_mutex_lock(&m->_mu);
    r = load_read(m);
    e = table_find(read_table(r), h, key, klen);
    if (!e && (r & AMENDED)) {
        e = table_find(m->_dirty, h, key, klen);
        miss_locked(m);
    }
    bool ok = e && entry_load(e, value);
    unlock_map(m);
    return ok;
}

bool goc_map_swap(goc_map *m, const void *key, size_t klen, void *value, void **previous) {
    uint64_t h = hash_key(key, klen);
    bool loaded = false;
    goc__ebr_rec *rec = goc__ebr_enter();
    map_entry *e = table_find(read_table(load_read(m)), h, key, klen);
    bool done = e && entry_try_swap(e, value, previous, &loaded);
    goc__ebr_exit(rec);
    if (done)
        return loaded;

    goc_mutex_lock(&m->_mu);
    uintptr_t r = load_read(m);
    if ((e = table_find(read_table(r), h, key, klen)) != NULL) {
        if (entry_unexpunge(e))
            table_insert((map_table **)&m->_dirty, e);
        entry_try_swap(e, value, previous, &loaded);
    } else if ((e = table_find(m->_dirty, h, key, klen)) != NULL) {
        entry_try_swap(e, value, previous, &loaded);
    } else {
        add_dirty(m, h, key, klen, value);
    }
    unlock_map(m);
    return loaded;
}

void goc_map_store(goc_map *m, const void *key, size_t klen, void *value) {
    goc_map_swap(m, key, klen, value, NULL);
}

bool goc_map_load_or_store(goc_map *m, const void *key, size_t klen, void *value, void **actual) {
    uint64_t h = hash_key(key, klen);
    goc__ebr_rec *rec = goc__ebr_enter();
    map_entry *e = table_find(read_table(load_read(m)), h, key, klen);
    int res = e ? entry_try_load_or_store(e, value, actual) : -1;
    goc__ebr_exit(rec);
    if (res >= 0)
        return res == 1;

    goc_mutex_lock(&m->_mu);
    uintptr_t r = load_read(m);
    if ((e = table_find(read_table(r), h, key, klen)) != NULL) {
        if (entry_unexpunge(e))
            table_insert((map_table **)&m->_dirty, e);
        res = entry_try_load_or_store(e, value, actual);
    } else if ((e = table_find(m->_dirty, h, key, klen)) != NULL) {
        res = entry_try_load_or_store(e, value, actual);
        miss_locked(m);
    } else {
        add_dirty(m, h, key, klen, value);
        if (actual)
            *actual = value;
        res = 0;
    }
    unlock_map(m);
    return res == 1;
}

bool goc_map_load_and_delete(goc_map *m, const void *key, size_t klen, void **value) {
    uint64_t h = hash_key(key, klen);
    goc__ebr_rec *rec = goc__ebr_enter();
    uintptr_t r = load_read(m);
    map_entry *e = table_find(read_table(r), h, key, klen);
    if (e || !(r & AMENDED)) {
        bool ok = e && entry_delete(e, value);
        goc__ebr_exit(rec);
        return ok;
    }
    goc__ebr_exit(rec);

    goc_mutex_lock(&m->_mu);
    r = load_read(m);
    e = table_find(read_table(r), h, key, klen);
    bool ok;
    if (!e && (r & AMENDED)) {
        e = m->_dirty ? table_remove(m->_dirty, h, key, klen) : NULL;
        ok = e && entry_delete(e, value);
        if (e)
            retire_entry(m, e); /* in no table now; lock-free readers may hold it */
        miss_locked(m);
    } else {
        ok = e && entry_delete(e, value);
    }
    unlock_map(m);
    return ok;
}

void goc_map_delete(goc_map *m, const void *key, size_t klen) {
    goc_map_load_and_delete(m, key, klen, NULL);
}

bool goc_map_compare_and_swap(goc_map *m, const void *key, size_t klen, void *old,
                              void *new_value) {
    uint64_t h = hash_key(key, klen);
    goc__ebr_rec *rec = goc__ebr_enter();
    uintptr_t r = load_read(m);
    map_entry *e = table_find(read_table(r), h, key, klen);
    if (e || !(r & AMENDED)) {
        bool ok = e && entry_cas(e, old, new_value);
        goc__ebr_exit(rec);
        return ok;
    }
    goc__ebr_exit(rec);

    goc_mutex_lock(&m->_mu);
    r = load_read(m);
    bool ok = false;
    if ((e = table_find(read_table(r), h, key, klen)) != NULL) {
        ok = entry_cas(e, old, new_value);
    } else if ((e = table_find(m->_dirty, h, key, klen)) != NULL) {
        ok = entry_cas(e, old, new_value);
        miss_locked(m);
    }
    unlock_map(m);
    return ok;
}

bool goc_map_compare_and_delete(goc_map *m, const void *key, size_t klen, void *old) {
    uint64_t h = hash_key(key, klen);
    goc__ebr_rec *rec = goc__ebr_enter();
    uintptr_t r = load_read(m);
    map_entry *e = table_find(read_table(r), h, key, klen);
    if (e || !(r & AMENDED)) {
        bool ok = e && entry_compare_and_delete(e, old);
        goc__ebr_exit(rec);
        return ok;
    }
    goc__ebr_exit(rec);

    goc_mutex_lock(&m->_mu);
    r = load_read(m);
    e = table_find(read_table(r), h, key, klen);
    if (!e && (r & AMENDED)) {
        e = table_find(m->_dirty, h, key, klen);
        miss_locked(m);
    }
    bool ok = e && entry_compare_and_delete(e, old);
    unlock_map(m);
    return ok;
}

/* One pair copied out for range. */
typedef struct range_pair {
    const unsigned char *key;
    size_t klen;
    void *value;
} range_pair;

void goc_map_range(goc_map *m, bool (*fn)(const void *, size_t, void *, void *), void *arg) {
    /* Promote _dirty first, as Go: the whole key set is then in _read. */
    if (load_read(m) & AMENDED) {
        goc_mutex_lock(&m->_mu);
        if (load_read(m) & AMENDED) {
            m->_misses = m->_dirty ? ((map_table *)m->_dirty)->n : 0;
            miss_locked(m);
        }
        unlock_map(m);
    }
    /* Copy the live pairs inside a section; call fn outside it. */
    range_pair *pairs = NULL;
    size_t n = 0;
    goc__ebr_rec *rec = goc__ebr_enter();
    map_table *t = read_table(load_read(m));
    if (t && t->n) {
        size_t bytes = 0;
        for (size_t i = 0; i <= t->mask; i++)
            if (t->slot[i])
                bytes += t->slot[i]->klen;
        pairs = malloc(t->n * sizeof *pairs + bytes);
        if (!pairs)
            goc__fatal("out of memory (sync.Map.Range)");
        unsigned char *kb = (unsigned char *)(pairs + t->n);
        for (size_t i = 0; i <= t->mask; i++) {
            map_entry *e = t->slot[i];
            void *v;
            if (!e || !entry_load(e, &v))
                continue;
            memcpy(kb, e->key, e->klen);
            pairs[n++] = (range_pair){kb, e->klen, v};
            kb += e->klen;
        }
    }
    goc__ebr_exit(rec);
    for (size_t i = 0; i < n; i++)
        if (!fn(pairs[i].key, pairs[i].klen, pairs[i].value, arg))
            break;
    free(pairs);
}

void goc_map_clear(goc_map *m) {
    if (load_read(m) == 0)
        return; /* empty and not amended */
    goc_mutex_lock(&m->_mu);
    uintptr_t r = load_read(m);
    map_table *rt = read_table(r), *d = m->_dirty;
    if (r)
        atomic_store(&m->_read, (uintptr_t)0);
    /* _dirty, if any, holds every entry of _read but the EXPUNGED ones */
    if (rt)
        for (size_t i = 0; i <= rt->mask; i++)
            if (rt->slot[i] && (!d || atomic_load(&rt->slot[i]->p) == EXPUNGED))
                retire_entry(m, rt->slot[i]);
    if (d) {
        for (size_t i = 0; i <= d->mask; i++)
            if (d->slot[i])
                retire_entry(m, d->slot[i]);
        free(d); /* only ever seen under _mu */
    }
    retire_table(m, rt);
    m->_dirty = NULL;
    m->_misses = 0;
    unlock_map(m);
}

void goc_map_free(goc_map *m) {
    map_table *rt = read_table(load_read(m)), *d = m->_dirty;
    if (rt)
        for (size_t i = 0; i <= rt->mask; i++)
            if (rt->slot[i] && (!d || atomic_load(&rt->slot[i]->p) == EXPUNGED))
                free(rt->slot[i]);
    if (d) {
        for (size_t i = 0; i <= d->mask; i++)
            free(d->slot[i]);
        free(d);
    }
    free(rt);
    batch_free(m->_limbo);
    memset(m, 0, sizeof *m);
}
