/* Context switch for AArch64 (AAPCS64).
 *
 * goc__switch(void **save_sp, void *load_sp): saves the callee-saved
 * registers x19-x28, the frame pointer x29, the link register x30, the low
 * halves d8-d15 and fpcr on the current stack, stores sp in *save_sp, loads
 * load_sp and restores the same frame from there, returning through x30.
 *
 * Frame (176 bytes, 16-byte aligned), from the saved sp up:
 *   0: x19..x28   80: x29, x30   96: d8..d15   160: fpcr
 */
	.text
	.globl goc__switch
	.hidden goc__switch
	.type goc__switch, %function
	.p2align 4
goc__switch:
	sub sp, sp, #176
	stp x19, x20, [sp, #0]
	stp x21, x22, [sp, #16]
	stp x23, x24, [sp, #32]
	stp x25, x26, [sp, #48]
	stp x27, x28, [sp, #64]
	stp x29, x30, [sp, #80]
	stp d8, d9, [sp, #96]
	stp d10, d11, [sp, #112]
	stp d12, d13, [sp, #128]
	stp d14, d15, [sp, #144]
	mrs x9, fpcr
	str x9, [sp, #160]
	mov x10, sp
	str x10, [x0]
	mov sp, x1
	ldp x19, x20, [sp, #0]
	ldp x21, x22, [sp, #16]
	ldp x23, x24, [sp, #32]
	ldp x25, x26, [sp, #48]
	ldp x27, x28, [sp, #64]
	ldp x29, x30, [sp, #80]
	ldp d8, d9, [sp, #96]
	ldp d10, d11, [sp, #112]
	ldp d12, d13, [sp, #128]
	ldp d14, d15, [sp, #144]
	/* Writing fpcr can be slow: skip it when unchanged (x9 holds ours). */
	ldr x10, [sp, #160]
	cmp x9, x10
	b.eq 1f
	msr fpcr, x10
1:	add sp, sp, #176
	ret
	.size goc__switch, .-goc__switch

/* First code of a new goroutine: x19 holds the C entry function; x29 and
   x30 are 0 so frame-pointer backtraces stop here. Never returns. */
	.globl goc__trampoline
	.hidden goc__trampoline
	.type goc__trampoline, %function
	.p2align 4
goc__trampoline:
	mov x29, #0
	mov x30, #0
	blr x19
	brk #0
	.size goc__trampoline, .-goc__trampoline

	.section .note.GNU-stack,"",%progbits
