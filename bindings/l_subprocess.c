/*
** l_subprocess.c - gevent.subprocess: child processes whose pipes and
** exit block only the calling greenlet.
**
** The processes themselves are runtime/child.c's (spawn, SIGCHLD, reaping,
** statuses, fork); this file translates options, statuses and the pipe
** file objects. Pipes are non-blocking; a greenlet waits on them through
** runtime/select.c (several at once for communicate()).
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bindings.h"
#define SP_POPEN "gevent.subprocess.Popen"
#define SP_FILE "gevent.subprocess.File"
#define SP_SUBPROCESSERROR "gevent.subprocess.SubprocessError"
#define SP_CALLEDPROCESSERROR "gevent.subprocess.CalledProcessError"
#define SP_TIMEOUTEXPIRED "gevent.subprocess.TimeoutExpired"

/* stdin/stdout/stderr option values (Python's) */
#define SP_PIPE (-1)
#define SP_STDOUT (-2)
#define SP_DEVNULL (-3)

/* ---- waiting on several fds at once ------------------------------------ */

/* A greenlet's wait on up to three pipes of one object (runtime/select.c
** memory, allocated with the object). */
typedef struct sp_wait {
  void *set;
  struct pollfd fds[3];
} sp_wait;

static void wait_new(lua_State *L, sp_wait *w) {
  w->set = calloc(1, gv_select_size(3));
  if (!w->set) luaL_error(L, "not enough memory");
}

/* The owner is being freed: no wait may outlive it. */
static void wait_free(sp_wait *w) {
  if (!w->set) return;
  gv_select_stop(w->set);
  free(w->set);
  w->set = NULL;
}

static gv_greenlet *wait_waiter(sp_wait *w) {
  return w->set ? gv_select_waiter(w->set) : NULL;
}

/* Blocks the current greenlet until one of fds is ready or timeout. */
static int wait_fds(lua_State *L, gv_hub *hub, sp_wait *w, const int *fds,
                    const short *evs, int n, double timeout, const char *what,
                    lua_KContext ctx, gv_kfunction k) {
  if (wait_waiter(w)) return luaL_error(L, "another greenlet is already "
                                           "waiting on this pipe");
  for (int i = 0; i < n; i++) {
    w->fds[i].fd = fds[i];
    w->fds[i].events = evs[i];
    w->fds[i].revents = 0;
  }
  return gv_select_wait(hub, L, w->set, w->fds, n, timeout, what, ctx, k);
}

/* ---- pipe file objects ------------------------------------------------- */

typedef struct sp_file {
  int fd;              /* -1 when closed */
  int writable;
  int eof;
  char *buf;           /* read buffer: unread data is [pos, len) */
  size_t pos, len, cap;
  sp_wait rw;          /* a greenlet blocked reading or writing */
} sp_file;

static sp_file *file_check(lua_State *L, int idx) {
  sp_file *f = luaL_checkudata(L, idx, SP_FILE);
  if (f->fd < 0) luaL_error(L, "attempt to use a closed file");
  return f;
}

static void file_release(sp_file *f) {
  gv_greenlet *g = wait_waiter(&f->rw);
  if (g) gv_wake(g, GV_WAKE_NORMAL); /* sees it closed */
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  free(f->buf);
  f->buf = NULL;
  f->pos = f->len = f->cap = 0;
}

static void file_push_new(lua_State *L, int fd, int writable) {
  sp_file *f = lua_newuserdatauv(L, sizeof *f, 0);
  memset(f, 0, sizeof *f);
  f->fd = fd;
  f->writable = writable;
  luaL_setmetatable(L, SP_FILE);
  wait_new(L, &f->rw);
}

/* 1: got data, 0: end of file, -1: would block, -2: error (errno). */
static int file_fill(lua_State *L, sp_file *f) {
  if (f->eof) return 0;
  if (f->pos == f->len) f->pos = f->len = 0;
  if (f->cap - f->len < 16384) {
    if (f->pos > 0) {
      memmove(f->buf, f->buf + f->pos, f->len - f->pos);
      f->len -= f->pos;
      f->pos = 0;
    }
    if (f->cap - f->len < 16384) {
      size_t cap = f->cap ? f->cap : 65536;
      while (cap - f->len < 16384) cap *= 2;
      char *nb = realloc(f->buf, cap);
      if (!nb) luaL_error(L, "not enough memory");
      f->buf = nb;
      f->cap = cap;
    }
  }
  for (;;) {
    ssize_t n = read(f->fd, f->buf + f->len, f->cap - f->len);
    if (n > 0) { f->len += (size_t)n; return 1; }
    if (n == 0) { f->eof = 1; return 0; }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    return -2;
  }
}

static void file_take(lua_State *L, sp_file *f, size_t n, size_t skip) {
  lua_pushlstring(L, f->buf + f->pos, n);
  f->pos += n + skip;
}

/* Reads one format (index fi) into a value on the stack. 1: pushed,
** 0: end of file (nothing pushed), -1: would block, -2: error. */
static int read_one(lua_State *L, sp_file *f, int fi) {
  for (;;) {
    size_t avail = f->len - f->pos;
    if (lua_type(L, fi) == LUA_TNUMBER) {
      size_t n = (size_t)lua_tointeger(L, fi);
      if (n == 0 ? avail > 0 : avail >= n) { file_take(L, f, n, 0); return 1; }
      if (f->eof) {
        if (avail == 0) return 0;
        file_take(L, f, avail, 0);
        return 1;
      }
    } else {
      const char *fmt = lua_tostring(L, fi);
      if (*fmt == '*') fmt++;
      if (*fmt == 'a') {
        if (f->eof) { file_take(L, f, avail, 0); return 1; }
      } else { /* l or L */
        const char *p = f->buf + f->pos;
        const char *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (nl) {
          size_t k = (size_t)(nl - p);
          if (*fmt == 'L') file_take(L, f, k + 1, 0);
          else file_take(L, f, k, 1);
          return 1;
        }
        if (f->eof) {
          if (avail == 0) return 0;
          file_take(L, f, avail, 0);
          return 1;
        }
      }
    }
    int r = file_fill(L, f);
    if (r < 0) return r;
  }
}


static int read_k(lua_State *L, int status, lua_KContext ctx);

/* Formats at [2, last]; results above 'last'; continue at format i. On
** the slow path (gv_can_yield) it waits here and loops, as comm_run: a
** continuation per wait would nest a C frame per chunk the child writes. */
static int read_run(lua_State *L, int i, int last) {
  sp_file *f = lua_touserdata(L, 1);
  while (i <= last) {
    if (f->fd < 0) {
      lua_pushnil(L);
      lua_pushliteral(L, "closed");
      return 2;
    }
    int r = read_one(L, f, i);
    if (r == 0) { lua_pushnil(L); break; }
    if (r == -2) return l_push_oserror(L, errno, NULL);
    if (r == -1) {
      short ev = POLLIN;
      gv_hub *hub = &l_hubup(L)->hub;
      if (gv_can_yield(hub, L))
        return wait_fds(L, hub, &f->rw, &f->fd, &ev, 1, -1, "a pipe read",
                        ((lua_KContext)last << 16) | i, read_k);
      wait_fds(L, hub, &f->rw, &f->fd, &ev, 1, -1, "a pipe read", 0, NULL);
      continue; /* the same format again */
    }
    i++;
  }
  return lua_gettop(L) - last;
}

static int read_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  return read_run(L, (int)(ctx & 0xffff), (int)(ctx >> 16));
}

static void check_formats(lua_State *L, int first, int last) {
  for (int i = first; i <= last; i++) {
    if (lua_type(L, i) == LUA_TNUMBER) {
      if (!lua_isinteger(L, i) || lua_tointeger(L, i) < 0)
        luaL_argerror(L, i, "invalid count");
      continue;
    }
    const char *fmt = luaL_checkstring(L, i);
    if (*fmt == '*') fmt++;
    if (*fmt != 'a' && *fmt != 'l' && *fmt != 'L')
      luaL_argerror(L, i, *fmt == 'n' ? "format 'n' is not supported on "
                                        "pipes" : "invalid format");
  }
}

/* f:read(...) */
static int f_read(lua_State *L) {
  sp_file *f = file_check(L, 1);
  if (f->writable) return luaL_error(L, "file not open for reading");
  if (lua_gettop(L) == 1) lua_pushliteral(L, "l");
  int last = lua_gettop(L);
  if (last > 0xffff) return luaL_error(L, "too many formats");
  check_formats(L, 2, last);
  return read_run(L, 2, last);
}

/* f:readline(keepends) */
static int f_readline(lua_State *L) {
  file_check(L, 1);
  int keep = lua_toboolean(L, 2);
  lua_settop(L, 1);
  lua_pushstring(L, keep ? "L" : "l");
  return f_read(L);
}

static int lines_iter(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(2));
  int n = (int)lua_tointeger(L, lua_upvalueindex(3));
  for (int i = 0; i < n; i++) lua_pushvalue(L, lua_upvalueindex(4 + i));
  sp_file *f = luaL_checkudata(L, 1, SP_FILE);
  if (f->fd < 0) return luaL_error(L, "file is already closed");
  if (n == 0) lua_pushliteral(L, "l");
  return read_run(L, 2, lua_gettop(L));
}

/* f:lines(...) */
static int f_lines(lua_State *L) {
  sp_file *f = file_check(L, 1);
  if (f->writable) return luaL_error(L, "file not open for reading");
  int n = lua_gettop(L) - 1;
  if (n > 250) return luaL_error(L, "too many arguments");
  check_formats(L, 2, n + 1);
  lua_getfield(L, LUA_REGISTRYINDEX, L_HUB);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, n);
  for (int i = 0; i < n; i++) lua_pushvalue(L, 2 + i);
  lua_pushcclosure(L, lines_iter, 3 + n);
  return 1;
}

static int write_k(lua_State *L, int status, lua_KContext ctx);

/* Writes arguments [i, top] from byte 'off' of argument i; on the slow
** path it waits here and loops (see read_run). */
static int write_run(lua_State *L, int i, size_t off) {
  sp_file *f = lua_touserdata(L, 1);
  int top = lua_gettop(L);
  for (; i <= top; i++, off = 0) {
    size_t len;
    const char *s = lua_tolstring(L, i, &len);
    while (off < len) {
      if (f->fd < 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        return 2;
      }
      ssize_t n = write(f->fd, s + off, len - off);
      if (n >= 0) { off += (size_t)n; continue; }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        short ev = POLLOUT;
        gv_hub *hub = &l_hubup(L)->hub;
        if (gv_can_yield(hub, L))
          return wait_fds(L, hub, &f->rw, &f->fd, &ev, 1, -1, "a pipe write",
                          ((lua_KContext)off << 8) | i, write_k);
        wait_fds(L, hub, &f->rw, &f->fd, &ev, 1, -1, "a pipe write", 0, NULL);
        continue; /* the rest of this argument */
      }
      return l_push_oserror(L, errno, NULL);
    }
  }
  lua_settop(L, 1);
  return 1;
}

static int write_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  return write_run(L, (int)(ctx & 0xff), (size_t)(ctx >> 8));
}

/* f:write(...) */
static int f_write(lua_State *L) {
  sp_file *f = file_check(L, 1);
  if (!f->writable) return luaL_error(L, "file not open for writing");
  int top = lua_gettop(L);
  if (top > 0xff) return luaL_error(L, "too many arguments");
  for (int i = 2; i <= top; i++) {
    luaL_checklstring(L, i, NULL);
    if (lua_type(L, i) == LUA_TNUMBER) { /* as io.write formats them */
      lua_pushstring(L, lua_tostring(L, i));
      lua_replace(L, i);
    }
  }
  return write_run(L, 2, 0);
}

static int f_close(lua_State *L) {
  sp_file *f = luaL_checkudata(L, 1, SP_FILE);
  if (f->fd < 0) return luaL_error(L, "attempt to use a closed file");
  file_release(f);
  lua_pushboolean(L, 1);
  return 1;
}

static int f_gc(lua_State *L) {
  sp_file *f = luaL_checkudata(L, 1, SP_FILE);
  wait_free(&f->rw);
  file_release(f);
  return 0;
}

static int f_flush(lua_State *L) {
  file_check(L, 1);
  lua_settop(L, 1);
  return 1;
}

static int f_fileno(lua_State *L) {
  sp_file *f = file_check(L, 1);
  lua_pushinteger(L, f->fd);
  return 1;
}

static int f_closed(lua_State *L) {
  sp_file *f = luaL_checkudata(L, 1, SP_FILE);
  lua_pushboolean(L, f->fd < 0);
  return 1;
}

static int f_tostring(lua_State *L) {
  sp_file *f = luaL_checkudata(L, 1, SP_FILE);
  if (f->fd < 0) lua_pushliteral(L, "pipe (closed)");
  else lua_pushfstring(L, "pipe (%p, fd %d, %s)", (void *)f, f->fd,
                       f->writable ? "w" : "r");
  return 1;
}

/* ---- Popen ------------------------------------------------------------- */

typedef struct sp_popen {
  l_hub *h;
  gv_child *child;
  pid_t pid;
  size_t in_off;       /* communicate(): bytes of input written */
  sp_wait cw;          /* communicate()'s wait on its pipes */
} sp_popen;

/* Popen user value: a table with args, stdin, stdout, stderr, and the
** output communicate() collected so far (_out, _err: arrays of chunks). */

static sp_popen *popen_check(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, SP_POPEN);
}

static int returncode(sp_popen *p, int *rc) {
  if (!p->child || !gv_child_poll(p->child)) return 0;
  *rc = gv_child_code(p->child->status);
  return 1;
}

/* Reads option 'name' (stdin, stdout, stderr) into f. */
static void std_option(lua_State *L, int opts, const char *name,
                       gv_spawn_fd *f) {
  lua_getfield(L, opts, name);
  f->how = GV_SPAWN_INHERIT;
  f->fd = -1;
  f->reopen = 0;
  if (lua_isnil(L, -1)) {
    /* inherit */
  } else if (lua_isinteger(L, -1)) {
    lua_Integer v = lua_tointeger(L, -1);
    if (v == SP_PIPE) f->how = GV_SPAWN_PIPE;
    else if (v == SP_DEVNULL) f->how = GV_SPAWN_DEVNULL;
    else if (v == SP_STDOUT) f->how = GV_SPAWN_STDOUT;
    else if (v >= 0 && v <= 0x7fffffff) {
      f->how = GV_SPAWN_FD;
      f->fd = (int)v;
    } else {
      l_argerror(L, 2, SP_POPEN, lua_pushfstring(L, "option '%s': PIPE, "
                 "DEVNULL, STDOUT, an fd or an open file expected", name));
    }
  } else {
    luaL_Stream *ls = luaL_testudata(L, -1, LUA_FILEHANDLE);
    sp_file *sf = luaL_testudata(L, -1, SP_FILE);
    if (ls && ls->closef && ls->f) {
      f->how = GV_SPAWN_FD;
      f->fd = fileno(ls->f);
    } else if (sf && sf->fd >= 0) {
      /* our pipe ends are non-blocking: the child gets a fresh, blocking
      ** description of the same pipe (Popen(b, {stdin = a.stdout})) */
      f->how = GV_SPAWN_FD;
      f->fd = sf->fd;
      f->reopen = 1;
    } else {
      l_argerror(L, 2, SP_POPEN, lua_pushfstring(L, "option '%s': PIPE, "
                 "DEVNULL, STDOUT, an fd or an open file expected", name));
    }
  }
  lua_pop(L, 1);
}

/* Builds argv (strings kept in the table at the top of the stack). */
static char **build_argv(lua_State *L, int args, int shell, int *argc) {
  lua_newtable(L); /* anchors the strings */
  int keep = lua_gettop(L);
  int n = 0;
  if (shell) {
    lua_pushliteral(L, "/bin/sh");
    lua_rawseti(L, keep, ++n);
    lua_pushliteral(L, "-c");
    lua_rawseti(L, keep, ++n);
  }
  if (lua_type(L, args) == LUA_TTABLE) {
    lua_Integer len = luaL_len(L, args);
    if (len < 1) l_argerror(L, 1, SP_POPEN, "empty argument list");
    for (lua_Integer i = 1; i <= len; i++) {
      lua_geti(L, args, i);
      if (!lua_isstring(L, -1))
        l_argerror(L, 1, SP_POPEN, lua_pushfstring(L, "element %d is a %s, "
                   "string expected", (int)i, luaL_typename(L, -1)));
      lua_pushstring(L, lua_tostring(L, -1));
      lua_rawseti(L, keep, ++n);
      lua_pop(L, 1);
    }
  } else {
    lua_pushstring(L, luaL_checkstring(L, args));
    lua_rawseti(L, keep, ++n);
  }
  char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, keep, i);
    argv[i - 1] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  argv[n] = NULL;
  *argc = n;
  return argv;
}

static char **build_envp(lua_State *L, int env) {
  lua_newtable(L);
  int keep = lua_gettop(L);
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, env)) {
    if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
      l_argerror(L, 2, SP_POPEN, "option 'env': string keys and values "
                 "expected");
    lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
    lua_rawseti(L, keep, ++n);
    lua_pop(L, 1);
  }
  char **envp = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, keep, i);
    envp[i - 1] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  envp[n] = NULL;
  return envp;
}

/* Popen(args, opts) */
static int l_popen(lua_State *L) {
  l_hub *h = l_hubup(L);
  lua_settop(L, 2);
  if (lua_type(L, 1) != LUA_TTABLE) luaL_checkstring(L, 1);
  if (lua_isnil(L, 2)) { lua_newtable(L); lua_replace(L, 2); }
  luaL_checktype(L, 2, LUA_TTABLE);
  int opts = 2;
  gv_spawn o;
  memset(&o, 0, sizeof o);
  std_option(L, opts, "stdin", &o.std[0]);
  std_option(L, opts, "stdout", &o.std[1]);
  std_option(L, opts, "stderr", &o.std[2]);
  if (o.std[0].how == GV_SPAWN_STDOUT || o.std[1].how == GV_SPAWN_STDOUT)
    return l_argerror(L, 2, SP_POPEN, "option 'stdin'/'stdout': STDOUT is only "
                      "valid for stderr");
  lua_getfield(L, opts, "shell");
  int shell = lua_toboolean(L, -1);
  lua_getfield(L, opts, "cwd");
  o.cwd = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_getfield(L, opts, "executable");
  o.file = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_getfield(L, opts, "start_new_session");
  o.setsid = lua_toboolean(L, -1);
  lua_getfield(L, opts, "close_fds");
  o.close_fds = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_getfield(L, opts, "env");
  int envidx = lua_gettop(L);
  if (!lua_isnil(L, envidx)) {
    luaL_checktype(L, envidx, LUA_TTABLE);
    o.envp = build_envp(L, envidx);
  }
  int argc;
  char **argv = build_argv(L, 1, shell, &argc);
  o.argv = argv;
  const char *prog = o.file ? o.file : argv[0];
  gv_child *child;
  int pipes[3];
  int e = gv_child_spawn(&h->hub, &o, &child, pipes);
  if (e && o.cwd_missing)
    return luaL_error(L, "cannot run %s: %s: '%s'", prog, strerror(-e),
                      o.cwd);
  if (e) return luaL_error(L, "cannot run %s: %s", prog, strerror(-e));
  sp_popen *p = lua_newuserdatauv(L, sizeof *p, 1);
  memset(p, 0, sizeof *p);
  p->h = h;
  p->pid = child->pid;
  p->child = child;
  luaL_setmetatable(L, SP_POPEN);
  int self = lua_gettop(L);
  wait_new(L, &p->cw);
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "args");
  static const char *const names[3] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; i++) {
    if (pipes[i] < 0) continue;
    file_push_new(L, pipes[i], i == 0);
    lua_setfield(L, -2, names[i]);
  }
  lua_setiuservalue(L, self, 1);
  lua_settop(L, self);
  return 1;
}

/* Popen class __call: Popen(args, opts) */
static int l_popen_call(lua_State *L) {
  lua_remove(L, 1);
  int t = lua_type(L, 1);
  if (t != LUA_TTABLE && t != LUA_TSTRING)
    l_typeerror(L, 1, 1, SP_POPEN, "table or string");
  if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2))
    l_typeerror(L, 2, 2, SP_POPEN, "table");
  return l_popen(L);
}

static int p_poll(lua_State *L) {
  sp_popen *p = popen_check(L, 1);
  int rc;
  if (returncode(p, &rc)) lua_pushinteger(L, rc);
  else lua_pushnil(L);
  return 1;
}

/* Raises TimeoutExpired for the Popen at 1 after 'timeout' seconds. */
static int raise_timeout_expired(lua_State *L, double timeout) {
  lua_getiuservalue(L, 1, 1);
  lua_getfield(L, -1, "args");
  const char *cmd;
  if (lua_istable(L, -1)) {
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "concat");
    lua_pushvalue(L, -3);
    lua_pushliteral(L, " ");
    lua_call(L, 2, 1);
    cmd = lua_tostring(L, -1);
  } else {
    cmd = lua_tostring(L, -1);
  }
  lua_pushfstring(L, "Command '%s' timed out after %f seconds",
                  cmd ? cmd : "?", timeout);
  l_error_new(L, SP_TIMEOUTEXPIRED, lua_tostring(L, -1));
  int e = lua_gettop(L);
  lua_getiuservalue(L, 1, 1);
  lua_getfield(L, -1, "args");
  lua_setfield(L, e, "cmd");
  lua_pushnumber(L, timeout);
  lua_setfield(L, e, "timeout");
  lua_getfield(L, -1, "_out");
  if (lua_istable(L, -1)) {
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "concat");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, e, "output");
    lua_setfield(L, e, "stdout");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "_err");
  if (lua_istable(L, -1)) {
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "concat");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 1);
    lua_setfield(L, e, "stderr");
    lua_pop(L, 1);
  }
  lua_settop(L, e);
  return lua_error(L);
}

static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  sp_popen *p = lua_touserdata(L, 1);
  int rc;
  if (returncode(p, &rc)) {
    lua_pushinteger(L, rc);
    return 1;
  }
  return raise_timeout_expired(L, lua_tonumber(L, 2));
}

/* p:wait(timeout) */
static int p_wait(lua_State *L) {
  sp_popen *p = popen_check(L, 1);
  l_optargs(L, 2, "timeout", NULL);
  void *tmo;
  double timeout = l_opttimeout(L, 2, &tmo);
  int rc;
  if (returncode(p, &rc)) {
    lua_pushinteger(L, rc);
    return 1;
  }
  return gv_child_wait(&p->h->hub, L, p->child, timeout, 0, wait_k);
}

/* p:send_signal(sig) */
static int p_send_signal(lua_State *L) {
  sp_popen *p = popen_check(L, 1);
  int sig = l_checksignal(L, 2);
  int rc;
  if (returncode(p, &rc)) return 0; /* already reaped: the pid is gone */
  int e = gv_kill(p->pid, sig);
  if (e) return l_push_oserror(L, -e, "kill");
  lua_pushboolean(L, 1);
  return 1;
}

static int p_terminate(lua_State *L) {
  lua_settop(L, 1);
  lua_pushinteger(L, SIGTERM);
  return p_send_signal(L);
}

static int p_kill(lua_State *L) {
  lua_settop(L, 1);
  lua_pushinteger(L, SIGKILL);
  return p_send_signal(L);
}

/* communicate(input, timeout): stack 1 self, 2 input, 3 timeout,
** 4 fields, 5 stdin, 6 stdout, 7 stderr, 8 _out, 9 _err, 10 deadline. */
static int comm_k(lua_State *L, int status, lua_KContext ctx);

static sp_file *comm_file(lua_State *L, int idx) {
  sp_file *f = lua_touserdata(L, idx);
  return (f && f->fd >= 0) ? f : NULL;
}

/* Moves what is buffered in f and readable now into the chunk table. */
static int comm_drain(lua_State *L, sp_file *f, int chunks) {
  for (;;) {
    if (f->len > f->pos) {
      lua_pushlstring(L, f->buf + f->pos, f->len - f->pos);
      lua_rawseti(L, chunks, (lua_Integer)lua_rawlen(L, chunks) + 1);
      f->pos = f->len = 0;
    }
    int r = file_fill(L, f);
    if (r == 0) { file_release(f); return 0; }
    if (r == -1) return -1;
    if (r == -2) return -2;
  }
}

/* After a wait ended: raises TimeoutExpired if it timed out with work
** left; else 0 (go on). */
static int comm_woken(lua_State *L) {
  l_hub *h = l_hubup(L);
  if (h->hub.current->wake == GV_WAKE_TIMEOUT) {
    int rc;
    sp_popen *p = lua_touserdata(L, 1);
    int done = returncode(p, &rc);
    int open = comm_file(L, 5) || comm_file(L, 6) || comm_file(L, 7);
    if (!done || open) return raise_timeout_expired(L, lua_tonumber(L, 3));
  }
  return 0;
}

/* One round after another until the child is done. On the fast path a
** round ends in a wait whose continuation (comm_k) starts the next; on the
** slow path (the main greenlet) the rounds loop here instead: a
** continuation that blocks again would keep a C frame per round, and a
** child writing its output in many small pieces would overflow the stack
** (gv_can_yield). */
static int comm_run(lua_State *L) {
  sp_popen *p = lua_touserdata(L, 1);
  l_hub *h = l_hubup(L);
  for (;;) {
    int fds[3], n = 0;
    short evs[3];
    sp_file *fin = comm_file(L, 5);
    if (fin) {
      size_t len = 0;
      const char *s = lua_isnil(L, 2) ? NULL : lua_tolstring(L, 2, &len);
      while (p->in_off < len) {
        ssize_t w = write(fin->fd, s + p->in_off, len - p->in_off);
        if (w >= 0) { p->in_off += (size_t)w; continue; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        p->in_off = len; /* EPIPE and the like: the child will not read */
      }
      if (p->in_off >= len) {
        file_release(fin);
        fin = NULL;
      } else {
        fds[n] = fin->fd;
        evs[n++] = POLLOUT;
      }
    }
    for (int i = 0; i < 2; i++) {
      sp_file *f = comm_file(L, 6 + i);
      if (!f) continue;
      int r = comm_drain(L, f, 8 + i);
      if (r == -2)
        return luaL_error(L, "cannot read the child's output: %s",
                          strerror(errno));
      if (r == -1) {
        fds[n] = f->fd;
        evs[n++] = POLLIN;
      }
    }
    double timeout = -1;
    if (!lua_isnil(L, 10)) {
      gv_now(&h->hub);
      timeout = lua_tonumber(L, 10) - gv_now(&h->hub);
      if (timeout < 0) timeout = 0;
    }
    int rc, yield = gv_can_yield(&h->hub, L);
    if (n > 0) {
      if (yield)
        return wait_fds(L, &h->hub, &p->cw, fds, evs, n, timeout,
                        "communicate()", 0, comm_k);
      wait_fds(L, &h->hub, &p->cw, fds, evs, n, timeout, "communicate()",
               0, NULL);
    } else if (!returncode(p, &rc)) {
      if (yield) return gv_child_wait(&h->hub, L, p->child, timeout, 0, comm_k);
      gv_child_wait(&h->hub, L, p->child, timeout, 0, NULL);
    } else {
      break;
    }
    comm_woken(L); /* the slow path's continuation, inline */
  }
  /* done: out, err */
  for (int i = 0; i < 2; i++) {
    if (lua_isnil(L, 8 + i)) {
      lua_pushnil(L);
    } else {
      lua_getglobal(L, "table");
      lua_getfield(L, -1, "concat");
      lua_remove(L, -2);
      lua_pushvalue(L, 8 + i);
      lua_call(L, 1, 1);
    }
  }
  lua_pushnil(L);
  lua_setfield(L, 4, "_out");
  lua_pushnil(L);
  lua_setfield(L, 4, "_err");
  return 2;
}

static int comm_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  comm_woken(L);
  return comm_run(L);
}

/* p:communicate(input, timeout) */
static int p_communicate(lua_State *L) {
  l_hub *h = l_hubup(L);
  popen_check(L, 1);
  l_optargs(L, 2, "input", "timeout", NULL);
  if (!lua_isnil(L, 2)) luaL_checkstring(L, 2);
  if (l_timeout_test(L, 3)) { /* a started Timeout: it is the timer */
    lua_pushnil(L);
    lua_replace(L, 3);
  }
  if (!lua_isnil(L, 3)) luaL_checknumber(L, 3);
  lua_getiuservalue(L, 1, 1); /* 4 */
  lua_getfield(L, 4, "stdin");
  lua_getfield(L, 4, "stdout");
  lua_getfield(L, 4, "stderr");
  if (!lua_isnil(L, 2) && !comm_file(L, 5)) {
    sp_popen *p = lua_touserdata(L, 1);
    if (p->in_off == 0 && lua_isnil(L, 5))
      return luaL_argerror(L, 2, "input given but stdin is not a PIPE");
  }
  for (int i = 0; i < 2; i++) {
    const char *k = i ? "_err" : "_out";
    if (lua_getfield(L, 4, k) == LUA_TNIL && !lua_isnil(L, 6 + i)) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, 4, k);
    }
  }
  if (lua_isnil(L, 3)) {
    lua_pushnil(L);
  } else {
    gv_now(&h->hub);
    lua_pushnumber(L, gv_now(&h->hub) + lua_tonumber(L, 3));
  }
  return comm_run(L);
}

static int p_gc(lua_State *L) {
  sp_popen *p = lua_touserdata(L, 1);
  wait_free(&p->cw);
  if (p->child) {
    /* the hub's memory outlives every finalizer; a closed hub has freed
    ** its children already (gv_child_release knows) */
    gv_child_release(&p->h->hub, p->child);
    p->child = NULL;
  }
  return 0;
}

static int p_index(lua_State *L) {
  sp_popen *p = popen_check(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && lua_type(L, 2) == LUA_TSTRING) {
    if (strcmp(k, "pid") == 0) {
      lua_pushinteger(L, p->pid);
      return 1;
    }
    if (strcmp(k, "returncode") == 0) {
      int rc;
      if (p->child && p->child->done) {
        rc = gv_child_code(p->child->status);
        lua_pushinteger(L, rc);
      } else {
        lua_pushnil(L);
      }
      return 1;
    }
  }
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, -2) != LUA_TNIL) return 1;
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(2)); /* the methods */
  return 1;
}

static int p_newindex(lua_State *L) {
  popen_check(L, 1);
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, -3);
  return 0;
}

static int p_tostring(lua_State *L) {
  sp_popen *p = popen_check(L, 1);
  int rc;
  if (p->child && p->child->done) {
    rc = gv_child_code(p->child->status);
    lua_pushfstring(L, "<Popen pid %d: returncode %d>", (int)p->pid, rc);
  } else {
    lua_pushfstring(L, "<Popen pid %d: running>", (int)p->pid);
  }
  return 1;
}

/* p:__close(): closes the pipes and waits (like Python's with Popen) */
static int p_close(lua_State *L) {
  popen_check(L, 1);
  lua_getiuservalue(L, 1, 1);
  const char *names[3] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; i++) {
    lua_getfield(L, -1, names[i]);
    sp_file *f = luaL_testudata(L, -1, SP_FILE);
    if (f && f->fd >= 0) file_release(f);
    lua_pop(L, 1);
  }
  lua_settop(L, 1);
  return p_wait(L);
}

/* ---- registration ------------------------------------------------------ */

static const luaL_Reg file_methods[] = {
  {"read", f_read},
  {"readline", f_readline},
  {"lines", f_lines},
  {"write", f_write},
  {"close", f_close},
  {"flush", f_flush},
  {"fileno", f_fileno},
  {"getfd", f_fileno},
  {"closed", f_closed},
  {NULL, NULL}
};

static const luaL_Reg popen_methods[] = {
  {"poll", p_poll},
  {"wait", p_wait},
  {"communicate", p_communicate},
  {"send_signal", p_send_signal},
  {"terminate", p_terminate},
  {"kill", p_kill},
  {"close", p_close},
  {NULL, NULL}
};

static const luaL_Reg popen_meta[] = {
  {"__newindex", p_newindex},
  {"__gc", p_gc},
  {"__close", p_close},
  {"__tostring", p_tostring},
  {NULL, NULL}
};

static const luaL_Reg subprocess_funcs[] = {
  {"_popen", l_popen},
  {"_popen_call", l_popen_call},
  {NULL, NULL}
};

static const luaL_Reg file_meta[] = {
  {"__gc", f_gc},
  {"__close", f_gc},
  {"__tostring", f_tostring},
  {NULL, NULL}
};

static void register_types(lua_State *L) {
  l_newtype(L, SP_FILE, file_methods, file_meta, NULL);
  lua_pop(L, 1);
  l_newtype(L, SP_POPEN, popen_methods, popen_meta, p_index);
  lua_pop(L, 1);
}

void l_subprocess_open(lua_State *L, l_hub *h) {
  (void)h;
  gv_signal_ignore_sigpipe();
  register_types(L);
  l_setfuncs(L, subprocess_funcs);
  lua_pushinteger(L, SP_PIPE);
  lua_setfield(L, -2, "PIPE");
  lua_pushinteger(L, SP_STDOUT);
  lua_setfield(L, -2, "STDOUT");
  lua_pushinteger(L, SP_DEVNULL);
  lua_setfield(L, -2, "DEVNULL");
  if (lua_getfield(L, LUA_REGISTRYINDEX, SP_SUBPROCESSERROR) == LUA_TNIL) {
    lua_pop(L, 1);
    l_class_new(L, "SubprocessError", 0, SP_SUBPROCESSERROR);
  }
  int base = lua_gettop(L);
  if (lua_getfield(L, LUA_REGISTRYINDEX, SP_CALLEDPROCESSERROR) == LUA_TNIL) {
    lua_pop(L, 1);
    l_class_new(L, "CalledProcessError", base, SP_CALLEDPROCESSERROR);
  }
  if (lua_getfield(L, LUA_REGISTRYINDEX, SP_TIMEOUTEXPIRED) == LUA_TNIL) {
    lua_pop(L, 1);
    l_class_new(L, "TimeoutExpired", base, SP_TIMEOUTEXPIRED);
  }
  lua_setfield(L, base - 1, "TimeoutExpired");
  lua_setfield(L, base - 1, "CalledProcessError");
  lua_setfield(L, base - 1, "SubprocessError");
}
