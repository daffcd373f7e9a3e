/* Context switch for x86-64 System V.
 *
 * goc__switch(void **save_sp, void *load_sp): pushes the callee-saved
 * registers (rbp, rbx, r12-r15) and the SSE and x87 control words on the
 * current stack, stores the stack pointer in *save_sp, loads load_sp and
 * pops the same frame from the other stack. Everything else is caller-saved,
 * so the compiler already spilled it around the call.
 *
 * Frame, from the saved stack pointer up:
 *   0: mxcsr (4 bytes) and x87 control word (2 bytes)
 *   8: r15, r14, r13, r12, rbx, rbp   56: return address
 */
	.text
	.globl goc__switch
	.hidden goc__switch
	.type goc__switch, @function
	.p2align 4
goc__switch:
	.cfi_startproc
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $8, %rsp
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %rsp, (%rdi)
	movl (%rsp), %eax
	movzwl 4(%rsp), %ecx
	movq %rsi, %rsp
	/* Loading the control words is slow (fldcw serialises): skip it when
	   the other context's are the same, as they almost always are. */
	cmpl (%rsp), %eax
	je 1f
	ldmxcsr (%rsp)
1:	cmpw 4(%rsp), %cx
	je 2f
	fldcw 4(%rsp)
2:	addq $8, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.cfi_endproc
	.size goc__switch, .-goc__switch

/* First code of a new goroutine: rbx holds the C entry function. rbp is 0
   so frame-pointer backtraces stop here; the stack is 16-byte aligned before
   the call, as the ABI requires. The entry function never returns. */
	.globl goc__trampoline
	.hidden goc__trampoline
	.type goc__trampoline, @function
	.p2align 4
goc__trampoline:
	.cfi_startproc
	.cfi_undefined rip
	xorl %ebp, %ebp
	callq *%rbx
	ud2
	.cfi_endproc
	.size goc__trampoline, .-goc__trampoline

	.section .note.GNU-stack,"",@progbits
