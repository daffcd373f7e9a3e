/* Goroutines, after Go by Example (https://gobyexample.com/goroutines).
 *
 * Go by Example ends with time.Sleep and its goroutines print straight to
 * stdout, so the order of their lines changes from run to run. This version
 * waits with a WaitGroup instead, and each goroutine writes to its own
 * buffer that main prints once both are done: the goroutines still run
 * concurrently, and the output is the same on every run.
 *
 *   package main
 *
 *   import (
 *       "fmt"
 *       "io"
 *       "os"
 *       "strings"
 *       "sync"
 *   )
 *
 *   func f(w io.Writer, from string) {
 *       for i := 0; i < 3; i++ {
 *           fmt.Fprintln(w, from, ":", i)
 *       }
 *   }
 *
 *   func main() {
 *       // A direct call runs synchronously.
 *       f(os.Stdout, "direct")
 *
 *       // Two goroutines run concurrently with main and with each other. Each
 *       // writes to its own buffer, and main prints the buffers in order once
 *       // both are done, so the output is the same on every run.
 *       var wg sync.WaitGroup
 *       var out [2]strings.Builder
 *       wg.Add(2)
 *       go func() {
 *           defer wg.Done()
 *           f(&out[0], "goroutine")
 *       }()
 *       go func(msg string) {
 *           defer wg.Done()
 *           fmt.Fprintln(&out[1], msg)
 *       }("going")
 *
 *       wg.Wait()
 *       fmt.Print(out[0].String(), out[1].String())
 *       fmt.Println("done")
 *   }
 *
 * In C a goroutine is a function taking one void pointer; a closure's
 * captured variables become a struct that outlives the goroutine (here, on
 * main's stack, which is safe because main waits). strings.Builder becomes
 * a memory stream (open_memstream).
 */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

static void f(FILE *w, const char *from) {
    for (int i = 0; i < 3; i++)
        fprintf(w, "%s : %d\n", from, i);
}

/* What a goroutine captures: its output buffer, its argument, the WaitGroup. */
struct job {
    FILE *out;
    char *buf;
    size_t len;
    const char *msg;
    goc_wg *wg;
};

static void run_f(void *arg) {
    struct job *j = arg;
    f(j->out, "goroutine");
    goc_wg_done(j->wg);
}

static void print_msg(void *arg) {
    struct job *j = arg;
    fprintf(j->out, "%s\n", j->msg);
    goc_wg_done(j->wg);
}

static int main_goroutine(void *arg) {
    (void)arg;
    /* A direct call runs synchronously. */
    f(stdout, "direct");

    goc_wg wg = {0};
    struct job out[2] = {{.wg = &wg}, {.msg = "going", .wg = &wg}};
    for (int i = 0; i < 2; i++) {
        out[i].out = open_memstream(&out[i].buf, &out[i].len);
        if (!out[i].out) {
            perror("open_memstream");
            return 1;
        }
    }
    goc_wg_add(&wg, 2);
    go(run_f, &out[0]);
    go(print_msg, &out[1]);

    goc_wg_wait(&wg);
    for (int i = 0; i < 2; i++) {
        fclose(out[i].out); /* flushes: buf and len are final */
        fwrite(out[i].buf, 1, out[i].len, stdout);
        free(out[i].buf);
    }
    printf("done\n");
    return 0;
}

int main(void) {
    return goc_run(main_goroutine, NULL);
}
