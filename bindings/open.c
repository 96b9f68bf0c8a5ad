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
  return 1;
}
