/* sync.Map: a concurrent map for keys written once and read many times.
 *
 *   package main
 *
 *   import (
 *       "fmt"
 *       "sync"
 *   )
 *
 *   func main() {
 *       var m sync.Map
 *       m.Store("alpha", 1)
 *       m.Store("beta", 2)
 *
 *       v, ok := m.Load("alpha")
 *       fmt.Println("alpha:", v, ok)
 *
 *       actual, loaded := m.LoadOrStore("beta", 20)
 *       fmt.Println("beta:", actual, loaded)
 *       actual, loaded = m.LoadOrStore("gamma", 3)
 *       fmt.Println("gamma:", actual, loaded)
 *
 *       m.Delete("alpha")
 *       _, ok = m.Load("alpha")
 *       fmt.Println("alpha after delete:", ok)
 *
 *       n := 0
 *       m.Range(func(k, v any) bool {
 *           n++
 *           return true
 *       })
 *       fmt.Println("keys:", n)
 *   }
 *
 * Keys are byte strings (here C strings without their NUL), values are
 * pointers; small integers travel as (void *)(intptr_t)n. A zero-filled
 * goc_map is ready; goc_map_free releases what it allocated.
 */
#include <goc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define K(s) (s), strlen(s)
#define INT(p) ((int)(intptr_t)(p))

static bool count(const void *key, size_t klen, void *value, void *arg) {
    (void)key, (void)klen, (void)value;
    (*(int *)arg)++;
    return true;
}

static int main_fn(void *arg) {
    (void)arg;
    goc_map m = {0};
    goc_map_store(&m, K("alpha"), (void *)1);
    goc_map_store(&m, K("beta"), (void *)2);

    void *v;
    bool ok = goc_map_load(&m, K("alpha"), &v);
    printf("alpha: %d %s\n", INT(v), ok ? "true" : "false");

    void *actual;
    bool loaded = goc_map_load_or_store(&m, K("beta"), (void *)20, &actual);
    printf("beta: %d %s\n", INT(actual), loaded ? "true" : "false");
    loaded = goc_map_load_or_store(&m, K("gamma"), (void *)3, &actual);
    printf("gamma: %d %s\n", INT(actual), loaded ? "true" : "false");

    goc_map_delete(&m, K("alpha"));
    ok = goc_map_load(&m, K("alpha"), NULL);
    printf("alpha after delete: %s\n", ok ? "true" : "false");

    int n = 0;
    goc_map_range(&m, count, &n);
    printf("keys: %d\n", n);
    goc_map_free(&m);
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
