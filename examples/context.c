/* Context, after Go by Example (https://gobyexample.com/context), without
 * the HTTP server: the handler becomes a worker whose job would take 2 s,
 * and the request's context a timeout of 1 s that cancels it.
 *
 *   package main
 *
 *   import (
 *       "context"
 *       "fmt"
 *       "sync"
 *       "time"
 *   )
 *
 *   func worker(ctx context.Context, wg *sync.WaitGroup) {
 *       defer wg.Done()
 *       fmt.Println("worker: started")
 *       defer fmt.Println("worker: ended")
 *
 *       select {
 *       case <-time.After(2 * time.Second):
 *           fmt.Println("worker: finished the job")
 *       case <-ctx.Done():
 *           err := ctx.Err()
 *           fmt.Println("worker:", err)
 *       }
 *   }
 *
 *   func main() {
 *       ctx, cancel := context.WithTimeout(context.Background(), time.Second)
 *       defer cancel()
 *
 *       var wg sync.WaitGroup
 *       wg.Add(1)
 *       go worker(ctx, &wg)
 *       wg.Wait()
 *       fmt.Println("main:", ctx.Err())
 *   }
 *
 * goc's errors are errno values: ETIMEDOUT is Go's DeadlineExceeded and
 * ECANCELED its Canceled; ctx_error() prints them with Go's words. The
 * context is released (Go's deferred cancel) once the worker is done with
 * it; a worker that could outlive main would take its own reference with
 * goc_ctx_retain.
 */
#include <errno.h>
#include <goc.h>
#include <stdio.h>

static goc_wg wg;

/* Go's error strings for the context errors. */
static const char *ctx_error(int err) {
    switch (err) {
    case 0:
        return "<nil>";
    case ECANCELED:
        return "context canceled";
    case ETIMEDOUT:
        return "context deadline exceeded";
    default:
        return "unknown error";
    }
}

static void worker(void *arg) {
    goc_ctx *ctx = arg;
    printf("worker: started\n");

    goc_case cs[] = {goc_case_timeout(2 * GOC_SECOND),
                     goc_case_recv(goc_ctx_done(ctx), NULL, NULL)};
    if (goc_select(cs, 2) == 0) {
        printf("worker: finished the job\n");
    } else {
        int err = goc_ctx_err(ctx);
        printf("worker: %s\n", ctx_error(err));
    }

    printf("worker: ended\n");
    goc_wg_done(&wg);
}

static int main_fn(void *arg) {
    (void)arg;
    goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), GOC_SECOND);

    goc_wg_add(&wg, 1);
    go(worker, ctx);
    goc_wg_wait(&wg);
    printf("main: %s\n", ctx_error(goc_ctx_err(ctx)));

    goc_ctx_release(ctx);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
