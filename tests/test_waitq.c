/* test_waitq.c - wait queues: FIFO wake-ups, wake_all, timeouts, moving
** waiters between queues, and that a woken waiter leaves the queue. */
#include "rt.h"

static gv_waitq q, other;
static int log_[32], nlog;

static int waiter_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L; (void)status;
  gv_greenlet *g = gv_current(rt_hub);
  log_[nlog++] = (int)ctx * 10 + g->wake;
  return 0;
}
static int waiter(lua_State *L) {
  int id = (int)(intptr_t)lua_touserdata(L, 1);
  double timeout = id >= 5 ? 0.005 : -1;
  return gv_waitq_wait(rt_hub, &q, L, timeout, "q", (lua_KContext)id,
                       waiter_k);
}

static void settle(rt *r) { gv_sleep(&r->hub, r->L, 0, 0, NULL); }

static void test_fifo(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  gv_waitq_init(&q);
  nlog = 0;
  for (intptr_t i = 1; i <= 4; i++) rt_spawn(&r, waiter, (void *)i);
  settle(&r);
  CHECK(!gv_waitq_empty(&q));
  CHECK(gv_waitq_first(&q) == &r.g[0]);
  CHECK(gv_waitq_wake_one(&q) == 1);
  CHECK(gv_waitq_first(&q) == &r.g[1]); /* woken: off the queue */
  CHECK(gv_waitq_wake_all(&q) == 3);
  CHECK(gv_waitq_empty(&q) && gv_waitq_wake_one(&q) == 0);
  rt_run(&r);
  CHECK(nlog == 4);
  for (int i = 0; i < 4; i++) CHECK(log_[i] == (i + 1) * 10 + GV_WAKE_NORMAL);
  rt_close(&r);
}

static void test_timeout_and_move(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  gv_waitq_init(&q);
  gv_waitq_init(&other);
  nlog = 0;
  rt_spawn(&r, waiter, (void *)(intptr_t)5);  /* times out */
  rt_spawn(&r, waiter, (void *)(intptr_t)1);
  rt_spawn(&r, waiter, (void *)(intptr_t)2);
  settle(&r);
  /* move 1 to another queue (the waiter stays blocked) */
  gv_waitq_move(&other, &r.g[1]);
  CHECK(gv_waitq_first(&other) == &r.g[1] && gv_waitq_queued(&r.g[1]));
  CHECK(gv_waitq_first(&q) == &r.g[0]);
  rt_run(&r); /* 5 times out; 1 and 2 stay blocked: wait() returns */
  CHECK(nlog == 1 && log_[0] == 50 + GV_WAKE_TIMEOUT);
  CHECK(gv_waitq_first(&q) == &r.g[2]);
  gv_waitq_wake_all(&other);
  gv_waitq_wake_all(&q);
  rt_run(&r);
  CHECK(nlog == 3 && log_[1] == 10 + GV_WAKE_NORMAL &&
        log_[2] == 20 + GV_WAKE_NORMAL);
  rt_close(&r);
}

/* per-waiter context: changed while the waiter waits */
static void test_wait_ctx(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  gv_waitq_init(&q);
  nlog = 0;
  rt_spawn(&r, waiter, (void *)(intptr_t)3);
  settle(&r);
  CHECK(gv_wait_ctx(&r.g[0]) == 3);
  CHECK(gv_waits_in(&r.g[0], waiter_k));
  gv_set_wait_ctx(&r.g[0], 7);
  gv_waitq_wake_one(&q);
  rt_run(&r);
  CHECK(nlog == 1 && log_[0] == 70 + GV_WAKE_NORMAL);
  rt_close(&r);
}

int main(void) {
  RUN(test_fifo);
  RUN(test_timeout_and_move);
  RUN(test_wait_ctx);
  return unit_report();
}
