/* Mutexes, after Go by Example (https://gobyexample.com/mutexes).
 *
 *   package main
 *
 *   import (
 *       "fmt"
 *       "sync"
 *   )
 *
 *   type Container struct {
 *       mu       sync.Mutex
 *       counters map[string]int
 *   }
 *
 *   func (c *Container) inc(name string) {
 *       c.mu.Lock()
 *       defer c.mu.Unlock()
 *       c.counters[name]++
 *   }
 *
 *   func main() {
 *       c := Container{
 *           counters: map[string]int{"a": 0, "b": 0},
 *       }
 *
 *       var wg sync.WaitGroup
 *
 *       doIncrement := func(name string, n int) {
 *           for i := 0; i < n; i++ {
 *               c.inc(name)
 *           }
 *           wg.Done()
 *       }
 *
 *       wg.Add(3)
 *       go doIncrement("a", 10000)
 *       go doIncrement("a", 10000)
 *       go doIncrement("b", 10000)
 *
 *       wg.Wait()
 *       fmt.Println(c.counters)
 *   }
 *
 * goc_mutex is ready when zero-filled, as sync.Mutex. C has no map type, so
 * the two counters are fields; the print mimics fmt.Println of the map.
 */
#include <goc.h>
#include <stdio.h>

typedef struct container {
    goc_mutex mu;
    int a, b; /* Go: counters map[string]int{"a": 0, "b": 0} */
} container;

static container c;
static goc_wg wg;

static void inc(int *counter) {
    goc_mutex_lock(&c.mu);
    (*counter)++; /* Go's defer c.mu.Unlock() runs after this */
    goc_mutex_unlock(&c.mu);
}

struct job {
    int *counter;
    int n;
};

static void do_increment(void *arg) {
    struct job *j = arg;
    for (int i = 0; i < j->n; i++)
        inc(j->counter);
    goc_wg_done(&wg);
}

static int main_fn(void *arg) {
    (void)arg;
    goc_wg_add(&wg, 3);
    goc_go_copy(do_increment, &(struct job){&c.a, 10000}, sizeof(struct job));
    goc_go_copy(do_increment, &(struct job){&c.a, 10000}, sizeof(struct job));
    goc_go_copy(do_increment, &(struct job){&c.b, 10000}, sizeof(struct job));

    goc_wg_wait(&wg);
    printf("map[a:%d b:%d]\n", c.a, c.b);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
