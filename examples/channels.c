/* Channels, buffering, synchronisation, directions, closing and range:
 * Go by Example's channel programs in one.
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
 *     func worker(done chan bool) {
 *         fmt.Print("working...")
 *         time.Sleep(10 * time.Millisecond)
 *         fmt.Println("done")
 *         done <- true
 *     }
 *
 *     func ping(pings chan<- string, msg string) { pings <- msg }
 *
 *     func pong(pings <-chan string, pongs chan<- string) {
 *         msg := <-pings
 *         pongs <- msg
 *     }
 *
 *     func main() {
 *         messages := make(chan string)
 *         go func() { messages <- "ping" }()
 *         msg := <-messages
 *         fmt.Println(msg)
 *
 *         buffered := make(chan string, 2)
 *         buffered <- "buffered"
 *         buffered <- "channel"
 *         fmt.Println(<-buffered)
 *         fmt.Println(<-buffered)
 *
 *         done := make(chan bool, 1)
 *         go worker(done)
 *         <-done
 *
 *         pings := make(chan string, 1)
 *         pongs := make(chan string, 1)
 *         ping(pings, "passed message")
 *         pong(pings, pongs)
 *         fmt.Println(<-pongs)
 *
 *         jobs := make(chan int, 5)
 *         finished := make(chan bool)
 *         go func() {
 *             for {
 *                 j, more := <-jobs
 *                 if more {
 *                     fmt.Println("received job", j)
 *                 } else {
 *                     fmt.Println("received all jobs")
 *                     finished <- true
 *                     return
 *                 }
 *             }
 *         }()
 *         for j := 1; j <= 3; j++ {
 *             jobs <- j
 *             fmt.Println("sent job", j)
 *         }
 *         close(jobs)
 *         fmt.Println("sent all jobs")
 *         <-finished
 *         _, ok := <-jobs
 *         fmt.Println("received more jobs:", ok)
 *
 *         queue := make(chan string, 2)
 *         queue <- "one"
 *         queue <- "two"
 *         close(queue)
 *         for elem := range queue {
 *             fmt.Println(elem)
 *         }
 *     }
 *
 * Strings travel as pointers (const char *): the channel copies the
 * pointer, as Go copies the string header. C's `true` is an int, so a
 * bool channel gets `(bool)true` (goc_send checks the size). The "sent
 * job"/"received job" lines interleave differently from run to run, in Go
 * too, so expected/channels.sorted.txt holds the lines sorted.
 */
#include <goc.h>
#include <stdio.h>

static void messenger(void *arg) {
    goc_chan *messages = arg;
    goc_send(messages, (const char *)"ping");
}

static void worker(void *arg) {
    goc_chan *done = arg;
    printf("working...");
    fflush(stdout);
    goc_sleep(10 * GOC_MILLISECOND);
    printf("done\n");
    goc_send(done, (bool)true);
}

/* Go's channel directions are a compile-time check; in C they are a
   naming convention. */
static void ping(goc_chan *pings, const char *msg) {
    goc_send(pings, msg);
}

static void pong(goc_chan *pings, goc_chan *pongs) {
    const char *msg;
    goc_recv(pings, &msg);
    goc_send(pongs, msg);
}

typedef struct jobs_args {
    goc_chan *jobs, *finished;
} jobs_args;

static void job_worker(void *arg) {
    jobs_args *a = arg;
    for (;;) {
        int j;
        bool more = goc_recv(a->jobs, &j);
        if (more) {
            printf("received job %d\n", j);
        } else {
            printf("received all jobs\n");
            goc_send(a->finished, (bool)true);
            return;
        }
    }
}

static int main_fn(void *arg) {
    (void)arg;
    goc_chan *messages = goc_chan_of(const char *, 0);
    go(messenger, messages);
    const char *msg;
    goc_recv(messages, &msg);
    printf("%s\n", msg);

    goc_chan *buffered = goc_chan_of(const char *, 2);
    goc_send(buffered, (const char *)"buffered");
    goc_send(buffered, (const char *)"channel");
    goc_recv(buffered, &msg);
    printf("%s\n", msg);
    goc_recv(buffered, &msg);
    printf("%s\n", msg);

    goc_chan *done = goc_chan_of(bool, 1);
    go(worker, done);
    goc_chan_recv(done, NULL);

    goc_chan *pings = goc_chan_of(const char *, 1);
    goc_chan *pongs = goc_chan_of(const char *, 1);
    ping(pings, "passed message");
    pong(pings, pongs);
    goc_recv(pongs, &msg);
    printf("%s\n", msg);

    jobs_args ja = {goc_chan_of(int, 5), goc_chan_of(bool, 0)};
    go(job_worker, &ja);
    for (int j = 1; j <= 3; j++) {
        goc_send(ja.jobs, j);
        printf("sent job %d\n", j);
    }
    goc_chan_close(ja.jobs);
    printf("sent all jobs\n");
    goc_chan_recv(ja.finished, NULL);
    bool ok = goc_chan_recv(ja.jobs, NULL);
    printf("received more jobs: %s\n", ok ? "true" : "false");

    goc_chan *queue = goc_chan_of(const char *, 2);
    goc_send(queue, (const char *)"one");
    goc_send(queue, (const char *)"two");
    goc_chan_close(queue);
    const char *elem;
    goc_chan_range(queue, elem) printf("%s\n", elem);

    goc_chan *all[] = {messages, buffered, done, pings, pongs, ja.jobs, ja.finished, queue};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        goc_chan_free(all[i]);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
