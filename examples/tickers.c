/* Tickers, after Go by Example (https://gobyexample.com/tickers).
 *
 *   package main
 *
 *   import (
 *       "fmt"
 *       "time"
 *   )
 *
 *   func main() {
 *       ticker := time.NewTicker(500 * time.Millisecond)
 *       done := make(chan bool)
 *
 *       go func() {
 *           for {
 *               select {
 *               case <-done:
 *                   return
 *               case t := <-ticker.C:
 *                   fmt.Println("Tick at", t)
 *               }
 *           }
 *       }()
 *
 *       time.Sleep(1600 * time.Millisecond)
 *       ticker.Stop()
 *       done <- true
 *       fmt.Println("Ticker stopped")
 *   }
 *
 * A tick is an instant on goc_now's monotonic clock; to print it as Go
 * prints a time.Time (wall clock, then the monotonic reading "m=+..."
 * counted from the program's start), it is turned into wall-clock time by
 * the offset between the two clocks. The times differ from run to run, so
 * there is no expected output to compare: it prints three ticks, then
 * "Ticker stopped".
 */
#include <goc.h>
#include <stdio.h>
#include <time.h>

static int64_t start; /* goc_now() at start: Go's m= counts from there */

/* Prints t as Go's time.Time String: "2006-01-02 15:04:05.999999999 -0700
   MST m=+0.500123456" (trailing zeros of the fraction dropped, as Go). */
static void print_time(int64_t t) {
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t w = (int64_t)wall.tv_sec * GOC_SECOND + wall.tv_nsec - (goc_now() - t);
    time_t secs = (time_t)(w / GOC_SECOND);
    struct tm tm;
    localtime_r(&secs, &tm);
    char date[32], zone[16], frac[16];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    strftime(zone, sizeof zone, "%z %Z", &tm);
    snprintf(frac, sizeof frac, "%09lld", (long long)(w % GOC_SECOND));
    for (int i = 8; i > 0 && frac[i] == '0'; i--)
        frac[i] = 0;
    int64_t m = t - start;
    printf("Tick at %s.%s %s m=+%lld.%09lld\n", date, frac, zone, (long long)(m / GOC_SECOND),
           (long long)(m % GOC_SECOND));
}

typedef struct tick_args {
    goc_ticker *ticker;
    goc_chan *done;
    goc_wg *wg;
} tick_args;

static void ticks(void *arg) {
    tick_args *a = arg;
    for (;;) {
        int64_t t;
        goc_case cs[] = {goc_case_recv(a->done, NULL, NULL),
                         goc_case_recv(goc_ticker_chan(a->ticker), &t, NULL)};
        if (goc_select(cs, 2) == 0)
            break;
        print_time(t);
    }
    goc_wg_done(a->wg);
}

static int main_fn(void *arg) {
    (void)arg;
    start = goc_now();
    goc_ticker *ticker = goc_ticker_new(500 * GOC_MILLISECOND);
    goc_chan *done = goc_chan_of(bool, 0);

    goc_wg wg = {0};
    tick_args a = {ticker, done, &wg};
    goc_wg_add(&wg, 1);
    go(ticks, &a);

    goc_sleep(1600 * GOC_MILLISECOND);
    goc_ticker_stop(ticker);
    goc_send(done, (bool)true);
    printf("Ticker stopped\n");

    goc_wg_wait(&wg); /* the goroutine has returned: both may be freed */
    goc_ticker_free(ticker);
    goc_chan_free(done);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
