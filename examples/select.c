/* Select: Go by Example's "Select", plus a non-blocking select (default).
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
 *         c1 := make(chan string)
 *         c2 := make(chan string)
 *
 *         go func() {
 *             time.Sleep(100 * time.Millisecond)
 *             c1 <- "one"
 *         }()
 *         go func() {
 *             time.Sleep(200 * time.Millisecond)
 *             c2 <- "two"
 *         }()
 *
 *         for i := 0; i < 2; i++ {
 *             select {
 *             case msg1 := <-c1:
 *                 fmt.Println("received", msg1)
 *             case msg2 := <-c2:
 *                 fmt.Println("received", msg2)
 *             }
 *         }
 *
 *         messages := make(chan string)
 *         signals := make(chan bool)
 *         select {
 *         case msg := <-messages:
 *             fmt.Println("received message", msg)
 *         default:
 *             fmt.Println("no message received")
 *         }
 *         msg := "hi"
 *         select {
 *         case messages <- msg:
 *             fmt.Println("sent message", msg)
 *         default:
 *             fmt.Println("no message sent")
 *         }
 *         select {
 *         case msg := <-messages:
 *             fmt.Println("received message", msg)
 *         case sig := <-signals:
 *             fmt.Println("received signal", sig)
 *         default:
 *             fmt.Println("no activity")
 *         }
 *     }
 */
#include <goc.h>
#include <stdio.h>

typedef struct delayed {
    goc_chan *c;
    goc_duration d;
    const char *msg;
} delayed;

static void send_after(void *arg) {
    delayed *a = arg;
    goc_sleep(a->d);
    goc_send(a->c, a->msg);
}

static int main_fn(void *arg) {
    (void)arg;
    goc_chan *c1 = goc_chan_of(const char *, 0);
    goc_chan *c2 = goc_chan_of(const char *, 0);
    delayed a1 = {c1, 100 * GOC_MILLISECOND, "one"}, a2 = {c2, 200 * GOC_MILLISECOND, "two"};
    go(send_after, &a1);
    go(send_after, &a2);

    for (int i = 0; i < 2; i++) {
        const char *msg1, *msg2;
        goc_case cases[] = {goc_case_recv(c1, &msg1, NULL), goc_case_recv(c2, &msg2, NULL)};
        switch (goc_select(cases, 2)) {
        case 0: printf("received %s\n", msg1); break;
        case 1: printf("received %s\n", msg2); break;
        }
    }

    goc_chan *messages = goc_chan_of(const char *, 0);
    goc_chan *signals = goc_chan_of(bool, 0);
    const char *msg;
    bool sig;
    goc_case r[] = {goc_case_recv(messages, &msg, NULL)};
    if (goc_try_select(r, 1) == 0)
        printf("received message %s\n", msg);
    else
        printf("no message received\n");

    const char *hi = "hi";
    goc_case s[] = {goc_case_send(messages, &hi)};
    if (goc_try_select(s, 1) == 0)
        printf("sent message %s\n", hi);
    else
        printf("no message sent\n");

    goc_case rs[] = {goc_case_recv(messages, &msg, NULL), goc_case_recv(signals, &sig, NULL)};
    switch (goc_try_select(rs, 2)) {
    case 0: printf("received message %s\n", msg); break;
    case 1: printf("received signal %s\n", sig ? "true" : "false"); break;
    default: printf("no activity\n");
    }

    goc_chan_free(c1);
    goc_chan_free(c2);
    goc_chan_free(messages);
    goc_chan_free(signals);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
