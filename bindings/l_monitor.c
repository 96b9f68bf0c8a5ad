/*
** l_monitor.c - the Lua side of runtime/monitor.c and interrupt.c
** (require("gvlua").monitor): gevent.config's settings applied to the
** monitor thread, the hub's counters, gevent.events' deliveries, the raw
** material of gevent.util.format_run_info, and what an interrupt request
** does in Lua: report a block, raise SliceExceeded, raise "interrupted!".
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "bindings.h"

#define DISPATCH "gvlua.events.dispatch" /* registry: the Lua dispatcher */
#define PENDING "gvlua.events.pending"   /* registry: events to deliver */

/* ---- events ------------------------------------------------------------ */

/* Calls the dispatcher with the event table on top of L (popped). Errors
** of the dispatcher itself are printed: an event never fails its source. */
static void dispatch(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, DISPATCH) != LUA_TFUNCTION) {
    lua_pop(L, 2);
    return;
  }
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "gvlua: error in an event subscriber: %s\n",
            luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
  }
}

/* Pushes {type = kind, greenlet = the greenlet at idx (0: none)}. */
static void new_event(lua_State *L, const char *kind, int idx) {
  if (idx) idx = lua_absindex(L, idx);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "type");
  if (idx) {
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "greenlet");
  }
}

/* h->greenlet_event: the greenlet at idx was "spawned" or "finished".
** Runs only while events are observed (one test in l_greenlet.c). */
static void greenlet_event(lua_State *L, l_hub *h, const char *kind,
                           int idx) {
  (void)h;
  new_event(L, kind, idx);
  dispatch(L);
}

static int switched_p(lua_State *L) {
  l_greenlet *g = lua_touserdata(L, 1);
  l_greenlet_push(L, g);
  new_event(L, "switched", -1);
  dispatch(L);
  return 0;
}

static void on_switched(gv_hub *hub, gv_greenlet *g) {
  if (g->flags & GV_F_MAIN || ((l_greenlet *)g)->ref != LUA_NOREF)
    l_hub_protected(hub->ud, switched_p, g);
}

/* Queues the event on top of L (popped) for delivery from the hub: for
** events found where Lua code must not run (inside a hook). */
static void queue_event(lua_State *L, l_hub *h) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, PENDING) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, PENDING);
  }
  lua_insert(L, -2);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
  gv_schedule(&h->hub, &h->events_cb);
}

static int deliver_p(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, PENDING) != LUA_TTABLE) return 0;
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, PENDING);
  int t = lua_gettop(L);
  lua_Integer n = (lua_Integer)lua_rawlen(L, t);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, t, i);
    dispatch(L);
  }
  return 0;
}

static void deliver(gv_hub *hub, gv_callback *cb) {
  (void)cb;
  l_hub_protected(hub->ud, deliver_p, NULL);
}

typedef struct { int event; double value; } mon_event;

static int monitor_event_p(lua_State *L) {
  mon_event *e = lua_touserdata(L, 1);
  new_event(L, e->event == GV_MON_MEMORY_OVER ? "memory_exceeded"
                                              : "memory_under", 0);
  lua_pushnumber(L, e->value);
  lua_setfield(L, -2, "mem_usage");
  dispatch(L);
  return 0;
}

static void on_monitor_event(gv_hub *hub, int event, double value) {
  mon_event e = {event, value};
  if (gv_observing(hub, GV_OBS_EVENTS))
    l_hub_protected(hub->ud, monitor_event_p, &e);
}

/* ---- interrupt requests ----------------------------------------------- */

/* The monitor found the hub blocked: print what runs (L, in a hook). */
static void report_block(l_hub *h, lua_State *L) {
  gv_hub *hub = &h->hub;
  double seconds;
  if (!L || !gv_monitor_block(hub, GV_IRQ_REPORT, &seconds)) return;
  char who[256], head[512];
  if (gv_current(hub)) l_greenlet_describe(hub, gv_current(hub), who, sizeof who);
  else snprintf(who, sizeof who, "a callback of the hub");
  snprintf(head, sizeof head, "gvlua: %s has blocked the hub for %.3f s",
           who, seconds);
  luaL_traceback(L, L, head, 0);
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  fwrite(s, 1, len, stderr);
  fputc('\n', stderr);
  fflush(stderr);
  if (gv_observing(hub, GV_OBS_EVENTS)) {
    if (gv_current(hub)) l_greenlet_push(L, (l_greenlet *)gv_current(hub));
    else lua_pushnil(L);
    new_event(L, "blocked", -1);
    lua_remove(L, -2);
    lua_pushnumber(L, seconds);
    lua_setfield(L, -2, "blocking_time");
    lua_pushstring(L, s + strlen(head) + 1); /* the traceback lines */
    lua_setfield(L, -2, "traceback");
    queue_event(L, h);
  }
  lua_pop(L, 1);
}

/* The greenlet running in L exceeded max_slice: raise SliceExceeded. */
static void raise_slice(l_hub *h, lua_State *L) {
  gv_greenlet *cur = gv_current(&h->hub);
  double seconds;
  if (!L || !cur || L != cur->L ||
      !gv_monitor_block(&h->hub, GV_IRQ_SLICE, &seconds))
    return;
  char msg[128];
  snprintf(msg, sizeof msg, "ran for more than %g s without yielding "
           "(max_slice)", seconds);
  l_error_new(L, L_SLICEEXCEEDED, msg);
  lua_error(L);
}

/* Raises 'msg' in the main greenlet when it runs again. */
static int throw_main(l_hub *h, lua_State *from) {
  gv_greenlet *m = h->hub.main;
  if (!m || m->state == GV_DEAD || !gv_blocked_thread(m)) {
    lua_pop(from, 1);
    return 0;
  }
  gv_throw(m, from);
  return 1;
}

/* Ctrl-C: "interrupted!" where Lua code runs, as lua.c raises it. */
static void raise_interrupt(l_hub *h, lua_State *L) {
  gv_hub *hub = &h->hub;
  gv_greenlet *cur = gv_current(hub);
  if (!L || !cur) { /* the hub, idle or in a callback: the main greenlet */
    lua_pushliteral(hub->L, "interrupted!");
    throw_main(h, hub->L);
    if (L) luaL_error(L, "interrupted!"); /* end the callback too */
    return;
  }
  if (!(cur->flags & GV_F_MAIN)) h->int_victim = cur;
  luaL_error(L, "interrupted!");
}

static void on_interrupt(gv_hub *hub, lua_State *L, unsigned bits) {
  l_hub *h = hub->ud;
  if (bits & GV_IRQ_REPORT) report_block(h, L);
  if (bits & GV_IRQ_INT) raise_interrupt(h, L);
  else if (bits & GV_IRQ_SLICE) raise_slice(h, L);
}

/* h->interrupted, in finish_p: the greenlet at self, the one Ctrl-C's
** error was raised in, died with the error at err (traceback tb or NULL).
** The interrupt goes on to the main greenlet (gevent hands
** KeyboardInterrupt to the main greenlet too) and 1 is returned: no
** failure report then; 0 when the main greenlet cannot take it. */
static int interrupted(lua_State *L, l_hub *h, int self, int err,
                       const char *tb) {
  gv_greenlet *m = h->hub.main;
  if (!m || m->state == GV_DEAD || !gv_blocked_thread(m)) return 0;
  const char *msg = tb ? tb : luaL_tolstring(L, err, NULL);
  const char *who = luaL_tolstring(L, self, NULL);
  lua_pushfstring(L, "%s\nin %s, while the main greenlet waited in", msg,
                  who);
  lua_remove(L, -2);
  if (!tb) lua_remove(L, -2);
  throw_main(h, L);
  return 1;
}

void l_monitor_hooks(l_hub *h) {
  h->hub.hooks.interrupt = on_interrupt;
  h->hub.hooks.switched = on_switched;
  h->hub.hooks.monitor_event = on_monitor_event;
  h->events_cb.fn = deliver;
  h->greenlet_event = greenlet_event;
  h->interrupted = interrupted;
}

/* ---- settings, counters ------------------------------------------------ */

static double num_field(lua_State *L, const char *name) {
  lua_getfield(L, 1, name);
  double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
  lua_pop(L, 1);
  return v;
}

/* monitor.configure{monitor_thread=, max_blocking_time=, max_slice=,
** max_memory_usage=, memory_monitor_period=}: applied at once. The values
** were checked by gevent.config. */
static int l_configure(lua_State *L) {
  l_hub *h = l_hubup(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  gv_monitor_config c;
  lua_getfield(L, 1, "monitor_thread");
  c.monitor_thread = lua_toboolean(L, -1);
  lua_pop(L, 1);
  c.max_blocking_time = num_field(L, "max_blocking_time");
  c.max_slice = num_field(L, "max_slice");
  c.max_memory_usage = num_field(L, "max_memory_usage");
  c.memory_monitor_period = num_field(L, "memory_monitor_period");
  if (c.memory_monitor_period <= 0) c.memory_monitor_period = 5;
  int e = gv_monitor_configure(&h->hub, &c);
  if (e != 0)
    return luaL_error(L, "cannot start the monitor thread (%s)",
                      strerror(-e));
  return 0;
}

/* monitor.observe(what, on): "counters", "switched" or "events". */
static int l_observe(lua_State *L) {
  l_hub *h = l_hubup(L);
  static const char *const names[] = {"counters", "switched", "events",
                                      NULL};
  static const unsigned bits[] = {GV_OBS_USER, GV_OBS_SWITCH, GV_OBS_EVENTS};
  int i = luaL_checkoption(L, 1, NULL, names);
  gv_observe(&h->hub, bits[i], lua_toboolean(L, 2));
  return 0;
}

static void setint(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void setnum(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

/* monitor.counters(): the hub's counters. */
static int l_counters(lua_State *L) {
  gv_hub *hub = &l_hubup(L)->hub;
  gv_stats s = gv_stats_of(hub);
  lua_createtable(L, 0, 8);
  setint(L, "switches", (lua_Integer)s.switches);
  setint(L, "callbacks", (lua_Integer)s.callbacks);
  setint(L, "greenlets", (lua_Integer)gv_hub_counts_of(hub).alive);
  setint(L, "loop_iterations",
         (lua_Integer)gv_loop_info_of(hub).iterations);
  setint(L, "blocked_reports", (lua_Integer)s.blocked_reports);
  setnum(L, "blocked_time", s.blocked_time);
  lua_pushboolean(L, gv_observing(hub, ~0u) != 0);
  lua_setfield(L, -2, "counting");
  return 1;
}

static int l_set_dispatch(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, DISPATCH);
  return 0;
}

static int l_rss(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)gv_monitor_rss());
  return 1;
}

/* ---- run info ------------------------------------------------------------ */

static const char *state_name(gv_hub *hub, l_greenlet *g) {
  if (&g->g == gv_current(hub)) return "running";
  switch (g->g.state) {
  case GV_NEW: return g->started ? "scheduled" : "not started";
  case GV_READY: return (g->g.flags & GV_F_STARTED) ? "ready" : "scheduled";
  case GV_BLOCKED: return "blocked";
  case GV_RUNNING: return "running";
  default: return "dead";
  }
}

/* The first value of the C function a blocked thread T waits in: the
** object of a method (Event:wait's Event...). Pushes it or nothing. */
static int push_wait_object(lua_State *L, lua_State *T) {
  lua_Debug ar;
  if (!T || !lua_getstack(T, 0, &ar) || !lua_getinfo(T, "S", &ar) ||
      ar.what[0] != 'C' || !lua_checkstack(T, 1))
    return 0;
  if (!lua_getlocal(T, &ar, 1)) return 0;
  int t = lua_type(T, -1);
  if (t != LUA_TUSERDATA && t != LUA_TTABLE) {
    lua_pop(T, 1);
    return 0;
  }
  lua_xmove(T, L, 1);
  return 1;
}

/* Pushes the traceback of g's Lua code (or nothing if it has none). */
static int push_traceback(lua_State *L, gv_hub *hub, l_greenlet *g) {
  if (&g->g == gv_current(hub)) {
    luaL_traceback(L, L, NULL, 1);
    return 1;
  }
  if (!(g->g.flags & GV_F_STARTED) || !g->g.L) return 0;
  lua_State *T = gv_blocked_thread(&g->g) ? gv_blocked_thread(&g->g) : g->g.L;
  luaL_traceback(L, T, NULL, 0);
  if (T != g->g.L) { /* blocked in a coroutine of its own: its thread too */
    luaL_traceback(L, g->g.L, NULL, 0);
    lua_concat(L, 2);
  }
  return 1;
}

/* Pushes a table describing greenlet g (see gevent.util). */
static void push_info(lua_State *L, gv_hub *hub, l_greenlet *g) {
  gv_greenlet *gg = &g->g;
  lua_createtable(L, 0, 10);
  l_greenlet_push(L, g);
  lua_setfield(L, -2, "greenlet");
  lua_pushstring(L, state_name(hub, g));
  lua_setfield(L, -2, "state");
  if (g->where && !(gg->flags & GV_F_MAIN)) {
    lua_pushstring(L, g->where);
    lua_setfield(L, -2, "spawned");
  }
  gv_wait_info wi = gv_wait_info_of(hub, gg);
  if (wi.timer >= 0) setnum(L, "timer", wi.timer);
  if (gg->state == GV_BLOCKED) {
    const char *what = gv_waiting_on(gg);
    lua_pushstring(L, what ? what : "?");
    lua_setfield(L, -2, "waiting");
    if (wi.fd >= 0) {
      setint(L, "fd", wi.fd);
      lua_pushstring(L, (wi.events & EV_READ) && (wi.events & EV_WRITE) ?
                     "read/write" : (wi.events & EV_WRITE) ? "write" : "read");
      lua_setfield(L, -2, "events");
    }
    if (push_wait_object(L, gv_blocked_thread(gg)))
      lua_setfield(L, -2, "object");
  }
  if (push_traceback(L, hub, g)) {
    lua_setfield(L, -2, "traceback");
  } else { /* not run yet: its function is its body's */
    int top = lua_gettop(L);
    l_greenlet_push(L, g);
    if (lua_getiuservalue(L, -1, UV_THREAD) == LUA_TTABLE)
      lua_rawgeti(L, -1, 1);
    if (lua_isfunction(L, -1)) lua_setfield(L, top, "fn");
    lua_settop(L, top);
  }
}

/* monitor.greenlets(): one table per live greenlet, the main one first. */
static int l_greenlets(lua_State *L) {
  l_hub *h = l_hubup(L);
  gv_hub *hub = &h->hub;
  luaL_checkstack(L, 8, NULL);
  lua_createtable(L, (int)gv_hub_counts_of(hub).alive + 1, 0);
  lua_Integer n = 0;
  if (h->main) {
    push_info(L, hub, h->main);
    lua_rawseti(L, -2, ++n);
  }
  for (gv_greenlet *gg = gv_alive_next(hub, NULL); gg;
       gg = gv_alive_next(hub, gg)) {
    l_greenlet *g = (l_greenlet *)gg;
    if (g->ref == LUA_NOREF) continue;
    push_info(L, hub, g);
    lua_rawseti(L, -2, ++n);
  }
  return 1;
}

/* monitor.hub(): the hub's queue, timers and loop. */
static int l_hubinfo(lua_State *L) {
  l_hub *h = l_hubup(L);
  gv_hub *hub = &h->hub;
  lua_createtable(L, 0, 10);
  lua_Integer ready = 0, ncb = 0;
  lua_newtable(L); /* callbacks: their descriptions */
  for (const gv_callback *cb = gv_runq_next(hub, NULL); cb;
       cb = gv_runq_next(hub, cb)) {
    if (!cb->fn) { ready++; continue; }
    if (cb->kind == GV_CB_LINKS) {
      l_greenlet *g = gv_container_of(cb, l_greenlet, g.run);  /* its own entry */
      l_greenlet_push(L, g);
      lua_pushfstring(L, "%s of %s", gv_callback_name(cb),
                      luaL_tolstring(L, -1, NULL));
      lua_replace(L, -3);
      lua_pop(L, 1);
    } else {
      lua_pushstring(L, gv_callback_name(cb));
    }
    lua_rawseti(L, -2, ++ncb);
  }
  lua_setfield(L, -2, "callbacks");
  setint(L, "ready", ready);
  gv_hub_counts n = gv_hub_counts_of(hub);
  setint(L, "alive", (lua_Integer)n.alive);
  setint(L, "timers", (lua_Integer)n.timers);
  double next = gv_next_timer(hub);
  if (next >= 0) setnum(L, "next_timer", next);
  setint(L, "loop_iterations",
         (lua_Integer)gv_loop_info_of(hub).iterations);
  setint(L, "pending_watchers", (lua_Integer)gv_loop_info_of(hub).pending);
  setint(L, "runners", (lua_Integer)n.runners);
  lua_pushboolean(L, gv_monitor_running(hub));
  lua_setfield(L, -2, "monitor_thread");
  setnum(L, "now", gv_loop_info_of(hub).now);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"configure", l_configure},
  {"observe", l_observe},
  {"counters", l_counters},
  {"set_dispatch", l_set_dispatch},
  {"rss", l_rss},
  {"greenlets", l_greenlets},
  {"hub", l_hubinfo},
  {NULL, NULL}
};

void l_monitor_open(lua_State *L, l_hub *h) {
  (void)h;
  l_setfuncs(L, funcs);
  if (lua_getfield(L, LUA_REGISTRYINDEX, L_SLICEEXCEEDED) == LUA_TNIL) {
    lua_pop(L, 1);
    l_class_new(L, "SliceExceeded", 0, L_SLICEEXCEEDED);
  }
  lua_setfield(L, -2, "SliceExceeded");
}
