/* sync.Once and sync.OnceValue (Go 1.21).
 *
 *   package main
 *
 *   import (
 *       "fmt"
 *       "sync"
 *   )
 *
 *   func main() {
 *       var once sync.Once
 *       var wg sync.WaitGroup
 *       for i := 0; i < 10; i++ {
 *           wg.Add(1)
 *           go func() {
 *               defer wg.Done()
 *               once.Do(func() { fmt.Println("initialised once") })
 *           }()
 *       }
 *       wg.Wait()
 *
 *       config := sync.OnceValue(func() string {
 *           fmt.Println("loading config")
 *           return "debug=true"
 *       })
 *       fmt.Println(config())
 *       fmt.Println(config())
 *   }
 *
 * C has no closures: OnceValue's "returned function" is a goc_once_value
 * bound to its function and argument; goc_once_value_get calls it.
 */
#include <goc.h>
#include <stdio.h>

static goc_once once;
static goc_wg wg;

static void init_fn(void *arg) {
    (void)arg;
    printf("initialised once\n");
}

static void worker(void *arg) {
    (void)arg;
    goc_once_do(&once, init_fn, NULL);
    goc_wg_done(&wg);
}

static void *load_config(void *arg) {
    (void)arg;
    printf("loading config\n");
    return "debug=true";
}

static int main_fn(void *arg) {
    (void)arg;
    for (int i = 0; i < 10; i++) {
        goc_wg_add(&wg, 1);
        goc_go(worker, NULL);
    }
    goc_wg_wait(&wg);

    static goc_once_value config = GOC_ONCE_VALUE(load_config, NULL);
    printf("%s\n", (char *)goc_once_value_get(&config));
    printf("%s\n", (char *)goc_once_value_get(&config));
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
