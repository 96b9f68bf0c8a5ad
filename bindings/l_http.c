/*
** l_http.c - gvlua.http: the HTTP/1.1 server's connection loop and the
** request and response objects its handlers see. A connection is served
** by serve(), the body of its greenlet: a C loop written
** continuation-style (read and parse with runtime/http_conn.c, call the
** Lua handler with lua_pcallk, write the response with one writev, wait
** for readability through the connection's armed gv_fdwatch), so the Lua
** cost per request is the handler call. Plus the response-head parser the
** client (lua/gevent/httpclient.lua) uses.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include "l_http.h"

#define L_HTTP_SERVER "gevent.http.Server#state"
#define L_HTTP_CONN "gevent.http.Connection"
#define L_HTTP_REQ "gevent.http.Request"
#define L_HTTP_RES "gevent.http.Response"

/* ---- the server state ---------------------------------------------------- */

static uint32_t opt_u32(lua_State *L, int t, const char *k, uint32_t def) {
  lua_getfield(L, t, k);
  lua_Integer v = lua_isnil(L, -1) ? def : luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  if (v < 1) v = 1;
  return v > 0x7fffffff ? 0x7fffffff : (uint32_t)v;
}

static double opt_seconds(lua_State *L, int t, const char *k, double def) {
  lua_getfield(L, t, k);
  double v = lua_isnil(L, -1) ? def : luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

/* state(opts) -> the shared state of a server. */
static int l_state(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  l_http_server *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->h = l_hubup(L);
  gv_link_init(&s->conns);
  s->lim.max_head = opt_u32(L, 1, "max_header_size", 8192);
  s->lim.max_uri = opt_u32(L, 1, "max_uri_size", 4096);
  s->lim.max_fields = opt_u32(L, 1, "max_headers", 100);
  if (s->lim.max_fields > GV_HTTP_FIELDS) s->lim.max_fields = GV_HTTP_FIELDS;
  lua_getfield(L, 1, "max_body_size");
  if (lua_isnil(L, -1) || lua_toboolean(L, -1) == 0) s->max_body = 0;
  else s->max_body = (uint64_t)luaL_checkinteger(L, -1);
  if (lua_isnil(L, -1)) s->max_body = 1 << 20;
  lua_pop(L, 1);
  s->idle_timeout = opt_seconds(L, 1, "idle_timeout", 60);
  s->header_timeout = opt_seconds(L, 1, "header_timeout", 10);
  s->body_timeout = opt_seconds(L, 1, "body_timeout", 30);
  s->write_timeout = opt_seconds(L, 1, "write_timeout", 30);
  luaL_setmetatable(L, L_HTTP_SERVER);
  return 1;
}

static l_http_server *check_state(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, L_HTTP_SERVER);
}

/* shutdown(state): no new requests; connections waiting for one close
** now, the others after the response in progress. */
static int l_shutdown(lua_State *L) {
  l_http_server *s = check_state(L, 1);
  s->stopping = 1;
  for (gv_link *l = s->conns.next; l != &s->conns; l = l->next) {
    l_http_conn *k = gv_container_of(l, l_http_conn, link);
    if (((k->state == S_HEAD && !gv_http_conn_pending(&k->c)) ||
         k->state == S_LINGER) && k->g && k->g->state == GV_BLOCKED)
      gv_wake(k->g, GV_WAKE_NORMAL);
  }
  return 0;
}

/* connections(state) -> how many are open */
static int l_connections(lua_State *L) {
  l_http_server *s = check_state(L, 1);
  int n = 0;
  for (gv_link *l = s->conns.next; l != &s->conns; l = l->next) n++;
  lua_pushinteger(L, n);
  return 1;
}

/* ---- connections ---------------------------------------------------------- */

static void conn_close(l_http_conn *k) {
  if (k->state == S_CLOSED) return;
  k->state = S_CLOSED;
  if (k->srv) gv_timer_stop(&k->srv->h->hub, &k->timer);
  if (k->srv && k->srv->h->hub.loop) gv_fdwatch_stop(&k->srv->h->hub,
                                                     &k->c.w);
  /* over TLS the gevent.ssl connection owns the fd and closes it */
  if (k->c.fd >= 0 && !k->c.tls) close(k->c.fd);
  k->c.tls = NULL;
  k->c.fd = -1;
  gv_http_conn_free(&k->c);
  gv_link_remove(&k->link);
}

static int conn_gc(lua_State *L) {
  conn_close(lua_touserdata(L, 1));
  return 0;
}

static double now_of(l_http_conn *k) {
  return gv_now(&k->srv->h->hub);
}

/* Message handler for the handler call: keeps GreenletExit as it is,
** adds a traceback to anything else. */
static int handler_msgh(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, L_GREENLETEXIT);
  int is_exit = l_class_is(L, 1, -1);
  lua_pop(L, 1);
  if (is_exit) return 1;
  const char *msg;
  if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
    msg = lua_tostring(L, -1);
  else if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
    msg = lua_tostring(L, 1);
  else
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int is_greenlet_exit(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_getfield(L, LUA_REGISTRYINDEX, L_GREENLETEXIT);
  int r = l_class_is(L, idx, -1);
  lua_pop(L, 1);
  return r;
}

static int serve_k(lua_State *L, int status, lua_KContext ctx);

static void head_timer_fired(gv_hub *hub, gv_timer *t) {
  l_http_conn *k = gv_container_of(t, l_http_conn, timer);
  if (k->state != S_HEAD || !k->waiting) return; /* run() re-arms it */
  double now = gv_now(hub);
  if (now >= k->deadline) gv_wake(k->g, GV_WAKE_TIMEOUT);
  else gv_timer_start(hub, t, k->deadline - now, head_timer_fired);
}

/* Waits for (more of) a head until k->deadline. */
static int wait_head(lua_State *L, l_http_conn *k) {
  gv_hub *hub = &k->srv->h->hub;
  if (!gv_timer_active(&k->timer) || k->timer.at > k->deadline)
    gv_timer_start(hub, &k->timer, k->deadline - gv_now(hub),
                   head_timer_fired);
  k->waiting = 1;
  return l_http_wait(L, k, EV_READ, -1, 0, serve_k);
}

int l_http_wait(lua_State *L, l_http_conn *k, int events, double timeout,
                lua_KContext ctx, gv_kfunction kf) {
  l_hub *h = k->srv->h;
  gv_greenlet *cur = gv_check_block(&h->hub, L);
  cur->flags |= GV_F_CATCH; /* a kill closes the connection first */
  if (k->c.tls) {
    int want = k->c.tls_want ? k->c.tls_want
               : events == EV_READ ? GV_TLS_WANT_READ : GV_TLS_WANT_WRITE;
    k->c.tls_want = 0;
    return gv_tls_wait(&h->hub, L, k->c.tls, events == EV_READ ? 0 : 1, want,
                       timeout, kf);
  }
  (void)ctx;
  return gv_fdwatch_wait(&h->hub, L, &k->c.w, k->c.fd, events, timeout, ctx,
                         kf);
}

/* Continuation after a wait: 1 woken normally, 0 timed out; a thrown
** error (kill, Timeout) closes the connection and is raised again. */
int l_http_woken(lua_State *L, l_http_conn *k) {
  gv_greenlet *cur = k->srv->h->hub.current;
  cur->flags &= (unsigned char)~GV_F_CATCH;
  if (cur->wake == GV_WAKE_THROW) {
    /* in the handler (reading the body, streaming), the handler may catch
    ** it: the connection only becomes unusable */
    if (k->state == S_CALL) k->broken = 1;
    else conn_close(k);
    lua_error(L);
  }
  return cur->wake != GV_WAKE_TIMEOUT;
}

#define OUT_LIT(c, s) gv_http_out_raw((c), (s), sizeof(s) - 1)

/* ---- building responses ----------------------------------------------------- */

static char *fmt_u64(char *end, uint64_t v) {
  do { *--end = (char)('0' + v % 10); v /= 10; } while (v);
  return end;
}

/* "Content-Length: v\r\n" (the server's own field: no checks needed). */
static int out_length(gv_http_conn *c, uint64_t v) {
  char buf[48] = "Content-Length: ";
  char num[24];
  char *p = fmt_u64(num + sizeof num, v);
  size_t n = (size_t)(num + sizeof num - p);
  memcpy(buf + 16, p, n);
  buf[16 + n] = '\r';
  buf[17 + n] = '\n';
  return gv_http_out_raw(c, buf, 18 + n);
}

/* Appends the handler's header table at idx; returns 0, or an error
** message on the stack (1) for a bad name or value. Framing fields are
** the server's: Content-Length is read into *clen (-1: none),
** Transfer-Encoding dropped, "Connection: close" honoured. */
static int out_fields(lua_State *L, l_http_conn *k, int idx, int64_t *clen) {
  *clen = -1;
  if (lua_isnoneornil(L, idx)) return 0;
  if (!lua_istable(L, idx)) {
    lua_pushfstring(L, "headers must be a table, got %s",
                    luaL_typename(L, idx));
    return 1;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t nl, vl;
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      lua_pushliteral(L, "header names must be strings");
      return 1;
    }
    const char *name = lua_tolstring(L, -2, &nl);
    int isarr = lua_istable(L, -1);
    lua_Integer n = isarr ? luaL_len(L, -1) : 1;
    for (lua_Integer i = 1; i <= n; i++) {
      if (isarr) lua_rawgeti(L, -1, i);
      else lua_pushvalue(L, -1);
      int t = lua_type(L, -1);
      const char *v = (t == LUA_TSTRING || t == LUA_TNUMBER)
                          ? lua_tolstring(L, -1, &vl) : NULL;
      if (!v) {
        lua_pop(L, 4);
        lua_pushfstring(L, "bad value for header '%s'", name);
        return 1;
      }
      gv_http_span ns = {0, (uint32_t)nl};
      if (nl == 14 && gv_http_span_is(name, ns, "content-length", 14)) {
        char *e;
        long long cl = strtoll(v, &e, 10);
        if (*e || e == v || cl < 0) {
          lua_pop(L, 3);
          lua_pushliteral(L, "bad Content-Length");
          return 1;
        }
        *clen = cl;
      } else if (nl == 17 &&
                 gv_http_span_is(name, ns, "transfer-encoding", 17)) {
        /* ours to choose */
      } else {
        if (nl == 10 && gv_http_span_is(name, ns, "connection", 10)) {
          gv_http_span vs = {0, (uint32_t)vl};
          if (gv_http_span_is(v, vs, "close", 5)) k->keep = 0;
          if (k->keep || !gv_http_span_is(v, vs, "close", 5)) {
            lua_pop(L, 1);
            continue;
          }
        }
        int r = gv_http_out_field(&k->c, name, nl, v, vl);
        if (r == -1) {
          lua_pop(L, 3 + (isarr ? 0 : 0));
          lua_pushfstring(L, "bad header '%s'", name);
          return 1;
        }
        if (r < 0) return luaL_error(L, "out of memory");
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  return 0;
}

/* Whether the response to the current request may keep the connection. */
static int may_keep(l_http_conn *k) {
  if (k->broken || k->srv->stopping || !(k->c.head.flags & GV_HTTP_KEEPALIVE))
    return 0;
  if (k->c.body_state != GV_BODY_DONE) {
    long r = gv_http_conn_body(&k->c); /* what is buffered may finish it */
    if (r < 0 || k->c.body_state != GV_BODY_DONE) return 0;
  }
  return 1;
}

static int bodyless(int status) {
  return status < 200 || status == 204 || status == 304;
}

/* Starts a response: status line, Date, the handler's fields (at idx),
** framing. blen >= 0: the whole body's length; -1: streamed. Returns 0 or
** an error message on the stack. */
static int out_head(lua_State *L, l_http_conn *k, int status, int hidx,
                    int64_t blen) {
  gv_http_conn *c = &k->c;
  k->keep = (unsigned char)may_keep(k);
  gv_http_out_begin(c, status, now_of(k));
  int64_t clen;
  if (out_fields(L, k, hidx, &clen)) return 1;
  k->out_nobody = bodyless(status) || (c->head.flags & GV_HTTP_HEAD);
  k->out_chunked = 0;
  k->out_fixed = 0;
  if (bodyless(status)) {
    /* no framing fields */
  } else if (blen >= 0 || clen >= 0) {
    uint64_t n = blen >= 0 ? (uint64_t)blen : (uint64_t)clen;
    if (out_length(c, n) < 0) return luaL_error(L, "out of memory");
    if (blen < 0) {
      k->out_fixed = 1;
      k->out_left = n;
    }
  } else if (c->head.minor >= 1) {
    OUT_LIT(c, "Transfer-Encoding: chunked\r\n");
    k->out_chunked = !(c->head.flags & GV_HTTP_HEAD);
  } else {
    k->keep = 0; /* HTTP/1.0: the end of the connection ends the body */
  }
  if (!k->keep && c->head.minor >= 1)
    OUT_LIT(c, "Connection: close\r\n");
  else if (k->keep && c->head.minor == 0)
    OUT_LIT(c, "Connection: keep-alive\r\n");
  if (gv_http_out_raw(c, "\r\n", 2) < 0) return luaL_error(L, "out of memory");
  k->started = 1;
  k->status = status;
  return 0;
}

/* ---- the loop ---------------------------------------------------------------- */

/* An error status the server answers itself, then closes. */
static void simple_response(l_http_conn *k, int status) {
  gv_http_conn *c = &k->c;
  if (!c->head.minor) c->head.minor = 1;
  gv_http_out_begin(c, status, now_of(k));
  size_t rl;
  const char *reason = gv_http_reason(status, &rl);
  out_length(c, rl + 1);
  OUT_LIT(c, "Content-Type: text/plain\r\nConnection: close\r\n\r\n");
  gv_http_out_raw(c, reason, rl);
  gv_http_out_raw(c, "\n", 1);
  k->keep = 0;
  k->started = k->finished = 1;
}

/* Finishes the connection: output shut down, then what the client still
** sends is read and dropped for a moment so that closing with unread input
** does not reset the connection before the client reads our response. */
static int start_linger(lua_State *L, l_http_conn *k) {
  if (k->c.tls) gv_tls_shutdown_step(k->c.tls); /* close_notify, best effort */
  shutdown(k->c.fd, SHUT_WR);
  k->state = S_LINGER;
  k->deadline = now_of(k) + 2;
  k->c.len = 0;
  (void)L;
  return 0;
}

static void report_error(lua_State *L, l_http_conn *k) {
  const char *msg = lua_tostring(L, -1);
  gv_http_conn *c = &k->c;
  if (c->buf && k->c.head_len)
    fprintf(stderr, "%s\nhttp handler for %.*s %.*s failed\n",
            msg ? msg : "(error object)", (int)c->head.method.len,
            c->buf + c->head.method.off, (int)c->head.target.len,
            c->buf + c->head.target.off);
  else
    fprintf(stderr, "%s\nhttp handler failed\n", msg ? msg : "(error)");
  fflush(stderr);
}

/* The handler returned status, headers, body at the top 3 slots (or
** streamed through res). Queues the response; returns 0, or 1 with an
** error message on the stack. */
static int queue_result(lua_State *L, l_http_conn *k) {
  int base = lua_gettop(L) - 2;
  if (k->body_status && !k->started) {
    simple_response(k, k->body_status);
    return 0;
  }
  if (k->started) { /* streamed: finish it */
    if (k->finished) return 0;
    if (k->out_chunked)
      gv_http_out_raw(&k->c, "\r\n0\r\n\r\n" + (k->chunks ? 0 : 2),
                      k->chunks ? 7 : 5);
    if (k->out_fixed && k->out_left) k->keep = 0; /* short: cannot reuse */
    k->finished = 1;
    return 0;
  }
  int isnum;
  lua_Integer status = lua_tointegerx(L, base, &isnum);
  if (!isnum || status < 100 || status > 999) {
    lua_pushfstring(L, "bad status %s returned by the handler",
                    luaL_tolstring(L, base, NULL));
    return 1;
  }
  size_t blen = 0;
  const char *body = NULL;
  int bt = lua_type(L, base + 2);
  if (bt == LUA_TSTRING || bt == LUA_TNUMBER)
    body = lua_tolstring(L, base + 2, &blen);
  else if (bt != LUA_TNIL) {
    lua_pushfstring(L, "bad body (string expected, got %s)",
                    luaL_typename(L, base + 2));
    return 1;
  }
  if (out_head(L, k, (int)status, base + 1, bodyless((int)status) ? -1
                                                   : (int64_t)blen))
    return 1;
  k->finished = 1;
  if (k->out_nobody || !blen) return 0;
  if (blen <= 2048) gv_http_out_raw(&k->c, body, blen); /* one send */
  else gv_http_out_body(&k->c, body, blen);  /* the string stays at base+2 */
  return 0;
}

/* After the response went out: the next request, or the end. */
static int next_request(lua_State *L, l_http_conn *k) {
  lua_settop(L, NFIXED);
  if (!k->keep || !gv_http_conn_next(&k->c)) return start_linger(L, k);
  k->state = S_HEAD;
  k->started = k->finished = 0;
  k->body_status = 0;
  k->continued = 0;
  k->try_read = 0; /* the client has not seen the response yet */
  if (k->c.len) k->head_deadline = now_of(k) + k->srv->header_timeout;
  return 0;
}

/* Calls the handler for the request just parsed. */
static int call_handler(lua_State *L, l_http_conn *k) {
  k->state = S_CALL;
  k->started = k->finished = k->wrote = 0;
  k->chunks = 0;
  k->keep = 1;
  if (k->headers_built) { /* last request's headers table */
    lua_pushnil(L);
    lua_setiuservalue(L, REQ, 1);
    k->headers_built = 0;
  }
  lua_pushvalue(L, HANDLER);
  lua_pushvalue(L, REQ);
  lua_pushvalue(L, RES);
  int st = lua_pcallk(L, 2, 3, MSGH, 0, serve_k);
  return serve_k(L, st, 0);
}

/* Runs the connection until it must wait; returns what the wait returns
** (or 0 when the connection is over). */
static int run(lua_State *L, l_http_conn *k) {
  gv_http_conn *c = &k->c;
  l_http_server *s = k->srv;
  for (;;) {
    switch (k->state) {
    case S_HEAD: {
      int r = c->len ? gv_http_conn_parse(c) : 0;
      if (r > 0) return call_handler(L, k);
      if (r < 0) {
        simple_response(k, -r);
        k->state = S_WRITE;
        break;
      }
      if (s->stopping && !gv_http_conn_pending(c)) {
        conn_close(k);
        return 0;
      }
      if (k->try_read || (c->tls && gv_tls_pending(c->tls) > 0)) {
        long n = gv_http_conn_fill(c);
        if (n > 0) {
          if (c->len == (size_t)n)
            k->head_deadline = now_of(k) + s->header_timeout;
          continue;
        }
        if (n == -ENOBUFS) { simple_response(k, 431); k->state = S_WRITE; break; }
        if (n != -EAGAIN) { conn_close(k); return 0; } /* EOF, error */
        k->try_read = 0;
      }
      k->deadline = gv_http_conn_pending(c) ? k->head_deadline
                                            : now_of(k) + s->idle_timeout;
      return wait_head(L, k);
    }
    case S_WRITE: {
      int r = gv_http_conn_flush(c);
      if (r == 0) return l_http_wait(L, k, EV_WRITE, s->write_timeout, 0, serve_k);
      if (r < 0) { conn_close(k); return 0; }
      next_request(L, k);
      continue;
    }
    case S_LINGER: {
      char scratch[4096];
      ssize_t n;
      while ((n = read(c->fd, scratch, sizeof scratch)) > 0)
        if ((c->len += (size_t)n) > (1 << 20)) break;
      double t = k->deadline - now_of(k);
      if (n < 0 && errno == EAGAIN && t > 0 && !s->stopping)
        return l_http_wait(L, k, EV_READ, t, 0, serve_k);
      conn_close(k);
      return 0;
    }
    default:
      return 0;
    }
  }
}

static int serve_k(lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  l_http_conn *k = lua_touserdata(L, CONN);
  switch (k->state) {
  case S_CALL:
    if (status != LUA_OK && status != LUA_YIELD) {
      if (is_greenlet_exit(L, -1)) {
        conn_close(k);
        return lua_error(L);
      }
      report_error(L, k);
      lua_settop(L, NFIXED);
      if (k->wrote) { conn_close(k); return 0; } /* cannot tell them */
      k->broken = 1;
      simple_response(k, 500);
    } else if (queue_result(L, k)) {
      report_error(L, k);
      lua_settop(L, NFIXED);
      k->broken = 1;
      simple_response(k, 500);
    }
    k->state = S_WRITE;
    break;
  case S_HEAD:
    k->waiting = 0;
    if (!l_http_woken(L, k)) { /* idle or head timeout */
      if (gv_http_conn_pending(&k->c)) {
        simple_response(k, 408);
        k->state = S_WRITE;
        break;
      }
      conn_close(k);
      return 0;
    }
    k->try_read = 1;
    break;
  case S_WRITE:
    if (!l_http_woken(L, k)) { conn_close(k); return 0; }
    break;
  case S_LINGER:
    l_http_woken(L, k);
    break;
  default:
    return 0;
  }
  return run(L, k);
}

/* ---- the request object --------------------------------------------------- */

/* The connection of a request or response object whose handler call is
** still running; raises otherwise. */
static l_http_conn *current_conn(lua_State *L, int idx, unsigned magic,
                                 const char *fn) {
  l_http_ref *r = lua_touserdata(L, idx);
  if (!r || lua_rawlen(L, idx) != sizeof *r || r->magic != magic)
    r = luaL_checkudata(L, idx, magic == REQ_MAGIC ? L_HTTP_REQ : L_HTTP_RES);
  l_http_conn *k = r->k;
  if (!k || k->state != S_CALL)
    luaL_error(L, "bad argument #%d to '%s' (the request is over)", idx, fn);
  return k;
}

static void push_span(lua_State *L, l_http_conn *k, gv_http_span sp) {
  lua_pushlstring(L, k->c.buf + sp.off, sp.len);
}

/* Pushes the fields as a table: lower-case names, repeated fields joined
** with ", " (RFC 9110 5.3). */
static void push_headers(lua_State *L, const char *buf,
                         const gv_http_head *h) {
  lua_createtable(L, 0, (int)h->nfields);
  char name[256];
  for (uint32_t i = 0; i < h->nfields; i++) {
    const gv_http_field *f = &h->fields[i];
    size_t n = f->name.len < sizeof name ? f->name.len : sizeof name;
    for (size_t j = 0; j < n; j++) {
      char ch = buf[f->name.off + j];
      name[j] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    lua_pushlstring(L, name, n);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TSTRING) {
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, buf + f->value.off, f->value.len);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushlstring(L, buf + f->value.off, f->value.len);
    }
    lua_rawset(L, -3);
  }
}

static int req_index(lua_State *L) {
  l_http_conn *k = current_conn(L, 1, REQ_MAGIC, "gevent.http.Request");
  size_t n;
  const char *key = luaL_checklstring(L, 2, &n);
  gv_http_head *h = &k->c.head;
  switch (n) {
  case 4:
    if (!memcmp(key, "path", 4)) { push_span(L, k, h->path); return 1; }
    if (!memcmp(key, "peer", 4)) { lua_getiuservalue(L, 1, 2); return 1; }
    break;
  case 5:
    if (!memcmp(key, "query", 5)) {
      if (h->path.off + h->path.len == h->target.off + h->target.len &&
          h->query.len == 0)
        lua_pushnil(L);
      else push_span(L, k, h->query);
      return 1;
    }
    break;
  case 6:
    if (!memcmp(key, "method", 6)) { /* interned once: no hashing */
      if (lua_rawgeti(L, lua_upvalueindex(3), h->method_id + 1) ==
          LUA_TSTRING)
        return 1;
      lua_pop(L, 1);
      push_span(L, k, h->method);
      lua_pushvalue(L, -1);
      lua_rawseti(L, lua_upvalueindex(3), h->method_id + 1);
      return 1;
    }
    if (!memcmp(key, "target", 6)) { push_span(L, k, h->target); return 1; }
    break;
  case 7:
    if (!memcmp(key, "version", 7)) {
      lua_pushstring(L, h->minor ? "1.1" : "1.0");
      return 1;
    }
    if (!memcmp(key, "headers", 7)) {
      if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) return 1;
      lua_pop(L, 1);
      push_headers(L, k->c.buf, &k->c.head);
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, 1, 1);
      k->headers_built = 1;
      return 1;
    }
    break;
  case 10:
    if (!memcmp(key, "keep_alive", 10)) {
      lua_pushboolean(L, (h->flags & GV_HTTP_KEEPALIVE) != 0);
      return 1;
    }
    break;
  }
  lua_pushvalue(L, 2); /* a method */
  lua_rawget(L, lua_upvalueindex(2));
  return 1;
}

/* req:header(name) -> the first value of that field, or nil */
static int req_header(lua_State *L) {
  l_http_conn *k = current_conn(L, 1, REQ_MAGIC, "header");
  size_t n;
  const char *name = luaL_checklstring(L, 2, &n);
  char lname[256];
  if (n >= sizeof lname) return 0;
  for (size_t j = 0; j < n; j++)
    lname[j] = (name[j] >= 'A' && name[j] <= 'Z') ? (char)(name[j] + 32)
                                                  : name[j];
  const gv_http_span *v = gv_http_find(&k->c.head, k->c.buf, lname, n);
  if (!v) return 0;
  push_span(L, k, *v);
  return 1;
}

/* ---- reading the body ------------------------------------------------------- */

static int body_fail(lua_State *L, l_http_conn *k, int status,
                     const char *msg) {
  k->broken = 1;
  if (status) k->body_status = status;
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

static int read_k(lua_State *L, int status, lua_KContext ctx);

/* Stack: 1 req, 2 n or nil (all), 3 pieces table (all). */
static int read_loop(lua_State *L, l_http_conn *k) {
  gv_http_conn *c = &k->c;
  lua_Integer want = lua_isnil(L, 2) ? 0 : lua_tointeger(L, 2);
  for (;;) {
    long av = gv_http_conn_body(c);
    if (av < 0)
      return body_fail(L, k, (int)-av, av == -413 ? "body too large"
                                                  : "malformed body");
    if (av > 0) {
      size_t take = (size_t)av;
      if (want && (size_t)want < take) take = (size_t)want;
      lua_pushlstring(L, c->buf + c->bstart, take);
      gv_http_conn_take(c, take);
      if (want) return 1;
      lua_rawseti(L, 3, (lua_Integer)lua_rawlen(L, 3) + 1);
      continue;
    }
    if (c->body_state == GV_BODY_DONE) {
      if (want) return 0;
      luaL_Buffer b;
      lua_Integer n = (lua_Integer)lua_rawlen(L, 3);
      luaL_buffinit(L, &b);
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 3, i);
        luaL_addvalue(&b);
      }
      luaL_pushresult(&b);
      return 1;
    }
    if ((c->head.flags & GV_HTTP_CONTINUE) && !k->continued && !k->wrote) {
      k->continued = 1;
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      long sent = c->tls ? gv_tls_write_step(c->tls, cont, sizeof cont - 1)
                         : (long)send(c->fd, cont, sizeof cont - 1,
                                      MSG_NOSIGNAL);
      if (sent != (long)sizeof cont - 1) return body_fail(L, k, 0, "closed");
    }
    long n = gv_http_conn_fill(c);
    if (n > 0) continue;
    if (n != -EAGAIN) return body_fail(L, k, 0, "closed");
    return l_http_wait(L, k, EV_READ, k->srv->body_timeout, 0, read_k);
  }
}

static int read_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  l_http_conn *k = ((l_http_ref *)lua_touserdata(L, 1))->k;
  if (!l_http_woken(L, k)) return body_fail(L, k, 0, "timeout");
  return read_loop(L, k);
}

/* req:read([n]) -> up to n bytes of the body (at least one), nil at its
** end; without n, the rest of the body. nil, "timeout" / "closed" /
** "body too large" / "malformed body" on failure. Sends 100 Continue
** first when the client asked for it. */
static int req_read(lua_State *L) {
  l_http_conn *k = current_conn(L, 1, REQ_MAGIC, "read");
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > 0, 2, "positive number expected");
  }
  lua_settop(L, 2);
  if (k->broken && k->c.body_state != GV_BODY_DONE)
    return body_fail(L, k, 0, "closed");
  lua_newtable(L);
  return read_loop(L, k);
}

/* ---- the response object ---------------------------------------------------- */

static int res_start(lua_State *L) {
  l_http_conn *k = current_conn(L, 1, RES_MAGIC, "start");
  lua_Integer status = luaL_checkinteger(L, 2);
  luaL_argcheck(L, status >= 100 && status <= 999, 2, "bad status");
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  if (k->started) return luaL_error(L, "response already started");
  lua_settop(L, 3);
  if (out_head(L, k, (int)status, 3, -1)) return lua_error(L);
  lua_settop(L, 1);
  return 1;
}

static int write_k(lua_State *L, int status, lua_KContext ctx);

int l_http_write_flush(lua_State *L, l_http_conn *k) {
  int r = gv_http_conn_flush(&k->c);
  if (r > 0) {
    k->wrote = 1;
    lua_pushboolean(L, 1);
    return 1;
  }
  if (r < 0) {
    k->broken = 1;
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  k->wrote = 1; /* may be partial: the head is out */
  return l_http_wait(L, k, EV_WRITE, k->srv->write_timeout, 0, write_k);
}

static int write_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  l_http_conn *k = ((l_http_ref *)lua_touserdata(L, 1))->k;
  if (!l_http_woken(L, k)) {
    k->broken = 1;
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  return l_http_write_flush(L, k);
}

/* Queues data (at idx, kept on the stack) as the next piece of the body;
** copied into the output buffer when more output follows it. */
static void queue_piece(lua_State *L, l_http_conn *k, int idx, int copy) {
  size_t n;
  const char *d = lua_tolstring(L, idx, &n);
  if (k->out_nobody || n == 0) return;
  if (k->out_fixed) {
    if (n > k->out_left) luaL_error(L, "more body than its Content-Length");
    k->out_left -= n;
  }
  if (k->out_chunked) {
    char line[24];
    int m = snprintf(line, sizeof line, "%s%zx\r\n", k->chunks ? "\r\n" : "",
                     n);
    gv_http_out_raw(&k->c, line, (size_t)m);
    k->chunks++;
  }
  if (copy) gv_http_out_raw(&k->c, d, n);
  else gv_http_out_body(&k->c, d, n);
}

/* res:write(data) -> true, or nil and "closed" / "timeout": sends one
** piece of the body now (as a chunk unless the length was given). Starts
** a 200 response without fields if none was started. */
static int res_write(lua_State *L) {
  l_http_conn *k = current_conn(L, 1, RES_MAGIC, "write");
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  if (k->finished) return luaL_error(L, "response already finished");
  if (k->broken) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  if (!k->started && out_head(L, k, 200, 3, -1)) return lua_error(L);
  queue_piece(L, k, 2, 0);
  return l_http_write_flush(L, k);
}

/* res:finish([data]) -> true, or nil and an error: the last piece. */
static int res_finish(lua_State *L) {
  l_http_conn *k = current_conn(L, 1, RES_MAGIC, "finish");
  if (!lua_isnoneornil(L, 2)) luaL_checkstring(L, 2);
  lua_settop(L, 2);
  if (k->finished) return luaL_error(L, "response already finished");
  if (k->broken) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  if (!k->started) {
    size_t n = 0;
    if (!lua_isnil(L, 2)) lua_tolstring(L, 2, &n);
    if (out_head(L, k, 200, 3, (int64_t)n)) return lua_error(L);
    if (n && !k->out_nobody) gv_http_out_body(&k->c, lua_tostring(L, 2), n);
  } else {
    if (!lua_isnil(L, 2)) queue_piece(L, k, 2, 1);
    if (k->out_chunked)
      gv_http_out_raw(&k->c, "\r\n0\r\n\r\n" + (k->chunks ? 0 : 2),
                      k->chunks ? 7 : 5);
    if (k->out_fixed && k->out_left) k->keep = 0;
  }
  k->finished = 1;
  return l_http_write_flush(L, k);
}

static int res_index(lua_State *L) {
  l_http_ref *r = luaL_checkudata(L, 1, L_HTTP_RES);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) return 1;
  const char *key = lua_tostring(L, 2);
  if (key && r->k && !strcmp(key, "started")) {
    lua_pushboolean(L, r->k->started);
    return 1;
  }
  if (key && r->k && r->k->started && !strcmp(key, "status")) {
    lua_pushinteger(L, r->k->status);
    return 1;
  }
  return 0;
}

/* ---- serve ------------------------------------------------------------------- */

static void push_ref(lua_State *L, l_http_conn *k, unsigned magic, int nuv) {
  l_http_ref *r = lua_newuserdatauv(L, sizeof *r, nuv);
  r->k = k;
  r->magic = magic;
  luaL_setmetatable(L, magic == REQ_MAGIC ? L_HTTP_REQ : L_HTTP_RES);
  lua_pushvalue(L, CONN);
  lua_setiuservalue(L, -2, nuv); /* keeps the connection alive */
}

/* serve(state, handler, fd, peer): serves HTTP on fd (now owned here, and
** closed when the connection ends) until the client leaves, a timeout, an
** error, or the server stops. The body of a connection's greenlet. */
static int l_serve(lua_State *L) {
  l_http_server *s = check_state(L, 1);
  if (!lua_isfunction(L, 2) && !luaL_getmetafield(L, 2, "__call"))
    luaL_typeerror(L, 2, "function");
  gv_tls *tls = NULL;
  int fd;
  if (lua_type(L, 3) == LUA_TUSERDATA) { /* HTTPS: a gevent.ssl connection */
    tls = l_ssl_conn_tls(L, 3);
    fd = tls->fd;
  } else {
    fd = (int)luaL_checkinteger(L, 3);
    if (gv_fd_check(&s->h->hub, fd) == -EINVAL) /* it would close libev's */
      return luaL_argerror(L, 3, "file descriptor is the hub's own");
  }
  lua_settop(L, 4);
  l_http_conn *k = lua_newuserdatauv(L, sizeof *k, 0);
  memset(k, 0, sizeof *k);
  k->state = S_CLOSED;
  gv_link_init(&k->link);
  k->c.fd = -1;
  luaL_setmetatable(L, L_HTTP_CONN);
  if (gv_http_conn_init(&k->c, fd, &s->lim, s->max_body) < 0) {
    if (!tls) close(fd);
    return luaL_error(L, "out of memory");
  }
  k->c.tls = tls;
  k->srv = s;
  gv_link_append(&s->conns, &k->link);
  k->g = gv_current(&s->h->hub);
  k->state = S_HEAD;
  k->try_read = 1;
  k->head_deadline = now_of(k) + s->header_timeout;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  lua_pushcfunction(L, handler_msgh);             /* MSGH */
  push_ref(L, k, REQ_MAGIC, 3);                  /* REQ */
  lua_pushvalue(L, PEER);
  lua_setiuservalue(L, -2, 2);
  push_ref(L, k, RES_MAGIC, 1);                  /* RES */
  if (s->stopping) { conn_close(k); return 0; }
  return run(L, k);
}

/* ---- client helpers ---------------------------------------------------------- */

/* parse_response(s, head_request, max_header_size) -> nil (incomplete) |
** false, "malformed response" | length, status, reason, version, headers,
** content_length (nil: none), chunked, keep_alive */
static int l_parse_response(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  int head_req = lua_toboolean(L, 2);
  gv_http_limits lim = {(uint32_t)luaL_optinteger(L, 3, 65536), 65536,
                        GV_HTTP_FIELDS};
  gv_http_scan sc;
  gv_http_scan_init(&sc);
  static __thread gv_http_head head; /* nothing below can yield: reusable */
  gv_http_head *h = &head;
  int r = gv_http_parse_response(&sc, s, len, &lim, head_req, h);
  if (r == 0) return 0;
  if (r < 0) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "malformed response");
    return 2;
  }
  lua_pushinteger(L, r);
  lua_pushinteger(L, h->status);
  lua_pushlstring(L, s + h->reason.off, h->reason.len);
  lua_pushstring(L, h->minor ? "1.1" : "1.0");
  push_headers(L, s, h);
  if (h->content_length >= 0) lua_pushinteger(L, h->content_length);
  else lua_pushnil(L);
  lua_pushboolean(L, (h->flags & GV_HTTP_CHUNKED) != 0);
  lua_pushboolean(L, (h->flags & GV_HTTP_KEEPALIVE) != 0);
  return 8;
}

#define L_HTTP_CHUNKED "gevent.http.ChunkedDecoder"

/* chunked_decoder([max_chunk]) -> decoder; decoder:decode(s) -> data,
** done, rest (the bytes after the body) | nil, "malformed chunked body" */
static int l_chunked_decoder(lua_State *L) {
  lua_Integer max = luaL_optinteger(L, 1, 0);
  gv_http_chunked *c = lua_newuserdatauv(L, sizeof *c, 0);
  gv_http_chunked_init(c, max < 0 ? 0 : (uint64_t)max);
  luaL_setmetatable(L, L_HTTP_CHUNKED);
  return 1;
}

static int chunked_decode(lua_State *L) {
  gv_http_chunked *c = luaL_checkudata(L, 1, L_HTTP_CHUNKED);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  char *tmp = lua_newuserdatauv(L, n ? n : 1, 0);
  memcpy(tmp, s, n);
  size_t out = n;
  int done;
  long used = gv_http_chunked_decode(c, tmp, &out, &done);
  if (used < 0) {
    lua_pushnil(L);
    lua_pushstring(L, used == -413 ? "chunk too large"
                                   : "malformed chunked body");
    return 2;
  }
  lua_pushlstring(L, tmp, out);
  lua_pushboolean(L, done);
  lua_pushlstring(L, s + used, n - (size_t)used);
  return 3;
}

/* input_waiting(fd) -> whether fd has input or its end (EOF, an error)
** waiting: an idle pooled client connection that does was closed or
** broken by its server. */
static int l_input_waiting(lua_State *L) {
  lua_pushboolean(L, gv_http_input_waiting((int)luaL_checkinteger(L, 1)));
  return 1;
}

/* reason(status) -> the standard reason phrase */
static int l_reason(lua_State *L) {
  lua_pushstring(L, gv_http_reason((int)luaL_checkinteger(L, 1), NULL));
  return 1;
}

static const luaL_Reg http_funcs[] = {
  {"state", l_state},
  {"shutdown", l_shutdown},
  {"connections", l_connections},
  {"serve", l_serve},
  {"parse_response", l_parse_response},
  {"chunked_decoder", l_chunked_decoder},
  {"reason", l_reason},
  {"input_waiting", l_input_waiting},
  {NULL, NULL}
};

static int (*websocket_upgrade)(lua_State *L, l_http_conn *k);

void l_http_set_websocket(int (*upgrade)(lua_State *L, l_http_conn *k)) {
  websocket_upgrade = upgrade;
}

/* req:websocket(opts) -> WebSocket | nil, err (l_websocket.c) */
static int req_websocket(lua_State *L) {
  l_http_conn *k = current_conn(L, 1, REQ_MAGIC, "websocket");
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  if (!websocket_upgrade) return luaL_error(L, "no WebSocket support");
  return websocket_upgrade(L, k);
}

static const luaL_Reg req_methods[] = {
  {"header", req_header},
  {"read", req_read},
  {"websocket", req_websocket},
  {NULL, NULL}
};

static const luaL_Reg res_methods[] = {
  {"start", res_start},
  {"write", res_write},
  {"finish", res_finish},
  {NULL, NULL}
};

static const luaL_Reg conn_meta[] = {
  {"__gc", conn_gc},
  {NULL, NULL}
};

static const luaL_Reg chunked_methods[] = {
  {"decode", chunked_decode},
  {NULL, NULL}
};

void l_http_open(lua_State *L, l_hub *h) {
  (void)h;
  l_setfuncs(L, http_funcs);
  l_newtype(L, L_HTTP_SERVER, NULL, NULL, NULL);
  lua_pop(L, 1);
  l_newtype(L, L_HTTP_CONN, NULL, conn_meta, NULL);
  lua_pop(L, 1);
  /* req_index caches the method names it interns in its upvalue 3 */
  l_newtype(L, L_HTTP_REQ, req_methods, NULL, req_index);
  lua_pop(L, 1);
  l_newtype(L, L_HTTP_RES, res_methods, NULL, res_index);
  lua_pop(L, 1);
  l_newtype(L, L_HTTP_CHUNKED, chunked_methods, NULL, NULL);
  lua_pop(L, 1);
}
