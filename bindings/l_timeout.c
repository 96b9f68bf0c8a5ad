/*
** l_timeout.c - gevent's Timeout: a timer that, when it fires, raises an
** error in the greenlet that started it, at its blocking point. The class
** is also an error class: Timeout:is(err), tostring "Timeout: 2 seconds".
** `local t <close> = Timeout(2):start()` cancels it at scope exit.
*/
#include <string.h>
#include "bindings.h"

typedef struct l_timeout {
  gv_timer timer;
  gv_hub *hub;
  gv_greenlet *owner;  /* the greenlet that started it (its object is
                       ** user value OWNER while armed, so that it stays
                       ** alive until the timer fires or is cancelled) */
  double seconds;      /* < 0: never fires */
  int ref;             /* anchor while pending (the heap holds a pointer) */
} l_timeout;

void *l_timeout_test(lua_State *L, int idx) {
  return luaL_testudata(L, idx, L_TIMEOUT);
}

static l_timeout *check(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, L_TIMEOUT);
}

enum { EXC = 1, OWNER = 2 }; /* user values */

static void unanchor(lua_State *L, l_timeout *t) {
  if (t->ref != LUA_NOREF) {
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
  }
}

/* Pushes what the timeout raises: itself, an instance of a given class,
** or the given value. */
static void push_error(lua_State *L, int self) {
  lua_getiuservalue(L, self, EXC);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushvalue(L, self);
  } else if (lua_istable(L, -1) && luaL_getmetafield(L, -1, "__call")) {
    lua_pop(L, 1);
    lua_call(L, 0, 1);
  }
}

static int fire_p(lua_State *L) {
  l_timeout *t = lua_touserdata(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
  int self = lua_gettop(L);
  unanchor(L, t);
  gv_greenlet *g = t->owner;
  t->owner = NULL;
  lua_getiuservalue(L, self, OWNER); /* keeps g alive while it is used */
  lua_pushnil(L);
  lua_setiuservalue(L, self, OWNER);
  if (!g || g->state == GV_DEAD) return 0;
  push_error(L, self);
  gv_throw(g, L);
  return 0;
}

static void fire(gv_hub *hub, gv_timer *timer) {
  l_hub_protected(hub->ud, fire_p, gv_container_of(timer, l_timeout, timer));
}

/* Timeout(seconds, exception) */
static int t_new(lua_State *L) {
  /* called as Timeout(...) through __call: the class is argument 1 */
  lua_remove(L, 1);
  lua_settop(L, 2);
  if (!lua_isnil(L, 1) && lua_type(L, 1) != LUA_TNUMBER)
    l_typeerror(L, 1, 1, "gevent.Timeout", "number");
  l_timeout *t = lua_newuserdatauv(L, sizeof *t, 2);
  t->timer.index = 0;
  t->hub = &l_hubup(L)->hub;
  t->owner = NULL;
  t->seconds = lua_isnil(L, 1) ? -1 : luaL_checknumber(L, 1);
  t->ref = LUA_NOREF;
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, EXC);
  luaL_setmetatable(L, L_TIMEOUT);
  return 1;
}

void l_timeout_push_new(lua_State *L, double seconds) {
  lua_getfield(L, LUA_REGISTRYINDEX, L_TIMEOUT);
  lua_getfield(L, -1, "__call_new");
  lua_remove(L, -2);
  lua_getfield(L, LUA_REGISTRYINDEX, L_TIMEOUT);
  if (seconds < 0) lua_pushnil(L);
  else lua_pushnumber(L, seconds);
  lua_call(L, 2, 1);
}

/* Arms the Timeout at idx for the current greenlet. */
static void arm(lua_State *L, int idx, l_timeout *t) {
  gv_greenlet *g = t->hub->current;
  if (!g) luaL_error(L, "a Timeout must be started by a greenlet");
  if (gv_timer_active(&t->timer)) gv_timer_stop(t->hub, &t->timer);
  t->owner = g;
  l_greenlet_push(L, (l_greenlet *)g);
  lua_setiuservalue(L, idx, OWNER);
  if (t->seconds < 0) return;
  if (t->ref == LUA_NOREF) {
    lua_pushvalue(L, idx);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  gv_now(t->hub);
  gv_timer_start(t->hub, &t->timer, t->seconds, fire);
}

/* t:start(): arms it for the current greenlet; returns t. */
static int t_start(lua_State *L) {
  arm(L, 1, check(L, 1));
  lua_settop(L, 1);
  return 1;
}

double l_wait_timeout(lua_State *L, int idx, void **tmo) {
  double t = l_opttimeout(L, idx, tmo);
  l_timeout *to = *tmo;
  if (to && !gv_timer_active(&to->timer)) arm(L, lua_absindex(L, idx), to);
  return t;
}

double l_timeout_arg_slow(lua_State *L, gv_greenlet *cur, int idx,
                          int start, void **tmo) {
  double t = start ? l_wait_timeout(L, idx, tmo) : l_opttimeout(L, idx, tmo);
  if (*tmo) cur->flags |= GV_F_CATCH;
  return t;
}

int l_timeout_fired(lua_State *L, gv_greenlet *cur, void *tmo) {
  if (cur->wake != GV_WAKE_THROW) return 0;
  if (!tmo || lua_touserdata(L, -1) != tmo) lua_error(L);
  lua_pop(L, 1);
  return 1;
}

void l_cancel_timeout(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  l_timeout *t = l_timeout_test(L, idx);
  if (!t) return;
  if (gv_timer_active(&t->timer)) gv_timer_stop(t->hub, &t->timer);
  t->owner = NULL;
  lua_pushnil(L);
  lua_setiuservalue(L, idx, OWNER);
  unanchor(L, t);
}

/* Timeout.start_new(seconds, exception) */
static int t_start_new(lua_State *L) {
  lua_settop(L, 2);
  lua_getfield(L, LUA_REGISTRYINDEX, L_TIMEOUT);
  lua_insert(L, 1);
  t_new(L); /* seconds, exception, timeout */
  lua_replace(L, 1);
  lua_settop(L, 1);
  return t_start(L);
}

/* t:cancel() / t:close() / __close / __gc */
static int t_cancel(lua_State *L) {
  l_timeout *t = check(L, 1);
  if (gv_timer_active(&t->timer)) gv_timer_stop(t->hub, &t->timer);
  t->owner = NULL;
  lua_pushnil(L);
  lua_setiuservalue(L, 1, OWNER);
  unanchor(L, t);
  return 0;
}

static int t_gc(lua_State *L) {
  l_timeout *t = lua_touserdata(L, 1);
  if (gv_timer_active(&t->timer) && t->hub->loop)
    gv_timer_stop(t->hub, &t->timer);
  return 0;
}

static int t_tostring(lua_State *L) {
  l_timeout *t = check(L, 1);
  if (t->seconds < 0) lua_pushliteral(L, "Timeout");
  else lua_pushfstring(L, "Timeout: %f second%s", t->seconds,
                       t->seconds == 1 ? "" : "s");
  return 1;
}

/* __index: pending, seconds, exception; then the class. */
static int t_index(lua_State *L) {
  l_timeout *t = check(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && lua_type(L, 2) == LUA_TSTRING) {
    if (k[0] == 'p' && strcmp(k, "pending") == 0) {
      lua_pushboolean(L, gv_timer_active(&t->timer));
      return 1;
    }
    if (k[0] == 's' && strcmp(k, "seconds") == 0) {
      if (t->seconds < 0) lua_pushnil(L);
      else lua_pushnumber(L, t->seconds);
      return 1;
    }
    if (k[0] == 'e' && strcmp(k, "exception") == 0) {
      lua_getiuservalue(L, 1, EXC);
      return 1;
    }
  }
  lua_getfield(L, LUA_REGISTRYINDEX, L_TIMEOUT);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

static const luaL_Reg timeout_methods[] = {
  {"start", t_start},
  {"cancel", t_cancel},
  {"close", t_cancel},
  {"start_new", t_start_new},
  {"__close", t_cancel},
  {"__gc", t_gc},
  {"__tostring", t_tostring},
  {"__index", t_index},
  {"__call_new", t_new},
  {NULL, NULL}
};

void l_timeout_register(lua_State *L) {
  l_class_new(L, "Timeout", 0, L_TIMEOUT);
  l_setfuncs(L, timeout_methods);
  /* Timeout(...) constructs a timer, not a plain error instance */
  lua_getmetatable(L, -1);
  lua_getfield(L, -2, "__call_new");
  lua_setfield(L, -2, "__call");
  lua_pop(L, 2);
}

void l_timeout_open(lua_State *L, l_hub *h) {
  (void)h;
  lua_getfield(L, LUA_REGISTRYINDEX, L_TIMEOUT);
  lua_setfield(L, -2, "Timeout");
}
