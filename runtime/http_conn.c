/*
** http_conn.c - the state of one HTTP/1.1 server connection: buffered
** input parsed into request heads, bodies framed as the handler reads
** them, response heads built in a reused buffer and written together with
** the body by one writev. It never blocks: the binding waits in between.
*/
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "internal.h"

#define IN_MIN 4096
#define OUT_MIN 512
#define BODY_WINDOW 65536  /* input buffered beyond the head for a body */

int gv_http_conn_init(gv_http_conn *c, int fd, const gv_http_limits *lim,
                      uint64_t max_body) {
  memset(c, 0, sizeof *c);
  c->fd = fd;
  gv_fdwatch_init(&c->w);
  c->lim = *lim;
  c->max_body = max_body;
  c->buf = malloc(IN_MIN);
  c->out = malloc(OUT_MIN);
  if (!c->buf || !c->out) {
    gv_http_conn_free(c);
    return -ENOMEM;
  }
  c->cap = IN_MIN;
  c->ocap = OUT_MIN;
  gv_http_scan_init(&c->scan);
  return 0;
}

void gv_http_conn_free(gv_http_conn *c) {
  free(c->buf);
  free(c->out);
  c->buf = c->out = NULL;
  c->cap = c->ocap = c->len = c->olen = 0;
}

long gv_http_conn_fill(gv_http_conn *c) {
  if (c->len == c->cap) {
    size_t limit = (size_t)c->lim.max_head + BODY_WINDOW;
    if (c->cap >= limit) return -ENOBUFS;
    size_t ncap = c->cap * 2 > limit ? limit : c->cap * 2;
    char *nb = realloc(c->buf, ncap);
    if (!nb) return -ENOMEM;
    c->buf = nb;
    c->cap = ncap;
  }
  if (c->tls) {
    long n = gv_tls_read_step(c->tls, c->buf + c->len, c->cap - c->len);
    if (n > 0) {
      c->len += (size_t)n;
      return n;
    }
    if (n == GV_TLS_WANT_READ || n == GV_TLS_WANT_WRITE) {
      c->tls_want = (int)n;
      return -EAGAIN;
    }
    return n == GV_TLS_EOF ? 0 : -EIO;
  }
  for (;;) {
    ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (n >= 0) {
      c->len += (size_t)n;
      return (long)n;
    }
    if (errno != EINTR) return -errno;
  }
}

int gv_http_conn_parse(gv_http_conn *c) {
  int r = gv_http_parse_request(&c->scan, c->buf, c->len, &c->lim, &c->head);
  if (r <= 0) return r;
  c->head_len = (size_t)r;
  c->bstart = (size_t)r;
  c->bavail = 0;
  c->body_seen = 0;
  c->body_error = 0;
  gv_http_scan_init(&c->scan);
  if (c->head.flags & GV_HTTP_CHUNKED) {
    c->body_state = GV_BODY_CHUNKED;
    gv_http_chunked_init(&c->chunked, c->max_body);
  } else if (c->head.content_length > 0) {
    if (c->max_body && (uint64_t)c->head.content_length > c->max_body)
      return -413;
    c->body_state = GV_BODY_LENGTH;
    c->body_left = (uint64_t)c->head.content_length;
  } else {
    c->body_state = GV_BODY_DONE;
  }
  return 1;
}

long gv_http_conn_body(gv_http_conn *c) {
  if (c->body_error) return -c->body_error;
  size_t raw = c->bstart + c->bavail;
  size_t n = c->len - raw;
  if (n == 0) return (long)c->bavail;
  if (c->body_state == GV_BODY_LENGTH) {
    if (n > c->body_left) n = (size_t)c->body_left;
    c->body_left -= n;
    c->bavail += n;
    c->body_seen += n;
    if (!c->body_left) c->body_state = GV_BODY_DONE;
  } else if (c->body_state == GV_BODY_CHUNKED) {
    size_t out = n;
    int done;
    long used = gv_http_chunked_decode(&c->chunked, c->buf + raw, &out,
                                       &done);
    if (used < 0) {
      c->body_error = (int)-used;
      return used;
    }
    /* decoded bytes are at raw; what follows the body moves next to them */
    size_t rest = raw + (size_t)used;
    if (rest > raw + out) {
      memmove(c->buf + raw + out, c->buf + rest, c->len - rest);
      c->len -= rest - (raw + out);
    }
    c->bavail += out;
    c->body_seen += out;
    if (done) c->body_state = GV_BODY_DONE;
    if (c->max_body && c->body_seen > c->max_body) {
      c->body_error = 413;
      return -413;
    }
  }
  return (long)c->bavail;
}

void gv_http_conn_take(gv_http_conn *c, size_t n) {
  if (n > c->bavail) n = c->bavail;
  size_t from = c->bstart + n;
  if (from < c->len) memmove(c->buf + c->bstart, c->buf + from, c->len - from);
  c->len -= n;
  c->bavail -= n;
}

void gv_http_conn_take_raw(gv_http_conn *c, size_t n) {
  size_t from = c->bstart + n;
  if (from > c->len) from = c->len;
  memmove(c->buf + c->bstart, c->buf + from, c->len - from);
  c->len -= from - c->bstart;
}

int gv_http_input_waiting(int fd) {
  struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
  return poll(&p, 1, 0) != 0;
}

int gv_http_conn_next(gv_http_conn *c) {
  /* framing what is buffered may finish the body */
  if (c->body_state != GV_BODY_DONE && !c->body_error) gv_http_conn_body(c);
  int ok = c->body_state == GV_BODY_DONE && !c->body_error;
  size_t from = c->bstart + c->bavail;
  if (!ok) from = c->len;
  if (from < c->len) memmove(c->buf, c->buf + from, c->len - from);
  c->len -= from;
  c->head_len = c->bstart = c->bavail = 0;
  c->body_state = GV_BODY_NONE;
  gv_http_scan_init(&c->scan);
  return ok;
}

/* ---- output ------------------------------------------------------------ */

static int out_room(gv_http_conn *c, size_t n) {
  if (c->olen + n <= c->ocap) return 0;
  size_t ncap = c->ocap * 2;
  while (ncap < c->olen + n) ncap *= 2;
  char *no = realloc(c->out, ncap);
  if (!no) return -ENOMEM;
  c->out = no;
  c->ocap = ncap;
  return 0;
}

void gv_http_out_begin(gv_http_conn *c, int status, double now) {
  /* ocap >= OUT_MIN >= the longest status line */
  c->olen = gv_http_status_line(c->out, c->head.minor, status, now);
  c->osent = 0;
  c->wbody = NULL;
  c->wlen = c->wsent = 0;
}

int gv_http_out_raw(gv_http_conn *c, const char *s, size_t n) {
  if (out_room(c, n) < 0) return -ENOMEM;
  memcpy(c->out + c->olen, s, n);
  c->olen += n;
  return 0;
}

int gv_http_out_field(gv_http_conn *c, const char *name, size_t nlen,
                      const char *value, size_t vlen) {
  if (!gv_http_token_ok(name, nlen) || !gv_http_value_ok(value, vlen))
    return -1;
  if (out_room(c, nlen + vlen + 4) < 0) return -ENOMEM;
  char *p = c->out + c->olen;
  memcpy(p, name, nlen);
  p += nlen;
  *p++ = ':';
  *p++ = ' ';
  memcpy(p, value, vlen);
  p += vlen;
  *p++ = '\r';
  *p++ = '\n';
  c->olen = (size_t)(p - c->out);
  return 0;
}

int gv_http_conn_flush(gv_http_conn *c) {
  for (;;) {
    struct iovec iov[2];
    int n = 0;
    if (c->osent < c->olen) {
      iov[n].iov_base = c->out + c->osent;
      iov[n++].iov_len = c->olen - c->osent;
    }
    if (c->wsent < c->wlen) {
      iov[n].iov_base = (void *)(c->wbody + c->wsent);
      iov[n++].iov_len = c->wlen - c->wsent;
    }
    if (n == 0) {
      c->olen = c->osent = 0;
      c->wbody = NULL;
      c->wlen = c->wsent = 0;
      return 1;
    }
    ssize_t w;
    if (c->tls) { /* one record per piece: TLS has no writev */
      long r = gv_tls_write_step(c->tls, iov[0].iov_base, iov[0].iov_len);
      if (r == GV_TLS_WANT_READ || r == GV_TLS_WANT_WRITE) {
        c->tls_want = (int)r;
        return 0;
      }
      if (r <= 0) return -EIO;
      w = r;
    } else if (n == 1)
      w = send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    else {
      struct msghdr m = {0};
      m.msg_iov = iov;
      m.msg_iovlen = (size_t)n;
      w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
    }
    if (w < 0) { /* plain sockets only */
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -errno;
    }
    size_t k = (size_t)w, o = c->olen - c->osent;
    if (k <= o) c->osent += k;
    else {
      c->osent = c->olen;
      c->wsent += k - o;
    }
  }
}
