/* WaitGroups, after Go by Example (https://gobyexample.com/waitgroups).
 *
 * The workers start and finish in an order that changes from run to run, in
 * Go as here; examples/expected/waitgroups.sorted.txt holds the lines sorted,
 * and the tour compares the output after sorting it.
 *
 *   package main
 *
 *   import (
 *       "fmt"
 *       "sync"
 *       "time"
 *   )
 *
 *   func worker(id int) {
 *       fmt.Printf("Worker %d starting\n", id)
 *
 *       // Sleep to simulate an expensive task.
 *       time.Sleep(time.Second)
 *       fmt.Printf("Worker %d done\n", id)
 *   }
 *
 *   func main() {
 *       var wg sync.WaitGroup
 *
 *       for i := 1; i <= 5; i++ {
 *           wg.Add(1)
 *           go func(id int) {
 *               defer wg.Done()
 *               worker(id)
 *           }(i)
 *       }
 *
 *       wg.Wait()
 *   }
 *
 * goc_wg is ready when zero-filled, as sync.WaitGroup; the id travels in the
 * goroutine's void pointer argument, as Go passes it by value.
 */
#include <goc.h>
#include <stdint.h>
#include <stdio.h>

static goc_wg wg;

static void worker(int id) {
    printf("Worker %d starting\n", id);

    /* Sleep to simulate an expensive task. */
    goc_sleep(GOC_SECOND);
    printf("Worker %d done\n", id);
}

static void run_worker(void *arg) {
    worker((int)(intptr_t)arg);
    goc_wg_done(&wg);
}

static int main_goroutine(void *arg) {
    (void)arg;
    for (int i = 1; i <= 5; i++) {
        goc_wg_add(&wg, 1);
        go(run_worker, (void *)(intptr_t)i);
    }

    goc_wg_wait(&wg);
    return 0;
}

int main(void) {
    return goc_run(main_goroutine, NULL);
}
