/*
** io.c - waiting for a file descriptor: the greenlet's own ev_io watcher,
** armed for the wait and stopped by gv_wake.
*/
#include "gv.h"

static void fd_timed_out(gv_hub *hub, gv_timer *t) {
  (void)hub;
  gv_wake(gv_container_of(t, gv_greenlet, timer), GV_WAKE_TIMEOUT);
}

int gv_wait_fd(gv_hub *hub, lua_State *L, int fd, int events, double timeout,
               lua_KContext ctx, gv_kfunction k) {
  if (fd < 0) { /* libev would abort */
    lua_pushfstring(L, "cannot wait on file descriptor %d", fd);
    lua_error(L);
  }
  gv_greenlet *g = gv_prepare_block(hub, L, "fd");
  g->waiting_fd = fd;
  g->io.data = NULL;
  ev_io_set(&g->io, fd, events & (EV_READ | EV_WRITE));
  ev_io_start(hub->loop, &g->io);
  if (timeout >= 0) {
    gv__update_now(hub);
    gv_timer_start(hub, &g->timer, timeout, fd_timed_out);
  }
  return gv_block(hub, L, ctx, k);
}
