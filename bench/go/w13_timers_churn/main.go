// W13 timers churn: a million timers started, all live at once, then
// stopped; the cost of one timer's whole life. The Go anchor of
// bench/w13_timers_churn.c (which frees each timer where Go's GC does).
package main

import (
	"fmt"
	"os"
	"time"
)

const (
	n      = 1000000
	stride = 7919 // a prime, coprime with n: visits every timer once, scattered
)

func main() {
	ts := make([]*time.Timer, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		ts[i] = time.NewTimer(time.Hour + time.Duration(i%1000)*time.Millisecond)
	}
	stopped := 0
	for i := 0; i < n; i++ {
		j := (i * stride) % n
		if ts[j].Stop() {
			stopped++
		}
		ts[j] = nil
	}
	elapsed := time.Since(start)
	if stopped != n {
		fmt.Fprintf(os.Stderr, "timers_churn: %d of %d timers stopped before firing\n", stopped, n)
		os.Exit(1)
	}
	fmt.Printf("timers_churn_ns_per_op %.1f ns\n", float64(elapsed.Nanoseconds())/n)
}
