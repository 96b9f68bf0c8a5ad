/*
** l_waiter.c - the Waiter under gevent.wait/iwait and pool's iterators:
** one greenlet waits for values pushed from anywhere (links, callbacks),
** in order; get(timeout) returns nil when the time is up.
*/
#include "bindings.h"

#define L_WAITER "gevent.Waiter"

typedef struct l_waiter {
  gv_waitq q;
  int head, tail; /* items in the uservalue table [head, tail) */
} l_waiter;

static int w_put(lua_State *L) {
  l_waiter *w = luaL_checkudata(L, 1, L_WAITER);
  luaL_checkany(L, 2);
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, w->tail++);
  gv_waitq_wake_one(&w->q);
  return 0;
}

static int w_get_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  l_waiter *w = lua_touserdata(L, 1);
  if (w->head == w->tail) { lua_pushnil(L); return 1; } /* timed out */
  lua_getiuservalue(L, 1, 1);
  lua_rawgeti(L, -1, w->head);
  lua_pushnil(L);
  lua_rawseti(L, -3, w->head++);
  return 1;
}

/* w:get(timeout): the next value, or nil after timeout. */
static int w_get(lua_State *L) {
  l_hub *h = l_hubup(L);
  l_waiter *w = luaL_checkudata(L, 1, L_WAITER);
  void *tmo;
  double t = l_opttimeout(L, 2, &tmo);
  lua_settop(L, 1);
  if (w->head != w->tail) return w_get_k(L, 0, 0);
  return gv_waitq_wait(&h->hub, &w->q, L, t, "a wait() on objects", 0,
                       w_get_k);
}

static int w_len(lua_State *L) {
  l_waiter *w = luaL_checkudata(L, 1, L_WAITER);
  lua_pushinteger(L, w->tail - w->head);
  return 1;
}

/* new(): a Waiter. */
static int l_waiter_new(lua_State *L) {
  l_waiter *w = lua_newuserdatauv(L, sizeof *w, 1);
  gv_waitq_init(&w->q);
  w->head = w->tail = 1;
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, L_WAITER);
  return 1;
}

static const luaL_Reg waiter_methods[] = {
  {"put", w_put},
  {"get", w_get},
  {NULL, NULL}
};

static const luaL_Reg waiter_meta[] = {
  {"__len", w_len},
  {NULL, NULL}
};

void l_waiter_open(lua_State *L, l_hub *h) {
  (void)h;
  l_newtype(L, L_WAITER, waiter_methods, waiter_meta, NULL);
  lua_pop(L, 1);
  static const luaL_Reg funcs[] = {
    {"new", l_waiter_new},
    {NULL, NULL}
  };
  l_setfuncs(L, funcs);
}
