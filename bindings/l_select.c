/*
** l_select.c - gevent.select's C side: select(rfds, wfds, timeout) and
** poll(fds, masks, timeout) over fds, waiting through runtime/select.c
** (one wait on many fds, no FD_SETSIZE cap); setsize() and the POLL*
** constants. lua/gevent/select.lua maps objects with getfd to fds.
*/
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "bindings.h"

/* In a continuation: raises a throw that is not the wait's own Timeout
** (the argument at index 3). */
static void wait_end(lua_State *L) {
  l_hub *h = l_hubup(L);
  l_timeout_fired(L, gv_current(&h->hub), l_timeout_test(L, 3));
}

/* Stack: ..., pollfds userdata at 4 with n entries. Waits until one is
** ready or the timeout argument (at 3) says; then calls k (the pollfds
** hold the revents). */
static int wait_fds(lua_State *L, int n, gv_kfunction k) {
  l_hub *h = l_hubup(L);
  struct pollfd *p = lua_touserdata(L, 4);
  gv_greenlet *cur = gv_check_block(&h->hub, L);
  void *tmo;
  double timeout = l_timeout_arg(L, cur, 3, 0, &tmo);
  void *set = lua_newuserdatauv(L, gv_select_size(n), 0); /* 7 */
  memset(set, 0, gv_select_size(n));
  return gv_select_wait(&h->hub, L, set, p, n, timeout, "select", 0, k);
}

/* An fd of a list (argument arg), on top: an integer up to INT_MAX;
** negative ones are ignored, as poll(2) does. */
static int list_fd(lua_State *L, int arg) {
  int isint;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  if (!isint)
    luaL_argerror(L, arg, lua_pushfstring(L, "file descriptor expected, "
                                             "got %s", luaL_typename(L, -1)));
  if (v > INT_MAX) luaL_argerror(L, arg, "file descriptor out of range");
  return v < 0 ? -1 : (int)v;
}

/* Raises if one of the n pollfds is the hub's own epoll fd, which libev
** cannot watch (entries before nr come from argument 1, the rest from 2). */
static void check_not_hub(lua_State *L, struct pollfd *p, int n, int nr) {
  gv_hub *hub = &l_hubup(L)->hub;
  for (int i = 0; i < n; i++)
    if (p[i].fd >= 0 && gv_fd_check(hub, p[i].fd) == -EINVAL)
      luaL_argerror(L, i < nr ? 1 : 2, lua_pushfstring(L,
                    "file descriptor %d is the hub's own", p[i].fd));
}

/* select: arrays of fds at 1 (read) and 2 (write) into pollfds. */
static struct pollfd *sel_fds(lua_State *L, int *nr, int *nw) {
  *nr = lua_istable(L, 1) ? (int)luaL_len(L, 1) : 0;
  *nw = lua_istable(L, 2) ? (int)luaL_len(L, 2) : 0;
  int n = *nr + *nw;
  struct pollfd *p = lua_newuserdatauv(L, (n ? n : 1) * sizeof *p, 0);
  for (int i = 0; i < n; i++) {
    int r = i < *nr;
    lua_rawgeti(L, r ? 1 : 2, r ? i + 1 : i - *nr + 1);
    p[i].fd = list_fd(L, r ? 1 : 2);
    lua_pop(L, 1);
    p[i].events = r ? POLLIN : POLLOUT;
    p[i].revents = 0;
  }
  return p;
}

/* Pushes the ready read and write fd arrays. */
static void sel_push(lua_State *L, struct pollfd *p, int nr, int nw) {
  int ir = 0, iw = 0;
  lua_newtable(L);
  lua_newtable(L);
  for (int i = 0; i < nr + nw; i++) {
    if (!p[i].revents) continue;
    lua_pushinteger(L, p[i].fd);
    if (i < nr) lua_rawseti(L, -3, ++ir);
    else lua_rawseti(L, -2, ++iw);
  }
}

static int sel_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  wait_end(L);
  int nr = (int)lua_tointeger(L, 5), nw = (int)lua_tointeger(L, 6);
  sel_push(L, lua_touserdata(L, 4), nr, nw);
  return 2;
}

/* select(rfds, wfds, timeout) -> ready rfds, ready wfds (arrays of fds) */
static int l_select(lua_State *L) {
  lua_settop(L, 3);
  void *tmo;
  double timeout = l_opttimeout(L, 3, &tmo);
  int nr, nw;
  struct pollfd *p = sel_fds(L, &nr, &nw); /* 4 */
  check_not_hub(L, p, nr + nw, nr);
  lua_pushinteger(L, nr);                  /* 5 */
  lua_pushinteger(L, nw);                  /* 6 */
  if (gv_select_poll(p, nr + nw) > 0 || timeout == 0) {
    for (int i = 0; i < nr + nw; i++)
      if (p[i].revents & POLLNVAL)
        luaL_argerror(L, i < nr ? 1 : 2, lua_pushfstring(L,
                      "file descriptor %d is not open", p[i].fd));
    sel_push(L, p, nr, nw);
    return 2;
  }
  return wait_fds(L, nr + nw, sel_k);
}

/* poll: {fd, events} pairs from arrays at 1 (fds) and 2 (masks). */
static int push_polled(lua_State *L) {
  int n = (int)lua_tointeger(L, 5);
  struct pollfd *p = lua_touserdata(L, 4);
  lua_newtable(L);
  int j = 0;
  for (int i = 0; i < n; i++) {
    if (!p[i].revents) continue;
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, p[i].fd);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, p[i].revents);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, ++j);
  }
  return 1;
}

static int poll_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  wait_end(L);
  return push_polled(L);
}

/* poll(fds, masks, timeout) -> {{fd, revents}...}: poll(2) semantics
** (POLLIN/POLLPRI/POLLOUT asked; POLLERR, POLLHUP, POLLNVAL reported),
** timeout in seconds. */
static int l_poll(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 3);
  void *tmo;
  double timeout = l_opttimeout(L, 3, &tmo);
  int n = (int)luaL_len(L, 1);
  struct pollfd *p = lua_newuserdatauv(L, (n ? n : 1) * sizeof *p, 0); /* 4 */
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    p[i].fd = list_fd(L, 1);
    lua_rawgeti(L, 2, i + 1);
    p[i].events = (short)luaL_optinteger(L, -1, POLLIN | POLLPRI | POLLOUT);
    p[i].revents = 0;
    lua_pop(L, 2);
  }
  check_not_hub(L, p, n, n);
  lua_pushinteger(L, n); /* 5 */
  if (n == 0 || gv_select_poll(p, n) > 0 || timeout == 0)
    return push_polled(L);
  return wait_fds(L, n, poll_k);
}

/* setsize(): how many sockets select() takes, LuaSocket's _SETSIZE. Not
** FD_SETSIZE: the wait is libev and poll(2), so the limit is the number of
** files the process may open (RLIMIT_NOFILE, as it is now). */
static int l_setsize(lua_State *L) {
  long long n = gv_select_setsize();
  lua_pushinteger(L, n > LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)n);
  return 1;
}

static const luaL_Reg select_funcs[] = {
  {"select", l_select},
  {"poll", l_poll},
  {"setsize", l_setsize},
  {NULL, NULL}
};

void l_select_open(lua_State *L, l_hub *h) {
  (void)h;
  l_setfuncs(L, select_funcs);
  static const struct { const char *name; int v; } consts[] = {
    {"POLLIN", POLLIN}, {"POLLPRI", POLLPRI}, {"POLLOUT", POLLOUT},
    {"POLLERR", POLLERR}, {"POLLHUP", POLLHUP}, {"POLLNVAL", POLLNVAL},
    {"POLLRDNORM", POLLRDNORM}, {"POLLWRNORM", POLLWRNORM},
    {"POLLRDHUP", POLLRDHUP},
  };
  for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++) {
    lua_pushinteger(L, consts[i].v);
    lua_setfield(L, -2, consts[i].name);
  }
}
