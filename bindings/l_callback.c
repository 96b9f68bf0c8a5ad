/*
** l_callback.c - run_callback(fn, ...): runs fn(...) in the hub as a run
** queue entry, in FIFO order with greenlets and other callbacks (gevent's
** loop.run_callback); gevent.pool runs link notifications with it where
** gevent runs them. Errors are printed, as in any hub callback.
*/
#include <string.h>
#include "bindings.h"

typedef struct l_callback {
  gv_callback cb;   /* first: the run queue entry */
  int ref;          /* anchor until it runs */
  int n;            /* fn + arguments, in user values 1..n */
} l_callback;

static int callback_p(lua_State *L) {
  l_callback *d = lua_touserdata(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->ref);
  luaL_unref(L, LUA_REGISTRYINDEX, d->ref);
  d->ref = LUA_NOREF;
  int ud = lua_gettop(L);
  luaL_checkstack(L, d->n, "too many arguments");
  for (int i = 1; i <= d->n; i++) lua_getiuservalue(L, ud, i);
  lua_call(L, d->n - 1, 0);
  return 0;
}

static void callback_run(gv_hub *hub, gv_callback *cb) {
  l_hub_protected(hub->ud, callback_p, cb);
}

/* run_callback(fn, ...) */
static int l_run_callback_new(lua_State *L) {
  l_hub *h = l_hubup(L);
  int n = lua_gettop(L);
  luaL_checkany(L, 1);
  l_callback *d = lua_newuserdatauv(L, sizeof *d, n);
  memset(d, 0, sizeof *d);
  d->n = n;
  d->cb.fn = callback_run;
  d->cb.kind = GV_CB_DEFER;
  for (int i = n; i >= 1; i--) {
    lua_pushvalue(L, i);
    lua_setiuservalue(L, -2, i);
  }
  d->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  gv_schedule(&h->hub, &d->cb);
  return 0;
}

void l_callback_open(lua_State *L, l_hub *h) {
  (void)h;
  static const luaL_Reg funcs[] = {
    {"run_callback", l_run_callback_new},
    {NULL, NULL}
  };
  l_setfuncs(L, funcs);
}
