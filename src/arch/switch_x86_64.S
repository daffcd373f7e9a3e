/* The goroutine trampoline for x86-64 System V (the switch itself is inline
 * assembly: src/arch/switch.h).
 *
 * A new goroutine's first frame (goc__stack_init) resumes here with the
 * entry function on top of the stack: pop it, clear rbp so that
 * frame-pointer backtraces stop here, and call it with the stack 16-byte
 * aligned before the call, as the ABI requires. The entry never returns.
 */
	.text
	.globl goc__trampoline
	.hidden goc__trampoline
	.type goc__trampoline, @function
	.p2align 4
goc__trampoline:
	.cfi_startproc
	.cfi_undefined rip
	popq %rax
	xorl %ebp, %ebp
	callq *%rax
	ud2
	.cfi_endproc
	.size goc__trampoline, .-goc__trampoline

	.section .note.GNU-stack,"",@progbits
