/*
** ctx.c - prepares new C execution contexts for gv_ctx_switch. The switch
** itself is a few lines of assembly per architecture (ctx_<arch>.S); other
** machines fall back on ucontext.
*/
#include <stdint.h>
#include <string.h>
#include "internal.h"

#if defined(GV_CTX_UCONTEXT)

#include <stdlib.h>

static void trampoline(unsigned hi, unsigned lo, unsigned ahi, unsigned alo) {
  void (*fn)(void *) =
      (void (*)(void *))(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo);
  void *arg = (void *)(((uintptr_t)ahi << 16 << 16) | (uintptr_t)alo);
  fn(arg);
  abort();
}

void gv_ctx_init(gv_ctx *c, void *base, size_t size, void (*fn)(void *),
                 void *arg) {
  uintptr_t f = (uintptr_t)fn, a = (uintptr_t)arg;
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = base;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = NULL;
  makecontext(&c->uc, (void (*)(void))trampoline, 4,
              (unsigned)(f >> 16 >> 16), (unsigned)f,
              (unsigned)(a >> 16 >> 16), (unsigned)a);
}

void gv_ctx_switch(gv_ctx *from, gv_ctx *to) {
  swapcontext(&from->uc, &to->uc);
}

#else

void gv__ctx_entry(void);

void gv_ctx_init(gv_ctx *c, void *base, size_t size, void (*fn)(void *),
                 void *arg) {
  uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
  /* Frame popped by gv_ctx_switch: control words, r15, r14, r13 (arg),
  ** r12 (fn), rbx, rbp, return address; rsp ends 16-byte aligned. */
  uint64_t *sp = (uint64_t *)top - 8;
  uint32_t mxcsr = 0x1F80;
  uint16_t fpucw = 0x037F;
  memset(sp, 0, 8 * sizeof *sp);
  memcpy(&sp[0], &mxcsr, 4);
  memcpy((char *)&sp[0] + 4, &fpucw, 2);
  sp[3] = (uint64_t)arg;
  sp[4] = (uint64_t)fn;
  sp[7] = (uint64_t)gv__ctx_entry;
  c->sp = sp;
#elif defined(__aarch64__)
  /* Frame popped by gv_ctx_switch: x19 (fn), x20 (arg), ..., x29, x30
  ** (entry), d8-d15, fpcr; 176 bytes. */
  uint64_t *sp = (uint64_t *)(top - 176);
  memset(sp, 0, 176);
  sp[0] = (uint64_t)fn;
  sp[1] = (uint64_t)arg;
  sp[11] = (uint64_t)gv__ctx_entry;
  c->sp = sp;
#else
#error "no context switch for this machine: build with GV_CTX_UCONTEXT"
#endif
}

#endif
