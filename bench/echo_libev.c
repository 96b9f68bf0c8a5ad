/* echo_libev: the reference TCP echo server, plain C on libev (one thread).
 *   echo_libev PORT          (listens on 127.0.0.1:PORT, TCP_NODELAY on accepted sockets)
 * Reads whatever is available and writes it back; a partial write is finished
 * from an EV_WRITE watcher before reading more. */
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
#include <unistd.h>

typedef struct {
  ev_io io;
  size_t len, off;
  char buf[4096];
} conn_t;

static void conn_close(struct ev_loop *loop, conn_t *c) {
  ev_io_stop(loop, &c->io);
  close(c->io.fd);
  free(c);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents) {
  conn_t *c = (conn_t *)w;
  if (c->len == 0) { /* reading */
    ssize_t r = read(w->fd, c->buf, sizeof c->buf);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) { conn_close(loop, c); return; }
    c->len = r; c->off = 0;
  }
  while (c->off < c->len) {
    ssize_t s = write(w->fd, c->buf + c->off, c->len - c->off);
    if (s < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      conn_close(loop, c); return;
    }
    c->off += s;
  }
  int want = c->off < c->len ? EV_WRITE : EV_READ;
  if (c->off >= c->len) c->len = c->off = 0;
  if (!(w->events & want) || (w->events & ~want & (EV_READ | EV_WRITE))) {
    ev_io_stop(loop, w);
    ev_io_set(w, w->fd, want);
    ev_io_start(loop, w);
  }
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
  for (;;) {
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_t *c = calloc(1, sizeof *c);
    ev_io_init(&c->io, conn_cb, fd, EV_READ);
    ev_io_start(loop, &c->io);
  }
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 9000;
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0) { perror("echo_libev"); return 1; }
  struct ev_loop *loop = EV_DEFAULT;
  ev_io aw;
  ev_io_init(&aw, accept_cb, lfd, EV_READ);
  ev_io_start(loop, &aw);
  ev_run(loop, 0);
  return 0;
}
