/* The net layer: echo over TCP loopback and Unix sockets with many
 * concurrent connections, deadlines (timeout, moved while waiting, in the
 * past), close waking a pending read or accept, dial errors and dial
 * contexts, goc_read/goc_write/goc_fd_wait on pipes between goroutines and
 * from a plain thread, and deadlock detection while a goroutine waits on a
 * descriptor (run as children).
 *
 * Only loopback addresses and Unix sockets in a private directory. Waiting
 * for another goroutine is always done with a channel or a WaitGroup; the
 * only sleep is in a plain thread that must come late on purpose. */
#include "t.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>

#if defined(GOC_SANITIZER_BUILD) || defined(GOC_TEST_SLOW)
#define SCALE 4
#else
#define SCALE 1
#endif

#define MS GOC_MILLISECOND
#define NCONNS (200 / SCALE)   /* concurrent connections per echo test */
#define NMSGS 20               /* round trips per connection */

static char tmpdir[256];

static void make_tmpdir(void) {
    if (tmpdir[0])
        return;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/goc-net-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        abort();
}

/* ---- echo server and clients ---- */

static void echo_conn(void *arg) {
    goc_conn *c = arg;
    char buf[4096];
    for (;;) {
        ssize_t n = goc_conn_read(c, buf, sizeof buf);
        if (n <= 0) {
            T_CHECK_EQ(n, 0);
            break;
        }
        T_CHECK_EQ(goc_conn_write(c, buf, (size_t)n), n);
    }
    goc_conn_free(c);
}

typedef struct server {
    goc_listener *l;
    goc_wg done;
    int accepted;
} server;

/* Accepts until the listener is closed; each connection gets a goroutine. */
static void serve(void *arg) {
    server *s = arg;
    for (;;) {
        goc_conn *c;
        int rc = goc_accept(s->l, &c);
        if (rc == EBADF)
            break;
        T_CHECK_EQ(rc, 0);
        if (rc)
            break;
        s->accepted++;
        goc_go(echo_conn, c);
    }
    goc_wg_done(&s->done);
}

typedef struct client {
    const char *network;
    const char *addr;
    int id;
    goc_wg *wg;
    _Atomic int *ok;
} client;

static void echo_client(void *arg) {
    client *cl = arg;
    goc_conn *c;
    int rc = goc_dial(NULL, cl->network, cl->addr, &c);
    T_CHECK_EQ(rc, 0);
    if (rc) {
        goc_wg_done(cl->wg);
        return;
    }
    bool good = true;
    char msg[100], got[100];
    for (int i = 0; i < NMSGS && good; i++) {
        int len = snprintf(msg, sizeof msg, "conn %d message %d %*s", cl->id, i, (cl->id * 7 + i) % 50, "x");
        good &= goc_conn_write(c, msg, (size_t)len) == len;
        int have = 0;
        while (have < len && good) {
            ssize_t n = goc_conn_read(c, got + have, (size_t)(len - have));
            good &= n > 0;
            if (n > 0)
                have += (int)n;
        }
        good &= memcmp(msg, got, (size_t)len) == 0;
    }
    /* CloseWrite: the server sees end of file, closes, and so do we. */
    T_CHECK_EQ(goc_conn_close_write(c), 0);
    T_CHECK_EQ(goc_conn_read(c, got, sizeof got), 0);
    goc_conn_free(c);
    T_CHECK(good);
    if (good)
        atomic_fetch_add(cl->ok, 1);
    goc_wg_done(cl->wg);
}

static void run_echo(const char *network, const char *laddr) {
    server s = {0};
    T_CHECK_EQ(goc_listen(network, laddr, &s.l), 0);
    if (!s.l)
        return;
    char addr[256];
    T_CHECK_EQ(goc_listener_addr(s.l, addr, sizeof addr), 0);
    goc_wg_add(&s.done, 1);
    goc_go(serve, &s);
    goc_wg wg = {0};
    _Atomic int ok = 0;
    static client cls[NCONNS];
    for (int i = 0; i < NCONNS; i++) {
        cls[i] = (client){network, addr, i, &wg, &ok};
        goc_wg_add(&wg, 1);
        goc_go(echo_client, &cls[i]);
    }
    goc_wg_wait(&wg);
    T_CHECK_EQ(atomic_load(&ok), NCONNS);
    T_CHECK_EQ(goc_listener_close(s.l), 0);
    goc_wg_wait(&s.done);
    T_CHECK_EQ(s.accepted, NCONNS);
    T_CHECK_EQ(goc_listener_close(s.l), EBADF); /* twice: an error, not a crash */
    goc_listener_free(s.l);
}

static int tcp_echo_main(void *arg) {
    (void)arg;
    run_echo("tcp", "127.0.0.1:0");
    run_echo("tcp4", "127.0.0.1:0");
    return 0;
}
static void test_tcp_echo(void) { goc_run(tcp_echo_main, NULL); }

static int tcp6_echo_main(void *arg) {
    (void)arg;
    goc_listener *l;
    int rc = goc_listen("tcp6", "[::1]:0", &l);
    if (rc) {
        printf("     (no IPv6 loopback here: %s)\n", strerror(rc));
        return 0;
    }
    char addr[64];
    T_CHECK_EQ(goc_listener_addr(l, addr, sizeof addr), 0);
    T_CHECK(!strncmp(addr, "[::1]:", 6));
    goc_listener_free(l);
    run_echo("tcp6", "[::1]:0");
    return 0;
}
static void test_tcp6_echo(void) { goc_run(tcp6_echo_main, NULL); }

static int unix_echo_main(void *arg) {
    (void)arg;
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/echo.sock", tmpdir);
    run_echo("unix", path);
    struct stat st;
    T_CHECK(stat(path, &st) != 0); /* the listener removed its file */
    char abstract[64];
    snprintf(abstract, sizeof abstract, "@goc-net-test-%d", (int)getpid());
    run_echo("unix", abstract);
    return 0;
}
static void test_unix_echo(void) { goc_run(unix_echo_main, NULL); }

/* ---- a connected pair for the tests below ---- */

typedef struct pair {
    goc_listener *l;
    goc_conn *a, *b; /* a dialled, b accepted */
    int fds[2];      /* a pipe, for the tests that want one */
} pair;

static void pair_open(pair *p) {
    memset(p, 0, sizeof *p);
    char addr[64];
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1:0", &p->l), 0);
    T_CHECK_EQ(goc_listener_addr(p->l, addr, sizeof addr), 0);
    T_CHECK_EQ(goc_dial(NULL, "tcp", addr, &p->a), 0);
    T_CHECK_EQ(goc_accept(p->l, &p->b), 0);
}

static void pair_free(pair *p) {
    goc_conn_free(p->a);
    goc_conn_free(p->b);
    goc_listener_free(p->l);
}

static int addresses_main(void *arg) {
    (void)arg;
    pair p;
    pair_open(&p);
    char la[64], ra[64], lb[64], rb[64], ls[64];
    T_CHECK_EQ(goc_conn_local_addr(p.a, la, sizeof la), 0);
    T_CHECK_EQ(goc_conn_remote_addr(p.a, ra, sizeof ra), 0);
    T_CHECK_EQ(goc_conn_local_addr(p.b, lb, sizeof lb), 0);
    T_CHECK_EQ(goc_conn_remote_addr(p.b, rb, sizeof rb), 0);
    T_CHECK_EQ(goc_listener_addr(p.l, ls, sizeof ls), 0);
    T_CHECK(!strcmp(la, rb));
    T_CHECK(!strcmp(ra, lb));
    T_CHECK(!strcmp(ra, ls));
    T_CHECK(!strncmp(ls, "127.0.0.1:", 10) && atoi(ls + 10) > 0);
    T_CHECK_EQ(goc_conn_local_addr(p.a, la, 4), ENOSPC);
    T_CHECK(goc_conn_fd(p.a) >= 0);
    T_CHECK(goc_listener_fd(p.l) >= 0);
    /* Kept from when the connection was made, as Go's: after a reset (the
       socket's peer name is gone) and after a close, the same answers. */
    struct linger lg = {1, 0};
    T_CHECK_EQ(setsockopt(goc_conn_fd(p.b), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    T_CHECK_EQ(goc_conn_close(p.b), 0); /* a reset for p.a */
    char buf[8];
    T_CHECK(goc_conn_read(p.a, buf, sizeof buf) != 0);
    char after[64];
    T_CHECK_EQ(goc_conn_remote_addr(p.a, after, sizeof after), 0);
    T_CHECK(!strcmp(after, ra));
    T_CHECK_EQ(goc_conn_close(p.a), 0);
    T_CHECK_EQ(goc_conn_local_addr(p.a, after, sizeof after), 0);
    T_CHECK(!strcmp(after, rb)); /* la itself took the ENOSPC call above */
    T_CHECK_EQ(goc_conn_remote_addr(p.b, after, sizeof after), 0);
    T_CHECK(!strcmp(after, rb));
    T_CHECK_EQ(goc_listener_close(p.l), 0);
    T_CHECK_EQ(goc_listener_addr(p.l, after, sizeof after), 0);
    T_CHECK(!strcmp(after, ls));
    pair_free(&p);

    /* A connection reset while it waited to be accepted: accept hands it
       over, getpeername no longer knows the peer, but the address accept
       returned is kept (Go's RemoteAddr). */
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1:0", &p.l), 0);
    struct sockaddr_in sin;
    socklen_t slen = sizeof sin;
    T_CHECK_EQ(getsockname(goc_listener_fd(p.l), (struct sockaddr *)&sin, &slen), 0);
    int raw = socket(AF_INET, SOCK_STREAM, 0);
    T_CHECK_EQ(connect(raw, (struct sockaddr *)&sin, sizeof sin), 0);
    struct sockaddr_in cin;
    slen = sizeof cin;
    T_CHECK_EQ(getsockname(raw, (struct sockaddr *)&cin, &slen), 0);
    T_CHECK_EQ(setsockopt(raw, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(raw); /* a reset */
    T_CHECK_EQ(goc_accept(p.l, &p.b), 0);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", ntohs(cin.sin_port));
    T_CHECK_EQ(goc_conn_remote_addr(p.b, after, sizeof after), 0);
    T_CHECK(!strcmp(after, want));
    goc_conn_free(p.b);
    goc_listener_free(p.l);

    /* A dual-stack listener's IPv4 connections show IPv4 addresses, as
       Go's do, not the IPv4-mapped IPv6 form the socket reports. */
    for (int i = 0; i < 2; i++) {
        const char *wild = i ? "0.0.0.0:0" : ":0";
        T_CHECK_EQ(goc_listen("tcp", wild, &p.l), 0);
        T_CHECK_EQ(goc_listener_addr(p.l, ls, sizeof ls), 0);
        char *port = strrchr(ls, ':');
        T_CHECK(port != NULL);
        snprintf(la, sizeof la, "127.0.0.1%s", port);
        T_CHECK_EQ(goc_dial(NULL, "tcp", la, &p.a), 0);
        T_CHECK_EQ(goc_accept(p.l, &p.b), 0);
        T_CHECK_EQ(goc_conn_local_addr(p.b, lb, sizeof lb), 0);
        T_CHECK_EQ(goc_conn_remote_addr(p.b, rb, sizeof rb), 0);
        T_CHECK_EQ(goc_conn_local_addr(p.a, ra, sizeof ra), 0);
        if (strcmp(lb, la) || strcmp(rb, ra))
            fprintf(stderr, "accepted: local %s remote %s, want %s and %s\n", lb, rb, la, ra);
        T_CHECK(!strcmp(lb, la));
        T_CHECK(!strcmp(rb, ra));
        pair_free(&p);
    }

    /* Bad networks and addresses. */
    goc_conn *c = (goc_conn *)&p;
    goc_listener *l;
    T_CHECK_EQ(goc_dial(NULL, "udp", "127.0.0.1:1", &c), EINVAL);
    T_CHECK_EQ(goc_dial(NULL, "tcp", "127.0.0.1", &c), EINVAL);     /* no port */
    T_CHECK_EQ(goc_dial(NULL, "tcp", "::1:80", &c), EINVAL);       /* needs brackets */
    T_CHECK(c == NULL);
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1:notaport", &l), EINVAL);
    T_CHECK_EQ(goc_listen("unix", "", &l), EINVAL);
    return 0;
}
static void test_addresses(void) { goc_run(addresses_main, NULL); }

/* Listens on network/laddr (0 or the error), then, when host is not NULL,
   dials host at the port it got and accepts the connection. */
/* Dials daddr on dnet and accepts the connection on l; 0 or the dial's error. */
static int dial_accept(goc_listener *l, const char *dnet, const char *daddr) {
    goc_conn *c, *s;
    int rc = goc_dial(NULL, dnet, daddr, &c);
    if (!rc) {
        T_CHECK_EQ(goc_accept(l, &s), 0);
        goc_conn_free(s);
        goc_conn_free(c);
    }
    return rc;
}

static int listen_dial(const char *network, const char *laddr, const char *host, char *got,
                       size_t glen) {
    goc_listener *l;
    int rc = goc_listen(network, laddr, &l);
    if (rc)
        return rc;
    char addr[80], daddr[100];
    T_CHECK_EQ(goc_listener_addr(l, addr, sizeof addr), 0);
    if (got)
        snprintf(got, glen, "%s", addr);
    if (host) {
        snprintf(daddr, sizeof daddr, "%s:%s", host, strrchr(addr, ':') + 1);
        rc = dial_accept(l, "tcp", daddr);
    }
    goc_listener_free(l);
    return rc;
}

/* Dials dnet ":port" (an empty host: the local system, as in Go) to a
   wildcard "tcp" listener. */
static int dial_empty_host(const char *dnet) {
    goc_listener *l;
    int rc = goc_listen("tcp", ":0", &l);
    if (rc)
        return rc;
    char addr[80], daddr[32];
    T_CHECK_EQ(goc_listener_addr(l, addr, sizeof addr), 0);
    snprintf(daddr, sizeof daddr, ":%s", strrchr(addr, ':') + 1);
    rc = dial_accept(l, dnet, daddr);
    goc_listener_free(l);
    return rc;
}

/* Go's address forms for a listener: an empty address or port, an
   unspecified IP (every address, dual-stack for "tcp"), an IPv4-mapped IPv6
   literal (its IPv4 address); a port with anything but a service name's
   characters is an error. */
static int listen_forms_main(void *arg) {
    (void)arg;
    char got[80];
    T_CHECK_EQ(listen_dial("tcp", "", "127.0.0.1", NULL, 0), 0);
    T_CHECK_EQ(listen_dial("tcp", ":", "127.0.0.1", NULL, 0), 0);
    T_CHECK_EQ(listen_dial("tcp4", ":", "127.0.0.1", NULL, 0), 0);
    T_CHECK_EQ(listen_dial("tcp", "127.0.0.1:", "127.0.0.1", got, sizeof got), 0);
    T_CHECK(!strncmp(got, "127.0.0.1:", 10) && strcmp(got, "127.0.0.1:0") != 0);
    T_CHECK_EQ(listen_dial("tcp", "0.0.0.0:0", "127.0.0.1", NULL, 0), 0);
    T_CHECK_EQ(listen_dial("tcp4", "0.0.0.0:0", "127.0.0.1", NULL, 0), 0);
    T_CHECK_EQ(listen_dial("tcp", "[::ffff:127.0.0.1]:0", "127.0.0.1", got, sizeof got), 0);
    T_CHECK(!strncmp(got, "127.0.0.1:", 10));
    T_CHECK_EQ(listen_dial("tcp4", "[::ffff:0.0.0.0]:0", "127.0.0.1", NULL, 0), 0);
    T_CHECK(listen_dial("tcp4", "[::]:0", NULL, NULL, 0) != 0);
    goc_listener *l6;
    if (goc_listen("tcp6", "[::1]:0", &l6) == 0) { /* IPv6 here: the wildcards are dual-stack */
        goc_listener_free(l6);
        T_CHECK_EQ(listen_dial("tcp", "[::]:0", "127.0.0.1", NULL, 0), 0);
        T_CHECK_EQ(listen_dial("tcp", "[::]:0", "[::1]", NULL, 0), 0);
        T_CHECK_EQ(listen_dial("tcp", "0.0.0.0:0", "[::1]", NULL, 0), 0);
        T_CHECK_EQ(listen_dial("tcp", "", "[::1]", NULL, 0), 0);
        T_CHECK_EQ(listen_dial("tcp", "[::ffff:0.0.0.0]:0", "[::1]", NULL, 0), 0);
        T_CHECK_EQ(listen_dial("tcp6", "[::]:0", "[::1]", NULL, 0), 0);
        T_CHECK(listen_dial("tcp6", "[::]:0", "127.0.0.1", NULL, 0) != 0); /* tcp6: IPv6 only */
        T_CHECK_EQ(dial_empty_host("tcp6"), 0); /* ::1, whatever "localhost" names */
    } else {
        printf("     (no IPv6 loopback here: dual-stack not checked)\n");
    }
    T_CHECK_EQ(dial_empty_host("tcp"), 0);
    T_CHECK_EQ(dial_empty_host("tcp4"), 0);
    goc_conn *c = NULL;
    T_CHECK_EQ(goc_dial(NULL, "tcp", "", &c), EINVAL);
    T_CHECK_EQ(goc_dial(NULL, "tcp", "127.0.0.1: 80", &c), EINVAL);
    T_CHECK_EQ(goc_dial(NULL, "tcp", "127.0.0.1:80 ", &c), EINVAL);
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1: 0", &l6), EINVAL);
    T_CHECK_EQ(goc_listen("tcp", ": 0", &l6), EINVAL);
    T_CHECK_EQ(goc_listen("tcp", "0.0.0.0:+0", &l6), EINVAL);
    T_CHECK_EQ(goc_listen("tcp", "[::]:-0", &l6), EINVAL);
    T_CHECK(c == NULL);
    return 0;
}
static void test_listen_forms(void) { goc_run(listen_forms_main, NULL); }

/* ---- deadlines ---- */

static int read_timeout_main(void *arg) {
    (void)arg;
    pair p;
    pair_open(&p);
    char buf[16];
    int64_t t0 = goc_now();
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, t0 + 50 * MS), 0);
    T_CHECK_EQ(goc_conn_read(p.a, buf, sizeof buf), -ETIMEDOUT);
    int64_t took = goc_now() - t0;
    T_CHECK(took >= 50 * MS && took < 5 * GOC_SECOND);
    /* Still timed out; cleared, data flows again. */
    T_CHECK_EQ(goc_conn_read(p.a, buf, sizeof buf), -ETIMEDOUT);
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, 0), 0);
    T_CHECK_EQ(goc_conn_write(p.b, "hi", 2), 2);
    T_CHECK_EQ(goc_conn_read(p.a, buf, sizeof buf), 2);

    /* Write timeout: fill the socket buffers until the writer waits. */
    static char big[1 << 20];
    T_CHECK_EQ(goc_conn_set_write_deadline(p.a, goc_now() + 50 * MS), 0);
    ssize_t n;
    int rounds = 0;
    while ((n = goc_conn_write(p.a, big, sizeof big)) > 0 && rounds < 64)
        rounds++;
    T_CHECK_EQ(n, -ETIMEDOUT);
    pair_free(&p);
    return 0;
}
static void test_read_timeout(void) { goc_run(read_timeout_main, NULL); }

static int deadline_past_main(void *arg) {
    (void)arg;
    pair p;
    pair_open(&p);
    char buf[16];
    T_CHECK_EQ(pipe(p.fds), 0); /* a plain descriptor for goc_fd_wait */
    T_CHECK_EQ(goc_conn_write(p.b, "data", 4), 4);
    /* Past: fails at once even with data waiting, as Go. */
    T_CHECK_EQ(goc_conn_set_deadline(p.a, goc_now() - 1), 0);
    T_CHECK_EQ(goc_conn_read(p.a, buf, sizeof buf), -ETIMEDOUT);
    T_CHECK_EQ(goc_conn_write(p.a, "x", 1), -ETIMEDOUT);
    T_CHECK_EQ(goc_conn_set_deadline(p.a, 0), 0);
    T_CHECK_EQ(goc_conn_read(p.a, buf, sizeof buf), 4);
    /* Listener deadline in the past. */
    goc_conn *c;
    T_CHECK_EQ(goc_listener_set_deadline(p.l, goc_now() - 1), 0);
    T_CHECK_EQ(goc_accept(p.l, &c), ETIMEDOUT);
    T_CHECK_EQ(goc_listener_set_deadline(p.l, goc_now() + 20 * MS), 0);
    T_CHECK_EQ(goc_accept(p.l, &c), ETIMEDOUT);
    /* A negative instant is in the past too (only 0 means none). */
    T_CHECK_EQ(goc_listener_set_deadline(p.l, -5), 0);
    T_CHECK_EQ(goc_accept(p.l, &c), ETIMEDOUT);
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, -5), 0);
    T_CHECK_EQ(goc_conn_read(p.a, buf, sizeof buf), -ETIMEDOUT);
    T_CHECK_EQ(goc_fd_wait(p.fds[0], POLLIN, -5), ETIMEDOUT);
    /* Empty calls, as Go's: a read returns 0 whatever the deadline; a
       write checks its deadline first. */
    T_CHECK_EQ(goc_conn_read(p.a, buf, 0), 0);
    T_CHECK_EQ(goc_conn_set_write_deadline(p.a, goc_now() - 1), 0);
    T_CHECK_EQ(goc_conn_write(p.a, buf, 0), -ETIMEDOUT);
    T_CHECK_EQ(goc_conn_write(p.a, NULL, 0), -ETIMEDOUT);
    T_CHECK_EQ(goc_conn_set_deadline(p.a, 0), 0);
    T_CHECK_EQ(goc_conn_write(p.a, NULL, 0), 0);
    T_CHECK_EQ(goc_conn_read(p.a, NULL, 0), 0);
    T_CHECK_EQ(goc_conn_close(p.a), 0);
    T_CHECK_EQ(goc_conn_read(p.a, buf, 0), -EBADF);
    T_CHECK_EQ(goc_conn_write(p.a, buf, 0), -EBADF);
    pair_free(&p);
    T_CHECK_EQ(goc_fd_close(p.fds[0]), 0); /* registered by goc_fd_wait */
    close(p.fds[1]);
    return 0;
}
static void test_deadline_past(void) { goc_run(deadline_past_main, NULL); }

/* Go's "invalid port", and a unix path too long for sun_path: EINVAL. */
static int bad_addresses_main(void *arg) {
    (void)arg;
    goc_listener *l = NULL;
    goc_conn *c = NULL;
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1:65537", &l), EINVAL);
    T_CHECK_EQ(goc_dial(NULL, "tcp", "127.0.0.1:99999", &c), EINVAL);
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1:65536", &l), EINVAL);
    char path[300];
    memset(path, 'x', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = 0;
    T_CHECK_EQ(goc_listen("unix", path, &l), EINVAL);
    return 0;
}
static void test_bad_addresses(void) { goc_run(bad_addresses_main, NULL); }

typedef struct reader {
    goc_conn *c;
    goc_chan *started, *result;
} reader;

static void blocked_reader(void *arg) {
    reader *r = arg;
    char buf[16];
    int one = 1;
    goc_send(r->started, one);
    ssize_t n = goc_conn_read(r->c, buf, sizeof buf);
    goc_send(r->result, n);
}

static int deadline_moved_main(void *arg) {
    (void)arg;
    pair p;
    pair_open(&p);
    reader r = {p.a, goc_chan_of(int, 0), goc_chan_of(ssize_t, 0)};
    ssize_t n = 0;
    int one;

    /* No deadline while it waits; one set from here wakes it in time. */
    goc_go(blocked_reader, &r);
    goc_recv(r.started, &one);
    int64_t t0 = goc_now();
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, t0 + 30 * MS), 0);
    goc_recv(r.result, &n);
    T_CHECK_EQ(n, -ETIMEDOUT);
    T_CHECK(goc_now() - t0 < 5 * GOC_SECOND);

    /* A far deadline pulled in while it waits. */
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, goc_now() + 60 * GOC_SECOND), 0);
    goc_go(blocked_reader, &r);
    goc_recv(r.started, &one);
    t0 = goc_now();
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, t0 + 20 * MS), 0);
    goc_recv(r.result, &n);
    T_CHECK_EQ(n, -ETIMEDOUT);
    T_CHECK(goc_now() - t0 < 5 * GOC_SECOND);

    /* A deadline moved to the past wakes it at once. */
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, 0), 0);
    goc_go(blocked_reader, &r);
    goc_recv(r.started, &one);
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, goc_now() - 1), 0);
    goc_recv(r.result, &n);
    T_CHECK_EQ(n, -ETIMEDOUT);

    /* A deadline cleared while it waits: the data that comes later is read. */
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, goc_now() + 60 * GOC_SECOND), 0);
    goc_go(blocked_reader, &r);
    goc_recv(r.started, &one);
    T_CHECK_EQ(goc_conn_set_read_deadline(p.a, 0), 0);
    T_CHECK_EQ(goc_conn_write(p.b, "late", 4), 4);
    goc_recv(r.result, &n);
    T_CHECK_EQ(n, 4);

    goc_chan_free(r.started);
    goc_chan_free(r.result);
    pair_free(&p);
    return 0;
}
static void test_deadline_moved(void) { goc_run(deadline_moved_main, NULL); }

/* ---- close ---- */

typedef struct acceptor {
    goc_listener *l;
    goc_chan *started, *result;
} acceptor;

static void waiting_acceptor(void *arg) {
    acceptor *a = arg;
    int one = 1;
    goc_send(a->started, one);
    goc_conn *c = NULL;
    int rc = goc_accept(a->l, &c);
    goc_send(a->result, rc);
}

static int close_main(void *arg) {
    (void)arg;
    pair p;
    pair_open(&p);
    reader r = {p.a, goc_chan_of(int, 0), goc_chan_of(ssize_t, 0)};
    ssize_t n = 0;
    int one;
    goc_go(blocked_reader, &r);
    goc_recv(r.started, &one);
    T_CHECK_EQ(goc_conn_close(p.a), 0);
    goc_recv(r.result, &n);
    T_CHECK_EQ(n, -EBADF);
    /* Everything after close is EBADF; so is a second close. */
    char buf[4];
    T_CHECK_EQ(goc_conn_read(p.a, buf, sizeof buf), -EBADF);
    T_CHECK_EQ(goc_conn_write(p.a, "x", 1), -EBADF);
    T_CHECK_EQ(goc_conn_set_deadline(p.a, 0), EBADF);
    T_CHECK_EQ(goc_conn_close_write(p.a), EBADF);
    char addr[64]; /* but the addresses, kept as Go keeps them */
    T_CHECK_EQ(goc_conn_local_addr(p.a, addr, sizeof addr), 0);
    T_CHECK_EQ(goc_conn_close(p.a), EBADF);
    /* The peer sees end of file. */
    T_CHECK_EQ(goc_conn_read(p.b, buf, sizeof buf), 0);

    /* Closing a listener wakes its accept. */
    acceptor a = {p.l, r.started, goc_chan_of(int, 0)};
    int rc = 0;
    goc_go(waiting_acceptor, &a);
    goc_recv(a.started, &one);
    T_CHECK_EQ(goc_listener_close(p.l), 0);
    goc_recv(a.result, &rc);
    T_CHECK_EQ(rc, EBADF);
    goc_conn *c;
    T_CHECK_EQ(goc_accept(p.l, &c), EBADF);

    goc_chan_free(r.started);
    goc_chan_free(r.result);
    goc_chan_free(a.result);
    pair_free(&p);
    return 0;
}
static void test_close(void) { goc_run(close_main, NULL); }

/* ---- dial errors and contexts ---- */

static int dial_refused_main(void *arg) {
    (void)arg;
    goc_listener *l;
    char addr[64];
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1:0", &l), 0);
    T_CHECK_EQ(goc_listener_addr(l, addr, sizeof addr), 0);
    goc_listener_free(l); /* the port now has no listener */
    goc_conn *c;
    T_CHECK_EQ(goc_dial(NULL, "tcp", addr, &c), ECONNREFUSED);
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/nobody.sock", tmpdir);
    T_CHECK_EQ(goc_dial(NULL, "unix", path, &c), ENOENT);
    return 0;
}
static void test_dial_refused(void) { goc_run(dial_refused_main, NULL); }

/* A loopback listener whose accept queue is full: a further connect stays
   in progress (the kernel drops its SYN), so a dial waits for its context. */
static int full_listener(char *addr, size_t len, int *fds, int nfds) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof in;
    if (bind(l, (struct sockaddr *)&in, sizeof in) || listen(l, 0) ||
        getsockname(l, (struct sockaddr *)&in, &sl))
        abort();
    snprintf(addr, len, "127.0.0.1:%u", ntohs(in.sin_port));
    /* backlog 0 holds one connection; the second fills the SYN side */
    for (int i = 0; i < nfds; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(fds[i], (struct sockaddr *)&in, sizeof in) != 0 && errno != EINPROGRESS)
            abort();
    }
    return l;
}

typedef struct canceller {
    goc_ctx *ctx;
    goc_wg done;
} canceller;

/* Cancels after a while: the dial is then waiting, or not yet; the result
   is ECANCELED either way. */
static void cancel_later(void *arg) {
    canceller *c = arg;
    goc_sleep(50 * MS);
    goc_ctx_cancel(c->ctx);
    goc_wg_done(&c->done);
}

static int dial_ctx_main(void *arg) {
    (void)arg;
    goc_conn *c = NULL;
    char addr[64];
    int fds[3];
    int l = full_listener(addr, sizeof addr, fds, 3);

    /* Already cancelled: fails before anything. */
    goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx_cancel(ctx);
    T_CHECK_EQ(goc_dial(ctx, "tcp", addr, &c), ECANCELED);
    goc_ctx_release(ctx);

    /* Expires while connecting. */
    int64_t t0 = goc_now();
    ctx = goc_ctx_with_timeout(goc_ctx_background(), 100 * MS);
    int rc = goc_dial(ctx, "tcp", addr, &c);
    T_CHECK_EQ(rc, ETIMEDOUT);
    int64_t took = goc_now() - t0;
    T_CHECK(took >= 90 * MS && took < 10 * GOC_SECOND);
    if (rc == 0)
        goc_conn_free(c);
    goc_ctx_release(ctx);

    /* Cancelled while connecting (or before: either way ECANCELED). */
    canceller cc = {goc_ctx_with_cancel(goc_ctx_background()), {0}};
    goc_wg_add(&cc.done, 1);
    goc_go(cancel_later, &cc);
    rc = goc_dial(cc.ctx, "tcp", addr, &c);
    T_CHECK_EQ(rc, ECANCELED);
    if (rc == 0)
        goc_conn_free(c);
    goc_wg_wait(&cc.done);
    goc_ctx_release(cc.ctx);

    /* A context that stays alive: a normal dial. */
    goc_listener *gl;
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1:0", &gl), 0);
    char gaddr[64];
    goc_listener_addr(gl, gaddr, sizeof gaddr);
    ctx = goc_ctx_with_timeout(goc_ctx_background(), 10 * GOC_SECOND);
    T_CHECK_EQ(goc_dial(ctx, "tcp", gaddr, &c), 0);
    goc_ctx_release(ctx);
    goc_conn_free(c);
    goc_listener_free(gl);

    for (int i = 0; i < 3; i++)
        close(fds[i]);
    close(l);
    return 0;
}
static void test_dial_ctx(void) { goc_run(dial_ctx_main, NULL); }

/* A plain thread's dial with no goc_run running: cancelling its context
   ends it at once (its wake came through an AfterFunc goroutine, which
   nothing ran: the dial hung), and a context that times out leaves nothing
   behind (the AfterFunc's records leaked). */
typedef struct thread_dial {
    goc_ctx *ctx;
    const char *addr;
    _Atomic long tid;
    int rc;
} thread_dial;

static void *thread_dial_fn(void *arg) {
    thread_dial *td = arg;
    atomic_store(&td->tid, (long)syscall(SYS_gettid));
    goc_conn *c = NULL;
    td->rc = goc_dial(td->ctx, "tcp", td->addr, &c);
    if (td->rc == 0)
        goc_conn_free(c);
    return NULL;
}

static void test_dial_ctx_thread_no_run(void) {
    char addr[64];
    int fds[3];
    int l = full_listener(addr, sizeof addr, fds, 3);
    thread_dial td = {goc_ctx_with_cancel(goc_ctx_background()), addr, 0, -1};
    pthread_t t;
    pthread_create(&t, NULL, thread_dial_fn, &td);
    while (!atomic_load(&td.tid) || !t_thread_asleep(atomic_load(&td.tid)))
        sched_yield(); /* until it waits for the connect */
    int64_t t0 = goc_now();
    goc_ctx_cancel(td.ctx);
    pthread_join(t, NULL);
    T_CHECK_EQ(td.rc, ECANCELED);
    T_CHECK(goc_now() - t0 < 5 * GOC_SECOND);
    goc_ctx_release(td.ctx);
    for (int i = 0; i < 3; i++) { /* under LSan: no records left behind */
        goc_conn *c = NULL;
        goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), 20 * MS);
        T_CHECK_EQ(goc_dial(ctx, "tcp", addr, &c), ETIMEDOUT);
        goc_ctx_release(ctx);
    }
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    close(l);
}

/* ---- any descriptor: pipes ---- */

#define PIPE_BYTES (4 << 20) /* well beyond a pipe's 64 KiB: the writer must wait */

typedef struct piper {
    int fd;
    goc_wg *wg;
    uint64_t sum;
} piper;

static void pipe_writer(void *arg) {
    piper *p = arg;
    static unsigned char chunk[10000];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (unsigned char)(i * 31 + 7);
    size_t sent = 0;
    while (sent < PIPE_BYTES) {
        size_t k = PIPE_BYTES - sent < sizeof chunk ? PIPE_BYTES - sent : sizeof chunk;
        ssize_t n = goc_write(p->fd, chunk, k);
        T_CHECK_EQ(n, (ssize_t)k);
        if (n <= 0)
            break;
        for (size_t i = 0; i < k; i++)
            p->sum += chunk[i];
        sent += k;
    }
    T_CHECK_EQ(goc_fd_close(p->fd), 0);
    goc_wg_done(p->wg);
}

static uint64_t drain(int fd, size_t *total) {
    unsigned char buf[3000];
    uint64_t sum = 0;
    *total = 0;
    for (;;) {
        ssize_t n = goc_read(fd, buf, sizeof buf);
        if (n <= 0) {
            T_CHECK_EQ(n, 0);
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            sum += buf[i];
        *total += (size_t)n;
    }
    return sum;
}

static int pipe_main(void *arg) {
    (void)arg;
    int fds[2];
    T_CHECK_EQ(pipe(fds), 0);
    goc_wg wg = {0};
    piper w = {fds[1], &wg, 0};
    goc_wg_add(&wg, 1);
    goc_go(pipe_writer, &w);
    size_t total;
    uint64_t sum = drain(fds[0], &total);
    goc_wg_wait(&wg);
    T_CHECK_EQ(total, PIPE_BYTES);
    T_CHECK(sum == w.sum);
    T_CHECK(fcntl(fds[0], F_GETFL) & O_NONBLOCK); /* made non-blocking at first use */
    T_CHECK_EQ(goc_fd_close(fds[0]), 0);

    /* goc_fd_wait: a deadline, then readiness. */
    T_CHECK_EQ(pipe(fds), 0);
    int64_t t0 = goc_now();
    T_CHECK_EQ(goc_fd_wait(fds[0], POLLIN, t0 + 30 * MS), ETIMEDOUT);
    T_CHECK(goc_now() - t0 >= 30 * MS);
    T_CHECK_EQ(goc_fd_wait(fds[1], POLLOUT, 0), 0);
    T_CHECK_EQ(goc_write(fds[1], "ab", 2), 2);
    T_CHECK_EQ(goc_fd_wait(fds[0], POLLIN, 0), 0);
    T_CHECK_EQ(goc_fd_wait(fds[0], POLLIN, 0), 0); /* still readable: not just an edge */
    T_CHECK_EQ(goc_fd_wait(fds[0], POLLIN | POLLOUT, 0), EINVAL);
    char b[4];
    T_CHECK_EQ(goc_read(fds[0], b, sizeof b), 2);
    goc_fd_close(fds[0]);
    goc_fd_close(fds[1]);

    /* A regular file is read in a blocking section. */
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/file", tmpdir);
    int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    T_CHECK_EQ(goc_write(f, "hello", 5), 5);
    T_CHECK_EQ(goc_fd_wait(f, POLLIN, 0), 0);
    lseek(f, 0, SEEK_SET);
    T_CHECK_EQ(goc_read(f, b, 4), 4);
    T_CHECK(!memcmp(b, "hell", 4));
    goc_fd_close(f);
    unlink(path);
    T_CHECK_EQ(goc_read(-1, b, 1), -EBADF);
    /* Numbers past goc's descriptor table are not open either: EBADF, as
       Go says for any descriptor that is not open. */
    T_CHECK_EQ(goc_read(1 << 24, b, 1), -EBADF);
    T_CHECK_EQ(goc_fd_wait(INT_MAX, POLLIN, -1), EBADF);
    return 0;
}
static void test_pipe(void) { goc_run(pipe_main, NULL); }

/* Several readers and several writers on one pipe queue, as Go's fdMutex
   makes them (a second waiter used to get EBUSY): every byte arrives once,
   and one goc_write's bytes are never interleaved with another's (each
   writes 100 KB, more than the pipe holds, of its own byte value). */
#define QW_WRITERS 4
#define QW_WRITES 6
#define QW_SIZE 100000

typedef struct qwriter {
    int fd;
    unsigned char byte;
    goc_wg *wg;
} qwriter;

static void queued_writer(void *arg) {
    qwriter *w = arg;
    static unsigned char bufs[QW_WRITERS][QW_SIZE];
    unsigned char *buf = bufs[w->byte - 1];
    memset(buf, w->byte, QW_SIZE);
    for (int i = 0; i < QW_WRITES; i++)
        T_CHECK_EQ(goc_write(w->fd, buf, QW_SIZE), QW_SIZE);
    goc_wg_done(w->wg);
}

typedef struct qreader {
    int fd;
    size_t total;
    uint64_t sum;
    goc_wg *wg;
} qreader;

static void queued_reader(void *arg) {
    qreader *r = arg;
    r->sum = drain(r->fd, &r->total);
    goc_wg_done(r->wg);
}

static void *queued_reader_thread(void *arg) {
    queued_reader(arg);
    return NULL;
}

static goc_chan *close_results;

static void close_reader(void *arg) {
    char b[8];
    ssize_t r = goc_read((int)(intptr_t)arg, b, sizeof b);
    goc_send(close_results, r);
}

static int queued_fd_main(void *arg) {
    (void)arg;
    int fds[2];
    /* writers: one reader checks that each write arrived whole */
    T_CHECK_EQ(pipe(fds), 0);
    goc_wg wg = {0};
    qwriter ws[QW_WRITERS];
    goc_wg_add(&wg, QW_WRITERS);
    for (int i = 0; i < QW_WRITERS; i++) {
        ws[i] = (qwriter){fds[1], (unsigned char)(i + 1), &wg};
        goc_go(queued_writer, &ws[i]);
    }
    static unsigned char got[QW_WRITERS * QW_WRITES * QW_SIZE];
    size_t total = 0;
    while (total < sizeof got) {
        ssize_t n = goc_read(fds[0], got + total, sizeof got - total);
        T_CHECK(n > 0);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    goc_wg_wait(&wg);
    int whole = 0;
    for (size_t i = 0; i + QW_SIZE <= total; i += QW_SIZE) {
        size_t k = 0;
        while (k < QW_SIZE && got[i + k] == got[i])
            k++;
        whole += k == QW_SIZE;
    }
    T_CHECK_EQ(whole, QW_WRITERS * QW_WRITES);
    goc_fd_close(fds[0]);
    goc_fd_close(fds[1]);

    /* readers: three goroutines and a plain thread drain one pipe */
    T_CHECK_EQ(pipe(fds), 0);
    goc_wg rwg = {0}, wwg = {0};
    qreader rs[4];
    goc_wg_add(&rwg, 4);
    for (int i = 0; i < 4; i++)
        rs[i] = (qreader){fds[0], 0, 0, &rwg};
    for (int i = 0; i < 3; i++)
        goc_go(queued_reader, &rs[i]);
    pthread_t th;
    T_CHECK_EQ(pthread_create(&th, NULL, queued_reader_thread, &rs[3]), 0);
    piper w = {fds[1], &wwg, 0};
    goc_wg_add(&wwg, 1);
    goc_go(pipe_writer, &w); /* closes its end when done: the readers see EOF */
    goc_wg_wait(&wwg);
    goc_wg_wait(&rwg);
    T_CHECK_EQ(pthread_join(th, NULL), 0);
    size_t sum_total = 0;
    uint64_t sum = 0;
    for (int i = 0; i < 4; i++) {
        sum_total += rs[i].total;
        sum += rs[i].sum;
    }
    T_CHECK_EQ(sum_total, PIPE_BYTES);
    T_CHECK(sum == w.sum);
    goc_fd_close(fds[0]);

    /* closed while one reader waits and another queues: both get EBADF */
    T_CHECK_EQ(pipe(fds), 0);
    close_results = goc_chan_of(ssize_t, 2);
    for (int i = 0; i < 2; i++)
        go(close_reader, (void *)(intptr_t)fds[0]);
    t_wait_parked("IO wait (read)", 1);
    t_wait_parked("sync.Mutex.Lock", 1);
    /* goc_fd_wait takes no turn (its deadline could not be kept in a
       queue): beside the parked reader it fails at once */
    T_CHECK_EQ(goc_fd_wait(fds[0], POLLIN, goc_now() + 50 * MS), EBUSY);
    T_CHECK_EQ(goc_fd_close(fds[0]), 0);
    for (int i = 0; i < 2; i++) {
        ssize_t r = 0;
        goc_recv(close_results, &r);
        T_CHECK_EQ(r, -EBADF);
    }
    goc_chan_free(close_results);
    goc_fd_close(fds[1]);
    return 0;
}
static void test_queued_fd(void) { goc_run(queued_fd_main, NULL); }

/* A plain thread reads with goc_read while a goroutine writes. */
typedef struct thread_reader {
    int fd;
    size_t total;
    uint64_t sum;
} thread_reader;

static void *thread_drain(void *arg) {
    thread_reader *tr = arg;
    tr->sum = drain(tr->fd, &tr->total);
    return NULL;
}

static int plain_thread_main(void *arg) {
    (void)arg;
    int fds[2];
    T_CHECK_EQ(pipe(fds), 0);
    thread_reader tr = {fds[0], 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, thread_drain, &tr);
    goc_wg wg = {0};
    piper w = {fds[1], &wg, 0};
    goc_wg_add(&wg, 1);
    goc_go(pipe_writer, &w);
    goc_wg_wait(&wg);
    goc_blocking_begin();
    pthread_join(th, NULL);
    goc_blocking_end();
    T_CHECK_EQ(tr.total, PIPE_BYTES);
    T_CHECK(tr.sum == w.sum);
    goc_fd_close(fds[0]);
    return 0;
}
static void test_plain_thread(void) { goc_run(plain_thread_main, NULL); }

/* ---- deadlock detection and the network (children) ---- */

static int late_fd;

/* A plain thread that never calls goc: it comes late on purpose. */
static void *late_writer(void *arg) {
    (void)arg;
    usleep(200 * 1000);
    if (write(late_fd, "x", 1) != 1)
        abort();
    return NULL;
}

static int pipe_wait_main(void *arg) {
    (void)arg;
    int fds[2];
    if (pipe(fds))
        abort();
    late_fd = fds[1];
    pthread_t th;
    pthread_create(&th, NULL, late_writer, NULL);
    char c;
    /* The only goroutine waits on a descriptor: not a deadlock. */
    ssize_t n = goc_read(fds[0], &c, 1);
    fprintf(stderr, "read %zd\n", n);
    if (n == 1)
        fprintf(stderr, "net-wait-ok\n");
    pthread_join(th, NULL);
    return 0;
}

static void child_netwait_no_deadlock(void) {
    goc_run(pipe_wait_main, NULL);
    exit(0);
}

static int conn_wait_main(void *arg) {
    (void)arg;
    goc_listener *l;
    char addr[64];
    if (goc_listen("tcp", "127.0.0.1:0", &l) || goc_listener_addr(l, addr, sizeof addr))
        abort();
    /* A plain socket, connected before the wait, written to later. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1))};
    if (connect(s, (struct sockaddr *)&in, sizeof in))
        abort();
    goc_conn *c;
    if (goc_accept(l, &c))
        abort();
    late_fd = s;
    pthread_t th;
    pthread_create(&th, NULL, late_writer, NULL);
    char b;
    ssize_t n = goc_conn_read(c, &b, 1);
    if (n == 1)
        fprintf(stderr, "net-wait-ok\n");
    pthread_join(th, NULL);
    goc_conn_free(c);
    goc_listener_free(l);
    close(s);
    return 0;
}

static void child_connwait_no_deadlock(void) {
    goc_run(conn_wait_main, NULL);
    exit(0);
}

/* Control: the same wait on a channel nobody sends to is a deadlock. */
static int chan_wait_main(void *arg) {
    (void)arg;
    goc_chan *ch = goc_chan_of(int, 0);
    int v;
    goc_recv(ch, &v);
    return 0;
}

static void child_chan_deadlock(void) {
    goc_run(chan_wait_main, NULL);
    exit(0);
}

/* A plain thread waiting in goc_read is a network wait, as a goroutine's:
   main, waiting for what that thread will pass on, is not deadlocked. The
   byte comes from another process, 200 ms after the thread is asleep. */
static int trd_pipe[2];
static goc_chan *trd_ch;
static _Atomic long trd_tid;
static void *trd_reader(void *arg) {
    (void)arg;
    atomic_store(&trd_tid, (long)syscall(SYS_gettid));
    char c;
    int v = (int)goc_read(trd_pipe[0], &c, 1);
    goc_send(trd_ch, v);
    return NULL;
}
static int trd_main(void *arg) {
    (void)arg;
    int v = 0;
    goc_recv(trd_ch, &v);
    fprintf(stderr, "thread-read-ok %d\n", v);
    return 0;
}
static void child_thread_read_no_deadlock(void) {
    if (pipe(trd_pipe) != 0)
        exit(4);
    trd_ch = goc_chan_of(int, 0);
    pthread_t t;
    pthread_create(&t, NULL, trd_reader, NULL);
    long tid;
    while ((tid = atomic_load(&trd_tid)) == 0 || !t_thread_asleep(tid))
        sched_yield();
    pid_t peer = fork();
    if (peer == 0) {
        usleep(200 * 1000); /* the peer's own pace */
        if (write(trd_pipe[1], "x", 1) != 1)
            _exit(1);
        _exit(0);
    }
    int rc = goc_run(trd_main, NULL);
    pthread_join(t, NULL);
    waitpid(peer, NULL, 0);
    exit(rc);
}

/* A goroutine an earlier run abandoned in a read on a pipe no longer
   counts as waiting on the network: the next run's deadlock is reported
   (it hung, the abandoned wait keeping the program "alive"). */
static int abandon_pipe[2];
static void abandoned_reader(void *arg) {
    (void)arg;
    char c;
    goc_read(abandon_pipe[0], &c, 1);
}
static int abandon_reader_main(void *arg) {
    (void)arg;
    go(abandoned_reader, NULL);
    t_wait_parked("IO wait (read)", 1);
    return 0;
}
static void child_abandoned_netwait(void) {
    if (pipe(abandon_pipe) != 0)
        exit(4);
    goc_run(abandon_reader_main, NULL);
    goc_run(chan_wait_main, NULL);
    exit(0);
}

/* A goroutine started between two runs belongs to the next one, even when
   an M of the first, still running a goroutine the first abandoned busy,
   runs it before that run has started: its wait on a descriptor counts as
   the new run's (a reset of the count when the run started wiped it, and
   the deadlock check then killed the program while it waited). */
static int epoch_pipe[2];
static goc_chan *epoch_got;
static _Atomic bool epoch_busy_started;
static void epoch_busy(void *arg) {
    (void)arg;
    atomic_store(&epoch_busy_started, true);
    int64_t until = goc_now() + 100 * GOC_MILLISECOND;
    while (goc_now() < until) {
    }
}
static int epoch_first_main(void *arg) {
    (void)arg;
    go(epoch_busy, NULL);
    while (!atomic_load(&epoch_busy_started)) /* running on another P when this run ends */
        goc_yield();
    return 0;
}
static void epoch_server(void *arg) {
    (void)arg;
    char c;
    for (int i = 0; i < 3; i++) {
        if (goc_read(epoch_pipe[0], &c, 1) != 1)
            return;
        goc_send(epoch_got, i);
    }
}
static int epoch_second_main(void *arg) {
    (void)arg;
    for (int i = 0; i < 3; i++) {
        goc_sleep(20 * GOC_MILLISECOND); /* the writer's own pace */
        if (write(epoch_pipe[1], "x", 1) != 1)
            return 1;
        int v = -1;
        goc_recv(epoch_got, &v);
        if (v != i)
            return 1;
    }
    fprintf(stderr, "netwait-epoch-ok\n");
    return 0;
}
static void child_netwait_between_runs(void) {
    if (pipe(epoch_pipe) != 0)
        exit(4);
    epoch_got = goc_chan_of(int, 0);
    goc_run(epoch_first_main, NULL);
    go(epoch_server, NULL); /* queued for the next run */
    exit(goc_run(epoch_second_main, NULL));
}

static void test_deadlock_detection(void) {
    T_CHILD_DIES("netwait_between_runs", NULL, 0, "netwait-epoch-ok");
    T_CHILD_DIES("abandoned_netwait", NULL, 2, "all goroutines are asleep - deadlock!");
    T_CHILD_DIES("thread_read_no_deadlock", NULL, 0, "thread-read-ok 1");
    T_CHILD_DIES("netwait_no_deadlock", NULL, 0, "net-wait-ok");
    T_CHILD_DIES("connwait_no_deadlock", NULL, 0, "net-wait-ok");
    T_CHILD_DIES("chan_deadlock", NULL, 2, "all goroutines are asleep - deadlock!");
}

/* ---- close racing with operations (stress) ---- */

typedef struct racer {
    goc_conn *c;
    goc_wg *wg;
} racer;

static void race_reader(void *arg) {
    racer *r = arg;
    char buf[64];
    ssize_t n;
    while ((n = goc_conn_read(r->c, buf, sizeof buf)) > 0) {
    }
    T_CHECK(n == 0 || n == -EBADF || n == -ECONNRESET);
    goc_wg_done(r->wg);
}

static int close_race_main(void *arg) {
    (void)arg;
    for (int i = 0; i < 200 / SCALE; i++) {
        pair p;
        pair_open(&p);
        goc_wg wg = {0};
        racer r = {p.a, &wg};
        goc_wg_add(&wg, 1);
        goc_go(race_reader, &r);
        if (i % 2)
            goc_yield();
        goc_conn_write(p.b, "abc", 3);
        T_CHECK_EQ(goc_conn_close(p.a), 0); /* returns once the reader has left */
        goc_wg_wait(&wg);
        pair_free(&p);
    }
    return 0;
}
static void test_close_race(void) { goc_run(close_race_main, NULL); }

/* ---- a plain thread waiting in poll(2) is woken by goc_fd_close and by its
   dial's context, as a goroutine is ---- */

static _Atomic long tw_tid;

static void tw_wait_asleep(void) {
    long tid;
    while ((tid = atomic_load(&tw_tid)) == 0 || !t_thread_asleep(tid))
        goc_yield();
}

static int tw_pipe[2];
static void *tw_fd_waiter(void *arg) {
    (void)arg;
    atomic_store(&tw_tid, (long)syscall(SYS_gettid));
    return (void *)(intptr_t)goc_fd_wait(tw_pipe[0], POLLIN, 0);
}

static char tw_addr[64];
static goc_ctx *tw_ctx;
static void *tw_dialer(void *arg) {
    (void)arg;
    atomic_store(&tw_tid, (long)syscall(SYS_gettid));
    goc_conn *c = NULL;
    int r = goc_dial(tw_ctx, "tcp", tw_addr, &c);
    if (c)
        goc_conn_close(c);
    return (void *)(intptr_t)r;
}

static int thread_woken_main(void *arg) {
    (void)arg;
    /* goc_fd_close wakes it with EBADF */
    T_CHECK_EQ(pipe(tw_pipe), 0);
    atomic_store(&tw_tid, 0);
    pthread_t t;
    pthread_create(&t, NULL, tw_fd_waiter, NULL);
    tw_wait_asleep();
    T_CHECK_EQ(goc_fd_close(tw_pipe[0]), 0);
    void *r;
    goc_blocking_begin();
    pthread_join(t, &r);
    goc_blocking_end();
    T_CHECK_EQ((intptr_t)r, EBADF);
    close(tw_pipe[1]);

    /* A dial whose connect cannot finish (the listener's accept queue is
       full, so the SYN is dropped) ends with ECANCELED when its context is
       cancelled. */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    T_CHECK_EQ(bind(ls, (struct sockaddr *)&la, sizeof la), 0);
    socklen_t sl = sizeof la;
    getsockname(ls, (struct sockaddr *)&la, &sl);
    T_CHECK_EQ(listen(ls, 0), 0);
    snprintf(tw_addr, sizeof tw_addr, "127.0.0.1:%d", ntohs(la.sin_port));
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&la, sizeof la);
    }
    tw_ctx = goc_ctx_with_cancel(goc_ctx_background());
    atomic_store(&tw_tid, 0);
    pthread_create(&t, NULL, tw_dialer, NULL);
    tw_wait_asleep();
    goc_ctx_cancel(tw_ctx);
    goc_blocking_begin();
    pthread_join(t, &r);
    goc_blocking_end();
    T_CHECK_EQ((intptr_t)r, ECANCELED);
    goc_ctx_release(tw_ctx);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(ls);
    return 0;
}

static void test_thread_woken(void) {
    T_CHECK_EQ(goc_run(thread_woken_main, NULL), 0);
}

/* ---- concurrent callers queue, as Go's fdMutex makes them: several accept
   loops on one listener, several writers whose calls never interleave ---- */

#define CC_ACCEPTERS 3
#define CC_WRITERS 4
#define CC_MSG (512 * 1024) /* far more than a socket buffer: writes wait */

static goc_listener *cc_l;
static goc_chan *cc_res;
static void cc_accepter(void *arg) {
    (void)arg;
    goc_conn *c = NULL;
    int r = goc_accept(cc_l, &c);
    goc_send(cc_res, r);
    if (c) {
        goc_conn_close(c);
        goc_conn_free(c);
    }
}

struct cc_writer {
    goc_conn *c;
    char byte;
    goc_wg *wg;
};
static void cc_write(void *arg) {
    struct cc_writer *w = arg;
    char *buf = malloc(CC_MSG);
    memset(buf, w->byte, CC_MSG);
    T_CHECK_EQ(goc_conn_write(w->c, buf, CC_MSG), CC_MSG);
    free(buf);
    goc_wg_done(w->wg);
}

static int concurrent_main(void *arg) {
    (void)arg;
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1:0", &cc_l), 0);
    char addr[64];
    goc_listener_addr(cc_l, addr, sizeof addr);
    cc_res = goc_chan_of(int, CC_ACCEPTERS);
    for (int i = 0; i < CC_ACCEPTERS; i++)
        go(cc_accepter, NULL);
    t_wait_parked("IO wait (read)", 1); /* one waits on the socket, the others queue */
    for (int i = 0; i < CC_ACCEPTERS; i++) {
        goc_conn *c = NULL;
        T_CHECK_EQ(goc_dial(NULL, "tcp", addr, &c), 0);
        int r = -1;
        goc_recv(cc_res, &r);
        T_CHECK_EQ(r, 0); /* not EBUSY */
        if (c) {
            goc_conn_close(c);
            goc_conn_free(c);
        }
    }

    /* writers on one connection: each message arrives whole */
    goc_conn *a = NULL, *b = NULL;
    T_CHECK_EQ(goc_dial(NULL, "tcp", addr, &a), 0);
    T_CHECK_EQ(goc_accept(cc_l, &b), 0);
    goc_wg wg = {0};
    struct cc_writer ws[CC_WRITERS];
    goc_wg_add(&wg, CC_WRITERS);
    for (int i = 0; i < CC_WRITERS; i++) {
        ws[i] = (struct cc_writer){a, (char)('A' + i), &wg};
        go(cc_write, &ws[i]);
    }
    size_t total = (size_t)CC_MSG * CC_WRITERS, got = 0;
    char *in = malloc(total);
    while (got < total) {
        ssize_t n = goc_conn_read(b, in + got, total - got);
        T_CHECK(n > 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    goc_wg_wait(&wg);
    int seen = 0;
    for (size_t k = 0; k + CC_MSG <= got; k += CC_MSG) {
        bool whole = true;
        for (size_t j = 1; j < CC_MSG; j++)
            whole &= in[k + j] == in[k];
        T_CHECK(whole);
        seen |= 1 << (in[k] - 'A');
    }
    T_CHECK_EQ(seen, (1 << CC_WRITERS) - 1);
    free(in);
    goc_conn_close(a);
    goc_conn_free(a);
    goc_conn_close(b);
    goc_conn_free(b);
    goc_listener_free(cc_l);
    goc_chan_free(cc_res);
    return 0;
}

static void test_concurrent_callers(void) {
    T_CHECK_EQ(goc_run(concurrent_main, NULL), 0);
}

/* ---- a reader woken by another goroutine's close may free the connection
   at once: the free waits for that close to finish (ASan checks) ---- */

static goc_chan *cf_closing;
static void cf_closer(void *arg) {
    goc_chan_recv(cf_closing, NULL);
    goc_conn_close(arg);
}

static int close_free_main(void *arg) {
    (void)arg;
    goc_listener *l;
    T_CHECK_EQ(goc_listen("tcp", "127.0.0.1:0", &l), 0);
    char addr[64];
    goc_listener_addr(l, addr, sizeof addr);
    cf_closing = goc_chan_make(0, 0);
    for (int i = 0; i < 200; i++) {
        goc_conn *a = NULL, *b = NULL;
        T_CHECK_EQ(goc_dial(NULL, "tcp", addr, &a), 0);
        T_CHECK_EQ(goc_accept(l, &b), 0);
        go(cf_closer, a);
        goc_chan_send(cf_closing, NULL); /* the closer is under way */
        char c;
        ssize_t n = goc_conn_read(a, &c, 1); /* woken by the close, or after it */
        T_CHECK_EQ(n, -EBADF);
        goc_conn_free(a); /* the close may still be running */
        goc_conn_free(b);
    }
    goc_chan_free(cf_closing);
    goc_listener_free(l);
    return 0;
}

static void test_close_then_free(void) {
    T_CHECK_EQ(goc_run(close_free_main, NULL), 0);
}

int main(int argc, char **argv) {
    static const t_case cases[] = {
        T_CASE(test_tcp_echo),     T_CASE(test_tcp6_echo),       T_CASE(test_unix_echo),
        T_CASE(test_addresses),    T_CASE(test_listen_forms),    T_CASE(test_read_timeout),    T_CASE(test_deadline_past), T_CASE(test_bad_addresses),
        T_CASE(test_deadline_moved), T_CASE(test_close),         T_CASE(test_dial_refused),
        T_CASE(test_dial_ctx), T_CASE(test_dial_ctx_thread_no_run),     T_CASE(test_pipe), T_CASE(test_queued_fd),            T_CASE(test_plain_thread),
        T_CASE(test_deadlock_detection), T_CASE(test_close_race), T_CASE(test_thread_woken), T_CASE(test_concurrent_callers), T_CASE(test_close_then_free),
    };
    static const t_case children[] = {
        {"netwait_no_deadlock", child_netwait_no_deadlock},
        {"connwait_no_deadlock", child_connwait_no_deadlock},
        {"chan_deadlock", child_chan_deadlock},
        {"abandoned_netwait", child_abandoned_netwait},
        {"netwait_between_runs", child_netwait_between_runs},
        {"thread_read_no_deadlock", child_thread_read_no_deadlock},
    };
    int rc = T_RUN(cases, children);
    if (tmpdir[0])
        rmdir(tmpdir);
    return rc;
}
