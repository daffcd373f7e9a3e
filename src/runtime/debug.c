/* GOC_DEBUG=name=value,...: the debug knobs, parsed once at start.
 *
 *   shuffle=SEED  randomise run-queue choices (runnext or tail, select order)
 *                 reproducibly from SEED, to shake out order assumptions
 *   leaks=1       list the goroutines still alive when main returns
 *   sync=1        sync debug checks (recursive locking) where supported
 *   guards=N      guard at most N stacks (0: every stack from the canary slabs)
 */
#include "runtime/internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

goc__debug_t goc__debug = {.guards = -1};

void goc__debug_init(void) {
    const char *env = getenv("GOC_DEBUG");
    if (!env || !*env)
        return;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", env);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        const char *val = eq ? eq + 1 : "1";
        if (eq)
            *eq = 0;
        char *end;
        unsigned long long v = strtoull(val, &end, 0);
        bool ok = *val && !*end;
        if (!strcmp(kv, "shuffle") && ok)
            goc__debug.shuffle = v ? v : 1;
        else if (!strcmp(kv, "leaks") && ok)
            goc__debug.leaks = (int)v;
        else if (!strcmp(kv, "sync") && ok)
            goc__debug.sync = (int)v;
        else if (!strcmp(kv, "guards") && ok)
            goc__debug.guards = (long)v;
        else
            fprintf(stderr, "goc: GOC_DEBUG: unknown or malformed setting '%s%s%s'\n", kv,
                    eq ? "=" : "", eq ? val : "");
    }
}
