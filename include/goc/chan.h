/* goc channels and select: Go's chan and select statement for C.
 *
 * A channel carries elements of one fixed size (0 is allowed: a pure signal).
 * Values are copied in and out by memcpy. Every blocking call works from a
 * goroutine (it parks the goroutine) and from a plain thread (it blocks the
 * thread), so pthreads and goroutines can talk through channels both ways.
 * A NULL channel is Go's nil channel: it is never ready and blocks forever.
 * Misuse (send on a closed channel, close of a closed or NULL channel) panics
 * with Go's message and exits with status 2. See docs/api-chan.md.
 */
#ifndef GOC_CHAN_H
#define GOC_CHAN_H
#include <goc/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goc_chan goc_chan;

/* A channel of elem_size-byte elements with a buffer of cap elements (cap 0:
   unbuffered, every send is a rendezvous with a receiver). Aborts on OOM. */
GOC_API goc_chan *goc_chan_make(size_t elem_size, size_t cap);

/* A channel of T: goc_chan_make(sizeof(T), cap). */
#define goc_chan_of(T, cap) goc_chan_make(sizeof(T), (cap))

/* Beyond Go: a channel whose sends never block; its buffer grows as needed.
   goc_chan_cap returns SIZE_MAX for it. */
GOC_API goc_chan *goc_chan_make_unbounded(size_t elem_size);

/* Frees c. Allowed once the last operation on it has completed (a woken peer
   may still be returning from it). NULL is ignored. Fatal error, naming the
   waiters, if a goroutine or thread still waits on c. Buffered values are
   discarded. */
GOC_API void goc_chan_free(goc_chan *c);

/* Sends the elem_size bytes at elem: blocks until a receiver takes it or
   there is room in the buffer. Panics "send on closed channel" if c is or
   becomes closed. */
GOC_API void goc_chan_send(goc_chan *c, const void *elem);

/* Receives into out (may be NULL to discard): blocks until a value is there.
   Returns true with a value; false once c is closed and drained, with *out
   zero-filled. */
GOC_API bool goc_chan_recv(goc_chan *c, void *out);

/* Sends if it can do so without blocking; false if not (never blocks, so a
   timer function may call it). Panics on a closed channel, as Go's
   `select { case c <- v: default: }`. */
GOC_API bool goc_chan_try_send(goc_chan *c, const void *elem);

/* Receives if it can do so without blocking. Returns false when nothing is
   ready; true when it completed, and then *ok (may be NULL) is true for a
   value and false for closed-and-drained (*out zero-filled). */
GOC_API bool goc_chan_try_recv(goc_chan *c, void *out, bool *ok);

/* Closes c: every waiting receiver gets the zero value and false, every
   waiting sender panics. Buffered values can still be received. Never blocks.
   Panics "close of nil channel" / "close of closed channel". */
GOC_API void goc_chan_close(goc_chan *c);

/* Elements buffered now (0 for NULL, and for a timer's or ticker's channel,
   which is synchronous as in Go 1.23). */
GOC_API size_t goc_chan_len(goc_chan *c);
/* Buffer capacity (0 for NULL, unbuffered and timer channels; SIZE_MAX for
   unbounded). */
GOC_API size_t goc_chan_cap(goc_chan *c);

/* Behind the typed sugar: send/recv that panic unless size is c's element
   size ("goc_send: value of N bytes on a channel of M-byte elements"). */
GOC_API void goc_chan_send_sized(goc_chan *c, const void *elem, size_t size);
GOC_API bool goc_chan_recv_sized(goc_chan *c, void *out, size_t size);

/* Typed sugar (GNU C / C23). goc_send(c, value) sends a copy of value;
   goc_recv(c, ptr) receives into *ptr and returns ok. Both panic, naming
   both sizes, if the size does not match the channel's element size. */
#define goc_send(c, value)                                                          \
    do {                                                                            \
        __typeof__(value) goc__sv_ = (value);                                       \
        goc_chan_send_sized((c), &goc__sv_, sizeof goc__sv_);                       \
    } while (0)
#define goc_recv(c, ptr) goc_chan_recv_sized((c), (ptr), sizeof *(ptr))

/* Go's `for v := range ch`: receives into the lvalue var until c is closed
   and drained.   int v; goc_chan_range(c, v) { use(v); } */
#define goc_chan_range(c, var) goc__chan_range_((c), var, __COUNTER__)
/* c evaluated once, as Go's range expression; names unique per use, so
   that nested loops shadow nothing (-Wshadow). */
#define goc__cat2_(a, b) a##b
#define goc__cat_(a, b) goc__cat2_(a, b)
#define goc__chan_range_(c, var, n)                                                        \
    for (goc_chan *goc__cat_(goc__rc_, n) = (c), *goc__cat_(goc__ronce_, n) = (goc_chan *)1; \
         goc__cat_(goc__ronce_, n); goc__cat_(goc__ronce_, n) = NULL)                       \
        for (bool goc__cat_(goc__rok_, n) =                                                \
                 goc_chan_recv_sized(goc__cat_(goc__rc_, n), &(var), sizeof(var));          \
             goc__cat_(goc__rok_, n);                                                       \
             goc__cat_(goc__rok_, n) =                                                      \
                 goc_chan_recv_sized(goc__cat_(goc__rc_, n), &(var), sizeof(var)))

/* ---- select ---- */

enum { GOC_CASE_SEND_ = 1, GOC_CASE_RECV_, GOC_CASE_TIMEOUT_, GOC_CASE_DEADLINE_ };

/* One case of a select. Build it with the goc_case_* macros; the fields are
   private. */
typedef struct goc_case {
    goc_chan *_chan;
    void *_elem;
    bool *_ok;
    int64_t _time;
    int _kind;
} goc_case;

/* case c <- *ptr */
#define goc_case_send(c, ptr) \
    ((goc_case){._chan = (c), ._elem = (void *)(ptr), ._kind = GOC_CASE_SEND_})
/* case *ptr, *okptr = <-c (ptr and okptr may be NULL) */
#define goc_case_recv(c, ptr, okptr) \
    ((goc_case){._chan = (c), ._elem = (ptr), ._ok = (okptr), ._kind = GOC_CASE_RECV_})
/* case <-time.After(d): ready d after the select starts; no channel, no allocation. */
#define goc_case_timeout(d) ((goc_case){._time = (d), ._kind = GOC_CASE_TIMEOUT_})
/* Ready at the instant t on goc_now's clock. */
#define goc_case_deadline(t) ((goc_case){._time = (t), ._kind = GOC_CASE_DEADLINE_})

/* Blocks until one case can run, runs exactly that one, returns its index.
   When several are ready one is chosen uniformly at random. A NULL channel
   is never ready; with no case that can ever be ready it blocks forever. */
GOC_API int goc_select(goc_case *cases, size_t n);

/* select with a default branch: runs a ready case and returns its index, or
   returns -1 at once when none is ready. Never blocks. */
GOC_API int goc_try_select(goc_case *cases, size_t n);

/* Beyond Go: priority select. As goc_select, but when several cases are
   ready the first in array order wins. */
GOC_API int goc_select_ordered(goc_case *cases, size_t n);

#ifdef __cplusplus
}
#endif
#endif
