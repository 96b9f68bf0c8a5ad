/*
** l_hub.c - the hub as Lua sees it: one per Lua state, created on first
** use and closed with the state; luaopen_gvlua; helpers shared by every
** binding. The embedding API of include/gvlua.h is in embed.c.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bindings.h"
#include "gvlua.h"

static int hub_gc(lua_State *L) {
  l_hub *h = lua_touserdata(L, 1);
  if (h->hub.loop) gv_hub_close(&h->hub);
  l_greenlet_idents_free(h);
  return 0;
}

/* Overflow report: runs in a signal handler just before abort(). */
static void describe_current(void *arg, int fd) {
  l_hub *h = arg;
  char buf[256];
  gv_greenlet *g = h->hub.current;
  if (!g) snprintf(buf, sizeof buf, "the hub");
  else l_greenlet_describe(&h->hub, g, buf, sizeof buf);
  ssize_t r = write(fd, buf, strlen(buf));
  (void)r;
}

l_hub *l_hub_new(lua_State *L, struct ev_loop *loop) {
  l_hub *h = lua_newuserdatauv(L, sizeof *h, 3); /* thread, pool, site */
  memset(h, 0, sizeof *h);
  lua_State *HL = lua_newthread(L);
  lua_setiuservalue(L, -2, 1);
  if (gv_hub_init(&h->hub, loop, HL) != 0) {
    memset(h, 0, sizeof *h);
    luaL_error(L, "cannot create the gvlua hub (libev loop)");
  }
  lua_createtable(L, L_THREAD_POOL_MAX, 0);
  lua_pushvalue(L, -1);
  h->threads_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_setiuservalue(L, -2, 2);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, hub_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, L_HUB);
  h->hub.ud = h;
  l_greenlet_register(L);
  l_timeout_register(L);
  l_hub_hooks(h);
  l_greenlet_new_main(L, h);
  gv_stack_overflow_handler(describe_current, h);
  return h;
}

l_hub *l_hub_get(lua_State *L) {
  l_hub *h;
  if (lua_getfield(L, LUA_REGISTRYINDEX, L_HUB) == LUA_TUSERDATA) {
    h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return h;
  }
  lua_pop(L, 1);
  return l_hub_new(L, NULL);
}

void l_setfuncs(lua_State *L, const luaL_Reg *fns) {
  lua_getfield(L, LUA_REGISTRYINDEX, L_HUB);
  luaL_setfuncs(L, fns, 1);
}

void l_hub_protected(l_hub *h, lua_CFunction f, void *ud) {
  lua_State *L = h->hub.L;
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, ud);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "gvlua: error in the hub: %s\n",
            luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
  }
}

double l_opttimeout(lua_State *L, int idx, void **tmo) {
  *tmo = NULL;
  switch (lua_type(L, idx)) {
  case LUA_TNONE:
  case LUA_TNIL:
    return -1;
  case LUA_TNUMBER: {
    double t = lua_tonumber(L, idx);
    return t < 0 ? 0 : t;
  }
  default:
    if ((*tmo = l_timeout_test(L, idx)) != NULL) return -1;
    luaL_typeerror(L, idx, "number or gevent.Timeout");
    return -1;
  }
}

int l_isopts(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TTABLE && !lua_getmetatable(L, idx);
}

void l_optfield(lua_State *L, int idx, const char *name) {
  lua_getfield(L, idx, name);
}

void l_optargs(lua_State *L, int idx, ...) {
  va_list ap;
  int n = 0;
  const char *name;
  int opts = l_isopts(L, idx);
  if (opts) lua_settop(L, idx);
  va_start(ap, idx);
  while ((name = va_arg(ap, const char *)) != NULL) {
    if (opts) lua_getfield(L, idx, name);
    n++;
  }
  va_end(ap);
  if (opts) lua_remove(L, idx);
  lua_settop(L, idx + n - 1);
}

/* Submodules of require "gvlua", each filling its own table. */
static const struct {
  const char *name;
  void (*open)(lua_State *L, l_hub *h);
} submodules[] = {
  {"lock", l_lock_open},
  {"socket", l_socket_open},
  {"select", l_select_open},
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

GVLUA_API int luaopen_gvlua(lua_State *L) {
  l_hub *h = l_hub_get(L);
  lua_newtable(L);
  l_greenlet_open(L, h);
  l_timeout_open(L, h);
  for (int i = 0; submodules[i].name; i++) {
    lua_newtable(L);
    submodules[i].open(L, h);
    lua_setfield(L, -2, submodules[i].name);
  }
  lua_pushliteral(L, GVLUA_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
