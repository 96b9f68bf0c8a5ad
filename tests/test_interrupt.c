/* test_interrupt.c - requests to running Lua code: the hook is set only
** while one is pending and gives back the hook the thread had; requests
** from another thread (through GV_IRQ_SIGNAL) stop a Lua loop; an idle hub
** takes them itself (L NULL); SIGINT posts GV_IRQ_INT once and puts the
** default action back; a host's own handler of the signal still runs. */
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"
#include "unit.h"

static unsigned got_bits;
static lua_State *got_L;
static int ncalls, raise_in_hook;

static void on_interrupt(gv_hub *hub, lua_State *L, unsigned bits) {
  (void)hub;
  got_bits |= bits;
  got_L = L;
  ncalls++;
  if (raise_in_hook && L) {
    lua_pushliteral(L, "stopped");
    lua_error(L);
  }
}

static void reset(void) {
  got_bits = 0;
  got_L = NULL;
  ncalls = raise_in_hook = 0;
}

static int run(lua_State *L, const char *code) {
  return luaL_dostring(L, code) == LUA_OK;
}

static void new_hub(gv_hub *hub) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  CHECK(gv_hub_init(hub, NULL, L) == 0);
  hub->hooks.interrupt = on_interrupt;
  CHECK(gv_irq_enable(hub) == 0);
  CHECK(gv_irq_enable(hub) == 0); /* idempotent */
}

static void close_hub(gv_hub *hub) {
  lua_State *L = hub->L;
  gv_hub_close(hub);
  lua_close(L);
}

static void test_hook_only_while_pending(void) {
  gv_hub hub;
  new_hub(&hub);
  lua_State *L = hub.L;
  reset();
  CHECK(lua_gethook(L) == NULL);
  gv_interrupt(&hub, GV_IRQ_REPORT);
  CHECK(lua_gethook(L) != NULL); /* hub context: armed on the hub's thread */
  CHECK(run(L, "local x = 0 for i = 1, 10 do x = x + i end"));
  CHECK(ncalls == 1 && got_bits == GV_IRQ_REPORT && got_L == L);
  CHECK(lua_gethook(L) == NULL && lua_gethookmask(L) == 0);
  CHECK(run(L, "local y = 1"));
  CHECK(ncalls == 1); /* taken once */
  close_hub(&hub);
}

static int user_hook_calls;
static void user_hook(lua_State *L, lua_Debug *ar) {
  (void)L; (void)ar;
  user_hook_calls++;
}

static void test_previous_hook_kept(void) {
  gv_hub hub;
  new_hub(&hub);
  lua_State *L = hub.L;
  reset();
  lua_sethook(L, user_hook, LUA_MASKLINE, 0);
  gv_interrupt(&hub, GV_IRQ_SLICE);
  CHECK(lua_gethook(L) != user_hook);
  CHECK(run(L, "local a = 1\nlocal b = 2\n"));
  CHECK(ncalls == 1 && got_bits == GV_IRQ_SLICE);
  CHECK(lua_gethook(L) == user_hook);
  CHECK(lua_gethookmask(L) == LUA_MASKLINE);
  user_hook_calls = 0;
  CHECK(run(L, "local a = 1\nlocal b = 2\n"));
  CHECK(user_hook_calls >= 2);
  lua_sethook(L, NULL, 0, 0);
  close_hub(&hub);
}

static void *poster(void *arg) {
  gv_hub *hub = arg;
  usleep(50 * 1000);
  gv_interrupt(hub, GV_IRQ_SLICE);
  return NULL;
}

static void test_from_another_thread(void) {
  gv_hub hub;
  new_hub(&hub);
  lua_State *L = hub.L;
  reset();
  raise_in_hook = 1;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, poster, &hub) == 0);
  /* a loop that only the request can end (or 20 s of it) */
  int ok = run(L, "local t = os.time() while os.time() - t < 20 do end");
  pthread_join(t, NULL);
  CHECK(!ok);
  CHECK(strcmp(lua_tostring(L, -1), "stopped") == 0);
  lua_pop(L, 1);
  CHECK(got_bits == GV_IRQ_SLICE && ncalls == 1);
  CHECK(lua_gethook(L) == NULL);
  close_hub(&hub);
}

static void test_idle_hub_takes_it(void) {
  gv_hub hub;
  new_hub(&hub);
  reset();
  pthread_t t;
  CHECK(pthread_create(&t, NULL, poster, &hub) == 0);
  /* the hub waits in the poller: the request wakes it */
  ev_run(hub.loop, EVRUN_ONCE);
  pthread_join(t, NULL);
  for (int i = 0; i < 100 && !ncalls; i++) ev_run(hub.loop, EVRUN_NOWAIT);
  CHECK(ncalls == 1 && got_L == NULL && got_bits == GV_IRQ_SLICE);
  CHECK(run(hub.L, "local z = 1")); /* the armed hook finds nothing */
  CHECK(ncalls == 1);
  CHECK(lua_gethook(hub.L) == NULL);
  close_hub(&hub);
}

static void test_sigint(void) {
  gv_hub hub;
  new_hub(&hub);
  reset();
  gv_interrupt_sigint(&hub, 1);
  struct sigaction sa;
  sigaction(SIGINT, NULL, &sa);
  CHECK(sa.sa_handler != SIG_DFL);
  raise(SIGINT);
  sigaction(SIGINT, NULL, &sa);
  CHECK(sa.sa_handler == SIG_DFL); /* a second one would kill */
  CHECK(run(hub.L, "local z = 1"));
  CHECK(ncalls == 1 && got_bits == GV_IRQ_INT);
  gv_interrupt_sigint(&hub, 1);
  gv_interrupt_sigint(&hub, 0);
  sigaction(SIGINT, NULL, &sa);
  CHECK(sa.sa_handler == SIG_DFL);
  close_hub(&hub);
}

static volatile sig_atomic_t host_signals;
static void host_handler(int sig) {
  (void)sig;
  host_signals++;
}

static void test_host_handler_chained(void) {
  gv_hub hub;
  new_hub(&hub);
  reset();
  raise(GV_IRQ_SIGNAL); /* not a request of ours: the host's handler */
  CHECK(host_signals == 1);
  CHECK(ncalls == 0 && lua_gethook(hub.L) == NULL);
  close_hub(&hub);
}

int main(void) {
  /* the host had a handler before gvlua installed its own */
  signal(GV_IRQ_SIGNAL, host_handler);
  RUN(test_hook_only_while_pending);
  RUN(test_previous_hook_kept);
  RUN(test_from_another_thread);
  RUN(test_idle_hub_takes_it);
  RUN(test_sigint);
  RUN(test_host_handler_chained);
  return unit_report();
}
