/*
** host.c - embedding gvlua in a C application that owns its libev loop.
**
** The application creates its loop, gives it to gvlua, exposes a C function
** that blocks cooperatively (fetch: waits on a pipe the application fills
** from a timer), runs a Lua script whose greenlets call it, and drives
** everything with gvlua_run. Prints what the script prints.
*/
#include <ev.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <unistd.h>
#include "gvlua.h"

static int pipefd[2];

/* fetch(): blocks the calling greenlet until the application writes a
** byte to the pipe, then returns it as a string. Other greenlets run. */
static int l_fetch(lua_State *L) {
  char c;
  if (gvlua_wait_fd(L, pipefd[0], GVLUA_READ, 5.0) == 0)
    return luaL_error(L, "fetch timed out");
  if (read(pipefd[0], &c, 1) != 1) return luaL_error(L, "fetch failed");
  lua_pushlstring(L, &c, 1);
  return 1;
}

/* The application's own timer feeds the pipe: one letter per tick. */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents) {
  static const char letters[] = "abc";
  static int i;
  (void)revents;
  if (write(pipefd[1], &letters[i], 1) != 1) return;
  if (letters[++i] == '\0') ev_timer_stop(loop, w);
}

static const char script[] =
  "local gevent = require 'gevent'\n"
  "local got = {}\n"
  "local reader = gevent.spawn(function()\n"
  "  for i = 1, 3 do got[#got + 1] = fetch() end\n"
  "end)\n"
  "local ticker = gevent.spawn(function()\n"
  "  for i = 1, 3 do print('tick', i); gevent.sleep(0.01) end\n"
  "end)\n"
  "gevent.joinall({reader, ticker})\n"
  "print('fetched', table.concat(got))\n"
  "assert(table.concat(got) == 'abc', 'fetch lost data')\n";

int main(int argc, char **argv) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_timer tick;
  if (pipe(pipefd) != 0) return 1;
  ev_timer_init(&tick, on_tick, 0.005, 0.005);
  ev_timer_start(loop, &tick);

  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_gvlua);
  lua_setfield(L, -2, "gvlua");
  lua_pop(L, 1);
  gvlua_open(L, loop); /* the hub runs on the application's loop */
  lua_register(L, "fetch", l_fetch);
  if (argc > 1) { /* the gevent Lua modules' directory, to run from the tree */
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", argv[1], argv[1]);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
  }
  int status = luaL_dostring(L, script);
  if (status != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  else gvlua_run(L); /* anything the script left running */
  lua_close(L);
  ev_loop_destroy(loop);
  return status == LUA_OK ? 0 : 1;
}
