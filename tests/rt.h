/* rt.h - a bare runtime hub for the C unit tests of runtime/ files: no
** bindings, greenlets are C functions on Lua threads. */
#ifndef GV_RT_H
#define GV_RT_H
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "unit.h"

typedef struct rt {
  gv_hub hub;
  lua_State *L;
  gv_greenlet main;
  gv_greenlet g[64];
  int ng;
  int finished, failed;      /* greenlets that returned / raised */
  char last_error[256];
} rt;

static void rt_finished(gv_hub *hub, gv_greenlet *g, int status, int nres) {
  rt *r = hub->ud;
  (void)nres;
  if (status == LUA_OK) r->finished++;
  else {
    r->failed++;
    const char *m = lua_tostring(g->L, -1);
    snprintf(r->last_error, sizeof r->last_error, "%s", m ? m : "?");
  }
}

static void rt_loop_exit(gv_hub *hub, lua_State *L) {
  (void)hub;
  lua_pushliteral(L, "LoopExit");
}

static void rt_open(rt *r) {
  memset(r, 0, sizeof *r);
  r->L = luaL_newstate();
  luaL_openlibs(r->L);
  lua_State *HL = lua_newthread(r->L);
  lua_setfield(r->L, LUA_REGISTRYINDEX, "rt.hub");
  CHECK(gv_hub_init(&r->hub, NULL, HL) == 0);
  r->hub.ud = r;
  r->hub.hooks.finished = rt_finished;
  r->hub.hooks.push_loop_exit = rt_loop_exit;
  gv_greenlet_init_main(&r->hub, &r->main, r->L);
}

/* Spawns fn(arg) as a greenlet (a light userdata argument). */
static gv_greenlet *rt_spawn(rt *r, lua_CFunction fn, void *arg) {
  lua_State *T = lua_newthread(r->L);
  lua_rawsetp(r->L, LUA_REGISTRYINDEX, T); /* anchored for the test */
  lua_pushcfunction(T, fn);
  lua_pushlightuserdata(T, arg);
  gv_greenlet *g = &r->g[r->ng++];
  gv_greenlet_init(&r->hub, g, T, 1);
  gv_greenlet_start(g);
  return g;
}

/* Runs until nothing can make progress (the main greenlet waits). */
static void rt_run(rt *r) { gv_run(&r->hub, r->L); }

static void rt_close(rt *r) {
  gv_work_shutdown(&r->hub);
  gv_hub_close(&r->hub);
  lua_close(r->L);
}

/* The hub of a greenlet's thread, for the C bodies. */
static gv_hub *rt_hub;
#endif
