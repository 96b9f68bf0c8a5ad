/*
** l_http.h - what bindings/l_http.c (the HTTP server's connections) and
** bindings/l_websocket.c (WebSocket on such a connection) share.
*/
#ifndef GV_L_HTTP_H
#define GV_L_HTTP_H

#include "bindings.h"

/* What the connections of one server share: limits, timeouts, the list of
** connections (graceful stop wakes the idle ones). */
typedef struct l_http_server {
  gv_http_limits lim;
  uint64_t max_body;
  double idle_timeout, header_timeout, body_timeout, write_timeout;
  gv_link conns;
  int stopping;
  l_hub *h;
} l_http_server;

/* Where a connection's loop is. */
enum {
  S_HEAD,      /* waiting for (the rest of) a request head */
  S_CALL,      /* in the handler */
  S_WRITE,     /* writing the response */
  S_LINGER,    /* output shut down, reading what the client still sends */
  S_CLOSED
};

typedef struct l_http_conn {
  gv_http_conn c;
  l_http_server *srv;
  gv_link link;
  gv_greenlet *g;
  int state;
  double deadline;          /* of the wait in S_HEAD or S_LINGER (hub time) */
  int body_status;          /* 400/413 met while the handler read the body */
  unsigned char try_read;   /* read before waiting: input may be there */
  unsigned char keep;       /* the connection carries another request */
  unsigned char started;    /* the response head is out (or queued) */
  unsigned char finished;   /* the response is complete */
  unsigned char out_chunked, out_close, out_nobody, continued, broken;
  unsigned char headers_built;
  unsigned char wrote;      /* part of the response reached the socket */
  unsigned chunks;          /* chunks written (chunked responses) */
  uint64_t out_left;        /* fixed-length streaming: bytes still due */
  int out_fixed;
  int status;               /* of the response started */
  /* The deadline of waits for a head (idle or header timeout), checked
  ** lazily: a timer armed once and re-armed when it fires early costs
  ** less than a timer started and stopped around every wait. */
  gv_timer timer;
  double head_deadline;     /* the head that has begun must be in by then */
  unsigned char waiting;    /* blocked in S_HEAD under that deadline */
} l_http_conn;

/* Stack slots of serve(). */
enum { SRV = 1, HANDLER, FD, PEER, CONN, MSGH, REQ, RES, NFIXED = RES };

/* Request and response objects: a pointer to their connection. They are
** checked by size and a magic number (per call, cheaper than
** luaL_checkudata's registry lookup). */
typedef struct l_http_ref { l_http_conn *k; unsigned magic; } l_http_ref;
#define REQ_MAGIC 0x68747271u
#define RES_MAGIC 0x68747273u

/* Waits on the connection's fd for events within timeout (< 0: none),
** continuation-style; a kill or Timeout closes the connection (outside the
** handler) and is raised. */
int l_http_wait(lua_State *L, l_http_conn *k, int events, double timeout,
                lua_KContext ctx, gv_kfunction kf);
/* In a continuation after l_http_wait: 1 woken, 0 timed out. */
int l_http_woken(lua_State *L, l_http_conn *k);
/* Writes the queued output; returns true, or nil and "closed"/"timeout".
** Waits as needed; the object at stack index 1 starts with its
** connection pointer (request, response, WebSocket objects). */
int l_http_write_flush(lua_State *L, l_http_conn *k);

/* req:websocket(opts) is l_websocket.c's, a layer above this file: it
** hands its upgrade over when it opens. upgrade(L, k): for the request's
** connection k (object at 1, options at 2), answers 101 and returns the
** WebSocket object, or nil, err. */
void l_http_set_websocket(int (*upgrade)(lua_State *L, l_http_conn *k));

#endif
