/* sync.Cond with Broadcast: one broadcast releases every waiting goroutine.
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
 *       ready := false
 *       var wg sync.WaitGroup
 *       results := make([]string, 3)
 *
 *       for i := 0; i < 3; i++ {
 *           wg.Add(1)
 *           go func(id int) {
 *               defer wg.Done()
 *               mu.Lock()
 *               for !ready {
 *                   cond.Wait()
 *               }
 *               mu.Unlock()
 *               results[id] = fmt.Sprintf("worker %d started", id)
 *           }(i)
 *       }
 *
 *       mu.Lock()
 *       ready = true
 *       cond.Broadcast()
 *       mu.Unlock()
 *
 *       wg.Wait()
 *       fmt.Println("all workers released")
 *       for _, r := range results {
 *           fmt.Println(r)
 *       }
 *   }
 *
 * goc_cond_init(&cond, &mu) is sync.NewCond(&mu).
 */
#include <goc.h>
#include <stdint.h>
#include <stdio.h>

static goc_mutex mu;
static goc_cond cond;
static bool ready;
static goc_wg wg;
static char results[3][32];

static void worker(void *arg) {
    int id = (int)(intptr_t)arg;
    goc_mutex_lock(&mu);
    while (!ready)
        goc_cond_wait(&cond);
    goc_mutex_unlock(&mu);
    snprintf(results[id], sizeof results[id], "worker %d started", id);
    goc_wg_done(&wg);
}

static int main_fn(void *arg) {
    (void)arg;
    goc_cond_init(&cond, &mu);
    for (int i = 0; i < 3; i++) {
        goc_wg_add(&wg, 1);
        goc_go(worker, (void *)(intptr_t)i);
    }

    goc_mutex_lock(&mu);
    ready = true;
    goc_cond_broadcast(&cond);
    goc_mutex_unlock(&mu);

    goc_wg_wait(&wg);
    printf("all workers released\n");
    for (int i = 0; i < 3; i++)
        printf("%s\n", results[i]);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
