/* test_select.c - one wait on many fds: woken by the first ready fd with
** revents filled by poll(2), negative fds ignored, timeouts, a closed fd
** reported as POLLNVAL, one waiter per set, and a throw ending the wait
** disarms every watcher. */
#include <unistd.h>
#include "rt.h"

static int pa[2], pb[2];
static struct pollfd fds[3];
static char set[4096];
static int woke, nready;

static int sel_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L; (void)status; (void)ctx;
  woke = gv_current(rt_hub)->wake;
  nready = 0;
  for (int i = 0; i < 3; i++) nready += fds[i].revents != 0;
  return 0;
}
static int selector(lua_State *L) {
  double t = *(double *)lua_touserdata(L, 1);
  return gv_select_wait(rt_hub, L, set, fds, 3, t, "test", 0, sel_k);
}
static int writer(lua_State *L) {
  (void)L;
  CHECK(write(pb[1], "x", 1) == 1);
  return 0;
}

static void test_first_ready(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  CHECK(pipe(pa) == 0 && pipe(pb) == 0);
  CHECK(gv_select_size(3) <= sizeof set);
  memset(set, 0, sizeof set);
  fds[0] = (struct pollfd){pa[0], POLLIN, 0};
  fds[1] = (struct pollfd){-1, POLLIN, 0};     /* ignored */
  fds[2] = (struct pollfd){pb[0], POLLIN, 0};
  static double forever = -1, soon = 0.005;
  rt_spawn(&r, selector, &soon);
  rt_run(&r);
  CHECK(woke == GV_WAKE_TIMEOUT && nready == 0);
  CHECK(gv_select_waiter(set) == NULL);
  rt_spawn(&r, selector, &forever);
  rt_spawn(&r, writer, NULL);
  rt_run(&r);
  CHECK(woke == GV_WAKE_NORMAL && nready == 1 && fds[2].revents == POLLIN);
  /* a closed fd: poll says POLLNVAL at once */
  int dead = pa[0];
  close(pa[0]);
  struct pollfd one = {dead, POLLIN, 0};
  CHECK(gv_select_poll(&one, 1) == 1 && (one.revents & POLLNVAL));
  close(pa[1]);
  close(pb[0]);
  close(pb[1]);
  CHECK(gv_select_setsize() > 0);
  rt_close(&r);
}

/* a throw ends the wait and disarms the set; a second waiter raises */
static int busy_err;
static int second(lua_State *L) {
  (void)lua_touserdata(L, 1);
  if (gv_select_waiter(set)) busy_err = 1;
  return 0;
}

static void test_throw(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  CHECK(pipe(pa) == 0 && pipe(pb) == 0);
  memset(set, 0, sizeof set);
  fds[0] = (struct pollfd){pa[0], POLLIN, 0};
  fds[1] = (struct pollfd){pb[0], POLLIN, 0};
  fds[2] = (struct pollfd){-1, 0, 0};
  static double forever = -1;
  gv_greenlet *g = rt_spawn(&r, selector, &forever);
  rt_spawn(&r, second, NULL);
  gv_sleep(&r.hub, r.L, 0, 0, NULL);
  CHECK(busy_err == 1 && gv_select_waiter(set) == g);
  lua_pushliteral(r.L, "stop");
  CHECK(gv_throw(g, r.L) == 0);
  rt_run(&r); /* returns: no watcher is left armed */
  CHECK(r.failed == 1 && gv_select_waiter(set) == NULL);
  close(pa[0]); close(pa[1]); close(pb[0]); close(pb[1]);
  rt_close(&r);
}

int main(void) {
  RUN(test_first_ready);
  RUN(test_throw);
  return unit_report();
}
