/*
** l_websocket.c - WebSocket (RFC 6455) on a gevent.http connection:
** req:websocket() answers the upgrade (101) and returns an object whose
** receive/send/ping/close speak frames over the connection's buffers and
** armed watcher (runtime/websocket.c parses and builds the frames). Pings
** are answered, fragmented messages reassembled, text checked as UTF-8,
** the close handshake completed; the connection ends with the handler.
*/
#include <errno.h>
#include <string.h>
#include <http_parser.h>
#include "l_http.h"

#define L_WEBSOCKET "gevent.http.WebSocket"

enum { WS_OPEN, WS_CLOSING, WS_CLOSED };

/* Its first field is the connection, as in request and response objects,
** so l_http_write_flush serves it too. */
typedef struct l_ws {
  l_http_conn *k;
  unsigned magic;
  int state;
  int close_code;           /* the peer's, once closed */
  int pending;              /* a control reply waits to be written */
  uint64_t max_message;
  double timeout;           /* each wait for input; < 0: none */
  gv_ws_frame f;            /* the frame being read */
  int in_frame;
  uint64_t done;            /* payload bytes of f taken */
  int msg_opcode;           /* of the message in progress, 0: none */
  uint64_t msg_len;
} l_ws;
#define WS_MAGIC 0x77736f6bu

/* User value 1: the connection; 2: the pieces of the message in progress. */

static l_ws *check_ws(lua_State *L, const char *fn) {
  l_ws *w = lua_touserdata(L, 1);
  if (!w || lua_rawlen(L, 1) != sizeof *w || w->magic != WS_MAGIC)
    w = luaL_checkudata(L, 1, L_WEBSOCKET);
  if (!w->k || w->k->state != S_CALL)
    luaL_error(L, "bad argument #1 to '%s' (the connection is over)", fn);
  return w;
}

/* Queues one frame: header, then the payload (copied when 'copy', else
** written from p, which the caller keeps alive). */
static void queue_frame(l_http_conn *k, int opcode, const char *p, size_t n,
                        int copy) {
  unsigned char h[14];
  size_t hl = gv_ws_header(h, 1, opcode, n, NULL);
  gv_http_conn *c = &k->c;
  c->olen = c->osent = 0;
  gv_http_out_body(c, NULL, 0);
  gv_http_out_raw(c, (const char *)h, hl);
  if (copy) gv_http_out_raw(c, p, n);
  else gv_http_out_body(c, p, n);
}

static void queue_close(l_ws *w, int code, const char *reason, size_t n) {
  char buf[125];
  if (n > 123) n = 123;
  buf[0] = (char)(code >> 8);
  buf[1] = (char)code;
  memcpy(buf + 2, reason, n);
  queue_frame(w->k, 8, buf, code ? n + 2 : 0, 1);
  w->state = WS_CLOSING;
}

/* ws:send(data, binary) -> true | nil, "closed" / "timeout" */
static int ws_send(lua_State *L) {
  l_ws *w = check_ws(L, "send");
  size_t n;
  const char *d = luaL_checklstring(L, 2, &n);
  int binary = lua_toboolean(L, 3);
  lua_settop(L, 2);
  if (w->state != WS_OPEN || w->k->broken) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  if (!binary && !gv_ws_utf8_ok((const unsigned char *)d, n))
    return luaL_argerror(L, 2, "text is not UTF-8 (send it as binary)");
  queue_frame(w->k, binary ? 2 : 1, d, n, n <= 2048);
  return l_http_write_flush(L, w->k);
}

/* ws:ping(data) -> true | nil, err */
static int ws_ping(lua_State *L) {
  l_ws *w = check_ws(L, "ping");
  size_t n;
  const char *d = luaL_optlstring(L, 2, "", &n);
  luaL_argcheck(L, n <= 125, 2, "at most 125 bytes");
  if (w->state != WS_OPEN || w->k->broken) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  queue_frame(w->k, 9, d, n, 1);
  return l_http_write_flush(L, w->k);
}

static int recv_loop(lua_State *L, l_ws *w);

static int recv_k(lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  l_ws *w = lua_touserdata(L, 1);
  (void)status;
  if (!l_http_woken(L, w->k)) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  return recv_loop(L, w);
}

/* Ends the WebSocket on a protocol error (sending a close with 'code'
** when it can) or a broken connection (code 0). Returns nil, why. */
static int recv_fail(lua_State *L, l_ws *w, int code, const char *why) {
  if (code && w->state == WS_OPEN) {
    queue_close(w, code, why, strlen(why));
    gv_http_conn_flush(&w->k->c); /* best effort: the connection ends */
  }
  w->state = WS_CLOSED;
  w->k->broken = 1;
  lua_pushnil(L);
  lua_pushstring(L, why);
  return 2;
}

static int push_closed(lua_State *L, l_ws *w) {
  lua_pushnil(L);
  lua_pushliteral(L, "closed");
  if (w->close_code) {
    lua_pushinteger(L, w->close_code);
    return 3;
  }
  return 2;
}

/* Handles a complete control frame whose payload is at p[0, n). Returns
** 0 to go on reading, or the count of results to return. */
static int control(lua_State *L, l_ws *w, int op, char *p, size_t n) {
  if (op == 9) { /* ping: pong with the same payload */
    if (w->state == WS_OPEN) {
      queue_frame(w->k, 10, p, n, 1);
      w->pending = 1;
    }
    return 0;
  }
  if (op == 10) return 0; /* pong */
  /* close */
  int code = 1005;
  if (n == 1) return recv_fail(L, w, 1002, "bad close frame");
  if (n >= 2) {
    code = (unsigned char)p[0] << 8 | (unsigned char)p[1];
    if (code < 1000 || (code >= 1004 && code <= 1006) ||
        (code >= 1016 && code < 3000) || code >= 5000)
      return recv_fail(L, w, 1002, "bad close code");
    if (!gv_ws_utf8_ok((unsigned char *)p + 2, n - 2))
      return recv_fail(L, w, 1007, "close reason is not UTF-8");
  }
  w->close_code = code;
  if (w->state == WS_OPEN) { /* echo the close */
    queue_frame(w->k, 8, p, n >= 2 ? 2 : 0, 1);
    gv_http_conn_flush(&w->k->c);
  }
  w->state = WS_CLOSED;
  w->k->broken = 1; /* the connection ends with the handler */
  return push_closed(L, w);
}

/* Stack: 1 ws. Reads frames until a whole message (data, "text" or
** "binary") or the close. */
static int recv_loop(lua_State *L, l_ws *w) {
  l_http_conn *k = w->k;
  gv_http_conn *c = &k->c;
  for (;;) {
    if (w->pending) { /* a pong or close reply not yet out */
      int r = gv_http_conn_flush(c);
      if (r == 0)
        return l_http_wait(L, k, EV_WRITE, k->srv->write_timeout, 0, recv_k);
      w->pending = 0;
      if (r < 0) return recv_fail(L, w, 0, "closed");
    }
    if (w->state == WS_CLOSED) return push_closed(L, w);
    unsigned char *in = (unsigned char *)c->buf + c->bstart;
    size_t avail = c->len - c->bstart;
    if (!w->in_frame) {
      int h = gv_ws_parse(in, avail, &w->f);
      if (h < 0) return recv_fail(L, w, 1002, "protocol error");
      if (h > 0) {
        if (!w->f.masked) return recv_fail(L, w, 1002, "unmasked frame");
        int op = w->f.opcode;
        if (op < 8) {
          if (op == 0 && !w->msg_opcode)
            return recv_fail(L, w, 1002, "continuation without a message");
          if (op != 0 && w->msg_opcode)
            return recv_fail(L, w, 1002, "message interleaved");
          if (w->msg_len + w->f.len > w->max_message)
            return recv_fail(L, w, 1009, "message too large");
          if (op) {
            w->msg_opcode = op;
            w->msg_len = 0;
            lua_newtable(L);
            lua_setiuservalue(L, 1, 2);
          }
        } else if (avail < (size_t)h + w->f.len) {
          goto more; /* control frames are taken whole */
        }
        gv_http_conn_take_raw(c, (size_t)h);
        w->in_frame = 1;
        w->done = 0;
        in = (unsigned char *)c->buf + c->bstart;
        avail = c->len - c->bstart;
      }
    }
    if (w->in_frame) {
      uint64_t left = w->f.len - w->done;
      size_t take = avail < left ? avail : (size_t)left;
      if (w->f.opcode >= 8) { /* whole, by the check above */
        gv_ws_unmask(in, take, w->f.mask, 0);
        char p[125];
        memcpy(p, in, take);
        gv_http_conn_take_raw(c, take);
        w->in_frame = 0;
        int nres = control(L, w, w->f.opcode, p, take);
        if (nres) return nres;
        continue;
      }
      if (take || !left) {
        gv_ws_unmask(in, take, w->f.mask, w->done);
        lua_getiuservalue(L, 1, 2);
        lua_pushlstring(L, (char *)in, take);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        lua_pop(L, 1);
        gv_http_conn_take_raw(c, take);
        w->done += take;
        w->msg_len += take;
        if (w->done == w->f.len) {
          w->in_frame = 0;
          if (w->f.fin) { /* the message is whole */
            int op = w->msg_opcode;
            w->msg_opcode = 0;
            lua_getiuservalue(L, 1, 2);
            luaL_Buffer b;
            int t = lua_gettop(L);
            lua_Integer np = (lua_Integer)lua_rawlen(L, t);
            luaL_buffinit(L, &b);
            for (lua_Integer i = 1; i <= np; i++) {
              lua_rawgeti(L, t, i);
              luaL_addvalue(&b);
            }
            luaL_pushresult(&b);
            size_t ml;
            const char *m = lua_tolstring(L, -1, &ml);
            if (op == 1 && !gv_ws_utf8_ok((const unsigned char *)m, ml))
              return recv_fail(L, w, 1007, "text is not UTF-8");
            lua_pushnil(L);
            lua_setiuservalue(L, 1, 2);
            lua_pushstring(L, op == 1 ? "text" : "binary");
            return 2;
          }
        }
        continue;
      }
    }
  more:;
    long r = gv_http_conn_fill(c);
    if (r > 0) continue;
    if (r == -ENOBUFS) { /* a control frame cannot need that much */
      return recv_fail(L, w, 1009, "frame too large");
    }
    if (r != -EAGAIN) {
      w->state = WS_CLOSED;
      k->broken = 1;
      lua_pushnil(L);
      lua_pushliteral(L, "closed");
      return 2;
    }
    return l_http_wait(L, k, EV_READ, w->timeout, 0, recv_k);
  }
}

/* ws:receive() -> message, "text" | "binary"; nil, "closed" [, code];
** nil, "timeout"; nil, "<protocol error>" (the connection is closed with
** the matching status). Pings are answered meanwhile. */
static int ws_receive(lua_State *L) {
  l_ws *w = check_ws(L, "receive");
  lua_settop(L, 1);
  return recv_loop(L, w);
}

/* ws:close(code, reason) -> true: sends the close frame (1000 by
** default); the peer's answer is read by receive() if wanted. */
static int ws_close(lua_State *L) {
  l_ws *w = check_ws(L, "close");
  int code = (int)luaL_optinteger(L, 2, 1000);
  size_t n;
  const char *reason = luaL_optlstring(L, 3, "", &n);
  luaL_argcheck(L, code >= 1000 && code < 5000, 2, "bad close code");
  lua_settop(L, 1);
  if (w->state != WS_OPEN || w->k->broken) {
    lua_pushboolean(L, 1);
    return 1;
  }
  queue_close(w, code, reason, n);
  return l_http_write_flush(L, w->k);
}

/* Writes the 101 answer; returns the WebSocket object (at 1) once out. */
static int upgraded(lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  l_ws *w = lua_touserdata(L, 1);
  if (status == LUA_YIELD && !l_http_woken(L, w->k)) {
    w->k->broken = 1;
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  int r = gv_http_conn_flush(&w->k->c);
  if (r > 0) {
    w->k->wrote = 1;
    lua_settop(L, 1);
    return 1;
  }
  if (r < 0) {
    w->k->broken = 1;
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  return l_http_wait(L, w->k, EV_WRITE, w->k->srv->write_timeout, 0,
                     upgraded);
}

/* req:websocket(opts) -> ws | nil, err. opts: protocols (those the server
** speaks, the client's first match is chosen), max_message (bytes, 16
** MiB), timeout (each wait in receive; none by default). Answers 101. */
static int upgrade(lua_State *L, l_http_conn *k) {
  gv_http_conn *c = &k->c;
  gv_http_head *h = &c->head;
  const gv_http_span *up = gv_http_find(h, c->buf, "upgrade", 7);
  const gv_http_span *key = gv_http_find(h, c->buf, "sec-websocket-key", 17);
  const gv_http_span *ver =
      gv_http_find(h, c->buf, "sec-websocket-version", 21);
  char accept[29];
  if (k->started) return luaL_error(L, "response already started");
  if (h->method_id != HTTP_GET || !up ||
      !gv_http_span_is(c->buf, *up, "websocket", 9) || !key || !ver ||
      !gv_http_span_is(c->buf, *ver, "13", 2) ||
      !(h->flags & GV_HTTP_UPGRADE) ||
      gv_ws_accept(c->buf + key->off, key->len, accept) < 0 ||
      c->body_state != GV_BODY_DONE) {
    lua_pushnil(L);
    lua_pushliteral(L, "not a websocket handshake");
    return 2;
  }
  l_ws *w = lua_newuserdatauv(L, sizeof *w, 2);
  memset(w, 0, sizeof *w);
  w->k = k;
  w->magic = WS_MAGIC;
  w->max_message = 16 << 20;
  w->timeout = -1;
  luaL_setmetatable(L, L_WEBSOCKET);
  lua_getiuservalue(L, 1, 3); /* the request's connection */
  lua_setiuservalue(L, -2, 1);
  int ws = lua_gettop(L);
  const char *proto = NULL;
  size_t plen = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "max_message");
    if (!lua_isnil(L, -1)) w->max_message = (uint64_t)luaL_checkinteger(L, -1);
    lua_getfield(L, 2, "timeout");
    if (!lua_isnil(L, -1)) w->timeout = luaL_checknumber(L, -1);
    lua_pop(L, 2);
    const gv_http_span *offer =
        gv_http_find(h, c->buf, "sec-websocket-protocol", 22);
    lua_getfield(L, 2, "protocols");
    if (offer && lua_istable(L, -1)) { /* the client's order decides */
      const char *o = c->buf + offer->off, *end = o + offer->len;
      while (o < end && !proto) {
        while (o < end && (*o == ' ' || *o == ',')) o++;
        const char *s = o;
        while (o < end && *o != ',' && *o != ' ') o++;
        for (lua_Integer i = 1; !proto && i <= (lua_Integer)lua_rawlen(L, -1);
             i++) {
          size_t n;
          lua_rawgeti(L, -1, i);
          const char *p = lua_tolstring(L, -1, &n);
          if (p && n == (size_t)(o - s) && memcmp(p, s, n) == 0) {
            proto = s;
            plen = n;
          }
          lua_pop(L, 1);
        }
      }
    }
    lua_pop(L, 1);
  }
  gv_http_out_begin(c, 101, gv_now(&k->srv->h->hub));
  static const char up101[] = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: ";
  gv_http_out_raw(c, up101, sizeof up101 - 1);
  gv_http_out_raw(c, accept, 28);
  gv_http_out_raw(c, "\r\n", 2);
  if (proto) {
    gv_http_out_raw(c, "Sec-WebSocket-Protocol: ", 24);
    gv_http_out_raw(c, proto, plen);
    gv_http_out_raw(c, "\r\n", 2);
  }
  gv_http_out_raw(c, "\r\n", 2);
  k->started = k->finished = 1;
  k->status = 101;
  k->keep = 0;
  c->bstart = c->head_len; /* frames follow the head */
  c->bavail = 0;
  lua_settop(L, ws);
  lua_replace(L, 1); /* the object at 1, as the continuations expect */
  lua_settop(L, 1);
  return upgraded(L, LUA_OK, 0);
}

static const luaL_Reg ws_methods[] = {
  {"receive", ws_receive},
  {"send", ws_send},
  {"ping", ws_ping},
  {"close", ws_close},
  {NULL, NULL}
};

/* Its table in require "gvlua" stays empty: it serves req:websocket(). */
void l_websocket_open(lua_State *L, l_hub *h) {
  (void)h;
  l_newtype(L, L_WEBSOCKET, ws_methods, NULL, NULL);
  lua_pop(L, 1);
  l_http_set_websocket(upgrade);
}
