/* ctx_x86_64.S - gv_ctx_switch for x86_64 System V: saves the callee-saved
** registers and the SSE/x87 control words on the running stack, stores the
** stack pointer in *from and resumes the context saved in *to. */
        .text
        .globl  gv_ctx_switch
        .hidden gv_ctx_switch
        .type   gv_ctx_switch, @function
        .p2align 4
gv_ctx_switch:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r15, 0
        subq    $8, %rsp
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    (%rsi), %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   gv_ctx_switch, .-gv_ctx_switch

/* First code run on a new stack: gv_ctx_init leaves fn in r12 and its
** argument in r13. The undefined return address ends backtraces here. */
        .globl  gv__ctx_entry
        .hidden gv__ctx_entry
        .type   gv__ctx_entry, @function
        .p2align 4
gv__ctx_entry:
        .cfi_startproc
        .cfi_undefined rip
        movq    %r13, %rdi
        callq   *%r12
        ud2
        .cfi_endproc
        .size   gv__ctx_entry, .-gv__ctx_entry

        .section .note.GNU-stack,"",@progbits
