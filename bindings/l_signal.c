/*
** l_signal.c - gevent.signal_handler(signum, fn, ...): runs fn(...) in a
** new greenlet each time the signal is delivered (a gv_signal of
** runtime/signal.c: a handler alone does not keep the loop alive, as in
** gevent). Returns an object with cancel().
*/
#include <errno.h>
#include <string.h>
#include "bindings.h"

#define SG_HANDLER "gevent.SignalHandler"

typedef struct sg_handler {
  gv_signal s;
  l_hub *h;
  int ref;          /* anchor while active */
  int signum;
} sg_handler;

/* In hub context: spawn fn(args...) (user value: {fn, args..., n=}). */
static int fire_p(lua_State *L) {
  sg_handler *s = lua_touserdata(L, 1);
  if (s->ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref);
  lua_getiuservalue(L, -1, 1);
  int t = lua_gettop(L);
  lua_getfield(L, t, "n");
  int n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, n + 2, "too many arguments");
  for (int i = 1; i <= n; i++) lua_rawgeti(L, t, i);
  l_greenlet_spawn(L, s->h, n - 1);
  return 0;
}

static void signal_cb(gv_hub *hub, gv_signal *gs) {
  (void)hub;
  sg_handler *s = gv_container_of(gs, sg_handler, s);
  l_hub_protected(s->h, fire_p, s);
}

static void stop(lua_State *L, sg_handler *s) {
  gv_signal_stop(&s->s);
  if (s->ref != LUA_NOREF) {
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
    s->ref = LUA_NOREF;
  }
}

/* signal_handler(signum, fn, ...) */
static int l_signal_handler(lua_State *L) {
  l_hub *h = l_hubup(L);
  int signum = l_checksignal(L, 1);
  luaL_checkany(L, 2);
  int n = lua_gettop(L) - 1; /* fn and its arguments */
  sg_handler *s = lua_newuserdatauv(L, sizeof *s, 1);
  memset(s, 0, sizeof *s);
  s->h = h;
  s->signum = signum;
  s->ref = LUA_NOREF;
  lua_createtable(L, n, 1);
  for (int i = 1; i <= n; i++) {
    lua_pushvalue(L, i + 1);
    lua_rawseti(L, -2, i);
  }
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "n");
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, SG_HANDLER);
  lua_pushvalue(L, -1);
  s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  int e = gv_signal_start(&h->hub, &s->s, signum, signal_cb);
  if (e) {
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
    s->ref = LUA_NOREF;
    return luaL_argerror(L, 1, e == -EBUSY
        ? "SIGCHLD is used by gevent.subprocess to reap children"
        : "SIGKILL and SIGSTOP cannot be handled");
  }
  return 1;
}

static int m_cancel(lua_State *L) {
  sg_handler *s = luaL_checkudata(L, 1, SG_HANDLER);
  stop(L, s);
  return 0;
}

static int m_gc(lua_State *L) {
  sg_handler *s = lua_touserdata(L, 1);
  gv_signal_stop(&s->s);
  return 0;
}

static int m_index(lua_State *L) {
  sg_handler *s = luaL_checkudata(L, 1, SG_HANDLER);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "signum") == 0) {
    lua_pushinteger(L, s->signum);
  } else if (strcmp(k, "active") == 0) {
    lua_pushboolean(L, gv_signal_active(&s->s));
  } else if (strcmp(k, "handler") == 0) {
    lua_getiuservalue(L, 1, 1);
    lua_rawgeti(L, -1, 1);
  } else {
    lua_getfield(L, lua_upvalueindex(2), k); /* the methods */
  }
  return 1;
}

static int m_tostring(lua_State *L) {
  sg_handler *s = luaL_checkudata(L, 1, SG_HANDLER);
  lua_pushfstring(L, "<signal_handler %d%s>", s->signum,
                  gv_signal_active(&s->s) ? "" : " (cancelled)");
  return 1;
}

static const luaL_Reg methods[] = {
  {"cancel", m_cancel},
  {"close", m_cancel},
  {NULL, NULL}
};

void l_signal_open(lua_State *L, l_hub *h) {
  (void)h;
  static const luaL_Reg meta[] = {
    {"__close", m_cancel},
    {"__gc", m_gc},
    {"__tostring", m_tostring},
    {NULL, NULL}
  };
  l_newtype(L, SG_HANDLER, methods, meta, m_index);
  lua_pop(L, 1);
  static const luaL_Reg funcs[] = {
    {"signal_handler", l_signal_handler},
    {NULL, NULL}
  };
  l_setfuncs(L, funcs);
}
