/* Private interface of the net layer: the descriptor shared by connections
 * and listeners (netfd), and the address helpers.
 *
 * A netfd's state word counts references and carries the CLOSED bit:
 * - the handle (goc_conn / goc_listener) holds one reference from creation
 *   until close; every operation holds one while it runs (Go's fdMutex);
 * - readers (reads, accepts) take rmu and writers wmu for a whole call, as
 *   Go's fdMutex serialises them: concurrent readers queue instead of
 *   failing, and one write's bytes never interleave with another's;
 * - close sets CLOSED first, so no operation starts afterwards, evicts the
 *   pollfd (waiters wake with EBADF, later waits fail at once), drops the
 *   handle's reference and, if operations are still inside, sleeps on csema
 *   until the last of them leaves. Only then are the pollfd and the
 *   descriptor closed: an operation never issues a syscall on a descriptor
 *   number that may already name another file.
 * - the closer sets DONE as its last touch of the handle; freeing waits for
 *   it: a reader woken by another goroutine's close returns before that
 *   close has finished, and its owner may free the handle at once.
 */
#ifndef GOC_NET_INTERNAL_H
#define GOC_NET_INTERNAL_H

#include "runtime/internal.h"
#include <goc/sync.h>
#include <netdb.h>
#include <sys/socket.h>

#define GOC__NETFD_CLOSED (1ULL << 63)
#define GOC__NETFD_DONE (1ULL << 62) /* the closer has finished with the netfd */
#define GOC__NETFD_COUNT (GOC__NETFD_DONE - 1)

typedef struct goc__netfd {
    int fd;
    int family;                     /* AF_INET, AF_INET6, AF_UNIX */
    goc__pollfd *pd;
    _Atomic uint64_t state;         /* references | CLOSED */
    _Atomic uint32_t csema;         /* the closer sleeps here until the last op leaves */
    _Atomic int64_t rdeadline;      /* 0: none */
    _Atomic int64_t wdeadline;
    goc_mutex rmu, wmu;             /* one reader, one writer at a time */
} goc__netfd;

/* Sets up n around an open O_NONBLOCK socket (registers it). 0 or errno;
   on failure fd is left open for the caller. */
GOC_HIDDEN int goc__netfd_init(goc__netfd *n, int fd, int family);
/* Takes an operation's reference; false (and no reference) once closed. */
GOC_HIDDEN bool goc__netfd_incref(goc__netfd *n);
GOC_HIDDEN void goc__netfd_decref(goc__netfd *n);
/* The close protocol above. 0 or close(2)'s errno, or GOC__NETFD_ALREADY
   if someone else closed it first. */
#define GOC__NETFD_ALREADY (-1)
GOC_HIDDEN int goc__netfd_close(goc__netfd *n);
/* After a goc__netfd_close that did not return GOC__NETFD_ALREADY, once the
   handle is touched no more: from then on it may be freed. */
GOC_HIDDEN void goc__netfd_close_done(goc__netfd *n);
/* Before freeing a handle: closes it if nobody has, and waits for a close
   in progress on another thread to finish. */
GOC_HIDDEN void goc__netfd_close_wait(goc__netfd *n);
/* Waits for mode under n's deadline for that mode, re-reading it when it
   moves. 0 (retry the syscall), ETIMEDOUT or EBADF. */
GOC_HIDDEN int goc__netfd_wait(goc__netfd *n, int mode);
/* True when the deadline t (0: none) has passed. */
GOC_HIDDEN bool goc__deadline_passed(int64_t t);
/* A deadline as the poller takes it: 0 (none) is -1; any other instant,
   negative ones included (in the past: goc_now counts from boot), is itself,
   a negative one clamped to 0. */
static inline int64_t goc__poll_deadline(int64_t t) {
    return t == 0 ? -1 : t < 0 ? 0 : t;
}

/* Addresses. */
enum { GOC__NET_TCP, GOC__NET_TCP4, GOC__NET_TCP6, GOC__NET_UNIX };
/* "tcp", "tcp4", "tcp6", "unix" to the enum; -1 for anything else. */
GOC_HIDDEN int goc__net_kind(const char *network);
/* Go's net.SplitHostPort: "h:p", "[v6]:p", ":p"; an empty port gives "0"
   (Go's parsePort). 0 or EINVAL. */
GOC_HIDDEN int goc__split_host_port(const char *addr, char *host, size_t hlen, char *port,
                                    size_t plen);
/* A unix path (or "@abstract") as a sockaddr_un. 0 or EINVAL (empty, or too long). */
GOC_HIDDEN int goc__unix_addr(const char *path, struct sockaddr_storage *ss, socklen_t *len);
/* getaddrinfo inside goc_blocking_begin/end; EAI_* mapped to errno. */
GOC_HIDDEN int goc__resolve(int kind, const char *host, const char *port, bool passive,
                            struct addrinfo **res);
/* Formats a socket address: "1.2.3.4:80", "[::1]:80", a path, "@abstract". */
GOC_HIDDEN int goc__format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t blen);

#endif
