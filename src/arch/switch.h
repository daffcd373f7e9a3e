/* The context switch, for the scheduler (src/runtime/sched.c).
 *
 * goc__switch_ctx(save_sp, load_sp) saves the current context on its stack,
 * stores the stack pointer in *save_sp, and resumes the context saved at
 * load_sp; it returns when something switches back to *save_sp.
 *
 * x86-64: inline assembly, so that the switch is no call and no return.
 * A `ret` into another context's call site is a return the CPU's return
 * stack buffer predicts wrong, every time: on the machine of
 * docs/BENCHMARKS.md a call-based switch costs 10.3 ns and this one 5.6 ns.
 * The asm declares every general register but rsp and rbp clobbered, so the
 * compiler keeps nothing in them across it (it saves the callee-saved ones
 * the function uses in its own prologue, on each context's own stack); the
 * asm itself saves rbp, the resume address and the SSE and x87 control
 * words (callee-saved by the ABI: fesetround in one goroutine must not leak
 * into another), and steps over the red zone first.
 *
 * Frame at the saved stack pointer (x86-64):
 *   0: mxcsr (4 bytes), x87 control word (2 bytes)   8: rbp   16: resume pc
 * goc__stack_init builds the same frame for a new goroutine, with
 * goc__trampoline as the resume pc and the entry function above it.
 *
 * AArch64: the call-based switch of switch_aarch64.S.
 */
#ifndef GOC_ARCH_SWITCH_H
#define GOC_ARCH_SWITCH_H

#if defined(__x86_64__)
static inline __attribute__((always_inline)) void goc__switch_ctx(void **save_sp, void *load_sp) {
    __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t" /* the red zone of the code around */
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "pushq %%rbp\n\t"
                     "subq $8, %%rsp\n\t"
                     "stmxcsr (%%rsp)\n\t"
                     "fnstcw 4(%%rsp)\n\t"
                     "movq %%rsp, (%[save])\n\t"
                     "movl (%%rsp), %%eax\n\t"
                     "movzwl 4(%%rsp), %%ecx\n\t"
                     "movq %[load], %%rsp\n\t"
                     /* the control words are reloaded only when they differ,
                        as they almost never do (ldmxcsr is slow) */
                     "cmpl (%%rsp), %%eax\n\t"
                     "je 2f\n\t"
                     "ldmxcsr (%%rsp)\n"
                     "2:\n\t"
                     "cmpw 4(%%rsp), %%cx\n\t"
                     "je 3f\n\t"
                     "fldcw 4(%%rsp)\n"
                     "3:\n\t"
                     "addq $8, %%rsp\n\t"
                     "popq %%rbp\n\t"
                     "popq %%rax\n\t"
                     "jmpq *%%rax\n"
                     "1:\n\t"
                     "leaq 128(%%rsp), %%rsp\n\t"
                     : [save] "+D"(save_sp), [load] "+S"(load_sp)
                     :
                     : "rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
                       "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
#if defined(__AVX512F__)
                       "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
                       "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
                       "k1", "k2", "k3", "k4", "k5", "k6", "k7",
#endif
                       "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",
                       "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7", "memory", "cc");
}
#elif defined(__aarch64__)
static inline __attribute__((always_inline)) void goc__switch_ctx(void **save_sp, void *load_sp) {
    goc__switch(save_sp, load_sp);
}
#else
#error "goc supports x86-64 and AArch64"
#endif

#endif
