/*
** l_os.c - gevent.os: fork (the child keeps its greenlets and a working
** hub), waitpid that blocks only the calling greenlet for children of
** fork() and Popen, kill, getpid. The processes are runtime/child.c's.
*/
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include "bindings.h"

/* fork(): like os fork; in the child the loop is reinitialised and
** greenlets are kept (as gevent does). Parent: the pid is watched so
** waitpid() can wait for it cooperatively. */
static int l_fork(lua_State *L) {
  l_hub *h = l_hubup(L);
  gv_child *c;
  pid_t pid = gv_child_fork(&h->hub, &c);
  if (pid < 0) return l_push_oserror(L, -pid, "fork");
  if (c) c->forked = 1; /* waitpid() releases it */
  lua_pushinteger(L, pid);
  return 1;
}

static int waitpid_poll_k(lua_State *L, int status, lua_KContext ctx);

static int push_wait_status(lua_State *L, pid_t pid, int st) {
  static const char *const how[] = {"exited", "killed", "stopped"};
  int code;
  lua_pushinteger(L, pid);
  lua_pushstring(L, how[gv_status_decode(st, &code)]);
  lua_pushinteger(L, code);
  return 3;
}

static int waitpid_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  gv_child *c = (gv_child *)ctx;
  l_hub *h = l_hubup(L);
  if (!c->done) {
    if (gv_current(&h->hub)->wake == GV_WAKE_TIMEOUT) {
      lua_pushnil(L);
      lua_pushliteral(L, "timeout");
      return 2;
    }
    return gv_child_wait(&h->hub, L, c, -1, ctx, waitpid_k);
  }
  pid_t pid = c->pid;
  int st = c->status;
  if (c->forked) gv_child_release(&h->hub, c);
  return push_wait_status(L, pid, st);
}

/* Other pids (not started here; -1 or 0: any child) are polled without
** blocking, every 10 ms at first and then less often (at most every
** 0.5 s), so that only the calling greenlet waits: a blocking waitpid
** would stop the hub, maybe for ever. Stack: 1 pid, 2 timeout, 3 the
** deadline or nil, 4 the current interval. */
static int waitpid_poll(lua_State *L) {
  l_hub *h = l_hubup(L);
  for (;;) {
    int st;
    pid_t r = gv_waitpid((pid_t)lua_tointeger(L, 1), &st, 1);
    if (r < 0) return l_push_oserror(L, -r, "waitpid");
    if (r > 0) return push_wait_status(L, r, st);
    double wait = lua_tonumber(L, 4);
    lua_pushnumber(L, wait * 2 < 0.5 ? wait * 2 : 0.5);
    lua_replace(L, 4);
    if (!lua_isnil(L, 3)) {
      double left = lua_tonumber(L, 3) - gv_now(&h->hub);
      if (left <= 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "timeout");
        return 2;
      }
      if (left < wait) wait = left;
    }
    if (gv_can_yield(&h->hub, L))
      return gv_sleep(&h->hub, L, wait, 0, waitpid_poll_k);
    gv_sleep(&h->hub, L, wait, 0, NULL); /* slow path: loop here */
  }
}

static int waitpid_poll_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  return waitpid_poll(L);
}

/* waitpid(pid, timeout): for a pid from fork() or Popen, waits
** cooperatively; returns pid, "exited"|"killed", code (luaposix style),
** or nil, "timeout". Other pids: polled (waitpid_poll). */
static int l_waitpid(lua_State *L) {
  l_hub *h = l_hubup(L);
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  void *tmo;
  double timeout = l_opttimeout(L, 2, &tmo);
  gv_child *c = gv_child_find(&h->hub, pid);
  if (!c) {
    lua_settop(L, 2);
    if (timeout >= 0) lua_pushnumber(L, gv_now(&h->hub) + timeout);
    else lua_pushnil(L);
    lua_pushnumber(L, 0.01);
    gv_check_block(&h->hub, L);
    return waitpid_poll(L);
  }
  lua_settop(L, 2);
  if (gv_child_poll(c)) return waitpid_k(L, LUA_OK, (lua_KContext)c);
  return gv_child_wait(&h->hub, L, c, timeout, (lua_KContext)c, waitpid_k);
}

static int l__exit(lua_State *L) {
  _exit((int)luaL_optinteger(L, 1, 0));
  return 0;
}

/* gevent.os.getpid() */
static int l_getpid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

/* gevent.os.kill(pid, sig): sig a number or a name, default SIGTERM.
** true, or nil, message, errno. */
static int l_kill(lua_State *L) {
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  int sig = lua_isnoneornil(L, 2) ? SIGTERM
          : (lua_type(L, 2) == LUA_TNUMBER && lua_tointeger(L, 2) == 0)
              ? 0 /* only checks that pid exists */
              : l_checksignal(L, 2);
  int e = gv_kill(pid, sig);
  if (e) return l_push_oserror(L, -e, "kill");
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg os_funcs[] = {
  {"getpid", l_getpid},
  {"kill", l_kill},
  {"fork", l_fork},
  {"waitpid", l_waitpid},
  {"_exit", l__exit},
  {NULL, NULL}
};

/* gevent.os */
void l_os_open(lua_State *L, l_hub *h) {
  (void)h;
  l_setfuncs(L, os_funcs);
}
