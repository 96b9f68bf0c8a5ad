/*
** io.c - waiting for a file descriptor: with the greenlet's own ev_io
** watcher, armed for the wait and stopped by gv_wake; or through a
** gv_fdwatch that the file's owner keeps armed across waits. Also what
** keeps a closed fd away from libev, which aborts the process when epoll
** refuses one (see gv_io_start).
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "internal.h"

/* ---- fds libev may be given ------------------------------------------- */

int gv__is_eventfd(int fd) {
  char path[64], link[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n < 0) return fcntl(fd, F_GETFD) >= 0; /* no /proc: trust the number */
  link[n] = 0;
  return strcmp(link, "anon_inode:[eventfd]") == 0;
}

/* libev's fds are checked again when met: after a fork, libev makes new
** ones (maybe under other numbers), and the old numbers go to other files. */
static int is_libev_fd(gv_hub *hub, int fd) {
  struct epoll_event ev;
  if (fd == hub->backend_fd) return epoll_wait(fd, &ev, 1, 0) >= 0;
  if (fd == hub->evpipe_fd) return gv__is_eventfd(fd);
  return 0;
}

int gv_fd_check(gv_hub *hub, int fd) {
  if (fd < 0) return -EBADF;
  if (fcntl(fd, F_GETFD) < 0) return -errno;
  if (is_libev_fd(hub, fd)) return -EINVAL;
  return 0;
}

__thread int gv__dead_fd = -1;

/* Remembers that fd's epoll registration changes at the next poll. */
static void note_fd(gv_hub *hub, int fd) {
  if (fd >= hub->fdcheck_top) hub->fdcheck_top = fd + 1;
  if (hub->nfdcheck && hub->fdcheck[hub->nfdcheck - 1].fd == fd) return;
  if (hub->nfdcheck == hub->fdcheck_cap) {
    size_t cap = hub->fdcheck_cap ? 2 * hub->fdcheck_cap : 64;
    struct pollfd *p = realloc(hub->fdcheck, cap * sizeof *p);
    if (!p) { /* no memory: check it now (a later close goes unseen) */
      if (fcntl(fd, F_GETFD) < 0) hub->fdcheck_lost = 1;
      return;
    }
    hub->fdcheck = p;
    hub->fdcheck_cap = cap;
  }
  hub->fdcheck[hub->nfdcheck].fd = fd;
  hub->fdcheck[hub->nfdcheck].events = 0;
  hub->nfdcheck++;
}

void gv_io_start(gv_hub *hub, ev_io *w) {
  note_fd(hub, w->fd);
  ev_io_start(hub->loop, w);
}

void gv_io_stop(gv_hub *hub, ev_io *w) {
  if (!ev_is_active(w)) return;
  note_fd(hub, w->fd); /* other watchers on fd: epoll_ctl MOD */
  ev_io_stop(hub->loop, w);
}

/* Every watcher on fd gets a ready event now, with gv__fd_dead(fd) true:
** each stops itself, waking its greenlet, so libev never passes fd to
** epoll_ctl. */
static void retire_fd(gv_hub *hub, int fd) {
  gv__dead_fd = fd;
  ev_feed_fd_event(hub->loop, fd, EV_READ | EV_WRITE);
  ev_invoke_pending(hub->loop);
  gv__dead_fd = -1;
}

void gv__io_check(gv_hub *hub) {
  size_t n = hub->nfdcheck;
  struct pollfd *p = hub->fdcheck;
  int rc;
  /* one poll(2) for all: events 0 still reports POLLNVAL (not open) */
  do rc = poll(p, (nfds_t)n, 0); while (rc < 0 && errno == EINTR);
  if (rc < 0) { /* more than RLIMIT_NOFILE entries: one by one */
    for (size_t i = 0; i < n; i++)
      p[i].revents = fcntl(p[i].fd, F_GETFD) < 0 ? POLLNVAL : 0;
    rc = 1;
  }
  hub->nfdcheck = 0;
  if (rc == 0) return;
  for (size_t i = 0; i < n; i++)
    if (p[i].revents & POLLNVAL) retire_fd(hub, p[i].fd);
}

void gv__io_after_fork(gv_hub *hub) {
  /* every fd that ever had a watcher is below fdcheck_top; a closed one
  ** is retired before the poll, an open one costs a poll(2) entry once */
  for (int fd = 0; fd < hub->fdcheck_top; fd++) note_fd(hub, fd);
}

void gv__io_free(gv_hub *hub) {
  free(hub->fdcheck);
  hub->fdcheck = NULL;
  hub->nfdcheck = hub->fdcheck_cap = 0;
}

/* For a wait about to register fd with libev. */
static void check_fd(gv_hub *hub, lua_State *L, int fd) {
  if (gv_fd_check(hub, fd) != 0) {
    lua_pushfstring(L, "cannot wait on file descriptor %d (not open)", fd);
    lua_error(L);
  }
}

int gv_wait_fd(gv_hub *hub, lua_State *L, int fd, int events, double timeout,
               lua_KContext ctx, gv_kfunction k) {
  check_fd(hub, L, fd);
  gv_greenlet *g = gv_prepare_block(hub, L, "fd");
  g->waiting_fd = fd;
  g->io.data = NULL;
  ev_io_set(&g->io, fd, events & (EV_READ | EV_WRITE));
  gv_io_start(hub, &g->io);
  return gv_block_timeout(hub, L, timeout, ctx, k);
}

/* ---- waits a close can end ----------------------------------------------- */

/* How many greenlets wait on each fd in a cancelable wait: gv_fd_cancel
** only walks the greenlets when someone waits on its fd. */
static void fdw_add(gv_hub *hub, int fd, int d) {
  if ((size_t)fd >= hub->fdw_cap) {
    size_t cap = hub->fdw_cap ? hub->fdw_cap : 256;
    while (cap <= (size_t)fd) cap *= 2;
    int *n = realloc(hub->fdw, cap * sizeof *n);
    if (!n) return;
    memset(n + hub->fdw_cap, 0, (cap - hub->fdw_cap) * sizeof *n);
    hub->fdw = n;
    hub->fdw_cap = cap;
  }
  hub->fdw[fd] += d;
}

void gv__fdw_cancel(gv_greenlet *g) {
  gv_hub *hub = g->hub;
  int fd = g->waiting_fd;
  if (fd >= 0 && (size_t)fd < hub->fdw_cap && hub->fdw[fd] > 0)
    hub->fdw[fd]--;
}

void gv__fd_cancelable(gv_hub *hub, gv_greenlet *g, int fd) {
  if (fd < 0) return;
  fdw_add(hub, fd, 1);
  g->cancel = gv__fdw_cancel;
}

static int wake_closed(gv_greenlet *g, int fd) {
  if (g->state != GV_BLOCKED || g->cancel != gv__fdw_cancel ||
      g->waiting_fd != fd)
    return 0;
  gv_wake(g, GV_WAKE_NORMAL);
  g->io.data = (void *)(intptr_t)GV_FD_CLOSED;
  return 1;
}

int gv_fd_cancel(gv_hub *hub, int fd) {
  int n = 0;
  if (fd < 0 || (size_t)fd >= hub->fdw_cap || hub->fdw[fd] <= 0) return 0;
  gv_link *l = hub->alive.next;
  while (l != &hub->alive && hub->fdw[fd] > 0) {
    gv_greenlet *g = gv_container_of(l, gv_greenlet, all);
    l = l->next;
    n += wake_closed(g, fd);
  }
  if (hub->main && hub->fdw[fd] > 0) n += wake_closed(hub->main, fd);
  return n;
}

int gv_fdwatch_armed(const gv_fdwatch *w, int fd) {
  return ev_is_active(&w->io) && w->io.fd == fd;
}

/* ---- watchers kept armed by their file's owner ------------------------ */

#define RW (EV_READ | EV_WRITE)

static int waiting_mask(const gv_fdwatch *w) {
  return (w->waiter[0] ? EV_READ : 0) | (w->waiter[1] ? EV_WRITE : 0);
}

void gv_fdwatch_stop(gv_hub *hub, gv_fdwatch *w) {
  if (!ev_is_active(&w->io)) return;
  if (w->idle) { /* libev: ev_ref before stopping an unref'd watcher */
    ev_ref(hub->loop);
    w->idle = 0;
  }
  gv_io_stop(hub, &w->io);
}

/* Re-arms an active watcher for 'events' (one epoll_ctl MOD). */
static void fdwatch_modify(gv_hub *hub, gv_fdwatch *w, int events) {
  int idle = w->idle;
  gv_fdwatch_stop(hub, w);
  ev_io_modify(&w->io, events);
  gv_io_start(hub, &w->io);
  if (idle) {
    ev_unref(hub->loop);
    w->idle = 1;
  }
}

/* Tells the waiter woken through w that the fd went bad. */
static void wake_bad(gv_greenlet *g) {
  gv_wake(g, GV_WAKE_NORMAL);
  g->io.data = (void *)(intptr_t)EV_ERROR;
}

static void fdwatch_ready(struct ev_loop *loop, ev_io *io, int revents) {
  gv_fdwatch *w = (gv_fdwatch *)io;
  gv_hub *hub = w->hub;
  (void)loop;
  if ((revents & EV_ERROR) || gv__fd_dead(io->fd)) {
    /* libev has stopped it (a bad fd), or the fd is closed: its waiters
    ** learn it, and it stays stopped until a wait arms it again */
    gv_fdwatch_stop(hub, w);
    if (w->idle) {
      ev_ref(hub->loop);
      w->idle = 0;
    }
    if (w->waiter[0]) wake_bad(w->waiter[0]);
    if (w->waiter[1]) wake_bad(w->waiter[1]);
    return;
  }
  int wanted = waiting_mask(w);
  if ((revents & EV_READ) && w->waiter[0])
    gv_wake(w->waiter[0], GV_WAKE_NORMAL);
  if ((revents & EV_WRITE) && w->waiter[1])
    gv_wake(w->waiter[1], GV_WAKE_NORMAL);
  if (!ev_is_active(&w->io) || !(revents & ~wanted & RW)) return;
  /* It fired for nobody: level-triggered, it would again on every poll. */
  int still = waiting_mask(w);
  if (still) fdwatch_modify(hub, w, still);
  else gv_fdwatch_stop(hub, w);
}

void gv_fdwatch_init(gv_fdwatch *w) {
  ev_init(&w->io, fdwatch_ready);
  w->io.fd = -1;
  w->waiter[0] = w->waiter[1] = NULL;
  w->hub = NULL;
  w->idle = 0;
}

int gv_fdwatch_wait(gv_hub *hub, lua_State *L, gv_fdwatch *w, int fd,
                    int events, double timeout, lua_KContext ctx,
                    gv_kfunction k) {
  int slot = events == EV_WRITE;
  int busy = w->waiter[slot] || (waiting_mask(w) && w->io.fd != fd);
  if ((events != EV_READ && events != EV_WRITE) || busy)
    return gv_wait_fd(hub, L, fd, events, timeout, ctx, k);
  int fresh = !ev_is_active(&w->io) || w->io.fd != fd;
  if (fresh) check_fd(hub, L, fd); /* a registration: the fd must be open */
  gv_greenlet *g = gv_prepare_block(hub, L, "fd");
  int mask = waiting_mask(w) | events;
  w->hub = hub;
  if (fresh) {
    gv_fdwatch_stop(hub, w);
    ev_io_set(&w->io, fd, mask); /* a new registration: epoll_ctl ADD */
    gv_io_start(hub, &w->io);
  } else {
    if (w->idle) {
      ev_ref(hub->loop);
      w->idle = 0;
    }
    int armed = w->io.events & RW;
    if (mask & ~armed) fdwatch_modify(hub, w, mask | armed);
  }
  w->waiter[slot] = g;
  g->waiting_fd = fd;
  g->wait_obj = w;
  g->io.data = NULL;
  return gv_block_timeout(hub, L, timeout, ctx, k);
}

void gv__fdwatch_detach(gv_greenlet *g) {
  gv_fdwatch *w = g->wait_obj;
  if (!w) return;
  g->wait_obj = NULL;
  if (w->waiter[0] == g) w->waiter[0] = NULL;
  if (w->waiter[1] == g) w->waiter[1] = NULL;
  if (!w->waiter[0] && !w->waiter[1] && ev_is_active(&w->io) && !w->idle) {
    ev_unref(g->hub->loop); /* armed for the next wait, not a reason to run */
    w->idle = 1;
  }
}
