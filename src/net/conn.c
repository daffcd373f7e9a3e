/* Connections and listeners: goc_dial, goc_listen, goc_accept, reads,
 * writes, deadlines and close, on a netfd (see net_internal.h for the
 * reference-count protocol that makes close safe against operations in
 * progress).
 *
 * Invariants:
 * - Every socket is O_NONBLOCK and registered with the poller for its whole
 *   life; an operation tries its syscall first and parks only on EAGAIN,
 *   as the edge-triggered poller requires.
 * - Deadlines are plain atomics read by the waiter before it parks. A
 *   setter stores, then wakes the waiter of that direction; goc__pollfd_wake
 *   leaves a ready mark when nobody waits yet, so a waiter that read the old
 *   value just before cannot sleep past the new one: it retries at once.
 * - A dial registers a waiter with its context (context/ctx_internal.h)
 *   for its whole length; cancellation runs it on the cancelling thread,
 *   and it wakes the connecting socket's writer, touching the pollfd only
 *   under the dial's watch lock, which the dial clears before the socket is
 *   closed or handed over. Unwatching, before the dial returns, waits out a
 *   run in progress.
 * - A connection's and a listener's addresses are kept when it is made
 *   (the peer's as accept or connect was given it), so they are answered
 *   after a reset or a close, as Go's; only one not learnt then is asked
 *   of the socket.
 * - A plain thread waits in poll(2) on the descriptor and on its own
 *   eventfd, which an evict or a wake writes to (netpoll.c); close also
 *   shuts the socket down when operations are in progress. A moved deadline
 *   still reaches a plain thread only at its old deadline.
 */
#include "net/net_internal.h"
#include "context/ctx_internal.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 65535 /* the kernel clamps it to net.core.somaxconn, as Go asks for that */

/* The addresses of a socket, kept when it is connected or bound, as Go's
   netFD keeps laddr and raddr: they are still known after a reset or a
   close (a log line beside the error). A length of 0: not known, ask the
   socket. Written before the socket is handed out, then only read. */
typedef struct net_addrs {
    struct sockaddr_storage local, remote;
    socklen_t local_len, remote_len;
} net_addrs;

struct goc_conn {
    goc__netfd n;
    net_addrs a;
};

struct goc_listener {
    goc__netfd n;
    char *unlink_path; /* a unix socket file this listener created, removed at close */
    net_addrs a;
};

/* Keeps fd's local address and, for a connection, the peer's: the one
   accept or the dial's connect was given (sa), which getpeername no longer
   tells once the peer has reset the connection (as Go: the address accept
   returned, or the one dialled). */
static void addrs_keep(int fd, net_addrs *a, const struct sockaddr *sa, socklen_t sl) {
    a->local_len = sizeof a->local;
    if (getsockname(fd, (struct sockaddr *)&a->local, &a->local_len) != 0)
        a->local_len = 0;
    a->remote_len = 0;
    if (sa && sl > 0 && sl <= sizeof a->remote) {
        memcpy(&a->remote, sa, sl);
        a->remote_len = sl;
    }
}

/* ------------------------------------------------------------------------ */
/* netfd: references, waiting, close.                                       */

int goc__netfd_init(goc__netfd *n, int fd, int family) {
    int err;
    n->fd = fd;
    n->family = family;
    atomic_init(&n->state, 1); /* the handle's reference */
    atomic_init(&n->csema, 0);
    atomic_init(&n->rdeadline, 0);
    atomic_init(&n->wdeadline, 0);
    n->rmu = n->wmu = (goc_mutex){0};
    n->pd = goc__pollfd_open(fd, &err);
    return n->pd ? 0 : err;
}

bool goc__netfd_incref(goc__netfd *n) {
    uint64_t s = atomic_fetch_add(&n->state, 1);
    if (GOC_UNLIKELY(s & GOC__NETFD_CLOSED)) {
        goc__netfd_decref(n);
        return false;
    }
    return true;
}

void goc__netfd_decref(goc__netfd *n) {
    uint64_t s = atomic_fetch_sub(&n->state, 1);
    /* The last reference of a closed netfd: the closer may be asleep. (A
       late operation that arrives after the close has finished makes one
       more such transition; the closer no longer waits, and the extra
       token is never consumed.) */
    if (GOC_UNLIKELY((s & GOC__NETFD_CLOSED) && (s & GOC__NETFD_COUNT) == 1))
        goc__semrelease(&n->csema, false);
}

int goc__netfd_close(goc__netfd *n) {
    uint64_t s = atomic_fetch_or(&n->state, GOC__NETFD_CLOSED);
    if (s & GOC__NETFD_CLOSED)
        return GOC__NETFD_ALREADY;
    goc__pollfd_evict(n->pd);
    if ((s & GOC__NETFD_COUNT) > 1)
        shutdown(n->fd, SHUT_RDWR); /* wakes plain threads in poll(2) */
    s = atomic_fetch_sub(&n->state, 1);
    if ((s & GOC__NETFD_COUNT) != 1)
        goc__semacquire(&n->csema, false, "net close");
    goc__pollfd_close(n->pd);
    return close(n->fd) == 0 ? 0 : goc__errno_get();
}

void goc__netfd_close_done(goc__netfd *n) {
    atomic_fetch_or(&n->state, GOC__NETFD_DONE); /* release: all of the close before it */
}

void goc__netfd_close_wait(goc__netfd *n) {
    if (!(atomic_load(&n->state) & GOC__NETFD_CLOSED)) {
        if (goc__netfd_close(n) != GOC__NETFD_ALREADY)
            return; /* we closed it ourselves */
    }
    while (!(atomic_load(&n->state) & GOC__NETFD_DONE))
        goc_yield(); /* a plain thread: sched_yield */
}

/* What a failed (or, for a read, empty) syscall means on n: EBADF once n is
   closed (close shuts the socket down to wake plain threads, so a call that
   raced with it sees EINVAL, EPIPE or end of file instead), else e. */
static int closed_or(goc__netfd *n, int e) {
    return (atomic_load(&n->state) & GOC__NETFD_CLOSED) ? EBADF : e;
}

bool goc__deadline_passed(int64_t t) {
    return t != 0 && t <= goc_now(); /* 0: none; a negative instant has passed */
}

int goc__netfd_wait(goc__netfd *n, int mode) {
    _Atomic int64_t *dl = mode == GOC__POLL_READ ? &n->rdeadline : &n->wdeadline;
    for (;;) {
        int64_t t = atomic_load(dl);
        int rc = goc__pollfd_wait(n->pd, mode, goc__poll_deadline(t));
        if (rc != ETIMEDOUT || atomic_load(dl) == t)
            return rc;
        /* the deadline moved while we waited: wait again under the new one */
    }
}

/* ------------------------------------------------------------------------ */
/* Connections.                                                             */

static goc_conn *conn_new(int fd, int family, int *err) {
    goc_conn *c = calloc(1, sizeof *c);
    if (!c) {
        *err = ENOMEM;
        return NULL;
    }
    if (family != AF_UNIX) {
        int one = 1; /* as Go: small writes go out at once */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    *err = goc__netfd_init(&c->n, fd, family);
    if (*err) {
        free(c);
        return NULL;
    }
    return c;
}

ssize_t goc_conn_read(goc_conn *c, void *buf, size_t n) {
    if (!goc__netfd_incref(&c->n))
        return -EBADF;
    goc_mutex_lock(&c->n.rmu);
    ssize_t r;
    for (;;) {
        /* As Go's Read: an empty read returns 0 at once, whatever the
           deadline (after taking the turn, so a closed conn says so). */
        if (n == 0) {
            r = 0;
            break;
        }
        if (goc__deadline_passed(atomic_load_explicit(&c->n.rdeadline, memory_order_relaxed))) {
            r = -ETIMEDOUT;
            break;
        }
        r = read(c->n.fd, buf, n);
        if (r > 0)
            break;
        if (r == 0) {
            r = -closed_or(&c->n, 0);
            break;
        }
        int e = goc__errno_get();
        if (e == EINTR)
            continue;
        if (e == EAGAIN)
            e = goc__netfd_wait(&c->n, GOC__POLL_READ);
        if (e) {
            r = -closed_or(&c->n, e);
            break;
        }
    }
    goc_mutex_unlock(&c->n.rmu);
    goc__netfd_decref(&c->n);
    return r;
}

ssize_t goc_conn_write(goc_conn *c, const void *buf, size_t n) {
    if (!goc__netfd_incref(&c->n))
        return -EBADF;
    goc_mutex_lock(&c->n.wmu);
    const char *p = buf ? buf : ""; /* NULL + 0 is undefined */
    size_t done = 0;
    int e = 0;
    /* One round even for an empty write: as Go's Write, it checks the
       deadline and makes the (zero-length) call, which reports a broken
       connection. */
    for (;;) {
        if (goc__deadline_passed(atomic_load_explicit(&c->n.wdeadline, memory_order_relaxed))) {
            e = ETIMEDOUT;
            break;
        }
        ssize_t r = send(c->n.fd, p + done, n - done, MSG_NOSIGNAL);
        if (r >= 0) {
            done += (size_t)r;
            if (done >= n)
                break;
            continue;
        }
        e = goc__errno_get();
        if (e == EINTR) {
            e = 0;
            continue;
        }
        if (e == EAGAIN)
            e = goc__netfd_wait(&c->n, GOC__POLL_WRITE);
        if (e) {
            e = closed_or(&c->n, e);
            break;
        }
    }
    goc_mutex_unlock(&c->n.wmu);
    goc__netfd_decref(&c->n);
    return e ? -e : (ssize_t)done;
}

static int set_deadline(goc__netfd *n, int64_t t, int mode) {
    if (!goc__netfd_incref(n))
        return EBADF;
    if (mode & GOC__POLL_READ)
        atomic_store(&n->rdeadline, t);
    if (mode & GOC__POLL_WRITE)
        atomic_store(&n->wdeadline, t);
    goc__pollfd_wake(n->pd, mode);
    goc__netfd_decref(n);
    return 0;
}

int goc_conn_set_deadline(goc_conn *c, int64_t t) {
    return set_deadline(&c->n, t, GOC__POLL_READ | GOC__POLL_WRITE);
}

int goc_conn_set_read_deadline(goc_conn *c, int64_t t) {
    return set_deadline(&c->n, t, GOC__POLL_READ);
}

int goc_conn_set_write_deadline(goc_conn *c, int64_t t) {
    return set_deadline(&c->n, t, GOC__POLL_WRITE);
}

int goc_conn_close_write(goc_conn *c) {
    if (!goc__netfd_incref(&c->n))
        return EBADF;
    int rc = shutdown(c->n.fd, SHUT_WR) == 0 ? 0 : goc__errno_get();
    goc__netfd_decref(&c->n);
    return rc;
}

int goc_conn_close(goc_conn *c) {
    int rc = goc__netfd_close(&c->n);
    if (rc == GOC__NETFD_ALREADY)
        return EBADF;
    goc__netfd_close_done(&c->n);
    return rc;
}

void goc_conn_free(goc_conn *c) {
    if (!c)
        return;
    goc__netfd_close_wait(&c->n);
    free(c);
}

/* n's local address, or its peer's, as text: the one kept, else the
   socket's. */
static int sock_addr(goc__netfd *n, const net_addrs *a, bool peer, char *buf, size_t len) {
    const struct sockaddr_storage *kept = peer ? &a->remote : &a->local;
    socklen_t kept_len = peer ? a->remote_len : a->local_len;
    if (kept_len)
        return goc__format_addr((const struct sockaddr *)kept, kept_len, buf, len);
    if (!goc__netfd_incref(n))
        return EBADF;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int rc = (peer ? getpeername(n->fd, (struct sockaddr *)&ss, &sl)
                   : getsockname(n->fd, (struct sockaddr *)&ss, &sl)) == 0
                 ? 0
                 : goc__errno_get();
    goc__netfd_decref(n);
    if (rc)
        return rc;
    return goc__format_addr((struct sockaddr *)&ss, sl, buf, len);
}

int goc_conn_local_addr(goc_conn *c, char *buf, size_t len) {
    return sock_addr(&c->n, &c->a, false, buf, len);
}

int goc_conn_remote_addr(goc_conn *c, char *buf, size_t len) {
    return sock_addr(&c->n, &c->a, true, buf, len);
}

int goc_conn_fd(goc_conn *c) {
    return c->n.fd;
}

/* ------------------------------------------------------------------------ */
/* Dial.                                                                    */

/* The dial's registration with its context (context/ctx_internal.h):
   cancellation runs dial_watch_fire on the cancelling thread, under the
   context's lock, and it wakes the connecting socket's writer, so the dial
   sees the context's error. No goroutine runs it (an AfterFunc's would
   need a goc_run, and a plain thread dialling with none running was never
   woken), and unwatching tells the dial that it has returned. */
typedef struct dial_watch {
    goc__ctx_waiter w;
    goc__lock lock;                 /* never held around a context call */
    goc__pollfd *pd;                /* the socket connecting now, or NULL */
} dial_watch;

static void dial_watch_fire(goc__ctx_waiter *cw, int err) {
    (void)err;
    dial_watch *w = cw->arg;
    goc__lock_acquire(&w->lock);
    if (w->pd)
        goc__pollfd_wake(w->pd, GOC__POLL_WRITE);
    goc__lock_release(&w->lock);
}

typedef struct dialer {
    goc_ctx *ctx;
    int64_t deadline;               /* the context's, or -1 */
    dial_watch watch;
    bool watching;                  /* registered: the context can be cancelled */
} dialer;

static int ctx_err(goc_ctx *ctx) {
    return ctx ? goc_ctx_err(ctx) : 0;
}

/* Waits for a non-blocking connect on n to finish. 0 or errno. */
static int dial_wait(dialer *d, goc__netfd *n) {
    if (d->watching) {
        goc__lock_acquire(&d->watch.lock);
        d->watch.pd = n->pd;
        goc__lock_release(&d->watch.lock);
    }
    for (;;) {
        int e = ctx_err(d->ctx);
        if (e)
            return e;
        e = goc__pollfd_wait(n->pd, GOC__POLL_WRITE, d->deadline);
        if (e)
            return e == ETIMEDOUT && ctx_err(d->ctx) ? ctx_err(d->ctx) : e;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            return goc__errno_get();
        if (soerr == EINPROGRESS || soerr == EALREADY || soerr == EINTR)
            continue;
        if (soerr)
            return soerr;
        /* SO_ERROR is also 0 while the connect is still in progress (a
           wake-up for the context, a spurious ready): ask the peer. */
        struct sockaddr_storage ss;
        sl = sizeof ss;
        if (getpeername(n->fd, (struct sockaddr *)&ss, &sl) == 0)
            return 0;
        if (goc__errno_get() != ENOTCONN)
            return goc__errno_get();
    }
}

/* Connects one socket to sa. 0 and *out, or errno. */
static int dial_one(dialer *d, const struct sockaddr *sa, socklen_t sl, goc_conn **out) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return goc__errno_get();
    int err;
    goc_conn *c = conn_new(fd, sa->sa_family, &err);
    if (!c) {
        close(fd);
        return err;
    }
    int rc;
    do
        rc = connect(fd, sa, sl) == 0 ? 0 : goc__errno_get();
    while (rc == EINTR && !ctx_err(d->ctx));
    if (rc == EINPROGRESS)
        rc = dial_wait(d, &c->n);
    if (d->watching) {
        goc__lock_acquire(&d->watch.lock);
        d->watch.pd = NULL; /* about to be closed or handed over */
        goc__lock_release(&d->watch.lock);
    }
    if (rc) {
        goc_conn_free(c);
        return rc;
    }
    addrs_keep(c->n.fd, &c->a, sa, sl);
    *out = c;
    return 0;
}

int goc_dial(goc_ctx *ctx, const char *network, const char *address, goc_conn **out) {
    int kind = goc__net_kind(network);
    if (kind < 0 || !address || !out)
        return EINVAL;
    *out = NULL;
    dialer d = {.ctx = ctx, .deadline = -1};
    int64_t t;
    if (ctx && goc_ctx_deadline(ctx, &t))
        d.deadline = t;
    int rc = 0;
    if (ctx) {
        /* watched for the whole dial (see dial_watch) */
        d.watch.w.fn = dial_watch_fire;
        d.watch.w.arg = &d.watch;
        rc = goc__ctx_watch(ctx, &d.watch.w);
        if (rc > 0)
            return rc; /* done already */
        d.watching = rc == 0; /* -1: a context that is never cancelled */
        rc = 0;
    }
    if (kind == GOC__NET_UNIX) {
        struct sockaddr_storage ss;
        socklen_t sl;
        rc = goc__unix_addr(address, &ss, &sl);
        if (!rc)
            rc = dial_one(&d, (struct sockaddr *)&ss, sl, out);
    } else {
        char host[256], port[32];
        struct addrinfo *res = NULL;
        rc = goc__split_host_port(address, host, sizeof host, port, sizeof port);
        if (!rc)
            /* An empty host is the local system, as in Go: the resolver
               gives the loopback address of each family the network allows
               ("localhost" may name only 127.0.0.1, failing "tcp6"). */
            rc = goc__resolve(kind, host, port, false, &res);
        if (!rc && !(rc = ctx_err(ctx))) {
            int first = 0;
            for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                rc = dial_one(&d, ai->ai_addr, ai->ai_addrlen, out);
                if (!rc || ctx_err(ctx))
                    break;
                if (!first)
                    first = rc; /* as Go: the first address's error is the one reported */
            }
            if (rc && !ctx_err(ctx) && first)
                rc = first;
        }
        if (res)
            freeaddrinfo(res);
    }
    if (d.watching)
        goc__ctx_unwatch(&d.watch.w); /* a running fire has returned when this does */
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Listeners.                                                               */

/* A bound, listening, non-blocking socket for sa. 0 and *fd, or errno. */
static int listen_socket(const struct sockaddr *sa, socklen_t sl, int v6only, int *fdp) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return goc__errno_get();
    int one = 1;
    if (sa->sa_family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6 && v6only >= 0)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    if (bind(fd, sa, sl) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = goc__errno_get();
        close(fd);
        return e;
    }
    *fdp = fd;
    return 0;
}

/* Listens on every local address for kind: dual-stack IPv6 for "tcp"
   where the system has IPv6, else IPv4. */
static int listen_wildcard(int kind, const char *port, int *fdp, int *family) {
    /* digits only (strtol would take " 80" or "+80"); service names would
       need the resolver: Go accepts them, rarely used */
    if (!port[0] || strspn(port, "0123456789") != strlen(port))
        return EINVAL;
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p < 0 || p > 65535)
        return EINVAL;
    if (kind != GOC__NET_TCP4) {
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)p),
                                   .sin6_addr = IN6ADDR_ANY_INIT};
        int rc = listen_socket((struct sockaddr *)&in6, sizeof in6, kind == GOC__NET_TCP6, fdp);
        if (!rc || kind == GOC__NET_TCP6 || rc != EAFNOSUPPORT) {
            *family = AF_INET6;
            return rc;
        }
    }
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
                             .sin_addr.s_addr = htonl(INADDR_ANY)};
    *family = AF_INET;
    return listen_socket((struct sockaddr *)&in, sizeof in, -1, fdp);
}

/* As Go's favoriteAddrFamily for a listener: an unspecified address
   ("0.0.0.0", "::") is every local address, dual-stack for "tcp", so it
   becomes the empty host where the network allows its family; an
   IPv4-mapped IPv6 literal is the IPv4 address it maps. */
static void listen_host(int kind, char *host) {
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        if (a4.s_addr == htonl(INADDR_ANY) && kind != GOC__NET_TCP6)
            host[0] = 0;
    } else if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_UNSPECIFIED(&a6) && kind != GOC__NET_TCP4)
            host[0] = 0;
        else if (IN6_IS_ADDR_V4MAPPED(&a6) && kind != GOC__NET_TCP6)
            listen_host(kind, (char *)inet_ntop(AF_INET, &a6.s6_addr[12], host, INET_ADDRSTRLEN));
    }
}

int goc_listen(const char *network, const char *address, goc_listener **out) {
    int kind = goc__net_kind(network);
    if (kind < 0 || !address || !out)
        return EINVAL;
    *out = NULL;
    int fd = -1, family = AF_UNIX, rc;
    char *unlink_path = NULL;
    if (kind == GOC__NET_UNIX) {
        struct sockaddr_storage ss;
        socklen_t sl;
        rc = goc__unix_addr(address, &ss, &sl);
        if (!rc)
            rc = listen_socket((struct sockaddr *)&ss, sl, -1, &fd);
        if (!rc && address[0] != '@' && !(unlink_path = strdup(address)))
            rc = ENOMEM;
    } else {
        char host[256], port[32];
        /* as Go: an empty address is every local address, a free port */
        rc = goc__split_host_port(address[0] ? address : ":0", host, sizeof host, port,
                                  sizeof port);
        if (!rc)
            listen_host(kind, host);
        if (!rc && !host[0]) {
            rc = listen_wildcard(kind, port, &fd, &family);
        } else if (!rc) {
            struct addrinfo *res = NULL, *pick = NULL;
            rc = goc__resolve(kind, host, port, true, &res);
            /* as Go: a listener takes the first IPv4 address, else the first */
            for (struct addrinfo *ai = res; ai && !pick; ai = ai->ai_next)
                if (ai->ai_family == AF_INET)
                    pick = ai;
            if (!pick)
                pick = res;
            if (!rc && pick) {
                family = pick->ai_family;
                rc = listen_socket(pick->ai_addr, pick->ai_addrlen, 1, &fd);
            }
            if (res)
                freeaddrinfo(res);
        }
    }
    if (rc)
        goto err;
    goc_listener *l = calloc(1, sizeof *l);
    if (!l) {
        rc = ENOMEM;
        goto err;
    }
    rc = goc__netfd_init(&l->n, fd, family);
    if (rc) {
        free(l);
        goto err;
    }
    l->unlink_path = unlink_path;
    addrs_keep(fd, &l->a, NULL, 0);
    *out = l;
    return 0;
err:
    if (fd >= 0)
        close(fd);
    if (unlink_path) {
        unlink(unlink_path);
        free(unlink_path);
    }
    return rc;
}

int goc_accept(goc_listener *l, goc_conn **out) {
    *out = NULL;
    if (!goc__netfd_incref(&l->n))
        return EBADF;
    goc_mutex_lock(&l->n.rmu);
    int rc;
    for (;;) {
        if (goc__deadline_passed(atomic_load_explicit(&l->n.rdeadline, memory_order_relaxed))) {
            rc = ETIMEDOUT;
            break;
        }
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(l->n.fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            *out = conn_new(fd, l->n.family, &rc);
            if (!*out)
                close(fd);
            else
                addrs_keep(fd, &(*out)->a, (struct sockaddr *)&peer, peer_len);
            break;
        }
        rc = goc__errno_get();
        if (rc == EINTR || rc == ECONNABORTED)
            continue; /* as Go: a connection reset before accept is not the listener's error */
        if (rc == EAGAIN)
            rc = goc__netfd_wait(&l->n, GOC__POLL_READ);
        if (rc) {
            rc = closed_or(&l->n, rc);
            break;
        }
    }
    goc_mutex_unlock(&l->n.rmu);
    goc__netfd_decref(&l->n);
    return rc;
}

int goc_listener_addr(goc_listener *l, char *buf, size_t len) {
    return sock_addr(&l->n, &l->a, false, buf, len);
}

int goc_listener_set_deadline(goc_listener *l, int64_t t) {
    return set_deadline(&l->n, t, GOC__POLL_READ);
}

int goc_listener_close(goc_listener *l) {
    int rc = goc__netfd_close(&l->n);
    if (rc == GOC__NETFD_ALREADY)
        return EBADF;
    if (l->unlink_path) {
        unlink(l->unlink_path); /* as Go's UnixListener: the file it created goes with it */
        free(l->unlink_path);
        l->unlink_path = NULL;
    }
    goc__netfd_close_done(&l->n);
    return rc;
}

void goc_listener_free(goc_listener *l) {
    if (!l)
        return;
    if (!(atomic_load(&l->n.state) & GOC__NETFD_CLOSED))
        goc_listener_close(l);
    goc__netfd_close_wait(&l->n);
    free(l);
}

int goc_listener_fd(goc_listener *l) {
    return l->n.fd;
}
