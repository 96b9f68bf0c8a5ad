/*
** l_ssl.c - gevent.ssl's C objects (require("gvlua").ssl): contexts,
** connections and certificates over runtime/tls.c and runtime/x509.c.
** Connections speak LuaSocket (receive patterns, send ranges, timeouts in
** "b" and "t" modes) and LuaSec (dohandshake, sni, getpeercertificate);
** their waits are gv_tls_wait continuations, so they block only the
** calling greenlet. The params table of LuaSec is read in lua/gevent/ssl.lua.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bindings.h"

#define L_CONTEXT "gevent.ssl.Context"
#define L_CONN "gevent.ssl.Connection"
#define L_CERT "gevent.ssl.Certificate"

#define BUFSTEP 16384   /* one TLS record */

typedef struct l_ctx { gv_tls_ctx *c; } l_ctx;

typedef struct l_conn {
  gv_tls t;
  l_hub *h;
  int fd;                 /* owned; -1 once closed */
  char *buf;              /* input buffer [first, last) of cap */
  size_t first, last, cap;
  size_t wpos, wend;      /* send in progress: next byte, end (0-based) */
  double tb, tt;          /* LuaSocket timeouts: block, total (< 0 none) */
  double deadline[2];     /* "t" mode: end of the current read/write */
  size_t received, sent;
  double birthday;
} l_conn;

typedef struct l_cert { gv_x509 *x; } l_cert;

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- contexts ------------------------------------------------------------ */

static gv_tls_ctx *check_ctx(lua_State *L, int idx) {
  l_ctx *c = luaL_checkudata(L, idx, L_CONTEXT);
  return c->c;
}

static int ctx_result(lua_State *L, gv_tls_ctx *c, int r) {
  if (r == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, gv_tls_ctx_error(c));
  return 2;
}

/* context(mode): a new context, mode "client" or "server" */
static int l_context(lua_State *L) {
  static const char *const modes[] = {"client", "server", NULL};
  int server = luaL_checkoption(L, 1, NULL, modes);
  l_ctx *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->c = NULL;
  luaL_setmetatable(L, L_CONTEXT);
  c->c = gv_tls_ctx_new(server);
  if (!c->c) return luaL_error(L, "cannot create a TLS context");
  return 1;
}

static int ctx_gc(lua_State *L) {
  l_ctx *c = luaL_checkudata(L, 1, L_CONTEXT);
  gv_tls_ctx_unref(c->c);
  c->c = NULL;
  return 0;
}

static int ctx_tostring(lua_State *L) {
  l_ctx *c = luaL_checkudata(L, 1, L_CONTEXT);
  lua_pushfstring(L, "SSL context (%s): %p",
                  c->c && gv_tls_ctx_is_server(c->c) ? "server" : "client",
                  (void *)c);
  return 1;
}

/* ctx_versions(ctx, min, max): 0x0303, 0x0304 or nil */
static int ctx_versions(lua_State *L) {
  gv_tls_ctx *c = check_ctx(L, 1);
  int min = (int)luaL_optinteger(L, 2, 0), max = (int)luaL_optinteger(L, 3, 0);
  return ctx_result(L, c, gv_tls_ctx_versions(c, min, max));
}

/* ctx_certificate(ctx, certfile, keyfile, password) */
static int ctx_certificate(lua_State *L) {
  gv_tls_ctx *c = check_ctx(L, 1);
  return ctx_result(L, c, gv_tls_ctx_certificate(c, luaL_optstring(L, 2, NULL),
                                                 luaL_optstring(L, 3, NULL),
                                                 luaL_optstring(L, 4, NULL)));
}

/* ctx_trust(ctx, cafile, capath): both nil for OpenSSL's default paths */
static int ctx_trust(lua_State *L) {
  gv_tls_ctx *c = check_ctx(L, 1);
  return ctx_result(L, c, gv_tls_ctx_trust(c, luaL_optstring(L, 2, NULL),
                                           luaL_optstring(L, 3, NULL)));
}

/* ctx_verify(ctx, peer, require, depth, check_hostname) */
static int ctx_verify(lua_State *L) {
  gv_tls_ctx *c = check_ctx(L, 1);
  int mode = (lua_toboolean(L, 2) ? GV_TLS_VERIFY_PEER : 0) |
             (lua_toboolean(L, 3) ? GV_TLS_VERIFY_REQUIRE : 0);
  gv_tls_ctx_verify(c, mode, (int)luaL_optinteger(L, 4, -1));
  if (!lua_isnoneornil(L, 5)) gv_tls_ctx_check_hostname(c, lua_toboolean(L, 5));
  return 0;
}

/* ctx_ciphers(ctx, list, suites) */
static int ctx_ciphers(lua_State *L) {
  gv_tls_ctx *c = check_ctx(L, 1);
  return ctx_result(L, c, gv_tls_ctx_ciphers(c, luaL_optstring(L, 2, NULL),
                                             luaL_optstring(L, 3, NULL)));
}

/* ctx_alpn(ctx, {names...}) */
static int ctx_alpn(lua_State *L) {
  gv_tls_ctx *c = check_ctx(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int n = (int)luaL_len(L, 2);
  if (n > 64) return luaL_argerror(L, 2, "too many ALPN protocols");
  const char *names[64];
  for (int i = 0; i < n; i++) {
    lua_geti(L, 2, i + 1);
    names[i] = lua_tostring(L, -1);
    if (!names[i]) return luaL_argerror(L, 2, "ALPN names must be strings");
  }
  return ctx_result(L, c, gv_tls_ctx_alpn(c, names, n));
}

/* ctx_sni(ctx, name, subctx) */
static int ctx_sni(lua_State *L) {
  gv_tls_ctx *c = check_ctx(L, 1);
  const char *name = luaL_checkstring(L, 2);
  gv_tls_ctx *sub = check_ctx(L, 3);
  return ctx_result(L, c, gv_tls_ctx_sni(c, name, sub));
}

/* ctx_options(ctx, sni_strict, session_cache) */
static int ctx_options(lua_State *L) {
  gv_tls_ctx *c = check_ctx(L, 1);
  if (!lua_isnoneornil(L, 2)) gv_tls_ctx_sni_strict(c, lua_toboolean(L, 2));
  if (!lua_isnoneornil(L, 3)) gv_tls_ctx_session_cache(c, lua_toboolean(L, 3));
  return 0;
}

static int ctx_mode(lua_State *L) {
  lua_pushstring(L, gv_tls_ctx_is_server(check_ctx(L, 1)) ? "server"
                                                          : "client");
  return 1;
}

/* ---- certificates --------------------------------------------------------- */

static void push_cert(lua_State *L, gv_x509 *x) {
  l_cert *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->x = x;
  luaL_setmetatable(L, L_CERT);
}

static gv_x509 *check_cert(lua_State *L, int idx) {
  return ((l_cert *)luaL_checkudata(L, idx, L_CERT))->x;
}

static int cert_gc(lua_State *L) {
  l_cert *c = luaL_checkudata(L, 1, L_CERT);
  if (c->x) gv_x509_free(c->x);
  c->x = NULL;
  return 0;
}

/* loadcertificate(pem): a certificate object, or nil, msg */
static int l_loadcertificate(lua_State *L) {
  size_t len;
  const char *pem = luaL_checklstring(L, 1, &len);
  gv_x509 *x = gv_x509_from_pem(pem, len);
  if (!x) {
    lua_pushnil(L);
    lua_pushliteral(L, "invalid certificate (PEM expected)");
    return 2;
  }
  push_cert(L, x);
  return 1;
}

static int cert_pem(lua_State *L) {
  size_t len;
  char *s = gv_x509_pem(check_cert(L, 1), &len);
  if (!s) return luaL_error(L, "not enough memory");
  lua_pushlstring(L, s, len);
  free(s);
  return 1;
}

/* Collects the fields of one section: names into an array of {name, oid?,
** value}, the alt names into {dNSName = {...}, ...}, scalars as strings. */
typedef struct fields_ud { lua_State *L; const char *want; int n; } fields_ud;

static void collect(void *ud, const char *section, const char *key,
                    const char *value, size_t len) {
  fields_ud *f = ud;
  lua_State *L = f->L;
  if (strcmp(section, f->want) != 0) return;
  if (strcmp(section, "subject") == 0 || strcmp(section, "issuer") == 0) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, key);
    lua_setfield(L, -2, "name");
    lua_pushlstring(L, value, len);
    lua_setfield(L, -2, "value");
    lua_rawseti(L, -2, ++f->n);
  } else if (strcmp(section, "san") == 0) {
    if (lua_getfield(L, -1, key) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, -3, key);
    }
    lua_pushlstring(L, value, len);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
  } else if (f->n == 0) {
    lua_pushlstring(L, value, len);
    f->n = 1;
  }
}

static int push_section(lua_State *L, gv_x509 *x, const char *section,
                        int table) {
  fields_ud f = {L, section, 0};
  if (table) lua_newtable(L);
  gv_x509_fields(x, collect, &f);
  if (!table && f.n == 0) lua_pushnil(L);
  return 1;
}

static int cert_subject(lua_State *L) {
  return push_section(L, check_cert(L, 1), "subject", 1);
}
static int cert_issuer(lua_State *L) {
  return push_section(L, check_cert(L, 1), "issuer", 1);
}
static int cert_serial(lua_State *L) {
  return push_section(L, check_cert(L, 1), "serial", 0);
}
static int cert_notbefore(lua_State *L) {
  return push_section(L, check_cert(L, 1), "notbefore", 0);
}
static int cert_notafter(lua_State *L) {
  return push_section(L, check_cert(L, 1), "notafter", 0);
}
static int cert_signature(lua_State *L) {
  return push_section(L, check_cert(L, 1), "signature", 0);
}

/* extensions(): {["2.5.29.17"] = {name = "subjectAltName", dNSName = {..},
** iPAddress = {..}}} as LuaSec, only the subjectAltName extension */
static int cert_extensions(lua_State *L) {
  gv_x509 *x = check_cert(L, 1);
  lua_newtable(L);
  push_section(L, x, "san", 1);
  lua_pushnil(L);
  if (lua_next(L, -2) == 0) {   /* no alternative names */
    lua_pop(L, 1);
    return 1;
  }
  lua_pop(L, 2);
  lua_pushliteral(L, "subjectAltName");
  lua_setfield(L, -2, "name");
  lua_setfield(L, -2, "2.5.29.17");
  return 1;
}

static int cert_digest(lua_State *L) {
  char out[129];
  const char *alg = luaL_optstring(L, 2, "sha1");
  if (gv_x509_digest(check_cert(L, 1), alg, out) != 0)
    return luaL_argerror(L, 2, "unknown digest algorithm");
  lua_pushstring(L, out);
  return 1;
}

static int cert_checkhost(lua_State *L) {
  lua_pushboolean(L, gv_x509_check_host(check_cert(L, 1),
                                        luaL_checkstring(L, 2)));
  return 1;
}

static int cert_validat(lua_State *L) {
  lua_pushboolean(L, gv_x509_valid_at(check_cert(L, 1),
                                      luaL_checknumber(L, 2)));
  return 1;
}

static int cert_tostring(lua_State *L) {
  lua_pushfstring(L, "X509 certificate: %p", lua_touserdata(L, 1));
  return 1;
}

/* ---- connections: the object ---------------------------------------------- */

static l_conn *check_conn(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, L_CONN);
}

gv_tls *l_ssl_conn_tls(lua_State *L, int idx) {
  l_conn *c = check_conn(L, idx);
  if (c->fd < 0) luaL_argerror(L, idx, "closed connection");
  if (c->first < c->last) luaL_argerror(L, idx, "input already buffered");
  return &c->t;
}

static l_conn *check_open(lua_State *L, int idx) {
  l_conn *s = check_conn(L, idx);
  if (s->fd < 0) luaL_error(L, "attempt to use a closed TLS connection");
  return s;
}

/* wrap(ctx, fd): a connection over fd, which it then owns (closes) */
static int l_wrap(lua_State *L) {
  l_hub *h = l_hubup(L);
  gv_tls_ctx *c = check_ctx(L, 1);
  int fd = (int)luaL_checkinteger(L, 2);
  if (fd < 0) return luaL_argerror(L, 2, "invalid file descriptor");
  if (gv_fd_check(&h->hub, fd) == -EINVAL) /* it would close libev's */
    return luaL_argerror(L, 2, "file descriptor is the hub's own");
  l_conn *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->fd = -1;
  luaL_setmetatable(L, L_CONN);
  s->h = h;
  s->tb = s->tt = -1;
  s->birthday = mono();
  int r = gv_tls_init(&s->t, c, fd);
  s->fd = fd;
  if (r != 0) {
    lua_pushnil(L);
    lua_pushstring(L, gv_tls_error(&s->t));
    gv_tls_close(NULL, &s->t);
    close(fd);
    s->fd = -1;
    return 2;
  }
  return 1;
}

static void conn_release(l_conn *s) {
  gv_tls_close(s->h->hub.loop ? &s->h->hub : NULL, &s->t);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  free(s->buf);
  s->buf = NULL;
  s->first = s->last = s->cap = 0;
}

static int conn_gc(lua_State *L) {
  conn_release(check_conn(L, 1));
  return 0;
}

/* close(): sends close_notify if it can without waiting, closes the fd */
static int conn_close(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  if (s->fd >= 0) gv_tls_shutdown_step(&s->t);
  conn_release(s);
  lua_pushinteger(L, 1);
  return 1;
}

static int conn_tostring(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  lua_pushfstring(L, "SSL connection: %p%s", (void *)s,
                  s->fd < 0 ? " (closed)" : "");
  return 1;
}

static int conn_getfd(lua_State *L) {
  lua_pushinteger(L, check_conn(L, 1)->fd);
  return 1;
}

static int conn_dirty(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  lua_pushboolean(L, s->fd >= 0 &&
                     (s->last > s->first || gv_tls_pending(&s->t) > 0));
  return 1;
}

/* settimeout(value, mode) as LuaSocket: "b" (each wait) or "t" (total) */
static int conn_settimeout(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  double v = luaL_optnumber(L, 2, -1);
  const char *mode = luaL_optstring(L, 3, "b");
  if (v < 0) v = -1;
  if (mode[0] == 'b') s->tb = v;
  else if (mode[0] == 't' || mode[0] == 'r') s->tt = v;
  else return luaL_argerror(L, 3, "invalid timeout mode");
  lua_pushinteger(L, 1);
  return 1;
}

static int conn_gettimeout(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  lua_pushnumber(L, s->tb);
  lua_pushnumber(L, s->tt);
  return 2;
}

static int conn_getstats(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  lua_pushinteger(L, (lua_Integer)s->received);
  lua_pushinteger(L, (lua_Integer)s->sent);
  lua_pushnumber(L, mono() - s->birthday);
  return 3;
}

/* ---- connections: waiting ------------------------------------------------- */

/* Seconds the next wait of side op may take: -1 none, 0 already over. */
static double budget(l_conn *s, int op) {
  double w = s->tb;
  if (s->tt >= 0) {
    double left = s->deadline[op] - mono();
    if (left < 0) left = 0;
    if (w < 0 || left < w) w = left;
  }
  return w;
}

static void start_op(l_conn *s, int op) {
  if (s->tt >= 0) s->deadline[op] = mono() + s->tt;
}

/* After a wait: NULL to go on, else the error ("closed", "timeout"). */
static const char *woken(l_conn *s) {
  if (s->t.closed) return "closed";
  if (s->h->hub.current->wake == GV_WAKE_TIMEOUT) return "timeout";
  return NULL;
}

/* Whether to wait continuation-style (return gv_tls_wait(..., k)). Where
** the greenlet cannot yield (the main one, or one inside a C call) the
** caller waits with wait_here and loops instead: a continuation there
** nests a C frame per wait, and a peer sending thousands of small records
** overflowed the stack (gv_can_yield). */
static int can_yield(lua_State *L, l_conn *s) {
  return gv_can_yield(&s->h->hub, L);
}

/* The slow path's wait: blocks here; NULL or why the wait failed. */
static const char *wait_here(lua_State *L, l_conn *s, int op, int want,
                             double w) {
  gv_tls_wait(&s->h->hub, L, &s->t, op, want, w, NULL);
  return woken(s);
}

/* ---- handshake ------------------------------------------------------------ */

static int handshake_k(lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  l_conn *s = lua_touserdata(L, 1);
  const char *err = status == LUA_YIELD ? woken(s) : NULL;
  while (!err) {
    int r = gv_tls_handshake_step(&s->t);
    if (r == GV_TLS_OK) {
      lua_pushboolean(L, 1);
      return 1;
    }
    if (r != GV_TLS_WANT_READ && r != GV_TLS_WANT_WRITE) {
      err = gv_tls_error(&s->t);
      break;
    }
    double w = budget(s, 0);
    if (w == 0) {
      err = "timeout";
      break;
    }
    if (can_yield(L, s))
      return gv_tls_wait(&s->h->hub, L, &s->t, 0, r, w, handshake_k);
    err = wait_here(L, s, 0, r, w);
  }
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

/* dohandshake(): true, or nil, err ("timeout", "closed", "certificate
** verify failed: hostname mismatch", ...) */
static int conn_dohandshake(lua_State *L) {
  l_conn *s = check_open(L, 1);
  lua_settop(L, 1);
  start_op(s, 0);
  return handshake_k(L, LUA_OK, 0);
}

/* ---- receive -------------------------------------------------------------- */

enum { P_LINE, P_ALL, P_COUNT };

static int pattern_of(lua_State *L, size_t *count) {
  if (lua_isnoneornil(L, 2)) return P_LINE;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, 2);
    if (n < 0) return luaL_argerror(L, 2, "invalid receive pattern");
    *count = (size_t)n;
    return P_COUNT;
  }
  const char *p = luaL_checkstring(L, 2);
  if (*p == '*') p++;
  if (*p == 'l') return P_LINE;
  if (*p == 'a') return P_ALL;
  return luaL_argerror(L, 2, "invalid receive pattern");
}

/* Pushes prefix (index 3) .. buf[first, first + n) .. minus CRs for lines,
** and consumes n + skip bytes. */
static void take(lua_State *L, l_conn *s, size_t n, size_t skip, int line) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (lua_type(L, 3) == LUA_TSTRING) {
    lua_pushvalue(L, 3);
    luaL_addvalue(&b);
  }
  const char *p = s->buf + s->first;
  if (line) {
    for (size_t i = 0; i < n; i++)
      if (p[i] != '\r') luaL_addchar(&b, p[i]);
  } else {
    luaL_addlstring(&b, p, n);
  }
  s->first += n + skip;
  if (s->first == s->last) s->first = s->last = 0;
  luaL_pushresult(&b);
}

/* If the buffer satisfies the pattern, pushes the result: 1, else 0. */
static int satisfied(lua_State *L, l_conn *s, int pat, size_t count) {
  size_t have = s->last - s->first;
  if (pat == P_COUNT) {
    if (have < count) return 0;
    take(L, s, count, 0, 0);
    return 1;
  }
  if (pat == P_LINE) {
    char *nl = have ? memchr(s->buf + s->first, '\n', have) : NULL;
    if (!nl) return 0;
    take(L, s, (size_t)(nl - (s->buf + s->first)), 1, 1);
    return 1;
  }
  return 0;
}

/* Room to read into: at least BUFSTEP bytes (or what a count needs). */
static int make_room(l_conn *s, size_t need) {
  if (s->first > 0 && s->cap - s->last < BUFSTEP) {
    memmove(s->buf, s->buf + s->first, s->last - s->first);
    s->last -= s->first;
    s->first = 0;
  }
  size_t want = s->last + (need > BUFSTEP ? need : BUFSTEP);
  if (want <= s->cap) return 0;
  size_t cap = s->cap ? s->cap : BUFSTEP;
  while (cap < want) cap *= 2;
  char *b = realloc(s->buf, cap);
  if (!b) return -1;
  s->buf = b;
  s->cap = cap;
  return 0;
}

/* nil, err, partial (everything buffered, consumed) */
static int receive_fail(lua_State *L, l_conn *s, const char *err, int line) {
  lua_pushnil(L);
  lua_pushstring(L, err);
  if (s->fd >= 0 && s->buf) take(L, s, s->last - s->first, 0, line);
  else if (lua_type(L, 3) == LUA_TSTRING) lua_pushvalue(L, 3);
  else lua_pushliteral(L, "");
  return 3;
}

static int receive_k(lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  l_conn *s = lua_touserdata(L, 1);
  size_t count = 0;
  int pat = pattern_of(L, &count);
  if (status == LUA_YIELD) {
    const char *err = woken(s);
    if (err) return receive_fail(L, s, err, pat == P_LINE);
  }
  for (;;) {
    if (satisfied(L, s, pat, count)) return 1;
    size_t need = pat == P_COUNT ? count - (s->last - s->first) : 0;
    if (make_room(s, need) != 0)
      return receive_fail(L, s, "not enough memory", pat == P_LINE);
    long r = gv_tls_read_step(&s->t, s->buf + s->last, s->cap - s->last);
    if (r > 0) {
      s->last += (size_t)r;
      s->received += (size_t)r;
      continue;
    }
    if (r == GV_TLS_EOF && pat == P_ALL) {
      take(L, s, s->last - s->first, 0, 0);
      return 1;
    }
    if (r == GV_TLS_EOF)
      return receive_fail(L, s, "closed", pat == P_LINE);
    if (r != GV_TLS_WANT_READ && r != GV_TLS_WANT_WRITE)
      return receive_fail(L, s, gv_tls_error(&s->t), pat == P_LINE);
    double w = budget(s, 0);
    if (w == 0) return receive_fail(L, s, "timeout", pat == P_LINE);
    if (can_yield(L, s))
      return gv_tls_wait(&s->h->hub, L, &s->t, 0, (int)r, w, receive_k);
    const char *err = wait_here(L, s, 0, (int)r, w);
    if (err) return receive_fail(L, s, err, pat == P_LINE);
  }
}

/* receive(pattern, prefix) as LuaSocket: "*l" (default), "*a", a count */
static int conn_receive(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  size_t count;
  pattern_of(L, &count);
  if (!lua_isnoneornil(L, 3)) luaL_checkstring(L, 3);
  lua_settop(L, 3);
  if (s->fd < 0) return receive_fail(L, s, "closed", 0);
  start_op(s, 0);
  return receive_k(L, LUA_OK, 0);
}

/* recv(n): as soon as any data is there, up to n bytes (gevent's recv;
** LuaSocket's patterns wait for a whole line or count); nil, err */
static int recv_k(lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  l_conn *s = lua_touserdata(L, 1);
  size_t n = (size_t)lua_tointeger(L, 2);
  const char *err = status == LUA_YIELD ? woken(s) : NULL;
  while (!err) {
    size_t have = s->last - s->first;
    if (have > 0) {
      if (have > n) have = n;
      lua_pushlstring(L, s->buf + s->first, have);
      s->first += have;
      if (s->first == s->last) s->first = s->last = 0;
      return 1;
    }
    if (make_room(s, 0) != 0) {
      err = "not enough memory";
      break;
    }
    long r = gv_tls_read_step(&s->t, s->buf + s->last, s->cap - s->last);
    if (r > 0) {
      s->last += (size_t)r;
      s->received += (size_t)r;
      continue;
    }
    if (r == GV_TLS_EOF) err = "closed";
    else if (r != GV_TLS_WANT_READ && r != GV_TLS_WANT_WRITE)
      err = gv_tls_error(&s->t);
    else {
      double w = budget(s, 0);
      if (w == 0) {
        err = "timeout";
        break;
      }
      if (can_yield(L, s))
        return gv_tls_wait(&s->h->hub, L, &s->t, 0, (int)r, w, recv_k);
      err = wait_here(L, s, 0, (int)r, w);
    }
  }
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

static int conn_recv(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, BUFSTEP);
  luaL_argcheck(L, n > 0, 2, "positive count expected");
  lua_settop(L, 1);
  lua_pushinteger(L, n);
  if (s->fd < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  start_op(s, 0);
  return recv_k(L, LUA_OK, 0);
}

/* ---- send ------------------------------------------------------------------ */

static int send_fail(lua_State *L, l_conn *s, const char *err) {
  lua_pushnil(L);
  lua_pushstring(L, err);
  lua_pushinteger(L, (lua_Integer)s->wpos);  /* last byte sent, 1-based */
  return 3;
}

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  l_conn *s = lua_touserdata(L, 1);
  const char *data = lua_tostring(L, 2);
  if (status == LUA_YIELD) {
    const char *err = woken(s);
    if (err) return send_fail(L, s, err);
  }
  while (s->wpos < s->wend) {
    long r = gv_tls_write_step(&s->t, data + s->wpos, s->wend - s->wpos);
    if (r > 0) {
      s->wpos += (size_t)r;
      s->sent += (size_t)r;
      continue;
    }
    if (r == GV_TLS_EOF) return send_fail(L, s, "closed");
    if (r != GV_TLS_WANT_READ && r != GV_TLS_WANT_WRITE)
      return send_fail(L, s, gv_tls_error(&s->t));
    double w = budget(s, 1);
    if (w == 0) return send_fail(L, s, "timeout");
    if (can_yield(L, s))
      return gv_tls_wait(&s->h->hub, L, &s->t, 1, (int)r, w, send_k);
    const char *err = wait_here(L, s, 1, (int)r, w);
    if (err) return send_fail(L, s, err);
  }
  lua_pushinteger(L, (lua_Integer)s->wend);
  return 1;
}

/* send(data, i, j) as LuaSocket: the index of the last byte sent, or nil,
** err, last */
static int conn_send(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  size_t len;
  luaL_checklstring(L, 2, &len);
  lua_Integer i = luaL_optinteger(L, 3, 1), j = luaL_optinteger(L, 4, -1);
  lua_settop(L, 2);
  if (i < 0) i = (lua_Integer)len + i + 1;
  if (i < 1) i = 1;
  if (j < 0) j = (lua_Integer)len + j + 1;
  if (j > (lua_Integer)len) j = (lua_Integer)len;
  s->wpos = (size_t)(i - 1);
  s->wend = j >= i ? (size_t)j : s->wpos;
  if (s->fd < 0) return send_fail(L, s, "closed");
  start_op(s, 1);
  return send_k(L, LUA_OK, 0);
}

/* ---- what was negotiated ---------------------------------------------------- */

/* sni(name) on a client; sni({name = ctx, ...}, strict) on a server */
static int conn_sni(lua_State *L) {
  l_conn *s = check_open(L, 1);
  int r;
  if (lua_istable(L, 2)) {
    lua_pushnil(L);
    r = 0;
    while (r == 0 && lua_next(L, 2)) {
      if (lua_type(L, -2) != LUA_TSTRING)
        return luaL_argerror(L, 2, "names must be strings");
      l_ctx *sub = luaL_testudata(L, -1, L_CONTEXT);
      if (!sub) return luaL_argerror(L, 2, "values must be SSL contexts");
      r = gv_tls_sni(&s->t, lua_tostring(L, -2), sub->c);
      lua_pop(L, 1);
    }
    gv_tls_sni_strict(&s->t, lua_toboolean(L, 3));
  } else {
    r = gv_tls_set_host(&s->t, luaL_checkstring(L, 2));
  }
  if (r != 0) {
    lua_pushnil(L);
    lua_pushstring(L, gv_tls_error(&s->t));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int conn_getsniname(lua_State *L) {
  const char *n = gv_tls_servername(&check_conn(L, 1)->t);
  if (n) lua_pushstring(L, n);
  else lua_pushnil(L);
  return 1;
}

static int conn_getalpn(lua_State *L) {
  size_t len;
  const char *p = gv_tls_alpn(&check_conn(L, 1)->t, &len);
  if (p) lua_pushlstring(L, p, len);
  else lua_pushnil(L);
  return 1;
}

static int conn_resumed(lua_State *L) {
  lua_pushboolean(L, gv_tls_resumed(&check_conn(L, 1)->t));
  return 1;
}

/* getpeercertificate(n): the peer's certificate (n 1, the default) or the
** n-th of its chain; nil when absent */
static int conn_getpeercertificate(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 1);
  gv_x509 *x = n >= 1 ? gv_tls_peer_cert(&s->t, (int)n - 1) : NULL;
  if (!x) {
    lua_pushnil(L);
    return 1;
  }
  push_cert(L, x);
  return 1;
}

static int conn_getpeerchain(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  int n = gv_tls_peer_chain_len(&s->t);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    gv_x509 *x = gv_tls_peer_cert(&s->t, i == 0 ? 0 : i);
    if (!x) break;
    push_cert(L, x);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* getpeerverification(): true, or false, reason */
static int conn_getpeerverification(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  int done;
  const char *why = gv_tls_verify_result(&s->t, &done);
  if (!why && done) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushstring(L, why ? why : "not verified");
  return 2;
}

/* info(field): {protocol=, cipher=, bits=, resumed=, alpn=, sni=} or one */
static int conn_info(lua_State *L) {
  l_conn *s = check_conn(L, 1);
  lua_settop(L, 2);
  const char *v = gv_tls_version(&s->t);
  if (!v) {
    lua_pushnil(L);
    return 1;
  }
  int bits;
  const char *cipher = gv_tls_cipher(&s->t, &bits);
  lua_newtable(L);
  lua_pushstring(L, v);
  lua_setfield(L, -2, "protocol");
  lua_pushstring(L, cipher);
  lua_setfield(L, -2, "cipher");
  lua_pushinteger(L, bits);
  lua_setfield(L, -2, "bits");
  lua_pushboolean(L, gv_tls_resumed(&s->t));
  lua_setfield(L, -2, "resumed");
  conn_getalpn(L);
  lua_setfield(L, -2, "alpn");
  conn_getsniname(L);
  lua_setfield(L, -2, "sni");
  if (!lua_isnil(L, 2)) lua_getfield(L, -1, luaL_checkstring(L, 2));
  return 1;
}

/* ---- registration ----------------------------------------------------------- */

static const luaL_Reg ctx_methods[] = {
  {"mode", ctx_mode},
  {NULL, NULL}
};

static const luaL_Reg conn_methods[] = {
  {"dohandshake", conn_dohandshake},
  {"receive", conn_receive},
  {"recv", conn_recv},
  {"send", conn_send},
  {"settimeout", conn_settimeout},
  {"gettimeout", conn_gettimeout},
  {"getstats", conn_getstats},
  {"close", conn_close},
  {"getfd", conn_getfd},
  {"dirty", conn_dirty},
  {"sni", conn_sni},
  {"getsniname", conn_getsniname},
  {"getalpn", conn_getalpn},
  {"resumed", conn_resumed},
  {"getpeercertificate", conn_getpeercertificate},
  {"getpeerchain", conn_getpeerchain},
  {"getpeerverification", conn_getpeerverification},
  {"info", conn_info},
  {NULL, NULL}
};

static const luaL_Reg cert_methods[] = {
  {"pem", cert_pem},
  {"subject", cert_subject},
  {"issuer", cert_issuer},
  {"serial", cert_serial},
  {"notbefore", cert_notbefore},
  {"notafter", cert_notafter},
  {"getsignaturename", cert_signature},
  {"extensions", cert_extensions},
  {"digest", cert_digest},
  {"checkhost", cert_checkhost},
  {"validat", cert_validat},
  {NULL, NULL}
};

static const luaL_Reg ctx_meta[] = {
  {"__gc", ctx_gc},
  {"__tostring", ctx_tostring},
  {NULL, NULL}
};

static const luaL_Reg conn_meta[] = {
  {"__gc", conn_gc},
  {"__tostring", conn_tostring},
  {"__close", conn_close},
  {NULL, NULL}
};

static const luaL_Reg cert_meta[] = {
  {"__gc", cert_gc},
  {"__tostring", cert_tostring},
  {NULL, NULL}
};

void l_ssl_open(lua_State *L, l_hub *h) {
  (void)h;
  static const luaL_Reg funcs[] = {
    {"context", l_context},
    {"wrap", l_wrap},
    {"loadcertificate", l_loadcertificate},
    /* a new context's setup, for gevent.ssl's newcontext (functions, not
    ** methods: they stay out of the context's public methods) */
    {"ctx_versions", ctx_versions},
    {"ctx_certificate", ctx_certificate},
    {"ctx_trust", ctx_trust},
    {"ctx_verify", ctx_verify},
    {"ctx_ciphers", ctx_ciphers},
    {"ctx_alpn", ctx_alpn},
    {"ctx_sni", ctx_sni},
    {"ctx_options", ctx_options},
    {NULL, NULL}
  };
  l_setfuncs(L, funcs);
  l_newtype(L, L_CONTEXT, ctx_methods, ctx_meta, NULL);
  lua_pop(L, 1);
  l_newtype(L, L_CONN, conn_methods, conn_meta, NULL);
  lua_pop(L, 1);
  l_newtype(L, L_CERT, cert_methods, cert_meta, NULL);
  lua_pop(L, 1);
}
