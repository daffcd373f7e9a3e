/* goc net: descriptors on the netpoller, TCP and Unix stream sockets.
 * See docs/api-net.md for the reference and docs/design-net.md for the
 * design.
 *
 * Everything here parks the calling goroutine instead of blocking its thread
 * (a plain thread blocks in poll(2) instead), so one goroutine per
 * connection is the intended style, as in Go.
 *
 * Errors are errno values: functions that return a status return 0 or an
 * errno value; functions that return a count return it, or -errno. A passed
 * deadline is ETIMEDOUT (Go's os.ErrDeadlineExceeded), an operation on a
 * closed connection EBADF (Go's net.ErrClosed), a cancelled dial ECANCELED.
 *
 * Instants are on goc_now's clock. A deadline of 0 means none (Go's zero
 * time.Time); one in the past (a negative one included) makes the
 * operations fail at once.
 *
 * Concurrent calls on one connection or listener queue, as in Go: one read
 * (or accept) and one write run at a time, so several accept loops may share
 * a listener and one write's bytes never interleave with another's. Reading
 * and writing concurrently is fine. goc_read and goc_write on a raw
 * descriptor queue the same way (one that goc_fd_close closes while a call
 * queues makes that call fail with EBADF); goc_fd_wait, whose deadline a
 * queue could not honour, gets EBUSY when another call already waits on the
 * descriptor in the same direction.
 */
#ifndef GOC_NET_H
#define GOC_NET_H
#include <goc/runtime.h>
#include <goc/context.h>
#include <poll.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Any descriptor ---- */

/* Parks until fd is readable (events POLLIN) or writable (POLLOUT; one of
   the two), the deadline passes (ETIMEDOUT), or goc_fd_close closes fd
   (EBADF). The first use registers fd with the poller and makes it
   O_NONBLOCK. deadline: an instant on goc_now's clock, 0 for none. Returns 0
   when the caller should retry its syscall (readiness is a hint: the retry
   may still find EAGAIN), at once if fd is ready now; regular files, which
   the poller cannot watch, are always ready. EINVAL for other events.
   EEXIST for the descriptor of a goc_conn or goc_listener (goc_conn_fd):
   the poller already watches it for them; use their own functions. */
GOC_API int goc_fd_wait(int fd, int events, int64_t deadline);

/* read(2) and write(2) on any descriptor (pipe, socket, terminal, eventfd):
   park instead of blocking. The first use makes fd O_NONBLOCK (shared by
   every process that holds the same open file). Regular files, which never
   block in the poller's sense, are read inside goc_blocking_begin/end.
   goc_read returns the count (0 at end of file) or -errno (-EEXIST on a
   goc_conn's or goc_listener's descriptor, as goc_fd_wait); goc_write
   returns the count written, which is all of n unless an error comes after
   some bytes were written, or -errno. */
GOC_API ssize_t goc_read(int fd, void *buf, size_t n);
GOC_API ssize_t goc_write(int fd, const void *buf, size_t n);

/* Forgets fd's registration (waking its waiters with EBADF), then closes it.
   A descriptor used with goc_fd_wait, goc_read or goc_write should be closed
   this way: its number may be reused by a later open. 0 or errno. */
GOC_API int goc_fd_close(int fd);

/* ---- Connections ---- */

typedef struct goc_conn goc_conn;
typedef struct goc_listener goc_listener;

/* Connects to address on network: "tcp", "tcp4", "tcp6" ("host:port",
   "[v6addr]:port"; the host may be a name, resolved inside
   goc_blocking_begin/end) or "unix" (a path; "@name" is Linux's abstract
   namespace). Each resolved address is tried in turn until one connects.
   ctx (NULL: background) bounds the whole dial: its cancellation gives
   ECANCELED, its deadline ETIMEDOUT (goc_ctx_err's value). TCP
   connections have TCP_NODELAY set, as in Go. On success *out is a new
   connection (free it with goc_conn_free) and 0 is returned; otherwise an
   errno value (ECONNREFUSED, ENOENT for a unix path, EAI_* names map to
   EHOSTUNREACH or EINVAL). */
GOC_API int goc_dial(goc_ctx *ctx, const char *network, const char *address, goc_conn **out);

/* Reads up to n bytes. Returns the count, 0 at end of file (n == 0 returns
   0 at once), or -errno: -ETIMEDOUT past the read deadline, -EBADF once the
   connection is closed (a read waiting at the time is woken). */
GOC_API ssize_t goc_conn_read(goc_conn *c, void *buf, size_t n);

/* Writes all of buf. Returns n, or -errno (-ETIMEDOUT past the write
   deadline, -EPIPE when the peer has gone, -EBADF once closed); some bytes
   may have been sent before an error. Never raises SIGPIPE. As Go's Write,
   an empty write (n == 0) still checks the deadline and the connection. */
GOC_API ssize_t goc_conn_write(goc_conn *c, const void *buf, size_t n);

/* Deadlines for all future and pending operations (Go's SetDeadline,
   SetReadDeadline, SetWriteDeadline): t is an instant on goc_now's clock,
   0 for none. Callable from any goroutine while an operation waits: the
   waiter re-checks at once. 0, or EBADF once closed. */
GOC_API int goc_conn_set_deadline(goc_conn *c, int64_t t);
GOC_API int goc_conn_set_read_deadline(goc_conn *c, int64_t t);
GOC_API int goc_conn_set_write_deadline(goc_conn *c, int64_t t);

/* Shuts down the writing side (Go's CloseWrite): the peer reads end of
   file; reading goes on. 0 or errno. */
GOC_API int goc_conn_close_write(goc_conn *c);

/* Closes the connection: operations waiting on it return -EBADF, later
   ones too; returns once those in progress have left, then closes the
   descriptor. Callable from any goroutine. 0, or EBADF if it was already
   closed. The record stays valid (so closing twice is an error, not a
   crash) until goc_conn_free. */
GOC_API int goc_conn_close(goc_conn *c);

/* Closes the connection if it is still open and frees it. Call it once,
   when no goroutine uses c any more (Go's `defer conn.Close()`). NULL is
   ignored. */
GOC_API void goc_conn_free(goc_conn *c);

/* The local and remote addresses as text: "127.0.0.1:8080", "[::1]:8080",
   a unix path (may be empty for an unbound client). Kept when the
   connection is made, as Go keeps them: still answered after a reset or a
   close. 0, ENOSPC when len is too small, or (an address the connection
   could not learn when it was made) the errno of getsockname/getpeername. */
GOC_API int goc_conn_local_addr(goc_conn *c, char *buf, size_t len);
GOC_API int goc_conn_remote_addr(goc_conn *c, char *buf, size_t len);

/* The descriptor, for setsockopt and the like. Do not close it. */
GOC_API int goc_conn_fd(goc_conn *c);

/* ---- Listeners ---- */

/* Listens on network ("tcp", "tcp4", "tcp6", "unix") and address: "host:port"
   with port 0 (or an empty port) picking a free port, an empty host or an
   unspecified IP ("0.0.0.0", "[::]") every local address (":8080"; "tcp"
   then listens on IPv6 and IPv4 where it can), an empty address every
   local address on a free port, or a unix path. SO_REUSEADDR is set for TCP. A unix socket's file is removed when
   the listener closes. 0 and *out (free it with goc_listener_free), or an
   errno value (EADDRINUSE, EACCES, ...). */
GOC_API int goc_listen(const char *network, const char *address, goc_listener **out);

/* Waits for and accepts a connection: 0 and *out (a new goc_conn), or
   ETIMEDOUT past the listener's deadline, EBADF once the listener is closed
   (an accept waiting at the time is woken), or the errno of accept4 (EMFILE:
   out of descriptors). */
GOC_API int goc_accept(goc_listener *l, goc_conn **out);

/* The bound address as text (see goc_conn_local_addr): how a listener on
   port 0 tells which port it got; after a close too, as Go's Addr. */
GOC_API int goc_listener_addr(goc_listener *l, char *buf, size_t len);

/* Deadline for goc_accept, as goc_conn_set_deadline. */
GOC_API int goc_listener_set_deadline(goc_listener *l, int64_t t);

/* Closes the listener (a waiting goc_accept returns EBADF) as goc_conn_close;
   EBADF if already closed. goc_listener_free closes if needed and frees. */
GOC_API int goc_listener_close(goc_listener *l);
GOC_API void goc_listener_free(goc_listener *l);

/* The descriptor, for setsockopt and the like. Do not close it. */
GOC_API int goc_listener_fd(goc_listener *l);

#ifdef __cplusplus
}
#endif
#endif
