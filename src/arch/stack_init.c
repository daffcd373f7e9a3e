/* Builds the first frame of a new goroutine's stack, so that goc__switch
 * "returns" into goc__trampoline with the entry function in a callee-saved
 * register. The layout must match the frame of src/arch/switch_<abi>.S. */
#include "runtime/internal.h"
#include <string.h>

void goc__trampoline(void);

void *goc__stack_init(char *top, void (*entry)(void)) {
    uintptr_t t = (uintptr_t)top & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* 8 bytes of control words, 6 registers, the return address: 64 bytes.
       After the ret the trampoline runs with rsp == t, 16-aligned, so its
       call gives the entry function the alignment the ABI requires. */
    uint64_t *sp = (uint64_t *)(t - 64);
    memset(sp, 0, 64);
    sp[0] = 0x1F80 | ((uint64_t)0x037F << 32); /* default mxcsr, x87 control word */
    sp[5] = (uint64_t)(uintptr_t)entry;        /* rbx */
    sp[7] = (uint64_t)(uintptr_t)goc__trampoline;
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
