/*
** l_socket.c - the C primitives under gevent.socket, gevent.select and
** gevent.server: cooperative fd waits (one fd, or many for select, with no
** FD_SETSIZE cap), waking the waiters of a socket being closed, the result
** of a non-blocking connect, and name resolution on the OS-thread pool
** (runtime/work.c) so that DNS never blocks the hub. The socket objects
** themselves are LuaSocket's; lua/gevent/socket.lua wraps their methods.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "bindings.h"


/* ---- LuaSocket's error strings ------------------------------------------ */

static const char *sock_strerror(int err) {
  switch (err) {
  case 0: return NULL;
  case EADDRINUSE: return "address already in use";
  case EISCONN: return "already connected";
  case EACCES: return "permission denied";
  case ECONNREFUSED: return "connection refused";
  case ECONNABORTED: return "closed";
  case ECONNRESET: return "closed";
  case ETIMEDOUT: return "timeout";
  default: return strerror(err);
  }
}

static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  l_hub *h = l_hubup(L);
  gv_greenlet *cur = h->hub.current;
  if (l_timeout_fired(L, cur, (void *)ctx) || cur->wake == GV_WAKE_TIMEOUT) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  if (gv_fd_events(cur) & (GV_FD_CLOSED | EV_ERROR)) {
    lua_pushnil(L); /* cancel_wait, or the fd was closed behind its back */
    lua_pushliteral(L, "closed");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* Registers the running greenlet as waiting on fd (for cancel_wait) and
** returns it, with its optional Timeout argument at index tidx. */
static gv_greenlet *begin_wait(lua_State *L, l_hub *h, int fd, int tidx,
                               void **tmo, double *timeout) {
  if (lua_type(L, tidx) > LUA_TNIL) /* type check before gv_check_block */
    l_opttimeout(L, tidx, tmo);
  gv_greenlet *cur = gv_check_block(&h->hub, L);
  *timeout = l_timeout_arg(L, cur, tidx, 0, tmo);
  gv_fd_cancelable(&h->hub, cur, fd);
  return cur;
}

static int events_mask(int events) {
  return ((events & 1) ? EV_READ : 0) | ((events & 2) ? EV_WRITE : 0);
}

static int push_closed(lua_State *L) {
  lua_pushnil(L);
  lua_pushliteral(L, "closed");
  return 2;
}

/* Raises unless the fd at idx (for argument arg) may be given to libev. */
static void check_open(lua_State *L, l_hub *h, int arg, int fd) {
  int rc = gv_fd_check(&h->hub, fd);
  if (rc == -EINVAL)
    luaL_argerror(L, arg, lua_pushfstring(L, "file descriptor %d is the "
                                             "hub's own", fd));
  else if (rc != 0)
    luaL_argerror(L, arg, lua_pushfstring(L, "file descriptor %d is not "
                                             "open", fd));
}

/* Waits for fd; events 1 read, 2 write, 3 both. */
static int do_wait(lua_State *L, int fd, int events, int tidx) {
  l_hub *h = l_hubup(L);
  void *tmo;
  double timeout;
  if (fd < 0) return push_closed(L); /* a closed socket's getfd() */
  check_open(L, h, 1, fd);
  begin_wait(L, h, fd, tidx, &tmo, &timeout);
  return gv_wait_fd(&h->hub, L, fd, events_mask(events), timeout,
                    (lua_KContext)tmo, wait_k);
}

/* An fd number at idx: an integer from 0 to INT_MAX (argument arg). */
static int fd_number(lua_State *L, int idx, int arg) {
  lua_Integer v = luaL_checkinteger(L, idx);
  if (v < 0 || v > INT_MAX)
    luaL_argerror(L, arg, "file descriptor out of range");
  return (int)v;
}

/* The fd argument at idx: a number, or an object with getfd() (-1 for a
** closed socket, as LuaSocket's getfd). */
static int getfd_arg(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER) return fd_number(L, idx, idx);
  /* an object with getfd() */
  if (luaL_getmetafield(L, idx, "__index") != LUA_TNIL) lua_pop(L, 1);
  if (lua_type(L, idx) != LUA_TTABLE && lua_type(L, idx) != LUA_TUSERDATA)
    luaL_typeerror(L, idx, "file descriptor or object with getfd");
  lua_getfield(L, idx, "getfd");
  if (!lua_isfunction(L, -1))
    luaL_typeerror(L, idx, "file descriptor or object with getfd");
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
  int fd = -1;
  if (!lua_isnil(L, -1)) {
    lua_Integer v = luaL_checkinteger(L, -1);
    if (v <= INT_MAX) fd = v < 0 ? -1 : (int)v;
    else luaL_argerror(L, idx, "getfd() out of range");
  }
  lua_pop(L, 1);
  return fd;
}

/* wait(fd, events, timeout) */
static int l_wait(lua_State *L) {
  int fd = getfd_arg(L, 1);
  int ev = (int)luaL_checkinteger(L, 2);
  if (ev < 1 || ev > 3) luaL_argerror(L, 2, "1 (read), 2 (write) or 3");
  lua_settop(L, 3);
  return do_wait(L, fd, ev, 3);
}

/* wait_read(fd, timeout), wait_write, wait_readwrite */
static int l_wait_read(lua_State *L) {
  int fd = getfd_arg(L, 1);
  lua_settop(L, 2);
  return do_wait(L, fd, 1, 2);
}
static int l_wait_write(lua_State *L) {
  int fd = getfd_arg(L, 1);
  lua_settop(L, 2);
  return do_wait(L, fd, 2, 2);
}
static int l_wait_readwrite(lua_State *L) {
  int fd = getfd_arg(L, 1);
  lua_settop(L, 2);
  return do_wait(L, fd, 3, 2);
}

/* cancel_wait(fd): wakes the greenlets waiting on fd in wait(); they
** return nil, "closed". Returns how many. Call before closing fd. */
static int l_cancel_wait(lua_State *L) {
  l_hub *h = l_hubup(L);
  int fd = getfd_arg(L, 1);
  lua_pushinteger(L, gv_fd_cancel(&h->hub, fd));
  return 1;
}

/* ---- a socket's own watcher --------------------------------------------- */

/* gevent.socket keeps one per socket object (in its per-socket state), so
** the socket stays registered with epoll between waits.
**
** A receive that waits first must know whether LuaSocket's input buffer
** already holds data (its dirty() method), and every wait needs the fd
** (getfd()): two method calls per wait, together about as costly as the
** wait itself. LuaSocket 3's stream objects (tcp.h, unix.h: socket, io,
** buffer, timeout, in that order) let us read both directly. A watcher
** made for such an object checks the layout on that very object, by the
** buffer's two pointers back into it, before it relies on it; any other
** object, or another LuaSocket layout, goes through the method calls. */
typedef struct ls_io { void *ctx, *send, *recv, *error; } ls_io;
typedef struct ls_buffer {
  double birthday;
  size_t sent, received;
  ls_io *io;
  void *tm;
  size_t first, last;
  char data[8192];
} ls_buffer;
typedef struct ls_stream {
  int sock;
  ls_io io;
  ls_buffer buf;
  /* t_timeout tm follows */
} ls_stream;

static ls_stream *ls_stream_of(void *ud, size_t len, lua_Integer fd) {
  ls_stream *s = ud;
  if (!s || len < sizeof *s + 3 * sizeof(double)) return NULL;
  if (s->sock != fd || s->buf.io != &s->io || s->io.ctx != &s->sock ||
      s->buf.tm != (const char *)s + sizeof *s ||
      s->buf.first > s->buf.last || s->buf.last > sizeof s->buf.data)
    return NULL;
  return s;
}

#define FDWATCH_MAGIC 0x67766677u
#define L_WATCHER "gevent.socket.Watcher"

typedef struct l_fdwatch {
  gv_fdwatch w;
  l_hub *h;
  ls_stream *stream;       /* its LuaSocket stream object, if readable */
  unsigned magic;
  unsigned char quick;     /* receives wait first, without timeouts */
} l_fdwatch;

/* These are internal, called per wait: a size and magic check instead of
** luaL_checkudata's registry lookup. */
static l_fdwatch *check_fdwatch(lua_State *L, int idx) {
  l_fdwatch *fw = lua_touserdata(L, idx);
  if (!fw || lua_rawlen(L, idx) != sizeof *fw || fw->magic != FDWATCH_MAGIC)
    luaL_typeerror(L, idx, "socket watcher");
  return fw;
}

/* The fd argument at idx: an integer, or the watcher's stream object. */
static int watched_fd(lua_State *L, l_fdwatch *fw, int idx) {
  if (fw->stream && lua_touserdata(L, idx) == (void *)fw->stream)
    return fw->stream->sock;
  lua_Integer v = luaL_checkinteger(L, idx);
  if (v > INT_MAX) luaL_argerror(L, idx, "file descriptor out of range");
  return v < 0 ? -1 : (int)v;
}

static void fdwatch_halt(l_fdwatch *fw) {
  if (fw->h->hub.loop) gv_fdwatch_stop(&fw->h->hub, &fw->w);
}

static int fdwatch_gc(lua_State *L) {
  fdwatch_halt(lua_touserdata(L, 1));
  return 0;
}

/* watcher([sock, fd]): a new, disarmed watcher, and whether it can read
** sock's fd and input buffer directly (fd: sock's getfd(), to check). */
static int l_watcher(lua_State *L) {
  l_hub *h = l_hubup(L);
  ls_stream *stream = NULL;
  int isint;
  lua_Integer fd = lua_tointegerx(L, 2, &isint); /* LuaSocket: a float */
  if (lua_type(L, 1) == LUA_TUSERDATA && isint)
    stream = ls_stream_of(lua_touserdata(L, 1), lua_rawlen(L, 1), fd);
  l_fdwatch *fw = lua_newuserdatauv(L, sizeof *fw, 0);
  gv_fdwatch_init(&fw->w);
  fw->h = h;
  fw->stream = stream;
  fw->magic = FDWATCH_MAGIC;
  fw->quick = 0;
  luaL_setmetatable(L, L_WATCHER);
  lua_pushboolean(L, stream != NULL);
  return 2;
}

static int watch_wait(lua_State *L, l_fdwatch *fw, int fd, int ev, int tidx) {
  void *tmo;
  double timeout;
  if (!gv_fdwatch_armed(&fw->w, fd))
    check_open(L, fw->h, 2, fd); /* a new registration */
  begin_wait(L, fw->h, fd, tidx, &tmo, &timeout);
  return gv_fdwatch_wait(&fw->h->hub, L, &fw->w, fd, events_mask(ev), timeout,
                         (lua_KContext)tmo, wait_k);
}

/* wait_on(watcher, fd or its stream object, events, timeout): wait()
** through the watcher. */
static int l_wait_on(lua_State *L) {
  l_fdwatch *fw = check_fdwatch(L, 1);
  int fd = watched_fd(L, fw, 2);
  int ev = (int)luaL_checkinteger(L, 3);
  if (ev < 1 || ev > 3) luaL_argerror(L, 3, "1 (read), 2 (write) or 3");
  lua_settop(L, 4);
  if (fd < 0) return push_closed(L);
  return watch_wait(L, fw, fd, ev, 4);
}

/* Checks a watcher of a stream object at 1 and that object at 2. */
static l_fdwatch *check_stream_watcher(lua_State *L) {
  l_fdwatch *fw = check_fdwatch(L, 1);
  if (!fw->stream || lua_touserdata(L, 2) != (void *)fw->stream)
    luaL_argerror(L, 2, "not the watcher's stream object");
  return fw;
}

/* readable(watcher, stream object, timeout): false at once when its input
** buffer holds data or no time is left to wait (the receive must still
** try); else waits for its fd to be readable: true, or nil and "timeout" /
** "closed". */
static int l_readable(lua_State *L) {
  l_fdwatch *fw = check_stream_watcher(L);
  const ls_stream *s = fw->stream;
  lua_settop(L, 3);
  if (s->buf.first < s->buf.last) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (s->sock < 0) return push_closed(L);
  if (lua_type(L, 3) == LUA_TNUMBER && lua_tonumber(L, 3) <= 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return watch_wait(L, fw, s->sock, 1, 3);
}

/* ---- a proxy's receive on the fast path --------------------------------- */

/* A C closure per gevent.socket proxy of a LuaSocket stream: upvalues
** 1 watcher, 2 the raw socket, 3 LuaSocket's receive, 4 the general
** receive (Lua, taking the proxy), 5 the proxy. When the socket waits
** before receiving and has no timeouts (the watcher's quick flag, kept by
** socket.lua), it waits and calls LuaSocket's receive itself; anything
** else (also a call with another self), and a receive that wakes to only
** part of what it wants, goes to the general one. This saves a Lua
** function and a C call per message. */

static int pass_results(lua_State *L, int status, lua_KContext base) {
  (void)status;
  return lua_gettop(L) - (int)base;
}

/* Calls the general Lua method (upvalue gen) with self, the argument at 2,
** the value at 'third' and the one at 'fourth' (0: none); returns what it
** returns. receive: general(self, pattern, prefix[, base]), base being the
** length of the caller's own prefix when 'prefix' holds data this call
** read already; send: general(self, data, i, j). */
static int call_general(lua_State *L, int gen, int third, int fourth) {
  int base = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(gen));
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, third);
  if (fourth) lua_pushvalue(L, fourth);
  lua_callk(L, 3 + (fourth != 0), LUA_MULTRET, base, pass_results);
  return pass_results(L, LUA_OK, base);
}

static int receive_general(lua_State *L, int prefix) {
  return call_general(L, 4, prefix, 0);
}

/* After LuaSocket's receive on the quick path (no caller's prefix). */
static int quick_received(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  const char *err = lua_tostring(L, -2);
  if (err && strcmp(err, "timeout") == 0) { /* woken to part of it */
    int partial = lua_gettop(L);
    lua_pushinteger(L, 0);
    return call_general(L, 4, partial, partial + 1);
  }
  return 3;
}

/* The commonest receive, a count of bytes with no prefix, without a call
** into LuaSocket: recv straight into its (empty) input buffer, as its
** buffer_get would, and when the whole count came, hand it out and count
** it in its stats, as its buffer_skip would. Anything short of that stays
** in the buffer for LuaSocket's own receive, called next. 'want' is the
** count quick_receive found (receive_count), 0 for another pattern. */
static int receive_direct(lua_State *L, ls_stream *s, size_t want) {
  if (want == 0 || s->buf.first != s->buf.last || s->sock < 0) return 0;
  ssize_t got = recv(s->sock, s->buf.data, want, 0);
  if (got <= 0) return 0; /* LuaSocket sees EAGAIN, EOF or the error */
  if ((size_t)got < want) {
    s->buf.first = 0;
    s->buf.last = (size_t)got;
    return 0;
  }
  s->buf.received += want;
  lua_pushlstring(L, s->buf.data, want);
  lua_pushnil(L);
  lua_pushnil(L);
  return 3;
}

/* ctx: receive_count's count (pattern at 2 and prefix at 3 unchanged). */
static int quick_woken(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  l_fdwatch *fw = lua_touserdata(L, lua_upvalueindex(1));
  if (gv_fd_events(gv_current(&fw->h->hub)) & GV_FD_CLOSED) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    if (lua_isnil(L, 3)) lua_pushliteral(L, "");
    else lua_pushvalue(L, 3);
    return 3;
  }
  if (receive_direct(L, fw->stream, (size_t)ctx)) return 3;
  lua_pushvalue(L, lua_upvalueindex(3));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_callk(L, 3, 3, 0, quick_received);
  return quick_received(L, LUA_OK, 0);
}

/* Whether LuaSocket's receive reads the socket for the pattern at 2 (and
** no prefix), rather than rejecting it at once: -1 when it rejects it,
** else the count receive_direct takes (1 to the buffer's size, as
** LuaSocket's own count: a number truncated), 0 for any other pattern.
** One type test, and an integer count needs no conversion: this runs on
** every receive. */
static lua_Integer receive_count(lua_State *L, const ls_stream *s) {
  int t = lua_type(L, 2), isnum;
  if (t == LUA_TNUMBER) {
    lua_Integer i = lua_tointegerx(L, 2, &isnum);
    if (isnum) {
      if (i < 0) return -1;
      return i <= (lua_Integer)sizeof s->buf.data ? i : 0;
    }
    lua_Number n = lua_tonumber(L, 2); /* no integer: a fraction, NaN, huge */
    if (!(n >= 0)) return -1;
    return n >= 1 && n <= (lua_Number)sizeof s->buf.data ? (lua_Integer)n : 0;
  }
  if (t == LUA_TNIL) return 0;
  if (t == LUA_TSTRING) {
    const char *p = lua_tostring(L, 2);
    if (p[0] == '*') return p[1] == 'l' || p[1] == 'a' ? 0 : -1;
    lua_Number n = lua_tonumberx(L, 2, &isnum); /* a count, "64" too */
    return isnum && n >= 0 ? 0 : -1;
  }
  return -1;
}

/* Only without a prefix: LuaSocket may answer a call with one without
** reading (see answers_at_once in socket.lua). No Timeout (the watcher's
** quick flag), so the wait needs none of begin_wait's timeout handling;
** arguments past the prefix are ignored, as LuaSocket's receive does. */
static int quick_receive(lua_State *L) {
  l_fdwatch *fw = lua_touserdata(L, lua_upvalueindex(1));
  const ls_stream *s = fw->stream;
  lua_Integer count;
  lua_settop(L, 3); /* self, pattern, prefix */
  if (fw->quick && s->buf.first == s->buf.last && s->sock >= 0 &&
      lua_isnil(L, 3) && (count = receive_count(L, s)) >= 0 &&
      lua_topointer(L, 1) == lua_topointer(L, lua_upvalueindex(5))) {
    gv_hub *hub = &fw->h->hub;
    gv_fd_cancelable(hub, gv_check_block(hub, L), s->sock);
    return gv_fdwatch_wait(hub, L, &fw->w, s->sock, EV_READ, -1,
                           (lua_KContext)count, quick_woken);
  }
  return receive_general(L, 3);
}

/* Checks (raw socket, LuaSocket's method, general method, proxy) at
** first..first+3; returns f closed over arguments 1..first+3. */
static int method_closure(lua_State *L, int first, lua_CFunction f) {
  luaL_checktype(L, first, LUA_TUSERDATA);
  luaL_checktype(L, first + 1, LUA_TFUNCTION);
  luaL_checktype(L, first + 2, LUA_TFUNCTION);
  luaL_checktype(L, first + 3, LUA_TTABLE);
  lua_settop(L, first + 3);
  lua_pushcclosure(L, f, first + 3);
  return 1;
}

/* receiver(watcher, raw socket, LuaSocket's receive, general receive,
** proxy) */
static int l_receiver(lua_State *L) {
  check_stream_watcher(L);
  return method_closure(L, 2, quick_receive);
}

/* The same for send: upvalues 1 watcher, 2 the raw socket, 3 LuaSocket's
** send, 4 the general send (Lua, taking the proxy), 5 the proxy. A whole
** string of at most one LuaSocket send step (8 KiB) goes out with one
** send(2) of our own, counted in LuaSocket's stats as its sendraw does,
** and returns what LuaSocket returns; other arguments go through
** LuaSocket's send; what does not go out in one go continues in the
** general one from where it stopped. */
static int send_general(lua_State *L, int from) {
  return call_general(L, 4, from, 4);
}

static int quick_sent(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  const char *err = lua_tostring(L, -2);
  if (!err || strcmp(err, "timeout") != 0) return 3;
  if (lua_isinteger(L, -1) || lua_type(L, -1) == LUA_TNUMBER)
    lua_pushinteger(L, (lua_Integer)lua_tonumber(L, -1) + 1); /* last + 1 */
  else
    lua_pushvalue(L, 3);
  return send_general(L, lua_gettop(L));
}

static int quick_send(lua_State *L) {
  lua_settop(L, 4); /* self, data, i, j */
  if (lua_topointer(L, 1) != lua_topointer(L, lua_upvalueindex(5)))
    return send_general(L, 3);
  ls_stream *s = ((l_fdwatch *)lua_touserdata(L, lua_upvalueindex(1)))->stream;
  size_t size;
  const char *data;
  if (lua_type(L, 2) == LUA_TSTRING && lua_isnil(L, 3) && lua_isnil(L, 4) &&
      (data = lua_tolstring(L, 2, &size), size >= 1 && size <= 8192) &&
      s->sock >= 0) {
    ssize_t put = send(s->sock, data, size, MSG_NOSIGNAL);
    if (put > 0) {
      s->buf.sent += (size_t)put;
      if ((size_t)put == size) {
        lua_pushnumber(L, (lua_Number)size);
        lua_pushnil(L);
        lua_pushnil(L);
        return 3;
      }
      lua_pushinteger(L, put + 1);
      return send_general(L, lua_gettop(L));
    }
    return send_general(L, 3); /* LuaSocket sees EAGAIN or the error */
  }
  lua_pushvalue(L, lua_upvalueindex(3));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_pushvalue(L, 4);
  lua_callk(L, 4, 3, 0, quick_sent);
  return quick_sent(L, LUA_OK, 0);
}

/* sender(watcher, raw socket, LuaSocket's send, general send, proxy) */
static int l_sender(lua_State *L) {
  check_stream_watcher(L);
  return method_closure(L, 2, quick_send);
}

/* set_quick(watcher, flag) */
static int l_set_quick(lua_State *L) {
  check_fdwatch(L, 1)->quick = (unsigned char)lua_toboolean(L, 2);
  return 0;
}

/* unwatch(watcher): disarms it; call before closing its fd (after
** cancel_wait, which wakes its waiters). */
static int l_unwatch(lua_State *L) {
  fdwatch_halt(check_fdwatch(L, 1));
  return 0;
}

/* ---- connect ------------------------------------------------------------ */

/* sockerror(fd): nil when the pending connect succeeded, else LuaSocket's
** message for SO_ERROR. */
static int l_sockerror(lua_State *L) {
  int fd = fd_number(L, 1, 1), err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (!err) return 0;
  lua_pushstring(L, sock_strerror(err));
  lua_pushinteger(L, err);
  return 2;
}

/* connected(fd): whether the socket has a peer. */
static int l_connected(lua_State *L) {
  int fd = fd_number(L, 1, 1);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  lua_pushboolean(L, getpeername(fd, (struct sockaddr *)&ss, &len) == 0);
  return 1;
}

/* monotonic() -> seconds */
static int l_monotonic(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec * 1e-9);
  return 1;
}

/* strerror(errno) with LuaSocket's wording */
static int l_strerror(lua_State *L) {
  const char *s = sock_strerror((int)luaL_checkinteger(L, 1));
  if (s) lua_pushstring(L, s);
  else lua_pushnil(L);
  return 1;
}

/* hubfd(fd): whether fd is one the hub's loop lives on (libev's epoll fd
** and eventfd): a socket's setfd must not take it, or its close would
** stop the hub. */
static int l_hubfd(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  lua_pushboolean(L, fd >= 0 && fd <= INT_MAX &&
                     gv_fd_check(&l_hubup(L)->hub, (int)fd) == -EINVAL);
  return 1;
}

static const luaL_Reg socket_funcs[] = {
  {"hubfd", l_hubfd},
  {"wait", l_wait},
  {"wait_read", l_wait_read},
  {"wait_write", l_wait_write},
  {"wait_readwrite", l_wait_readwrite},
  {"cancel_wait", l_cancel_wait},
  {"watcher", l_watcher},
  {"wait_on", l_wait_on},
  {"readable", l_readable},
  {"receiver", l_receiver},
  {"sender", l_sender},
  {"set_quick", l_set_quick},
  {"unwatch", l_unwatch},
  {"sockerror", l_sockerror},
  {"connected", l_connected},
  {"monotonic", l_monotonic},
  {"strerror", l_strerror},
  {NULL, NULL}
};

static const luaL_Reg watcher_meta[] = {
  {"__gc", fdwatch_gc},
  {NULL, NULL}
};

void l_socket_open(lua_State *L, l_hub *h) {
  (void)h;
  l_setfuncs(L, socket_funcs);
  l_newtype(L, L_WATCHER, NULL, watcher_meta, NULL);
  lua_pop(L, 1);
}
