/* Builds the first frame of a new goroutine's stack, so that the switch
 * resumes it in goc__trampoline, which calls the entry function. The layout
 * must match the frame of the switch (src/arch/switch.h for x86-64,
 * src/arch/switch_aarch64.S). */
#include "runtime/internal.h"
#include <string.h>

void goc__trampoline(void);

void *goc__stack_init(char *top, void (*entry)(void)) {
    uintptr_t t = (uintptr_t)top & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* control words, rbp, resume pc, then the entry the trampoline pops:
       32 bytes, so its call happens with rsp == t, 16-aligned. */
    uint64_t *sp = (uint64_t *)(t - 32);
    sp[0] = 0x1F80 | ((uint64_t)0x037F << 32); /* default mxcsr, x87 control word */
    sp[1] = 0;                                 /* rbp: backtraces stop here */
    sp[2] = (uint64_t)(uintptr_t)goc__trampoline;
    sp[3] = (uint64_t)(uintptr_t)entry;
    return sp;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)(t - 176);
    memset(sp, 0, 176);
    sp[0] = (uint64_t)(uintptr_t)entry;        /* x19 */
    sp[11] = (uint64_t)(uintptr_t)goc__trampoline; /* x30 */
    sp[20] = 0;                                /* fpcr: round to nearest, no traps */
    return sp;
#else
#error "goc supports x86-64 and AArch64"
#endif
}
