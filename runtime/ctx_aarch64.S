/* ctx_aarch64.S - gv_ctx_switch for AArch64 (AAPCS64): saves x19-x30,
** d8-d15 and FPCR on the running stack, stores sp in *from, resumes *to. */
        .text
        .globl  gv_ctx_switch
        .hidden gv_ctx_switch
        .type   gv_ctx_switch, %function
        .p2align 4
gv_ctx_switch:
        .cfi_startproc
        sub     sp, sp, #176
        .cfi_adjust_cfa_offset 176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        .cfi_rel_offset x29, 80
        .cfi_rel_offset x30, 88
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x9, sp
        str     x9, [x0]
        ldr     x9, [x1]
        mov     sp, x9
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        add     sp, sp, #176
        ret
        .cfi_endproc
        .size   gv_ctx_switch, .-gv_ctx_switch

/* First code run on a new stack: gv_ctx_init leaves fn in x19 and its
** argument in x20. The undefined return address ends backtraces here. */
        .globl  gv__ctx_entry
        .hidden gv__ctx_entry
        .type   gv__ctx_entry, %function
        .p2align 4
gv__ctx_entry:
        .cfi_startproc
        .cfi_undefined x30
        mov     x29, #0
        mov     x0, x20
        blr     x19
        brk     #0
        .cfi_endproc
        .size   gv__ctx_entry, .-gv__ctx_entry

        .section .note.GNU-stack,"",%progbits
