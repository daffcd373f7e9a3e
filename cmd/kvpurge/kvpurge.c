/* kvpurge: deletes every key of a Redis server's database 0 (or those matching a
 * pattern), the way a Go program would: one goroutine pages through the
 * keyspace with SCAN and pushes each page into a channel; a pool of worker
 * goroutines, each with its own connection, deletes the pages' keys; a
 * ticker prints progress every second; a context carries the run's timeout
 * and stops everything when the error limit is exceeded.
 *
 * Connections are goc's own sockets (goc_dial); hiredis serves only as the
 * RESP2 codec (redisFormatCommandArgv to encode, a redisReader to decode).
 *
 * Deleting: per page, one pipelined batch of UNLINK key commands (DEL with
 * --del), one round trip per page. Per key rather than one multi-key
 * UNLINK, because each key then gets its own reply: 1 deleted, 0 already
 * gone (expired, or returned twice by SCAN, which may happen while the
 * keyspace changes), or an error that counts against --max-errors. UNLINK
 * rather than DEL by default because it frees big values in the server's
 * background thread, so a purge does not stall other clients.
 *
 * Invariants:
 * - The page channel is closed only by the scanner; workers stop when it is
 *   closed and drained or when the context is done. Pages still queued then
 *   are freed by main after every goroutine has finished.
 * - Every live connection is in `conns`, under conns_mu, and has --timeout's
 *   instant as its deadline, so a goroutine waiting on Redis wakes then with
 *   ETIMEDOUT even once another stop has cancelled the context; when the
 *   context times out, a goc_ctx_after_func callback also moves every
 *   connection's deadline to the past. Other stops let the pages in flight
 *   finish.
 * - The report accounts for every scanned key: deleted + missing + failed
 *   + unknown (sent, no reply read) + not attempted = scanned.
 *
 * Exit status: 0 when every matching key was deleted (or, with --dry-run,
 * counted), 1 on any failure, timeout or error limit, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <goc.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORKERS 1024

typedef struct options {
    const char *addr;
    const char *match;
    long count;               /* SCAN's COUNT hint: keys per page */
    int workers;
    bool dry_run;
    long max_errors;          /* stop once failures exceed this */
    int64_t timeout;          /* the whole run; 0: none */
    bool use_del;
    bool quiet;               /* no progress lines */
    int64_t progress;         /* between progress lines */
} options;

/* One page of keys from SCAN. */
typedef struct page {
    size_t n;
    char **keys;
    size_t *lens;
} page;

/* A Redis connection: goc's socket plus hiredis's decoder. */
typedef struct rconn {
    goc_conn *c;
    redisReader *rd;
    char *out;                /* commands waiting to be written */
    size_t outlen, outcap;
} rconn;

static options opt = {
    .addr = "127.0.0.1:6379", .match = "*", .count = 1000, .workers = 8, .max_errors = 0,
    .progress = GOC_SECOND,
};

static struct {
    goc_ctx *ctx;
    goc_chan *pages;          /* page *, closed by the scanner */
    _Atomic long scanned, deleted, missing, failed;
    _Atomic long unknown;     /* sent, but the run stopped before their replies came */
    _Atomic bool limit_hit;
    _Atomic bool scan_done;   /* the scanner went through the whole keyspace */
    int64_t deadline;         /* --timeout's instant, or 0 */
    goc_mutex conns_mu;
    rconn *conns[MAX_WORKERS + 1];
    goc_mutex err_mu;
    char fatal[256];          /* the first error that stopped the run */
} app;

/* ---- errors ---- */

/* Records the first error that stops the run, and stops it. */
static void stop_with(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void stop_with(const char *fmt, ...) {
    goc_mutex_lock(&app.err_mu);
    if (!app.fatal[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(app.fatal, sizeof app.fatal, fmt, ap);
        va_end(ap);
    }
    goc_mutex_unlock(&app.err_mu);
    goc_ctx_cancel(app.ctx);
}

/* An I/O error seen by a goroutine: the context's own error if it ended
   (the deadline moved by the cancel callback shows up as ETIMEDOUT). */
static const char *io_error(int err) {
    int ce = goc_ctx_err(app.ctx);
    if (ce == ETIMEDOUT)
        return "timed out (--timeout)";
    if (ce)
        return "cancelled";
    return strerror(err);
}

/* ---- connections ---- */

static void conns_track(rconn *rc, bool add) {
    goc_mutex_lock(&app.conns_mu);
    for (int i = 0; i <= MAX_WORKERS; i++) {
        if (add ? app.conns[i] == NULL : app.conns[i] == rc) {
            app.conns[i] = add ? rc : NULL;
            break;
        }
    }
    if (add && goc_ctx_err(app.ctx) == ETIMEDOUT)
        goc_conn_set_deadline(rc->c, goc_now() - 1); /* timed out before we got here */
    goc_mutex_unlock(&app.conns_mu);
}

/* The context timed out: wake everyone waiting on Redis, which may be
   stuck. Any other stop (the error limit, a failed connection) lets the
   pages already sent finish, so that every reply Redis gives is counted:
   the server did those deletes whether or not we read the answers. */
static void conns_interrupt(void *arg) {
    (void)arg;
    if (goc_ctx_err(app.ctx) != ETIMEDOUT)
        return;
    goc_mutex_lock(&app.conns_mu);
    for (int i = 0; i <= MAX_WORKERS; i++)
        if (app.conns[i])
            goc_conn_set_deadline(app.conns[i]->c, goc_now() - 1);
    goc_mutex_unlock(&app.conns_mu);
}

static int rconn_open(rconn *rc) {
    memset(rc, 0, sizeof *rc);
    int err = goc_dial(app.ctx, "tcp", opt.addr, &rc->c);
    if (err)
        return err;
    rc->rd = redisReaderCreate();
    if (!rc->rd) {
        goc_conn_free(rc->c);
        return ENOMEM;
    }
    /* --timeout holds for every reply, also once the run has stopped for
       another reason (which cancels the context, so its timeout no longer
       fires) and a worker still waits for a page in flight. */
    if (app.deadline)
        goc_conn_set_deadline(rc->c, app.deadline);
    conns_track(rc, true);
    return 0;
}

static void rconn_close(rconn *rc) {
    if (!rc->c)
        return;
    conns_track(rc, false);
    goc_conn_free(rc->c);
    redisReaderFree(rc->rd);
    free(rc->out);
    rc->c = NULL;
}

/* Queues one command (RESP2 encoding by hiredis). 0 or ENOMEM. */
static int rconn_queue(rconn *rc, int argc, const char **argv, const size_t *lens) {
    char *cmd;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0)
        return ENOMEM;
    if (rc->outlen + (size_t)len > rc->outcap) {
        size_t cap = rc->outcap ? rc->outcap : 4096;
        while (cap < rc->outlen + (size_t)len)
            cap *= 2;
        char *p = realloc(rc->out, cap);
        if (!p) {
            redisFreeCommand(cmd);
            return ENOMEM;
        }
        rc->out = p;
        rc->outcap = cap;
    }
    memcpy(rc->out + rc->outlen, cmd, (size_t)len);
    rc->outlen += (size_t)len;
    redisFreeCommand(cmd);
    return 0;
}

/* Writes every queued command in one go. 0 or errno. */
static int rconn_flush(rconn *rc) {
    ssize_t n = goc_conn_write(rc->c, rc->out, rc->outlen);
    rc->outlen = 0;
    return n < 0 ? (int)-n : 0;
}

/* The next reply (free it with freeReplyObject). 0, or errno (EPROTO for a
   reply hiredis cannot parse, ECONNRESET when Redis closed). */
static int rconn_reply(rconn *rc, redisReply **out) {
    char buf[16384];
    for (;;) {
        void *r = NULL;
        if (redisReaderGetReply(rc->rd, &r) != REDIS_OK)
            return EPROTO;
        if (r) {
            *out = r;
            return 0;
        }
        ssize_t n = goc_conn_read(rc->c, buf, sizeof buf);
        if (n == 0)
            return ECONNRESET;
        if (n < 0)
            return (int)-n;
        redisReaderFeed(rc->rd, buf, (size_t)n);
    }
}

/* ---- pages ---- */

static void page_free(page *p) {
    for (size_t i = 0; i < p->n; i++)
        free(p->keys[i]);
    free(p->keys);
    free(p->lens);
    free(p);
}

/* Copies SCAN's key array into a page. NULL if out of memory. */
static page *page_from(redisReply *arr) {
    page *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->keys = calloc(arr->elements ? arr->elements : 1, sizeof *p->keys);
    p->lens = calloc(arr->elements ? arr->elements : 1, sizeof *p->lens);
    if (!p->keys || !p->lens) {
        page_free(p);
        return NULL;
    }
    for (size_t i = 0; i < arr->elements; i++) {
        redisReply *k = arr->element[i];
        if (k->type != REDIS_REPLY_STRING)
            continue;
        p->keys[p->n] = malloc(k->len + 1);
        if (!p->keys[p->n]) {
            page_free(p);
            return NULL;
        }
        memcpy(p->keys[p->n], k->str, k->len + 1);
        p->lens[p->n] = k->len;
        p->n++;
    }
    return p;
}

/* ---- the scanner: SCAN pages into the channel ---- */

static void scanner(void *arg) {
    goc_wg *wg = arg;
    rconn rc;
    int err = rconn_open(&rc);
    if (err) {
        stop_with("connect to %s: %s", opt.addr, io_error(err));
        goto out;
    }
    char cursor[32] = "0", count[32];
    snprintf(count, sizeof count, "%ld", opt.count);
    bool match = strcmp(opt.match, "*") != 0;
    for (;;) {
        const char *argv[6] = {"SCAN", cursor, "COUNT", count, "MATCH", opt.match};
        size_t lens[6];
        for (int i = 0; i < 6; i++)
            lens[i] = strlen(argv[i]);
        redisReply *r = NULL;
        err = rconn_queue(&rc, match ? 6 : 4, argv, lens);
        if (!err)
            err = rconn_flush(&rc);
        if (!err)
            err = rconn_reply(&rc, &r);
        if (err) {
            stop_with("SCAN: %s", io_error(err));
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            stop_with("SCAN: %s", r->str);
            freeReplyObject(r);
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY ||
            r->element[0]->len >= sizeof cursor) {
            stop_with("SCAN: unexpected reply");
            freeReplyObject(r);
            break;
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
        page *p = page_from(r->element[1]);
        freeReplyObject(r);
        if (!p) {
            stop_with("out of memory");
            break;
        }
        atomic_fetch_add(&app.scanned, (long)p->n);
        if (p->n == 0) {
            page_free(p);
        } else {
            /* Go's select { case pages <- p: case <-ctx.Done(): } */
            goc_case cases[2] = {goc_case_send(app.pages, &p),
                                 goc_case_recv(goc_ctx_done(app.ctx), NULL, NULL)};
            if (goc_select(cases, 2) == 1) {
                page_free(p);
                break;
            }
        }
        if (!strcmp(cursor, "0")) {
            atomic_store(&app.scan_done, true);
            break; /* a full iteration */
        }
    }
    rconn_close(&rc);
out:
    goc_chan_close(app.pages);
    goc_wg_done(wg);
}

/* ---- workers: delete each page's keys ---- */

static void count_failure(const char *why) {
    long f = atomic_fetch_add(&app.failed, 1) + 1;
    if (f == 1)
        fprintf(stderr, "kvpurge: first failure: %s\n", why);
    if (f > opt.max_errors && !atomic_exchange(&app.limit_hit, true))
        stop_with("more than %ld errors (--max-errors)", opt.max_errors);
}

/* Deletes the keys of p with one pipelined batch. 0 or an I/O errno. */
static int delete_page(rconn *rc, page *p) {
    const char *verb = opt.use_del ? "DEL" : "UNLINK";
    size_t vlen = strlen(verb);
    for (size_t i = 0; i < p->n; i++) {
        const char *argv[2] = {verb, p->keys[i]};
        size_t lens[2] = {vlen, p->lens[i]};
        int err = rconn_queue(rc, 2, argv, lens);
        if (err)
            return err; /* nothing sent yet: the page is not attempted */
    }
    int err = rconn_flush(rc);
    if (err)
        atomic_fetch_add(&app.unknown, (long)p->n); /* part may have gone out */
    for (size_t i = 0; i < p->n && !err; i++) {
        redisReply *r;
        err = rconn_reply(rc, &r);
        if (err) {
            /* the server may have done them: neither deleted nor failed */
            atomic_fetch_add(&app.unknown, (long)(p->n - i));
            break;
        }
        if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
            atomic_fetch_add(&app.deleted, 1);
        else if (r->type == REDIS_REPLY_INTEGER)
            atomic_fetch_add(&app.missing, 1);
        else
            count_failure(r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
    }
    return err;
}

static void worker(void *arg) {
    goc_wg *wg = arg;
    rconn rc = {0};
    int err = opt.dry_run ? 0 : rconn_open(&rc);
    if (err) {
        stop_with("connect to %s: %s", opt.addr, io_error(err));
        goc_wg_done(wg);
        return;
    }
    for (;;) {
        page *p = NULL;
        bool ok = false;
        goc_case cases[2] = {goc_case_recv(app.pages, &p, &ok),
                             goc_case_recv(goc_ctx_done(app.ctx), NULL, NULL)};
        if (goc_select(cases, 2) == 1 || !ok)
            break;
        if (goc_ctx_err(app.ctx)) { /* both were ready: the stop wins */
            page_free(p);
            break;
        }
        if (opt.dry_run) {
            atomic_fetch_add(&app.deleted, (long)p->n); /* would delete */
        } else if ((err = delete_page(&rc, p)) != 0) {
            stop_with("delete: %s", io_error(err));
            page_free(p);
            break;
        }
        page_free(p);
    }
    rconn_close(&rc);
    goc_wg_done(wg);
}

/* ---- progress ---- */

typedef struct progress {
    goc_chan *stop;
    goc_wg done;
    int64_t start;
} progress;

static void progress_loop(void *arg) {
    progress *pr = arg;
    goc_ticker *t = goc_ticker_new(opt.progress);
    long last_scanned = 0, last_deleted = 0;
    int64_t last = pr->start;
    for (;;) {
        int64_t now = 0;
        goc_case cases[2] = {goc_case_recv(goc_ticker_chan(t), &now, NULL),
                             goc_case_recv(pr->stop, NULL, NULL)};
        if (goc_select(cases, 2) == 1)
            break;
        long s = atomic_load(&app.scanned), d = atomic_load(&app.deleted);
        double dt = (double)(now - last) / 1e9;
        fprintf(stderr, "kvpurge: %5.1fs scanned %ld (%.0f/s) %s %ld (%.0f/s) failed %ld\n",
                (double)(now - pr->start) / 1e9, s, (double)(s - last_scanned) / dt,
                opt.dry_run ? "matched" : "deleted", d, (double)(d - last_deleted) / dt,
                atomic_load(&app.failed));
        last_scanned = s;
        last_deleted = d;
        last = now;
    }
    goc_ticker_stop(t);
    goc_ticker_free(t);
    goc_wg_done(&pr->done);
}

/* ---- main ---- */

static int purge_main(void *arg) {
    (void)arg;
    if (opt.timeout > 0) {
        int64_t now = goc_now();
        app.deadline = opt.timeout > INT64_MAX - now ? INT64_MAX : now + opt.timeout;
        app.ctx = goc_ctx_with_deadline(goc_ctx_background(), app.deadline);
    } else {
        app.ctx = goc_ctx_with_cancel(goc_ctx_background());
    }
    goc_ctx_after *interrupt = goc_ctx_after_func(app.ctx, conns_interrupt, NULL);
    /* A little queue lets the scanner run ahead of busy workers. */
    app.pages = goc_chan_of(page *, (size_t)opt.workers * 2);

    progress pr = {.stop = goc_chan_of(int, 0), .start = goc_now()};
    if (!opt.quiet) {
        goc_wg_add(&pr.done, 1);
        goc_go(progress_loop, &pr);
    }
    goc_wg wg = {0};
    goc_wg_add(&wg, 1 + opt.workers);
    goc_go(scanner, &wg);
    for (int i = 0; i < opt.workers; i++)
        goc_go(worker, &wg);
    goc_wg_wait(&wg);
    int64_t elapsed = goc_now() - pr.start;
    goc_chan_close(pr.stop);
    if (!opt.quiet)
        goc_wg_wait(&pr.done);

    /* Pages left behind by a stopped run. */
    page *p;
    bool ok;
    while (goc_chan_try_recv(app.pages, &p, &ok) && ok)
        page_free(p);

    /* If the conns_interrupt goroutine started, it must finish before the
       context goes: it holds conns_mu while it runs. */
    if (!goc_ctx_after_stop(interrupt)) {
        goc_mutex_lock(&app.conns_mu);
        goc_mutex_unlock(&app.conns_mu);
    }
    goc_ctx_after_free(interrupt);
    int ctx_err = goc_ctx_err(app.ctx);
    goc_ctx_release(app.ctx);
    goc_chan_free(app.pages);
    goc_chan_free(pr.stop);

    long scanned = atomic_load(&app.scanned), deleted = atomic_load(&app.deleted),
         missing = atomic_load(&app.missing), failed = atomic_load(&app.failed),
         unknown = atomic_load(&app.unknown);
    /* the keys of pages no worker took before the stop */
    long untried = scanned - deleted - missing - failed - unknown;
    double secs = (double)elapsed / 1e9;
    /* The deadline may pass just after the last page was done: nothing
       stopped then, the run is complete. */
    bool complete = atomic_load(&app.scan_done) && unknown == 0 && untried == 0;
    if (ctx_err == ETIMEDOUT && !app.fatal[0] && !complete)
        snprintf(app.fatal, sizeof app.fatal, "timed out (--timeout)");
    char extra[96] = "";
    if (unknown > 0 || untried > 0)
        snprintf(extra, sizeof extra, ", unknown %ld, not attempted %ld", unknown, untried);
    printf("kvpurge: %s%s: scanned %ld, %s %ld, missing %ld, failed %ld%s, elapsed %.2f s, "
           "%.0f keys/s\n",
           opt.dry_run ? "dry run " : "", app.fatal[0] ? "stopped" : "done", scanned,
           opt.dry_run ? "would delete" : "deleted", deleted, missing, failed, extra, secs,
           secs > 0 ? (double)(deleted + missing + failed) / secs : 0.0);
    if (app.fatal[0])
        fprintf(stderr, "kvpurge: stopped: %s\n", app.fatal);
    return app.fatal[0] || failed > 0 ? 1 : 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: kvpurge [options]\n"
            "Deletes every key of a Redis server's database 0, the one clients use by default\n"
            "(SCAN, then pipelined UNLINK by a pool of workers).\n"
            "  --addr HOST:PORT   the server (default 127.0.0.1:6379)\n"
            "  --match PATTERN    only keys matching this glob (default *)\n"
            "  --count N          keys per SCAN page, a hint to Redis (default 1000)\n"
            "  --workers N        deleting goroutines, one connection each (default 8)\n"
            "  --max-errors N     stop once more than N deletes have failed (default 0);\n"
            "                     the pages already sent finish, and are counted\n"
            "  --timeout D        stop after D (e.g. 30s, 500ms, 2m; default none)\n"
            "  --dry-run          count the matching keys (SCAN may return one twice), delete nothing\n"
            "  --del              use DEL instead of UNLINK\n"
            "  --progress D       time between progress lines (default 1s)\n"
            "  --quiet            no progress lines\n"
            "Progress goes to stderr; the final report to stdout.\n"
            "Exit status: 0 all deleted, 1 failures or stopped, 2 usage.\n");
}

/* A number in [lo, hi]. */
static bool parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* "1.5s", "500ms", "2m", "1h", "250us"; a bare number is seconds. */
static bool parse_duration(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* decimal digits only: strtod also takes a sign, "nan", "inf", hex and
       exponents */
    if (errno || end == s || strspn(s, "0123456789.") != (size_t)(end - s) || !(v > 0))
        return false;
    double unit = (double)GOC_SECOND;
    if (!strcmp(end, "ms"))
        unit = (double)GOC_MILLISECOND;
    else if (!strcmp(end, "us"))
        unit = (double)GOC_MICROSECOND;
    else if (!strcmp(end, "m"))
        unit = (double)GOC_MINUTE;
    else if (!strcmp(end, "h"))
        unit = (double)GOC_HOUR;
    else if (*end && strcmp(end, "s"))
        return false;
    if (v * unit > 9e18 || v * unit < 1)
        return false; /* out of range, or under a nanosecond (it would mean none) */
    *out = (int64_t)(v * unit);
    return true;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        bool ok = true, valued = true; /* valued: the option takes the next argument */
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--dry-run")) {
            opt.dry_run = true;
            valued = false;
        } else if (!strcmp(a, "--del")) {
            opt.use_del = true;
            valued = false;
        } else if (!strcmp(a, "--quiet")) {
            opt.quiet = true;
            valued = false;
        } else if (!strcmp(a, "--addr")) {
            opt.addr = v;
        } else if (!strcmp(a, "--match")) {
            opt.match = v;
        } else if (!strcmp(a, "--count")) {
            ok = v && parse_long(v, 1, 1000000, &opt.count);
        } else if (!strcmp(a, "--workers")) {
            ok = v && parse_long(v, 1, MAX_WORKERS, &n);
            opt.workers = (int)n;
        } else if (!strcmp(a, "--max-errors")) {
            ok = v && parse_long(v, 0, LONG_MAX - 1, &opt.max_errors);
        } else if (!strcmp(a, "--timeout")) {
            ok = v && parse_duration(v, &opt.timeout);
        } else if (!strcmp(a, "--progress")) {
            ok = v && parse_duration(v, &opt.progress);
        } else {
            fprintf(stderr, "kvpurge: %s %s\n", a[0] == '-' ? "unknown option" : "unexpected argument", a);
            usage(stderr);
            return 2;
        }
        if (valued && !v)
            fprintf(stderr, "kvpurge: %s needs a value\n", a);
        else if (!ok)
            fprintf(stderr, "kvpurge: bad value for %s: '%s'\n", a, v);
        if ((valued && !v) || !ok) {
            usage(stderr);
            return 2;
        }
        if (valued)
            i++;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    return goc_run(purge_main, NULL);
}
