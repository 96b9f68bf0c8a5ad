/* test_io.c - fd waits: a greenlet's own watcher (gv_wait_fd) with ready
** events and timeouts, and a gv_fdwatch kept armed between waits that does
** not keep the loop alive while nobody waits. */
#include <unistd.h>
#include "rt.h"

static int pfd[2];
static int got[8], ngot;

static int read_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L; (void)status; (void)ctx;
  gv_greenlet *g = gv_current(rt_hub);
  got[ngot++] = g->wake == GV_WAKE_NORMAL ? gv_fd_events(g) : -g->wake;
  return 0;
}
static int reader(lua_State *L) {
  double timeout = *(double *)lua_touserdata(L, 1);
  return gv_wait_fd(rt_hub, L, pfd[0], EV_READ, timeout, 0, read_k);
}
static int writer(lua_State *L) {
  (void)L;
  CHECK(write(pfd[1], "x", 1) == 1);
  return 0;
}

static void test_wait_fd(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  CHECK(pipe(pfd) == 0);
  ngot = 0;
  static double forever = -1, soon = 0.005;
  rt_spawn(&r, reader, &soon);     /* nothing to read yet: times out */
  rt_run(&r);
  CHECK(ngot == 1 && got[0] == -GV_WAKE_TIMEOUT);
  rt_spawn(&r, reader, &forever);
  rt_spawn(&r, writer, NULL);
  rt_run(&r);
  CHECK(ngot == 2 && got[1] == EV_READ);
  /* a negative fd is refused before blocking */
  lua_pushcfunction(r.L, reader);
  static double z = 0;
  int saved = pfd[0];
  pfd[0] = -1;
  lua_pushlightuserdata(r.L, &z);
  CHECK(lua_pcall(r.L, 1, 0, 0) == LUA_ERRRUN);
  lua_pop(r.L, 1);
  pfd[0] = saved;
  close(pfd[0]);
  close(pfd[1]);
  rt_close(&r);
}

static gv_fdwatch fw;
static int watch_k(lua_State *L, int status, lua_KContext ctx) {
  char c;
  CHECK(read(pfd[0], &c, 1) == 1); /* consumed before the next poll */
  return read_k(L, status, ctx);
}
static int watch_reader(lua_State *L) {
  (void)lua_touserdata(L, 1);
  return gv_fdwatch_wait(rt_hub, L, &fw, pfd[0], EV_READ, 1.0, 0, watch_k);
}

static void test_fdwatch(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  CHECK(pipe(pfd) == 0);
  ngot = 0;
  gv_fdwatch_init(&fw);
  for (int round = 0; round < 3; round++) {
    rt_spawn(&r, watch_reader, NULL);
    rt_spawn(&r, writer, NULL);
    rt_run(&r); /* returns: the armed, idle watcher keeps nothing alive */
    CHECK(ev_is_active(&fw.io)); /* kept armed between waits */
  }
  CHECK(ngot == 3);
  for (int i = 0; i < 3; i++) CHECK(got[i] == 0); /* woken, no io events */
  /* data nobody waits for: it fires for nobody and disarms itself */
  CHECK(write(pfd[1], "y", 1) == 1);
  gv_sleep(&r.hub, r.L, 0.005, 0, NULL);
  CHECK(!ev_is_active(&fw.io));
  gv_fdwatch_stop(&r.hub, &fw);
  CHECK(!ev_is_active(&fw.io));
  close(pfd[0]);
  close(pfd[1]);
  rt_close(&r);
}

int main(void) {
  RUN(test_wait_fd);
  RUN(test_fdwatch);
  return unit_report();
}
