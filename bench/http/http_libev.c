/* http_libev: the C reference for W7, plain C on libev (one thread).
 *   http_libev PORT     (listens on 127.0.0.1:PORT)
 * Answers every request with 200 "hello\n" (Content-Length, a Date
 * formatted once per second), keep-alive, pipelining; finds the end of
 * each head with memmem and answers all complete heads of one read with
 * one write. What a hand-written HTTP server costs without a parser or a
 * handler: the floor gvlua's C loop is measured against. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  ev_io io;
  size_t len;
  char buf[8192];
} conn_t;

static char resp[256];
static size_t resp_len;
static time_t resp_sec;

static void make_response(struct ev_loop *loop) {
  time_t t = (time_t)ev_now(loop);
  if (t == resp_sec) return;
  struct tm tm;
  gmtime_r(&t, &tm);
  char date[64];
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  resp_len = (size_t)snprintf(resp, sizeof resp,
    "HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: text/plain\r\n"
    "Content-Length: 6\r\n\r\nhello\n", date);
  resp_sec = t;
}

static void conn_close(struct ev_loop *loop, conn_t *c) {
  ev_io_stop(loop, &c->io);
  close(c->io.fd);
  free(c);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)revents;
  conn_t *c = (conn_t *)w;
  ssize_t r = read(w->fd, c->buf + c->len, sizeof c->buf - c->len);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (r <= 0) { conn_close(loop, c); return; }
  c->len += (size_t)r;
  make_response(loop);
  char out[sizeof resp * 16];
  size_t olen = 0, at = 0;
  for (;;) {
    char *end = memmem(c->buf + at, c->len - at, "\r\n\r\n", 4);
    if (!end) break;
    at = (size_t)(end - c->buf) + 4;
    if (olen + resp_len > sizeof out) break;
    memcpy(out + olen, resp, resp_len);
    olen += resp_len;
  }
  memmove(c->buf, c->buf + at, c->len - at);
  c->len -= at;
  if (c->len == sizeof c->buf) { conn_close(loop, c); return; }
  size_t off = 0;
  while (off < olen) { /* small: the socket buffer takes it */
    ssize_t s = write(w->fd, out + off, olen - off);
    if (s < 0 && errno == EINTR) continue;
    if (s <= 0) { conn_close(loop, c); return; }
    off += (size_t)s;
  }
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)revents;
  for (;;) {
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_t *c = malloc(sizeof *c);
    c->len = 0;
    ev_io_init(&c->io, conn_cb, fd, EV_READ);
    ev_io_start(loop, &c->io);
  }
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents) {
  (void)w; (void)revents;
  ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8080;
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1024) < 0) {
    perror("http_libev");
    return 1;
  }
  struct ev_loop *loop = EV_DEFAULT;
  ev_io lw;
  ev_io_init(&lw, accept_cb, ls, EV_READ);
  ev_io_start(loop, &lw);
  ev_signal sw;
  ev_signal_init(&sw, stop_cb, SIGTERM);
  ev_signal_start(loop, &sw);
  printf("listening on 127.0.0.1:%d\n", port);
  fflush(stdout);
  ev_run(loop, 0);
  return 0;
}
