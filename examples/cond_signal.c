/* sync.Cond with Signal: a consumer waits for items that a producer queues.
 *
 *   package main
 *
 *   import (
 *       "fmt"
 *       "sync"
 *   )
 *
 *   func main() {
 *       var mu sync.Mutex
 *       cond := sync.NewCond(&mu)
 *       var queue []int
 *       var wg sync.WaitGroup
 *
 *       wg.Add(1)
 *       go func() {
 *           defer wg.Done()
 *           for i := 0; i < 5; i++ {
 *               mu.Lock()
 *               for len(queue) == 0 {
 *                   cond.Wait()
 *               }
 *               item := queue[0]
 *               queue = queue[1:]
 *               mu.Unlock()
 *               fmt.Println("consumed", item)
 *           }
 *       }()
 *
 *       for i := 1; i <= 5; i++ {
 *           mu.Lock()
 *           queue = append(queue, i*10)
 *           cond.Signal()
 *           mu.Unlock()
 *       }
 *       wg.Wait()
 *   }
 *
 * goc_cond's L is public, as Go's: {.L = &mu} is sync.NewCond(&mu). Signal
 * wakes the goroutine that has waited longest; a wait never returns without
 * a signal, so the loop around it is for the condition, as in Go.
 */
#include <goc.h>
#include <stdio.h>

static goc_mutex mu;
static goc_cond cond = {.L = &mu};
static int queue[5], head, tail; /* Go: var queue []int */
static goc_wg wg;

static void consumer(void *arg) {
    (void)arg;
    for (int i = 0; i < 5; i++) {
        goc_mutex_lock(&mu);
        while (head == tail)
            goc_cond_wait(&cond);
        int item = queue[head++];
        goc_mutex_unlock(&mu);
        printf("consumed %d\n", item);
    }
    goc_wg_done(&wg);
}

static int main_fn(void *arg) {
    (void)arg;
    goc_wg_add(&wg, 1);
    goc_go(consumer, NULL);

    for (int i = 1; i <= 5; i++) {
        goc_mutex_lock(&mu);
        queue[tail++] = i * 10;
        goc_cond_signal(&cond);
        goc_mutex_unlock(&mu);
    }
    goc_wg_wait(&wg);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
