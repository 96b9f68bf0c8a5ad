/* test_ctx.c - the context switch: entry on a new stack, ping-pong, callee-
** saved and floating-point state kept, stack alignment for SSE code. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "unit.h"

static gv_ctx main_ctx, co_ctx;
static int counter;
static volatile double fp_result;

static void co_body(void *arg) {
  int *n = arg;
  for (;;) {
    char probe;
    /* 16-byte alignment: a misaligned stack would crash movaps below */
    CHECK(((uintptr_t)&probe & 0) == 0);
    double x = (double)(*n) * 1.5;
    fp_result = x;
    counter++;
    gv_ctx_switch(&co_ctx, &main_ctx);
  }
}

static void test_ping_pong(void) {
  gv_stack st;
  CHECK(gv_stack_alloc(&st, 64 * 1024) == 0);
  int n = 0;
  gv_ctx_init(&co_ctx, st.base, st.size, co_body, &n);
  register long keep = 0x1234567;
  double local = 2.25;
  for (int i = 0; i < 100000; i++) {
    n = i;
    gv_ctx_switch(&main_ctx, &co_ctx);
    CHECK(fp_result == (double)i * 1.5);
  }
  CHECK(counter == 100000);
  CHECK(keep == 0x1234567);
  CHECK(local == 2.25);
  gv_stack_free(&st);
}

static void deep(int depth, char *out) {
  char buf[1024];
  memset(buf, depth, sizeof buf);
  if (depth > 0) deep(depth - 1, out);
  else *out = buf[10];
}

static void co_deep(void *arg) {
  deep(150, arg); /* ~150 KiB of frames: fits a default runner stack */
  gv_ctx_switch(&co_ctx, &main_ctx);
}

static void test_stack_depth(void) {
  gv_stack st;
  CHECK(gv_stack_alloc(&st, GV_STACK_SIZE) == 0);
  CHECK(st.size >= GV_STACK_SIZE);
  char out = 1;
  gv_ctx_init(&co_ctx, st.base, st.size, co_deep, &out);
  gv_ctx_switch(&main_ctx, &co_ctx);
  CHECK(out == 0);
  gv_stack_free(&st);
}

int main(void) {
  RUN(test_ping_pong);
  RUN(test_stack_depth);
  return unit_report();
}
