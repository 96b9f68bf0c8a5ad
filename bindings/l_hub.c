/*
** l_hub.c - the hub as Lua sees it: one per Lua state, created on first
** use (with its main greenlet and hooks) and closed with the state.
*/
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
  l_greenlet_hooks(h);
  l_monitor_hooks(h);
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
