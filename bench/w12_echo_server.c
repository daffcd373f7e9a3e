/* W12 echo, the C server (../shared/bench/WORKLOADS.md): a TCP echo server
 * with one goroutine per connection, measured by the Go client through
 * ../shared/bench/go/w12_echo.sh --server (bench/w12.sh runs it).
 *
 * It listens on -addr (default 127.0.0.1:0), prints
 *
 *     echo_server_addr 127.0.0.1:PORT addr
 *
 * as its first line on stdout (flushed: stdout is a file), and serves until
 * its stdin reaches end of file (exit 0) or it gets SIGTERM (the default
 * action: status 143, which the script accepts). Each connection's goroutine
 * reads into its own -buf byte buffer (default 4096, the Go server's
 * `--buf 4096` twin) and writes back what it read, until the client closes
 * its side; then it closes the connection. An accept error is fatal (a
 * server that stops accepting would leave the client waiting); an error on
 * one connection closes that connection, the first is printed at once and
 * the count at exit.
 */
#include <goc.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t buf_size = 4096;
static _Atomic long conn_errors;

static void conn_error(int err) {
    if (atomic_fetch_add(&conn_errors, 1) == 0)
        fprintf(stderr, "echo_server: %s (first connection error)\n", strerror(err));
}

static void serve(void *arg) {
    goc_conn *c = arg;
    char *buf = malloc(buf_size);
    for (;;) {
        ssize_t n = goc_conn_read(c, buf, buf_size);
        if (n == 0)
            break; /* the client closed its side */
        if (n < 0) {
            conn_error((int)-n);
            break;
        }
        ssize_t w = goc_conn_write(c, buf, (size_t)n);
        if (w < 0) {
            conn_error((int)-w);
            break;
        }
    }
    free(buf);
    goc_conn_free(c);
}

/* The script holds our stdin open; its end means stop. */
static void watch_stdin(void *arg) {
    (void)arg;
    char b[256];
    while (goc_read(0, b, sizeof b) > 0) {
    }
    long n = atomic_load(&conn_errors);
    if (n > 0)
        fprintf(stderr, "echo_server: %ld connection errors\n", n);
    exit(0);
}

static int server_main(void *arg) {
    const char *addr = arg;
    goc_listener *l;
    int rc = goc_listen("tcp", addr, &l);
    if (rc) {
        fprintf(stderr, "echo_server: listen %s: %s\n", addr, strerror(rc));
        return 1;
    }
    char bound[128];
    goc_listener_addr(l, bound, sizeof bound);
    printf("echo_server_addr %s addr\n", bound);
    fflush(stdout);
    goc_go(watch_stdin, NULL);
    for (;;) {
        goc_conn *c;
        rc = goc_accept(l, &c);
        if (rc) {
            fprintf(stderr, "echo_server: accept: %s\n", strerror(rc));
            return 1;
        }
        goc_go(serve, c);
    }
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1:0";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-addr") && i + 1 < argc) {
            addr = argv[++i];
        } else if (!strcmp(argv[i], "-buf") && i + 1 < argc) {
            long b = atol(argv[++i]);
            if (b <= 0) {
                fprintf(stderr, "echo_server: -buf needs a positive size\n");
                return 2;
            }
            buf_size = (size_t)b;
        } else {
            fprintf(stderr, "usage: %s [-addr host:port] [-buf N]\n", argv[0]);
            return 2;
        }
    }
    return goc_run(server_main, (void *)addr);
}
