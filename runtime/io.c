/*
** io.c - waiting for a file descriptor: with the greenlet's own ev_io
** watcher, armed for the wait and stopped by gv_wake; or through a
** gv_fdwatch that the file's owner keeps armed across waits.
*/
#include "internal.h"

static void check_fd(lua_State *L, int fd) {
  if (fd < 0) { /* libev would abort */
    lua_pushfstring(L, "cannot wait on file descriptor %d", fd);
    lua_error(L);
  }
}

int gv_wait_fd(gv_hub *hub, lua_State *L, int fd, int events, double timeout,
               lua_KContext ctx, gv_kfunction k) {
  check_fd(L, fd);
  gv_greenlet *g = gv_prepare_block(hub, L, "fd");
  g->waiting_fd = fd;
  g->io.data = NULL;
  ev_io_set(&g->io, fd, events & (EV_READ | EV_WRITE));
  ev_io_start(hub->loop, &g->io);
  return gv_block_timeout(hub, L, timeout, ctx, k);
}

/* ---- watchers kept armed by their file's owner ------------------------ */

#define RW (EV_READ | EV_WRITE)

static int waiting_mask(const gv_fdwatch *w) {
  return (w->waiter[0] ? EV_READ : 0) | (w->waiter[1] ? EV_WRITE : 0);
}

void gv_fdwatch_stop(struct ev_loop *loop, gv_fdwatch *w) {
  if (!ev_is_active(&w->io)) return;
  if (w->idle) { /* libev: ev_ref before stopping an unref'd watcher */
    ev_ref(loop);
    w->idle = 0;
  }
  ev_io_stop(loop, &w->io);
}

/* Re-arms an active watcher for 'events' (one epoll_ctl MOD). */
static void fdwatch_modify(struct ev_loop *loop, gv_fdwatch *w, int events) {
  int idle = w->idle;
  gv_fdwatch_stop(loop, w);
  ev_io_modify(&w->io, events);
  ev_io_start(loop, &w->io);
  if (idle) {
    ev_unref(loop);
    w->idle = 1;
  }
}

static void fdwatch_ready(struct ev_loop *loop, ev_io *io, int revents) {
  gv_fdwatch *w = (gv_fdwatch *)io;
  if (revents & EV_ERROR) { /* libev has stopped it (a bad fd) */
    if (w->idle) {
      ev_ref(loop);
      w->idle = 0;
    }
    revents |= RW;
  }
  int wanted = waiting_mask(w);
  if ((revents & EV_READ) && w->waiter[0])
    gv_wake(w->waiter[0], GV_WAKE_NORMAL);
  if ((revents & EV_WRITE) && w->waiter[1])
    gv_wake(w->waiter[1], GV_WAKE_NORMAL);
  if (!ev_is_active(&w->io) || !(revents & ~wanted & RW)) return;
  /* It fired for nobody: level-triggered, it would again on every poll. */
  int still = waiting_mask(w);
  if (still) fdwatch_modify(loop, w, still);
  else gv_fdwatch_stop(loop, w);
}

void gv_fdwatch_init(gv_fdwatch *w) {
  ev_init(&w->io, fdwatch_ready);
  w->io.fd = -1;
  w->waiter[0] = w->waiter[1] = NULL;
  w->idle = 0;
}

int gv_fdwatch_wait(gv_hub *hub, lua_State *L, gv_fdwatch *w, int fd,
                    int events, double timeout, lua_KContext ctx,
                    gv_kfunction k) {
  int slot = events == EV_WRITE;
  int busy = w->waiter[slot] || (waiting_mask(w) && w->io.fd != fd);
  if ((events != EV_READ && events != EV_WRITE) || busy)
    return gv_wait_fd(hub, L, fd, events, timeout, ctx, k);
  check_fd(L, fd);
  gv_greenlet *g = gv_prepare_block(hub, L, "fd");
  struct ev_loop *loop = hub->loop;
  int mask = waiting_mask(w) | events;
  if (!ev_is_active(&w->io) || w->io.fd != fd) {
    gv_fdwatch_stop(loop, w);
    ev_io_set(&w->io, fd, mask); /* a new registration: epoll_ctl ADD */
    ev_io_start(loop, &w->io);
  } else {
    if (w->idle) {
      ev_ref(loop);
      w->idle = 0;
    }
    int armed = w->io.events & RW;
    if (mask & ~armed) fdwatch_modify(loop, w, mask | armed);
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
