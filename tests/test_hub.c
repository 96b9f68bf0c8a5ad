/* test_hub.c - the hub through the embedding API: greenlets run when the
** main greenlet blocks, gvlua_step runs one round, C functions block
** cooperatively (gvlua_sleep, gvlua_wait_fd), LoopExit, a watcher kept
** armed between waits, and closing the state with greenlets still blocked
** leaks nothing. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "gvlua.h"
#include "unit.h"

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_gvlua);
  lua_setfield(L, -2, "gvlua");
  lua_pop(L, 1);
  CHECK(gvlua_open(L, NULL) == 0);
  return L;
}

static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua error: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

static long geti(lua_State *L, const char *name) {
  lua_getglobal(L, name);
  long v = (long)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* A C function that blocks its greenlet (slow path, no continuation). */
static int c_nap(lua_State *L) {
  gvlua_sleep(L, luaL_checknumber(L, 1));
  lua_pushstring(L, "rested");
  return 1;
}

static int c_wait_read(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  lua_pushinteger(L, gvlua_wait_fd(L, fd, GVLUA_READ, luaL_optnumber(L, 2, -1)));
  return 1;
}

static void test_run_and_step(void) {
  lua_State *L = new_state();
  CHECK(run(L, "core = require 'gvlua'; n = 0;"
               "for i = 1, 10 do core.spawn(function() n = n + 1 end) end"));
  CHECK(geti(L, "n") == 0);           /* spawn only schedules */
  CHECK(gvlua_step(L, 0) == 0);       /* one round runs them all */
  CHECK(geti(L, "n") == 10);
  CHECK(run(L, "core.spawn(function() core.sleep(0.01); n = n + 1 end)"));
  CHECK(gvlua_run(L) == 0);           /* until nothing is left */
  CHECK(geti(L, "n") == 11);
  lua_close(L);
}

static void test_c_blocking(void) {
  lua_State *L = new_state();
  lua_register(L, "nap", c_nap);
  lua_register(L, "wait_read", c_wait_read);
  int fds[2];
  CHECK(pipe(fds) == 0);
  lua_pushinteger(L, fds[0]);
  lua_setglobal(L, "rfd");
  CHECK(run(L,
    "core = require 'gvlua'; ticks = 0\n"
    "local t = core.spawn(function() for i = 1, 5 do ticks = ticks + 1; core.sleep(0.002) end end)\n"
    "local g = core.spawn(function() return nap(0.02) end)\n"
    "got = g:get()\n"
    "r = core.spawn(function() return wait_read(rfd, 0.01) end):get()\n"));
  lua_getglobal(L, "got");
  CHECK(lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "rested") == 0);
  lua_pop(L, 1);
  CHECK(geti(L, "ticks") == 5);       /* others ran while C code slept */
  CHECK(geti(L, "r") == 0);           /* timed out: nothing written */
  CHECK(write(fds[1], "x", 1) == 1);
  CHECK(run(L, "r = core.spawn(function() return wait_read(rfd, 1) end):get()"));
  CHECK(geti(L, "r") == GVLUA_READ);
  /* the main greenlet can block in C too */
  CHECK(run(L, "m = nap(0.001)"));
  close(fds[0]);
  close(fds[1]);
  lua_close(L);
}

static void test_loop_exit_and_close(void) {
  lua_State *L = new_state();
  CHECK(run(L,
    "core = require 'gvlua'\n"
    "local blocked = core.Greenlet(function() end)\n"
    "core.spawn(function() blocked:join() end)\n"
    "local ok, err = pcall(function() core.spawn(function() end):join(); blocked:join() end)\n"
    "is_loop_exit = core.LoopExit:is(err) and 1 or 0\n"
    "msg = tostring(err)\n"
    /* left blocked on the slow path (inside a sort comparator) */
    "core.spawn(function() table.sort({3, 2, 1}, function(a, b) core.sleep(60) return a < b end) end)\n"
    "core.sleep(0)\n"));
  CHECK(geti(L, "is_loop_exit") == 1);
  lua_getglobal(L, "msg");
  CHECK(strstr(lua_tostring(L, -1), "would block forever") != NULL);
  CHECK(strstr(lua_tostring(L, -1), "waits on join") != NULL);
  lua_pop(L, 1);
  lua_close(L); /* abandons the blocked greenlets and their stacks */
}

/* The hub must not reap children it did not start: a popen()'d child's
** status stays for pclose() even when the hub polled after it exited. */
static void test_child_status_kept(void) {
  lua_State *L = new_state();
  FILE *f = popen("exit 3", "r");
  CHECK(f != NULL);
  usleep(100000);            /* the child has exited by now */
  CHECK(run(L, "require('gvlua').sleep(0.05)")); /* the hub polls */
  int st = pclose(f);
  CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3);
  lua_close(L);
}

static int c_write(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  lua_pushinteger(L, write((int)luaL_checkinteger(L, 1), s, n));
  return 1;
}

static int c_drain(lua_State *L) {
  char buf[64];
  lua_pushinteger(L, read((int)luaL_checkinteger(L, 1), buf, sizeof buf));
  return 1;
}

static void set_pipe(lua_State *L, int fds[2]) {
  CHECK(pipe(fds) == 0);
  lua_pushinteger(L, fds[0]);
  lua_setglobal(L, "rfd");
  lua_pushinteger(L, fds[1]);
  lua_setglobal(L, "wfd");
}

/* A socket's watcher (runtime/io.c gv_fdwatch, through gvlua.socket's
** watcher/wait_on): armed between waits it neither keeps the loop alive
** nor spins when the fd turns ready with nobody waiting; a reader and a
** writer share it (a wait on another fd meanwhile falls back to the
** greenlet's own watcher); disarmed, it registers a new fd under an old
** number. */
static void test_fdwatch(void) {
  lua_State *L = new_state();
  lua_register(L, "cwrite", c_write);
  lua_register(L, "drain", c_drain);
  int fds[2], sv[2];
  set_pipe(L, fds);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  lua_pushinteger(L, sv[0]);
  lua_setglobal(L, "s0");
  lua_pushinteger(L, sv[1]);
  lua_setglobal(L, "s1");
  alarm(10); /* a hang here is a failure, not a stuck CI */
  CHECK(run(L,
    "core = require 'gvlua'; S = core.socket; w = S.watcher(); got = 0\n"
    "local function loop_exit()\n"
    "  local blocked = core.Greenlet(function() end)\n"
    "  local ok, err = pcall(blocked.join, blocked)\n"
    "  return not ok and core.LoopExit:is(err)\n"
    "end\n"
    "for i = 1, 3 do\n"
    "  local g = core.spawn(function() return S.wait_on(w, rfd, 1) end)\n"
    "  core.sleep(0); cwrite(wfd, 'x')\n"
    "  if g:get() == true then got = got + 1 end\n"
    "  drain(rfd)\n"
    "end\n"
    "idle_exit = loop_exit() and 1 or 0          -- armed, nothing ready\n"
    "cwrite(wfd, 'y')\n"
    "ready_exit = loop_exit() and 1 or 0         -- ready for nobody\n"
    "drain(rfd)\n"
    "S.unwatch(w)\n"
    "local r = core.spawn(function() return S.wait_on(w, s0, 1, 5) end)\n"
    "local wr = core.spawn(function() return S.wait_on(w, s0, 2, 5) end)\n"
    "local other = core.spawn(function() return S.wait_on(w, rfd, 1, 0.01) end)\n"
    "core.sleep(0); cwrite(s1, 'q')\n"
    "both = (r:get() == true and wr:get() == true) and 1 or 0\n"
    "other_fd = select(2, other:get()) == 'timeout' and 1 or 0\n"
    "S.unwatch(w)\n"));
  CHECK(geti(L, "got") == 3);
  CHECK(geti(L, "idle_exit") == 1);
  CHECK(geti(L, "ready_exit") == 1);
  CHECK(geti(L, "both") == 1);
  CHECK(geti(L, "other_fd") == 1); /* another fd meanwhile: its own watcher */
  close(sv[0]);
  close(sv[1]);
  /* the same fd numbers, new pipe: the disarmed watcher registers anew */
  int old_r = fds[0];
  close(fds[0]);
  close(fds[1]);
  set_pipe(L, fds);
  CHECK(fds[0] == old_r);
  CHECK(run(L,
    "local g = core.spawn(function() return S.wait_on(w, rfd, 1, 5) end)\n"
    "core.sleep(0); cwrite(wfd, 'z')\n"
    "reused = g:get() == true and 1 or 0\n"));
  CHECK(geti(L, "reused") == 1);
  alarm(0);
  close(fds[0]);
  close(fds[1]);
  lua_close(L);
}

#if !defined(__SANITIZE_ADDRESS__) /* ASan owns SIGSEGV there */
/* Recurses until the runner's guard page stops it. */
static volatile int depth_limit = 1 << 30;

static int c_recurse(lua_State *L) {
  volatile char buf[512];
  buf[0] = (char)lua_gettop(L);
  if (--depth_limit > 0) c_recurse(L);
  return buf[0];
}

static void test_stack_overflow_report(void) {
  int err[2];
  CHECK(pipe(err) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], 2);
    lua_State *L = new_state();
    lua_register(L, "recurse", c_recurse);
    run(L, "local core = require 'gvlua'\n"
           "core.spawn(function() recurse() end).name = 'deep'\n"
           "core.sleep(0)\n");
    _exit(0); /* not reached */
  }
  close(err[1]);
  char out[1024] = {0};
  size_t n = 0;
  ssize_t r;
  while (n < sizeof out - 1 && (r = read(err[0], out + n, sizeof out - 1 - n)) > 0)
    n += (size_t)r;
  close(err[0]);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  /* named by its name (issue 9, item 3), and where it was spawned */
  CHECK(strstr(out, "C stack overflow in greenlet \"deep\"") != NULL);
  CHECK(strstr(out, "spawned at [string") != NULL);
}
#endif

/* Issue 9, item 1: gvlua_wait_fd with an fd that is not open, or that is
** closed before the hub gives it to epoll, raises a Lua error in the
** caller; libev never sees the bad fd (it would abort the process). */
static void test_wait_fd_closed(void) {
  lua_State *L = new_state();
  lua_register(L, "wait_read", c_wait_read);
  close(1000); /* a number nothing reuses meanwhile */
  lua_pushinteger(L, 1000);
  lua_setglobal(L, "closed_fd");
  CHECK(run(L,
    "core = require 'gvlua'\n"
    "ok1, e1 = pcall(wait_read, closed_fd, 1)\n"
    "ok2, e2 = pcall(wait_read, 2147483647, 1)\n"
    /* open at the call, closed before the hub polls */
    "local s = require('socket').udp4()\n"
    "local fd = s:getfd()\n"
    "local g = core.spawn(function() return wait_read(fd, 1) end)\n"
    "core.spawn(function() s:close() end)\n"
    "ok3, e3 = pcall(g.get, g)\n"
    "core.sleep(0.001); alive = 1\n"));
  CHECK(geti(L, "alive") == 1);
  const char *want[] = {"e1", "e2", "e3"};
  for (int i = 0; i < 3; i++) {
    lua_getglobal(L, want[i]);
    const char *e = lua_tostring(L, -1);
    CHECK(e && strstr(e, "gvlua_wait_fd: file descriptor"));
    lua_pop(L, 1);
  }
  CHECK(geti(L, "ok1") == 0 && geti(L, "ok3") == 0);
  lua_close(L);
}

/* gvlua_run_work: a job that outlives its wait is abandoned, and the
** caller's clean-up runs once it has finished. */
static int abandoned_calls;
static void slow_job(void *arg) {
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  *(int *)arg = 42;
}
static void on_abandoned(void *arg) {
  CHECK(*(int *)arg == 42); /* fn has returned */
  abandoned_calls++;
  free(arg);
}
static int c_work(lua_State *L) {
  int *box = malloc(sizeof *box);
  *box = 0;
  int r = gvlua_run_work(L, slow_job, box, on_abandoned, luaL_checknumber(L, 1));
  if (r == 0) { lua_pushinteger(L, *box); free(box); }
  else lua_pushnil(L);
  return 1;
}
/* gvlua_spawn + gvlua_wait_child with a timeout, then the exit */
static int c_child(lua_State *L) {
  char *argv[] = {"sleep", "0.1", NULL};
  long pid = gvlua_spawn(L, argv, NULL);
  CHECK(pid > 0);
  int st = -1;
  CHECK(gvlua_wait_child(L, pid, 0.01, &st) == 0 && st == -1);
  CHECK(gvlua_wait_child(L, pid, -1, &st) == 1);
  lua_pushboolean(L, WIFEXITED(st) && WEXITSTATUS(st) == 0);
  return 1;
}

static void test_work_and_children(void) {
  lua_State *L = new_state();
  lua_register(L, "c_work", c_work);
  lua_register(L, "c_child", c_child);
  CHECK(run(L, "core = require 'gvlua'; ticks = 0;"
               "local t = core.spawn(function() for i = 1, 3 do "
               "  ticks = ticks + 1; core.sleep(0.01) end end);"
               "done = c_work(-1); late = c_work(0.005);"
               "child_ok = c_child(); core.sleep(0.1)"));
  CHECK(geti(L, "done") == 42);
  lua_getglobal(L, "late");
  CHECK(lua_isnil(L, -1)); /* timed out: abandoned */
  lua_pop(L, 1);
  CHECK(abandoned_calls == 1);
  CHECK(geti(L, "ticks") == 3);
  lua_getglobal(L, "child_ok");
  CHECK(lua_toboolean(L, -1));
  lua_pop(L, 1);
  lua_close(L);
}

int main(void) {
  RUN(test_work_and_children);
  RUN(test_wait_fd_closed);
  RUN(test_run_and_step);
  RUN(test_c_blocking);
  RUN(test_loop_exit_and_close);
  RUN(test_child_status_kept);
  RUN(test_fdwatch);
#if !defined(__SANITIZE_ADDRESS__) /* ASan owns SIGSEGV there */
  RUN(test_stack_overflow_report);
#endif
  return unit_report();
}
