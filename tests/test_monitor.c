/* test_monitor.c - the monitor thread on a real hub: a Lua loop that does
** not yield is reported while it runs (GV_IRQ_REPORT, with how long), the
** slice limit asks for GV_IRQ_SLICE, a hub waiting in the poller is not
** blocked, the memory monitor posts its event to the hub, counters move
** only while observation is on, and the thread stops when switched off. */
#include "rt.h"

static unsigned got_bits;
static double got_seconds;
static int got_valid, mem_events;

static void on_interrupt(gv_hub *hub, lua_State *L, unsigned bits) {
  got_bits |= bits;
  if (!L) return;
  unsigned bit = (bits & GV_IRQ_SLICE) ? GV_IRQ_SLICE : GV_IRQ_REPORT;
  got_valid = gv_monitor_block(hub, bit, &got_seconds);
  lua_pushboolean(L, 1);
  lua_setglobal(L, "interrupted"); /* ends the test's loop */
}

static void on_monitor_event(gv_hub *hub, int event, double value) {
  (void)hub;
  if (event == GV_MON_MEMORY_OVER && value > 0) mem_events++;
}

static void open_hub(rt *r) {
  rt_open(r);
  rt_hub = &r->hub;
  r->hub.hooks.interrupt = on_interrupt;
  r->hub.hooks.monitor_event = on_monitor_event;
  got_bits = 0;
  got_seconds = 0;
  got_valid = mem_events = 0;
}

static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua error: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* greenlet bodies: sleep for the seconds given (slow path), or sleep(0)
** three times */
static int napper(lua_State *L) {
  gv_sleep(rt_hub, L, *(double *)lua_touserdata(L, 1), 0, NULL);
  return 0;
}
static int yielder(lua_State *L) {
  for (int i = 0; i < 3; i++) gv_sleep(rt_hub, L, 0, 0, NULL);
  return 0;
}

/* Spins in Lua until the interrupt hook sets 'interrupted' (or 10 s). */
static const char *SPIN =
  "interrupted = false\n"
  "local t0 = os.time()\n"
  "while not interrupted and os.time() - t0 < 10 do end\n";

static void test_block_reported(void) {
  rt r;
  open_hub(&r);
  gv_hub *hub = &r.hub;
  lua_State *L = r.L;
  gv_monitor_config c = {1, 0.05, 0, 0, 5};
  CHECK(gv_monitor_configure(hub, &c) == 0);
  CHECK(gv_monitor_running(hub));
  CHECK(gv_observing(hub, GV_OBS_COUNT));
  CHECK(run(L, SPIN));
  CHECK(got_bits & GV_IRQ_REPORT);
  CHECK(got_valid && got_seconds >= 0.05);
  CHECK(gv_stats_of(hub).blocked_reports == 1);
  c.monitor_thread = 0;
  CHECK(gv_monitor_configure(hub, &c) == 0);
  CHECK(!gv_monitor_running(hub) && gv_observing(hub, ~0u) == 0);
  rt_close(&r);
}

static void test_slice(void) {
  rt r;
  open_hub(&r);
  gv_hub *hub = &r.hub;
  lua_State *L = r.L;
  gv_monitor_config c = {0, 0.1, 0.05, 0, 5};
  CHECK(gv_monitor_configure(hub, &c) == 0);
  CHECK(run(L, SPIN));
  CHECK(got_bits == GV_IRQ_SLICE); /* no reports: monitor_thread is off */
  CHECK(got_valid && got_seconds == 0.05);
  rt_close(&r); /* closing the hub stops the thread */
}

static void test_idle_is_not_blocked(void) {
  rt r;
  open_hub(&r);
  gv_hub *hub = &r.hub;
  gv_monitor_config c = {1, 0.02, 0.02, 0, 5};
  CHECK(gv_monitor_configure(hub, &c) == 0);
  static double t = 0.2;
  rt_spawn(&r, napper, &t);
  rt_run(&r); /* 0.2 s in the poller */
  CHECK(got_bits == 0);
  CHECK(gv_stats_of(hub).switches >= 2);
  rt_close(&r);
}

static void test_memory_event(void) {
  rt r;
  open_hub(&r);
  gv_hub *hub = &r.hub;
  CHECK(gv_monitor_rss() > 0);
  gv_monitor_config c = {1, 10, 0, 1, 0.01}; /* over at once */
  CHECK(gv_monitor_configure(hub, &c) == 0);
  for (int i = 0; i < 200 && !mem_events; i++) gv_step(hub, r.L, 0.01);
  CHECK(mem_events == 1);
  for (int i = 0; i < 5; i++) gv_step(hub, r.L, 0.01);
  CHECK(mem_events == 1); /* once, until it is back under */
  rt_close(&r);
}

static void test_counters_only_when_observed(void) {
  rt r;
  open_hub(&r);
  gv_hub *hub = &r.hub;
  for (int i = 0; i < 5; i++) rt_spawn(&r, yielder, NULL);
  rt_run(&r);
  CHECK(gv_stats_of(hub).switches == 0 && gv_stats_of(hub).callbacks == 0);
  gv_observe(hub, GV_OBS_USER, 1);
  for (int i = 0; i < 5; i++) rt_spawn(&r, yielder, NULL);
  rt_run(&r);
  CHECK(gv_stats_of(hub).switches >= 20); /* 5 x 4, and the main one */
  gv_observe(hub, GV_OBS_USER, 0);
  CHECK(gv_observing(hub, ~0u) == 0);
  gv_callback cb = {0};
  cb.kind = GV_CB_QUEUE;
  CHECK(strstr(gv_callback_name(&cb), "queue") != NULL);
  cb.kind = 200;
  CHECK(strcmp(gv_callback_name(&cb), "a callback") == 0);
  rt_close(&r);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  RUN(test_block_reported);
  RUN(test_slice);
  RUN(test_idle_is_not_blocked);
  RUN(test_memory_event);
  RUN(test_counters_only_when_observed);
  return unit_report();
}
