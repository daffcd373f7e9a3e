/* Timers, after Go by Example (https://gobyexample.com/timers).
 *
 *   package main
 *
 *   import (
 *       "fmt"
 *       "time"
 *   )
 *
 *   func main() {
 *       timer1 := time.NewTimer(2 * time.Second)
 *
 *       <-timer1.C
 *       fmt.Println("Timer 1 fired")
 *
 *       timer2 := time.NewTimer(time.Second)
 *       go func() {
 *           <-timer2.C
 *           fmt.Println("Timer 2 fired")
 *       }()
 *       stop2 := timer2.Stop()
 *       if stop2 {
 *           fmt.Println("Timer 2 stopped")
 *       }
 *
 *       time.Sleep(2 * time.Second)
 *   }
 *
 * A goc_timer's channel carries the instant it fired (an int64_t on
 * goc_now's clock); receiving with a NULL destination discards it, as
 * `<-timer1.C` does. The goroutine that waits on timer2 waits forever, as in
 * Go, so timer2 cannot be freed while it waits: the program ends with it
 * still there (a static keeps it reachable), exactly as the Go program ends.
 */
#include <goc.h>
#include <stdio.h>

static goc_timer *timer2;

static void wait_timer2(void *arg) {
    (void)arg;
    goc_chan_recv(goc_timer_chan(timer2), NULL);
    printf("Timer 2 fired\n");
}

static int main_fn(void *arg) {
    (void)arg;
    goc_timer *timer1 = goc_timer_new(2 * GOC_SECOND);

    goc_chan_recv(goc_timer_chan(timer1), NULL);
    printf("Timer 1 fired\n");
    goc_timer_free(timer1);

    timer2 = goc_timer_new(GOC_SECOND);
    go(wait_timer2, NULL);
    bool stop2 = goc_timer_stop(timer2);
    if (stop2)
        printf("Timer 2 stopped\n");

    goc_sleep(2 * GOC_SECOND);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
