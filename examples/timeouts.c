/* Timeouts: Go by Example's "Timeouts". A timeout case costs no channel
 * and no timer object: goc_case_timeout(d) is Go's `case <-time.After(d)`.
 *
 * The Go program it mirrors:
 *
 *     package main
 *
 *     import (
 *         "fmt"
 *         "time"
 *     )
 *
 *     func main() {
 *         c1 := make(chan string, 1)
 *         go func() {
 *             time.Sleep(2 * time.Second)
 *             c1 <- "result 1"
 *         }()
 *         select {
 *         case res := <-c1:
 *             fmt.Println(res)
 *         case <-time.After(1 * time.Second):
 *             fmt.Println("timeout 1")
 *         }
 *
 *         c2 := make(chan string, 1)
 *         go func() {
 *             time.Sleep(2 * time.Second)
 *             c2 <- "result 2"
 *         }()
 *         select {
 *         case res := <-c2:
 *             fmt.Println(res)
 *         case <-time.After(3 * time.Second):
 *             fmt.Println("timeout 2")
 *         }
 *     }
 *
 * The buffered channels let the first goroutine finish its send after the
 * select has given up on it, so nothing leaks. Here main waits for that
 * goroutine before freeing c1 (Go's garbage collector does this for Go).
 */
#include <goc.h>
#include <stdio.h>

typedef struct delayed {
    goc_chan *c;
    const char *msg;
    goc_wg *wg;
} delayed;

static void slow_result(void *arg) {
    delayed *a = arg;
    goc_sleep(2 * GOC_SECOND);
    goc_send(a->c, a->msg);
    goc_wg_done(a->wg);
}

static int main_fn(void *arg) {
    (void)arg;
    goc_wg wg = {0};
    goc_chan *c1 = goc_chan_of(const char *, 1);
    delayed a1 = {c1, "result 1", &wg};
    goc_wg_add(&wg, 1);
    go(slow_result, &a1);
    const char *res;
    goc_case cs1[] = {goc_case_recv(c1, &res, NULL), goc_case_timeout(1 * GOC_SECOND)};
    if (goc_select(cs1, 2) == 0)
        printf("%s\n", res);
    else
        printf("timeout 1\n");

    goc_chan *c2 = goc_chan_of(const char *, 1);
    delayed a2 = {c2, "result 2", &wg};
    goc_wg_add(&wg, 1);
    go(slow_result, &a2);
    goc_case cs2[] = {goc_case_recv(c2, &res, NULL), goc_case_timeout(3 * GOC_SECOND)};
    if (goc_select(cs2, 2) == 0)
        printf("%s\n", res);
    else
        printf("timeout 2\n");

    goc_wg_wait(&wg);
    goc_chan_free(c1);
    goc_chan_free(c2);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
