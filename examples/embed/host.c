/*
** host.c - embedding gvlua in a C application that owns its libev loop.
**
** The application creates its loop, gives it to gvlua, exposes C functions
** that block only the calling greenlet, runs a Lua script whose greenlets
** call them, and drives everything with gvlua_run:
**   fetch()       waits on a pipe the application fills from its own timer
**                 (gvlua_wait_fd);
**   crunch(n)     runs a blocking C computation on gvlua's work pool
**                 (gvlua_run_work);
**   either()      waits on two pipes at once (gvlua_wait_fds);
**   run(cmd...)   spawns a child and waits for its exit (gvlua_spawn,
**                 gvlua_wait_child);
**   resolve(name) the IPv4 addresses of a name (gvlua_resolve).
** gevent's Lua modules come built into the library (gvlua_preload): the
** host needs no module files, and the script uses gevent.ssl (TLS) as a
** Lua program would. Prints what the script prints; exits non-zero if an
** assertion fails.
*/
#include <ev.h>
#include <lauxlib.h>
#include <lualib.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "gvlua.h"

static int pipefd[2];     /* fed by the application's timer */
static int left[2], right[2];

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

/* The application's own timer feeds the pipe: one letter per tick; the
** last tick also writes to the right-hand pipe of either(). */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents) {
  static const char letters[] = "abc";
  static int i;
  (void)revents;
  if (write(pipefd[1], &letters[i], 1) != 1) return;
  if (letters[++i] == '\0') {
    ev_timer_stop(loop, w);
    if (write(right[1], "R", 1) != 1) return;
  }
}

/* crunch(n): a blocking computation (and a nap) on a pool thread. */
typedef struct crunch { long n; unsigned long sum; } crunch;
static void do_crunch(void *arg) {
  crunch *c = arg;
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL); /* would stall every greenlet on the hub's thread */
  for (long i = 1; i <= c->n; i++) c->sum += (unsigned long)i;
}
static int l_crunch(lua_State *L) {
  crunch c = {(long)luaL_checkinteger(L, 1), 0};
  /* no timeout: c lives on this C stack until do_crunch has returned */
  if (gvlua_run_work(L, do_crunch, &c, NULL, -1) != 0)
    return luaL_error(L, "crunch could not run");
  lua_pushinteger(L, (lua_Integer)c.sum);
  return 1;
}

/* either(): waits for whichever of two pipes is readable first. */
static int l_either(lua_State *L) {
  struct pollfd fds[2] = {{left[0], POLLIN, 0}, {right[0], POLLIN, 0}};
  if (gvlua_wait_fds(L, fds, 2, 5.0) == 0) return luaL_error(L, "timeout");
  char c;
  int fd = (fds[0].revents & POLLIN) ? left[0] : right[0];
  if (read(fd, &c, 1) != 1) return luaL_error(L, "read failed");
  lua_pushlstring(L, &c, 1);
  return 1;
}

/* run(cmd, args...): the command's exit code (-signal if killed). */
static int l_run(lua_State *L) {
  int n = lua_gettop(L);
  char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  for (int i = 0; i < n; i++) argv[i] = (char *)luaL_checkstring(L, i + 1);
  argv[n] = NULL;
  long pid = gvlua_spawn(L, argv, NULL);
  if (pid < 0) return luaL_error(L, "cannot run %s", argv[0]);
  int st;
  if (!gvlua_wait_child(L, pid, 10, &st)) return luaL_error(L, "timeout");
  lua_pushinteger(L, WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
  return 1;
}

/* resolve(name): an array of its IPv4 addresses, or nil and the reason. */
static int l_resolve(lua_State *L) {
  char addrs[4][GVLUA_ADDRLEN], err[64];
  int n = gvlua_resolve(L, luaL_checkstring(L, 1), AF_INET, addrs, 4, 5.0,
                        err, sizeof err);
  if (n <= 0) {
    lua_pushnil(L);
    lua_pushstring(L, n == 0 ? "timeout" : err);
    return 2;
  }
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, addrs[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
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
  "local sum\n"
  "local cruncher = gevent.spawn(function() sum = crunch(1000) end)\n"
  "local first\n"
  "local waiter = gevent.spawn(function() first = either() end)\n"
  "local code\n"
  "local runner = gevent.spawn(function() code = run('sh', '-c', 'exit 3') end)\n"
  "local addrs\n"
  "local resolver = gevent.spawn(function() addrs = resolve('localhost') end)\n"
  "gevent.joinall({reader, ticker, cruncher, waiter, runner, resolver})\n"
  "print('fetched', table.concat(got))\n"
  "print('crunched', sum)\n"
  "print('either', first)\n"
  "print('exit code', code)\n"
  "print('localhost', addrs[1])\n"

  "local ssl = require 'gevent.ssl'  -- built in, like every gevent module\n"
  "local ctx = assert(ssl.newcontext({mode = 'client', protocol = 'any'}))\n"
  "print('tls context', ctx ~= nil)\n"
  "assert(table.concat(got) == 'abc', 'fetch lost data')\n"
  "assert(sum == 500500 and first == 'R' and code == 3)\n"
  "assert(addrs[1] == '127.0.0.1')\n";

int main(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_timer tick;
  if (pipe(pipefd) != 0 || pipe(left) != 0 || pipe(right) != 0) return 1;
  ev_timer_init(&tick, on_tick, 0.005, 0.005);
  ev_timer_start(loop, &tick);

  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  gvlua_preload(L);    /* require "gevent", "gevent.ssl", ...: built in */
  gvlua_open(L, loop); /* the hub runs on the application's loop */
  lua_register(L, "fetch", l_fetch);
  lua_register(L, "crunch", l_crunch);
  lua_register(L, "either", l_either);
  lua_register(L, "run", l_run);
  lua_register(L, "resolve", l_resolve);
  int status = luaL_dostring(L, script);
  if (status != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  else gvlua_run(L); /* anything the script left running */
  lua_close(L);
  ev_loop_destroy(loop);
  return status == LUA_OK ? 0 : 1;
}
