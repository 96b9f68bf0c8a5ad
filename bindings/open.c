/*
** open.c - luaopen_gvlua: assembles require "gvlua" from the bindings'
** submodules, each opened into a table of its own; the root table gets
** the greenlet and Timeout functions and a few aliases. The one place
** that knows every binding.
*/
#include "bindings.h"
#include "gvlua.h"

/* Submodules of require "gvlua", each filling its own table. */
static const struct {
  const char *name;
  void (*open)(lua_State *L, l_hub *h);
} submodules[] = {
  {"lock", l_lock_open},
  {"socket", l_socket_open},
  {"select", l_select_open},
  {"waiter", l_waiter_open},
  {"callback", l_callback_open},
  {"dns", l_dns_open},
  {"subprocess", l_subprocess_open},
  {"os", l_os_open},
  {"signal", l_signal_open},
  {"threadpool", l_threadpool_open},
  {"event", l_event_open},
  {"queue", l_queue_open},
  {"ssl", l_ssl_open},
  {"http", l_http_open},
  {"websocket", l_websocket_open},
  {"monitor", l_monitor_open},
  {NULL, NULL}
};

/* Functions of a submodule that the root table offers too (gevent.fork,
** gevent.signal_handler). */
static const struct { const char *sub, *name; } aliases[] = {
  {"os", "fork"},
  {"signal", "signal_handler"},
  {NULL, NULL}
};

/* next() over the module table (upvalue 1) for the proxy's __pairs. */
static int module_next(lua_State *L) {
  lua_settop(L, 2);
  if (lua_next(L, lua_upvalueindex(1))) return 2;
  lua_pushnil(L);
  return 1;
}

static int module_pairs(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, module_next, 1);
  lua_pushnil(L);
  lua_pushnil(L);
  return 3;
}

/* Replaces the module on top by what require "gvlua" returns: an empty
** table reading and writing through to it. Lua names a C function in an
** argument error it raises without a call site to name it from (pcall(f,
** ...)) by looking for it in the tables of package.loaded: the functions
** gevent's modules re-export would be found as 'gvlua.sleep' as often as
** 'gevent.sleep'. */
static void push_module_proxy(lua_State *L) {
  int mod = lua_gettop(L);
  lua_newtable(L);
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, mod);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, mod);
  lua_setfield(L, -2, "__newindex");
  lua_pushvalue(L, mod);
  lua_pushcclosure(L, module_pairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pushliteral(L, "gvlua");
  lua_setfield(L, -2, "__name");
  lua_setmetatable(L, -2);
  lua_remove(L, mod);
}

GVLUA_API int luaopen_gvlua(lua_State *L) {
  l_hub *h = l_hub_get(L);
  lua_newtable(L);
  int root = lua_gettop(L);
  l_greenlet_open(L, h);
  l_timeout_open(L, h);
  for (int i = 0; submodules[i].name; i++) {
    lua_newtable(L);
    submodules[i].open(L, h);
    lua_setfield(L, root, submodules[i].name);
  }
  for (int i = 0; aliases[i].sub; i++) {
    lua_getfield(L, root, aliases[i].sub);
    lua_getfield(L, -1, aliases[i].name);
    lua_setfield(L, root, aliases[i].name);
    lua_pop(L, 1);
  }
  lua_pushliteral(L, GVLUA_VERSION);
  lua_setfield(L, root, "version");
  push_module_proxy(L);
  return 1;
}
