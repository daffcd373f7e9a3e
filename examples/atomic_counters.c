/* Atomic counters, after Go by Example (https://gobyexample.com/atomic-counters).
 *
 *   package main
 *
 *   import (
 *       "fmt"
 *       "sync"
 *       "sync/atomic"
 *   )
 *
 *   func main() {
 *       var ops atomic.Uint64
 *       var wg sync.WaitGroup
 *
 *       for i := 0; i < 50; i++ {
 *           wg.Add(1)
 *           go func() {
 *               for c := 0; c < 1000; c++ {
 *                   ops.Add(1)
 *               }
 *               wg.Done()
 *           }()
 *       }
 *
 *       wg.Wait()
 *       fmt.Println("ops:", ops.Load())
 *   }
 *
 * goc adds no atomic wrappers: C11 <stdatomic.h> is sync/atomic. The
 * mapping (all sequentially consistent, as Go's):
 *   var ops atomic.Uint64          _Atomic uint64_t ops;  (or atomic_uint_fast64_t)
 *   ops.Add(1), AddUint64(&x, 1)   atomic_fetch_add(&ops, 1)   (returns the OLD value;
 *                                  Go's Add returns the new one: old + delta)
 *   ops.Load(), LoadInt32(&x)      atomic_load(&ops)
 *   ops.Store(v), StoreInt32       atomic_store(&ops, v)
 *   ops.Swap(v), SwapInt32         atomic_exchange(&ops, v)
 *   ops.CompareAndSwap(o, n)       atomic_compare_exchange_strong(&ops, &o, n)
 *                                  (o is a pointer: on failure it receives the current value)
 *   atomic.Bool, atomic.Pointer[T] _Atomic bool, _Atomic(T *)
 *   atomic.Value                   no direct twin: an _Atomic(T *) to immutable data
 *   ops.And / ops.Or (Go 1.23)     atomic_fetch_and / atomic_fetch_or
 */
#include <goc.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic uint64_t ops;
static goc_wg wg;

static void worker(void *arg) {
    (void)arg;
    for (int c = 0; c < 1000; c++)
        atomic_fetch_add(&ops, 1);
    goc_wg_done(&wg);
}

static int main_fn(void *arg) {
    (void)arg;
    for (int i = 0; i < 50; i++) {
        goc_wg_add(&wg, 1);
        goc_go(worker, NULL);
    }

    goc_wg_wait(&wg);
    printf("ops: %llu\n", (unsigned long long)atomic_load(&ops));
    return 0;
}

int main(void) {
    return goc_run(main_fn, NULL);
}
