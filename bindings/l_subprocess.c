/*
** l_subprocess.c - gevent.subprocess and gevent.os: child processes whose
** pipes and exit block only the calling greenlet, and fork().
**
** Children are started with posix_spawn (close-on-exec pipes, every other
** fd closed, signal dispositions and mask reset). Their exit is noticed
** through SIGCHLD and reaped with waitpid(pid) for the pids spawned here
** only: reaping with waitpid(-1), as libev's child watchers do on its
** default loop, would steal the status of children started by io.popen()
** and others (their close() then fails with ECHILD). So the hub never uses
** libev's default loop, and the SIGCHLD handler only pokes an ev_async in
** each hub; the hub then reaps its own pids.
**
** Pipes are non-blocking; a greenlet waits on them with its own ev_io
** watchers (several at once for communicate()).
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bindings.h"

extern char **environ;

#define SP_STATE "gvlua.subprocess.state"
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

/* A greenlet's wait on up to three fds; lives in the object waited on. */
typedef struct sp_wait {
  struct sp_wait *next;     /* in active_waits while armed */
  gv_greenlet *g;           /* NULL when idle */
  gv_hub *hub;
  ev_io io[3];
  int nio;
} sp_wait;

static __thread sp_wait *active_waits;

static void wait_disarm(sp_wait *w) {
  for (sp_wait **p = &active_waits; *p; p = &(*p)->next)
    if (*p == w) { *p = w->next; break; }
  for (int i = 0; i < w->nio; i++) gv_io_stop(w->hub, &w->io[i]);
  w->nio = 0;
  w->g = NULL;
  w->next = NULL;
}

/* g->cancel: the wait ended (woken, timed out, killed). */
static void wait_cancel(gv_greenlet *g) {
  for (sp_wait *w = active_waits; w; w = w->next)
    if (w->g == g) { wait_disarm(w); return; }
}

static void wait_io_cb(struct ev_loop *loop, ev_io *io, int revents) {
  (void)loop; (void)revents;
  sp_wait *w = io->data;
  if (w->g) gv_wake(w->g, GV_WAKE_NORMAL);
}

/* Blocks the current greenlet until one of fds is ready or timeout. */
static int wait_fds(lua_State *L, gv_hub *hub, sp_wait *w, const int *fds,
                    const int *evs, int n, double timeout, const char *what,
                    lua_KContext ctx, gv_kfunction k) {
  if (w->g) return luaL_error(L, "another greenlet is already waiting on "
                                 "this pipe");
  gv_greenlet *g = gv_prepare_block(hub, L, what);
  w->g = g;
  w->hub = hub;
  w->nio = n;
  for (int i = 0; i < n; i++) {
    ev_io_init(&w->io[i], wait_io_cb, fds[i], evs[i]);
    w->io[i].data = w;
    gv_io_start(hub, &w->io[i]);
  }
  w->next = active_waits;
  active_waits = w;
  g->cancel = wait_cancel;
  return gv_block_timeout(hub, L, timeout, ctx, k);
}

/* ---- child registry and SIGCHLD ---------------------------------------- */

typedef struct sp_child {
  struct sp_child *next;
  pid_t pid;
  int status;          /* wait status once reaped */
  int done;
  int orphan;          /* no Lua object refers to it: freed when reaped */
  int forked;          /* from fork(): waitpid() releases it */
  gv_waitq waiters;
} sp_child;

typedef struct sp_state {
  gv_hub *hub;
  ev_async async;
  sp_child *children;
  int nwaiting;        /* greenlets waiting for a child: keep loop alive */
  int slot;
  int closed;          /* finalized (children freed) */
} sp_state;

#define SP_SLOTS 64
static _Atomic(sp_state *) slots[SP_SLOTS];

static void sigchld_handler(int sig) {
  (void)sig;
  int e = errno;
  for (int i = 0; i < SP_SLOTS; i++) {
    sp_state *s = atomic_load(&slots[i]);
    if (s) ev_async_send(s->hub->loop, &s->async);
  }
  errno = e;
}

/* Takes SIGCHLD over from libev (see the top of this file). */
static void install_sigchld(void) {
  struct sigaction cur;
  if (sigaction(SIGCHLD, NULL, &cur) == 0 &&
      !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == sigchld_handler)
    return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = sigchld_handler;
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
}

static sp_state *state_of(gv_hub *hub) {
  for (int i = 0; i < SP_SLOTS; i++) {
    sp_state *s = atomic_load(&slots[i]);
    if (s && s->hub == hub) return s;
  }
  return NULL;
}

static int child_reap(sp_child *c) {
  if (c->done) return 1;
  int st;
  pid_t r;
  do r = waitpid(c->pid, &st, WNOHANG); while (r < 0 && errno == EINTR);
  if (r == c->pid) {
    c->done = 1;
    c->status = st;
  } else if (r < 0 && errno == ECHILD) { /* reaped by someone else */
    c->done = 1;
    c->status = 0;
  } else {
    return 0;
  }
  gv_waitq_wake_all(&c->waiters);
  return 1;
}

static void reap_all(sp_state *s) {
  sp_child **pp = &s->children;
  while (*pp) {
    sp_child *c = *pp;
    child_reap(c);
    if (c->done && c->orphan && gv_waitq_empty(&c->waiters)) {
      *pp = c->next;
      free(c);
      continue;
    }
    pp = &c->next;
  }
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop; (void)revents;
  reap_all(gv_container_of(w, sp_state, async));
}

static sp_child *child_add(sp_state *s, pid_t pid) {
  sp_child *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->pid = pid;
  gv_waitq_init(&c->waiters);
  c->next = s->children;
  s->children = c;
  return c;
}

static sp_child *child_find(sp_state *s, pid_t pid) {
  for (sp_child *c = s->children; c; c = c->next)
    if (c->pid == pid) return c;
  return NULL;
}

/* A Lua object stops referring to c. */
static void child_release(sp_state *s, sp_child *c) {
  if (!s) return;
  if (c->done && gv_waitq_empty(&c->waiters)) {
    for (sp_child **pp = &s->children; *pp; pp = &(*pp)->next)
      if (*pp == c) { *pp = c->next; free(c); return; }
  }
  c->orphan = 1;
}

static int state_gc(lua_State *L) {
  sp_state *s = lua_touserdata(L, 1);
  if (s->closed) return 0;
  s->closed = 1;
  if (s->slot >= 0) atomic_store(&slots[s->slot], NULL);
  s->slot = -1;
  if (s->hub->loop) {
    if (s->nwaiting == 0) ev_ref(s->hub->loop);
    ev_async_stop(s->hub->loop, &s->async);
  }
  while (s->children) {
    sp_child *c = s->children;
    s->children = c->next;
    free(c);
  }
  return 0;
}

static sp_state *state_get(lua_State *L, l_hub *h) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, SP_STATE) == LUA_TUSERDATA) {
    sp_state *s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
  }
  lua_pop(L, 1);
  sp_state *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->hub = &h->hub;
  s->slot = -1;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, state_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, SP_STATE);
  ev_async_init(&s->async, async_cb);
  ev_async_start(h->hub.loop, &s->async);
  ev_unref(h->hub.loop);
  for (int i = 0; i < SP_SLOTS; i++) {
    sp_state *expect = NULL;
    if (atomic_compare_exchange_strong(&slots[i], &expect, s)) {
      s->slot = i;
      break;
    }
  }
  if (s->slot < 0) luaL_error(L, "too many gvlua hubs using subprocesses");
  install_sigchld();
  return s;
}

/* g->cancel for child waits: the loop no longer needs to stay alive. */
static void child_wait_done(gv_greenlet *g) {
  sp_state *s = state_of(g->hub);
  if (s && --s->nwaiting == 0) ev_unref(g->hub->loop);
}

/* Blocks until c is reaped or timeout; k checks c->done. */
static int child_wait(lua_State *L, sp_state *s, sp_child *c,
                      double timeout, lua_KContext ctx, gv_kfunction k) {
  gv_greenlet *g = gv_check_block(s->hub, L);
  if (s->nwaiting++ == 0) ev_ref(s->hub->loop);
  g->cancel = child_wait_done;
  return gv_waitq_wait(s->hub, &c->waiters, L, timeout, "a child process",
                       ctx, k);
}

static int decode_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return -WTERMSIG(st);
  return st;
}

/* ---- signal names ------------------------------------------------------ */

static const struct { const char *name; int num; } signames[] = {
  {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL},
  {"TRAP", SIGTRAP}, {"ABRT", SIGABRT}, {"BUS", SIGBUS}, {"FPE", SIGFPE},
  {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
  {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
  {"TERM", SIGTERM}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},
  {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
  {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU},
  {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
  {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"SYS", SIGSYS}, {NULL, 0}
};

/* A signal number or name ("SIGTERM", "TERM"); shared with l_signal.c. */
int l_checksignal(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, idx);
    if (n < 1 || n >= NSIG) luaL_argerror(L, idx, "invalid signal number");
    return (int)n;
  }
  const char *s = luaL_checkstring(L, idx);
  const char *name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;
  for (int i = 0; signames[i].name; i++)
    if (strcmp(signames[i].name, name) == 0) return signames[i].num;
  return luaL_argerror(L, idx, lua_pushfstring(L, "unknown signal '%s'", s));
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
  if (f->rw.g) gv_wake(f->rw.g, GV_WAKE_NORMAL); /* sees it closed */
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

static int push_errno(lua_State *L, int e, const char *what) {
  lua_pushnil(L);
  if (what) lua_pushfstring(L, "%s: %s", what, strerror(e));
  else lua_pushstring(L, strerror(e));
  lua_pushinteger(L, e);
  return 3;
}

static int read_k(lua_State *L, int status, lua_KContext ctx);

/* Formats at [2, last]; results above 'last'; continue at format i. */
static int read_run(lua_State *L, int i, int last) {
  sp_file *f = lua_touserdata(L, 1);
  for (; i <= last; i++) {
    if (f->fd < 0) {
      lua_pushnil(L);
      lua_pushliteral(L, "closed");
      return 2;
    }
    int r = read_one(L, f, i);
    if (r == 0) { lua_pushnil(L); break; }
    if (r == -2) return push_errno(L, errno, NULL);
    if (r == -1) {
      int ev = EV_READ;
      return wait_fds(L, &l_hubup(L)->hub, &f->rw, &f->fd, &ev, 1, -1,
                      "a pipe read", ((lua_KContext)last << 16) | i,
                      read_k);
    }
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

/* Writes arguments [i, top] from byte 'off' of argument i. */
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
        int ev = EV_WRITE;
        return wait_fds(L, &l_hubup(L)->hub, &f->rw, &f->fd, &ev, 1, -1,
                        "a pipe write", ((lua_KContext)off << 8) | i,
                        write_k);
      }
      return push_errno(L, errno, NULL);
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
  if (f->rw.g) wait_disarm(&f->rw);
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
  sp_state *st;
  sp_child *child;
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
  if (!p->child) return 0;
  if (!p->child->done) child_reap(p->child);
  if (!p->child->done) return 0;
  *rc = decode_status(p->child->status);
  return 1;
}

static int std_option(lua_State *L, int opts, const char *name,
                      int reopened) {
  lua_getfield(L, opts, name);
  int v;
  if (lua_isnil(L, -1)) {
    v = -100; /* inherit */
  } else if (lua_isinteger(L, -1)) {
    v = (int)lua_tointeger(L, -1);
    if (v < SP_DEVNULL)
      luaL_error(L, "bad value for option '%s'", name);
  } else {
    luaL_Stream *ls = luaL_testudata(L, -1, LUA_FILEHANDLE);
    sp_file *sf = luaL_testudata(L, -1, SP_FILE);
    if (ls && ls->closef && ls->f) v = fileno(ls->f);
    else if (sf && sf->fd >= 0) {
      /* our pipe ends are non-blocking, a flag of the open file
      ** description: give the child a fresh, blocking description of the
      ** same pipe (pipelines: Popen(b, {stdin = a.stdout})) */
      char path[64];
      snprintf(path, sizeof path, "/proc/self/fd/%d", sf->fd);
      v = open(path, (sf->writable ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
      if (v >= 0) {
        lua_pushinteger(L, v); /* to close after the spawn */
        lua_rawseti(L, reopened, (lua_Integer)lua_rawlen(L, reopened) + 1);
      } else {
        v = sf->fd;
      }
    } else {
      v = -100;
      luaL_error(L, "bad value for option '%s' (PIPE, DEVNULL, STDOUT, an "
                    "fd or an open file expected)", name);
    }
  }
  lua_pop(L, 1);
  return v;
}

/* A close-on-exec pipe whose fds are above 2. */
static int pipe_hi(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  for (int i = 0; i < 2; i++) {
    if (fds[i] <= 2) {
      int nfd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      if (nfd < 0) { close(fds[0]); close(fds[1]); return -1; }
      close(fds[i]);
      fds[i] = nfd;
    }
  }
  return 0;
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
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
    if (len < 1) luaL_argerror(L, 1, "empty argument list");
    for (lua_Integer i = 1; i <= len; i++) {
      lua_geti(L, args, i);
      if (!lua_isstring(L, -1))
        luaL_error(L, "bad argument #1 to 'Popen' (element %d is a %s, "
                      "string expected)", (int)i, luaL_typename(L, -1));
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
      luaL_error(L, "bad option 'env' (string keys and values expected)");
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
  sp_state *s = state_get(L, h);
  lua_settop(L, 2);
  if (lua_type(L, 1) != LUA_TTABLE) luaL_checkstring(L, 1);
  if (lua_isnil(L, 2)) { lua_newtable(L); lua_replace(L, 2); }
  luaL_checktype(L, 2, LUA_TTABLE);
  int opts = 2;
  lua_newtable(L); /* 3: fds reopened for the child, closed below */
  int reopened = 3;
  int in = std_option(L, opts, "stdin", reopened);
  int out = std_option(L, opts, "stdout", reopened);
  int err = std_option(L, opts, "stderr", reopened);
  if (in == SP_STDOUT || out == SP_STDOUT)
    return luaL_error(L, "STDOUT is only valid for stderr");
  lua_getfield(L, opts, "shell");
  int shell = lua_toboolean(L, -1);
  lua_getfield(L, opts, "cwd");
  const char *cwd = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_getfield(L, opts, "executable");
  const char *exe = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_getfield(L, opts, "start_new_session");
  int setsid = lua_toboolean(L, -1);
  lua_getfield(L, opts, "close_fds");
  int close_fds = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_getfield(L, opts, "env");
  int envidx = lua_gettop(L);
  char **envp = environ;
  if (!lua_isnil(L, envidx)) {
    luaL_checktype(L, envidx, LUA_TTABLE);
    envp = build_envp(L, envidx);
  }
  int argc;
  char **argv = build_argv(L, 1, shell, &argc);
  const char *prog = exe ? exe : argv[0];

  install_sigchld(); /* in case a loop was re-created since */
  int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
  int devnull = -1, e = 0;
  if (in == SP_DEVNULL || out == SP_DEVNULL || err == SP_DEVNULL) {
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) e = errno;
  }
  if (!e && in == SP_PIPE && pipe_hi(pin) != 0) e = errno;
  if (!e && out == SP_PIPE && pipe_hi(pout) != 0) e = errno;
  if (!e && err == SP_PIPE && pipe_hi(perr) != 0) e = errno;
  pid_t pid = -1;
  if (!e) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t all, none;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (setsid) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&at, flags);
    int src[3] = {in, out, err}, pr[3] = {pin[0], pout[1], perr[1]};
    for (int i = 0; i < 3; i++) {
      int fd = src[i];
      if (fd == -100) continue;
      if (fd == SP_PIPE) fd = pr[i];
      else if (fd == SP_DEVNULL) fd = devnull;
      else if (fd == SP_STDOUT) fd = 1;
      if (fd != i) posix_spawn_file_actions_adddup2(&fa, fd, i);
    }
    if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
    if (close_fds) posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    e = posix_spawnp(&pid, prog, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
  }
  if (devnull >= 0) close(devnull);
  for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, reopened); i++) {
    lua_rawgeti(L, reopened, i);
    close((int)lua_tointeger(L, -1));
    lua_pop(L, 1);
  }
  if (pin[0] >= 0) close(pin[0]);
  if (pout[1] >= 0) close(pout[1]);
  if (perr[1] >= 0) close(perr[1]);
  if (e) {
    if (pin[1] >= 0) close(pin[1]);
    if (pout[0] >= 0) close(pout[0]);
    if (perr[0] >= 0) close(perr[0]);
    if (cwd && e == ENOENT && access(cwd, X_OK) != 0)
      return luaL_error(L, "cannot run %s: %s: '%s'", prog, strerror(e),
                        cwd);
    return luaL_error(L, "cannot run %s: %s", prog, strerror(e));
  }
  sp_popen *p = lua_newuserdatauv(L, sizeof *p, 1);
  memset(p, 0, sizeof *p);
  p->st = s;
  p->pid = pid;
  p->child = child_add(s, pid);
  luaL_setmetatable(L, SP_POPEN);
  int self = lua_gettop(L);
  if (!p->child) return luaL_error(L, "not enough memory");
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "args");
  if (pin[1] >= 0) {
    set_nonblock(pin[1]);
    file_push_new(L, pin[1], 1);
    lua_setfield(L, -2, "stdin");
  }
  if (pout[0] >= 0) {
    set_nonblock(pout[0]);
    file_push_new(L, pout[0], 0);
    lua_setfield(L, -2, "stdout");
  }
  if (perr[0] >= 0) {
    set_nonblock(perr[0]);
    file_push_new(L, perr[0], 0);
    lua_setfield(L, -2, "stderr");
  }
  lua_setiuservalue(L, self, 1);
  lua_settop(L, self);
  return 1;
}

/* Popen class __call: Popen(args, opts) */
static int l_popen_call(lua_State *L) {
  lua_remove(L, 1);
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
  return child_wait(L, p->st, p->child, timeout, 0, wait_k);
}

/* p:send_signal(sig) */
static int p_send_signal(lua_State *L) {
  sp_popen *p = popen_check(L, 1);
  int sig = l_checksignal(L, 2);
  int rc;
  if (returncode(p, &rc)) return 0; /* already reaped: the pid is gone */
  if (kill(p->pid, sig) != 0) return push_errno(L, errno, "kill");
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

static int comm_run(lua_State *L) {
  sp_popen *p = lua_touserdata(L, 1);
  l_hub *h = l_hubup(L);
  int fds[3], evs[3], n = 0;
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
      evs[n++] = EV_WRITE;
    }
  }
  for (int i = 0; i < 2; i++) {
    sp_file *f = comm_file(L, 6 + i);
    if (!f) continue;
    int r = comm_drain(L, f, 8 + i);
    if (r == -2) return luaL_error(L, "communicate: %s", strerror(errno));
    if (r == -1) {
      fds[n] = f->fd;
      evs[n++] = EV_READ;
    }
  }
  double timeout = -1;
  if (!lua_isnil(L, 10)) {
    gv_now(&h->hub);
    timeout = lua_tonumber(L, 10) - ev_now(h->hub.loop);
    if (timeout < 0) timeout = 0;
  }
  if (n > 0)
    return wait_fds(L, &h->hub, &p->cw, fds, evs, n, timeout,
                    "communicate()", 0, comm_k);
  int rc;
  if (!returncode(p, &rc))
    return child_wait(L, p->st, p->child, timeout, 0, comm_k);
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
  l_hub *h = l_hubup(L);
  if (h->hub.current->wake == GV_WAKE_TIMEOUT) {
    int rc;
    sp_popen *p = lua_touserdata(L, 1);
    int done = returncode(p, &rc);
    int open = comm_file(L, 5) || comm_file(L, 6) || comm_file(L, 7);
    if (!done || open) return raise_timeout_expired(L, lua_tonumber(L, 3));
  }
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
      return luaL_error(L, "communicate: input given but stdin is not a "
                           "PIPE");
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
    lua_pushnumber(L, ev_now(h->hub.loop) + lua_tonumber(L, 3));
  }
  return comm_run(L);
}

static int p_gc(lua_State *L) {
  sp_popen *p = lua_touserdata(L, 1);
  if (p->cw.g) wait_disarm(&p->cw);
  if (p->child) {
    sp_state *s = p->st; /* userdata memory outlives every finalizer */
    if (!s->closed) child_release(s, p->child);
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
        rc = decode_status(p->child->status);
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
  luaL_getmetatable(L, SP_POPEN);
  lua_getfield(L, -1, "__methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
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
    rc = decode_status(p->child->status);
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

/* ---- gevent.os: fork, waitpid ------------------------------------------ */

/* fork(): like os fork; in the child the loop is reinitialised and
** greenlets are kept (as gevent does). Parent: the pid is watched so
** waitpid() can wait for it cooperatively. */
static int l_fork(lua_State *L) {
  l_hub *h = l_hubup(L);
  sp_state *s = state_get(L, h);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return push_errno(L, errno, "fork");
  if (pid == 0) {
    ev_loop_fork(h->hub.loop);
    gv_monitor_after_fork(&h->hub); /* its thread stayed in the parent */
    /* children of the parent are not ours */
    for (sp_child *c = s->children; c; c = c->next) {
      if (!c->done) {
        c->done = 1;
        c->status = 0;
        gv_waitq_wake_all(&c->waiters);
      }
    }
  } else {
    sp_child *c = child_add(s, pid);
    if (c) c->forked = 1;
  }
  lua_pushinteger(L, pid);
  return 1;
}

static int push_wait_status(lua_State *L, pid_t pid, int st) {
  lua_pushinteger(L, pid);
  if (WIFEXITED(st)) {
    lua_pushliteral(L, "exited");
    lua_pushinteger(L, WEXITSTATUS(st));
  } else if (WIFSIGNALED(st)) {
    lua_pushliteral(L, "killed");
    lua_pushinteger(L, WTERMSIG(st));
  } else {
    lua_pushliteral(L, "stopped");
    lua_pushinteger(L, WSTOPSIG(st));
  }
  return 3;
}

static int waitpid_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  sp_child *c = (sp_child *)ctx;
  l_hub *h = l_hubup(L);
  if (!c->done) {
    if (h->hub.current->wake == GV_WAKE_TIMEOUT) {
      lua_pushnil(L);
      lua_pushliteral(L, "timeout");
      return 2;
    }
    sp_state *s = state_get(L, h);
    return child_wait(L, s, c, -1, ctx, waitpid_k);
  }
  pid_t pid = c->pid;
  int st = c->status;
  if (c->forked) child_release(state_get(L, h), c);
  return push_wait_status(L, pid, st);
}

/* waitpid(pid, timeout): for a pid from fork() or Popen, waits
** cooperatively; returns pid, "exited"|"killed", code (luaposix style),
** or nil, "timeout". Other pids: a plain blocking waitpid. */
static int l_waitpid(lua_State *L) {
  l_hub *h = l_hubup(L);
  sp_state *s = state_get(L, h);
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  void *tmo;
  double timeout = l_opttimeout(L, 2, &tmo);
  sp_child *c = pid > 0 ? child_find(s, pid) : NULL;
  if (!c) {
    int st;
    pid_t r;
    do r = waitpid(pid, &st, 0); while (r < 0 && errno == EINTR);
    if (r < 0) return push_errno(L, errno, "waitpid");
    return push_wait_status(L, r, st);
  }
  lua_settop(L, 2);
  if (child_reap(c)) return waitpid_k(L, LUA_OK, (lua_KContext)c);
  return child_wait(L, s, c, timeout, (lua_KContext)c, waitpid_k);
}

static int l__exit(lua_State *L) {
  _exit((int)luaL_optinteger(L, 1, 0));
  return 0;
}

static int wait_read_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  l_hub *h = l_hubup(L);
  lua_pushboolean(L, h->hub.current->wake == GV_WAKE_NORMAL);
  return 1;
}

/* _wait(fd, "r"|"w", timeout): true when ready, false on timeout */
static int l__wait(lua_State *L) {
  l_hub *h = l_hubup(L);
  int fd = (int)luaL_checkinteger(L, 1);
  const char *m = luaL_optstring(L, 2, "r");
  void *tmo;
  double timeout = l_opttimeout(L, 3, &tmo);
  return gv_wait_fd(&h->hub, L, fd, *m == 'w' ? EV_WRITE : EV_READ,
                    timeout, 0, wait_read_k);
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
  {"__index", p_index},
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
  if (kill(pid, sig) != 0) return push_errno(L, errno, "kill");
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg os_funcs[] = {
  {"getpid", l_getpid},
  {"kill", l_kill},
  {"fork", l_fork},
  {"waitpid", l_waitpid},
  {"_exit", l__exit},
  {"_wait", l__wait},
  {NULL, NULL}
};

static void register_types(lua_State *L) {
  if (luaL_newmetatable(L, SP_FILE)) {
    lua_newtable(L);
    l_setfuncs(L, file_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, f_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, f_gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, f_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, SP_POPEN)) {
    l_setfuncs(L, popen_meta);
    lua_newtable(L);
    l_setfuncs(L, popen_methods);
    lua_setfield(L, -2, "__methods");
  }
  lua_pop(L, 1);
}

void l_subprocess_open(lua_State *L, l_hub *h) {
  state_get(L, h);
  /* A write to a pipe whose reader exited must fail with EPIPE, not kill
  ** the process (Python and LuaSocket do the same). */
  struct sigaction cur;
  if (sigaction(SIGPIPE, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
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

/* gevent.os; also puts fork into the root table (below us). */
void l_os_open(lua_State *L, l_hub *h) {
  state_get(L, h);
  l_setfuncs(L, os_funcs);
  lua_getfield(L, -1, "fork");
  lua_setfield(L, -3, "fork");
}
