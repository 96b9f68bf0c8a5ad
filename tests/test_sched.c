/* test_sched.c - the scheduler without bindings: spawn order, sleep(0)
** round robin on both paths (continuation and C stack switch), run-queue
** "next" chains, throws, gv_block_timeout, LoopExit, runner reuse. */
#include "rt.h"

static char order[128];
static int norder;
static void note(char c) { if (norder < 127) order[norder++] = c; }

/* body: note(tag) three times, sleep(0) between, continuation style */
static int rr_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  char tag = (char)(ctx & 0xff);
  int left = (int)(ctx >> 8);
  note(tag);
  if (left == 0) return 0;
  return gv_sleep(rt_hub, L, 0, (lua_KContext)(((left - 1) << 8) | tag), rr_k);
}
static int rr_fast(lua_State *L) {
  char tag = *(char *)lua_touserdata(L, 1);
  return rr_k(L, LUA_OK, (lua_KContext)((2 << 8) | tag));
}
/* the same on the slow path: no continuation, the C stack is kept */
static int rr_slow(lua_State *L) {
  char tag = *(char *)lua_touserdata(L, 1);
  for (int i = 0; i < 3; i++) {
    note(tag);
    if (i < 2) gv_sleep(rt_hub, L, 0, 0, NULL);
  }
  return 0;
}

static void test_round_robin(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  static char a = 'a', b = 'b', c = 'C', d = 'D';
  norder = 0;
  rt_spawn(&r, rr_fast, &a);
  rt_spawn(&r, rr_fast, &b);
  rt_spawn(&r, rr_slow, &c);
  rt_spawn(&r, rr_slow, &d);
  CHECK(norder == 0); /* spawn only schedules */
  rt_run(&r);
  order[norder] = 0;
  CHECK(strcmp(order, "abCDabCDabCD") == 0);
  CHECK(r.finished == 4 && r.failed == 0);
  gv_hub_counts n = gv_hub_counts_of(&r.hub);
  CHECK(n.alive == 0 && n.runq == 0 && n.timers == 0);
  CHECK(n.runners >= 1 && n.runners <= 3); /* slow path used C stacks */
  rt_close(&r);
}

/* A greenlet blocked forever: a throw ends it at its blocking point. */
static gv_waitq never;
static int block_forever(lua_State *L) {
  gv_waitq_wait(rt_hub, &never, L, -1, "never", 0, NULL);
  note('!'); /* not reached: the throw raises */
  return 0;
}

static void test_throw(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  gv_waitq_init(&never);
  norder = 0;
  gv_greenlet *g = rt_spawn(&r, block_forever, NULL);
  gv_sleep(&r.hub, r.L, 0, 0, NULL); /* let it block */
  CHECK(g->state == GV_BLOCKED);
  CHECK(strcmp(gv_waiting_on(g), "never") == 0);
  lua_pushliteral(r.L, "killed");
  CHECK(gv_throw(g, r.L) == 0);
  rt_run(&r);
  CHECK(r.failed == 1 && strcmp(r.last_error, "killed") == 0);
  CHECK(norder == 0);
  lua_pushliteral(r.L, "again");
  CHECK(gv_throw(g, r.L) == -1); /* dead: dropped */
  CHECK(lua_gettop(r.L) == 0);
  rt_close(&r);
}

/* gv_block_timeout: the timer wakes with GV_WAKE_TIMEOUT; a wake first
** stops the timer. */
static int timed_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  *(int *)ctx = gv_current(rt_hub)->wake;
  (void)L;
  return 0;
}
static int timed(lua_State *L) {
  int *out = lua_touserdata(L, 1);
  gv_prepare_block(rt_hub, L, "a test wait");
  return gv_block_timeout(rt_hub, L, 0.01, (lua_KContext)out, timed_k);
}

static void test_block_timeout(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  int w1 = -1, w2 = -1;
  gv_greenlet *g1 = rt_spawn(&r, timed, &w1);
  gv_greenlet *g2 = rt_spawn(&r, timed, &w2);
  gv_sleep(&r.hub, r.L, 0, 0, NULL);
  CHECK(g1->state == GV_BLOCKED && g2->state == GV_BLOCKED);
  CHECK(gv_hub_counts_of(&r.hub).timers == 2);
  gv_wake(g2, GV_WAKE_NORMAL);
  CHECK(gv_hub_counts_of(&r.hub).timers == 1); /* its timer stopped */
  rt_run(&r);
  CHECK(w1 == GV_WAKE_TIMEOUT && w2 == GV_WAKE_NORMAL);
  rt_close(&r);
}

/* gv_schedule_after: entries queued "next" run before older ones, in the
** order they were queued. */
static void cb_note(gv_hub *hub, gv_callback *cb) {
  (void)hub;
  note(*(char *)(cb + 1));
}
typedef struct { gv_callback cb; char tag; } tagged;

static void test_schedule_after(void) {
  rt r;
  rt_open(&r);
  tagged t[4] = {{{0}, 'x'}, {{0}, 'y'}, {{0}, 'n'}, {{0}, 'm'}};
  for (int i = 0; i < 4; i++) t[i].cb.fn = cb_note;
  norder = 0;
  gv_schedule(&r.hub, &t[0].cb);
  gv_schedule(&r.hub, &t[1].cb);
  gv_schedule_after(&r.hub, &t[2].cb, NULL);  /* next: before x */
  gv_schedule_after(&r.hub, &t[3].cb, NULL);  /* after n */
  rt_run(&r);
  order[norder] = 0;
  CHECK(strcmp(order, "nmxy") == 0);
  rt_close(&r);
}

/* The main greenlet waiting on what nothing can wake gets LoopExit. */
static int main_waits(lua_State *L) {
  gv_waitq q;
  gv_waitq_init(&q);
  gv_waitq_wait(rt_hub, &q, L, -1, "nothing", 0, NULL);
  return 0;
}

static void test_loop_exit(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  lua_pushcfunction(r.L, main_waits);
  CHECK(lua_pcall(r.L, 0, 0, 0) == LUA_ERRRUN);
  CHECK(strcmp(lua_tostring(r.L, -1), "LoopExit") == 0);
  lua_pop(r.L, 1);
  rt_close(&r);
}

/* Blocking from hub context is refused with a Lua error. */
static int block_in_hub(lua_State *L) {
  gv_sleep(rt_hub, L, 0, 0, NULL);
  return 0;
}
static void test_check_block(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  gv_greenlet *saved = r.hub.current;
  r.hub.current = NULL; /* as in a hub callback */
  lua_pushcfunction(r.L, block_in_hub);
  CHECK(lua_pcall(r.L, 0, 0, 0) == LUA_ERRRUN);
  CHECK(strstr(lua_tostring(r.L, -1), "cannot block in the hub") != NULL);
  lua_pop(r.L, 1);
  r.hub.current = saved;
  rt_close(&r);
}

int main(void) {
  RUN(test_round_robin);
  RUN(test_throw);
  RUN(test_block_timeout);
  RUN(test_schedule_after);
  RUN(test_loop_exit);
  RUN(test_check_block);
  return unit_report();
}
