/*
** hub.c - a hub's life: creating it on a libev loop, making greenlets,
** and tearing it all down when the Lua state closes.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "internal.h"

static void timer_watcher_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  /* Only bounds the poll; poll_io runs the expired gv_timers. */
  (void)loop; (void)w; (void)revents;
}

/* The lowest fd number free now: the next one the process opens. */
static int lowest_free_fd(void) {
  int fd = dup(2);
  if (fd < 0) fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) close(fd);
  return fd;
}

static void noop_async(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop; (void)w; (void)revents;
}

int gv_hub_init(gv_hub *hub, struct ev_loop *loop, lua_State *L) {
  memset(hub, 0, sizeof *hub);
  hub->backend_fd = hub->evpipe_fd = -1;
  if (!loop) {
    /* Never libev's default loop: that one reaps every child with
    ** waitpid(-1), stealing the exit status of io.popen() and
    ** os.execute() children (gevent.subprocess reaps its own pids). */
    int next = lowest_free_fd();
    loop = ev_loop_new(EVFLAG_AUTO);
    if (!loop) return -ENOMEM;
    hub->own_loop = 1;
    /* libev does not say which fd is its epoll instance, and aborts if a
    ** watcher is given that fd: it opened the lowest free one, unless
    ** another thread was quicker (then an epoll_wait would fail) */
    struct epoll_event ev;
    if (ev_backend(loop) == EVBACKEND_EPOLL && next >= 0 &&
        epoll_wait(next, &ev, 1, 0) == 0)
      hub->backend_fd = next;
    (void)ev;
    /* its wake-up fd (an eventfd) is made with the first async watcher:
    ** make it now, the same way, so that it is known too (closing it
    ** through a socket's setfd would lose every wake-up from threads) */
    next = lowest_free_fd();
    ev_async a;
    ev_async_init(&a, noop_async);
    ev_async_start(loop, &a);
    ev_async_stop(loop, &a);
    if (next >= 0 && gv__is_eventfd(next)) hub->evpipe_fd = next;
  }
  hub->loop = loop;
  hub->L = L;
  hub->stack_size = GV_STACK_SIZE;
  if (gv__timers_init(hub) != 0) {
    if (hub->own_loop) ev_loop_destroy(loop);
    return -ENOMEM;
  }
  ev_timer_init(&hub->timer_watcher, timer_watcher_cb, 0., 0.);
  gv_link_init(&hub->alive);
  gv_link_init(&hub->idlers);
  return 0;
}

gv_loop_info gv_loop_info_of(gv_hub *hub) {
  gv_loop_info i = {ev_iteration(hub->loop), ev_pending_count(hub->loop),
                    ev_now(hub->loop)};
  return i;
}

pid_t gv_hub_fork(gv_hub *hub) {
  fflush(NULL); /* or buffered output would be written twice */
  pid_t pid = fork();
  if (pid == 0) {
    ev_loop_fork(hub->loop);
    gv__io_after_fork(hub); /* before libev re-adds them all */
    gv_monitor_after_fork(hub); /* its thread stayed in the parent */
    gv__work_after_fork();
  }
  return pid;
}

void gv_hub_close(gv_hub *hub) {
  gv__monitor_close(hub);
  gv__irq_close(hub);
  /* Greenlets still suspended are abandoned: drop their watchers and the
  ** stacks they hold, never resume them. */
  while (!gv_link_empty(&hub->alive)) {
    gv_greenlet *g = gv_container_of(hub->alive.next, gv_greenlet, all);
    gv_link_remove(&g->all);
    if (!gv_link_empty(&g->wait)) gv_link_remove(&g->wait);
    if (ev_is_active(&g->io)) ev_io_stop(hub->loop, &g->io);
    g->state = GV_DEAD;   /* nothing wakes it now, not even its release */
    if (g->owned && g->release) g->release(g->owned);
    g->owned = NULL;
    if (g->flags & GV_F_STACKFUL) gv__runner_abandon(hub, g->runner);
    g->runner = NULL;
  }
  hub->nalive = 0;
  gv__children_free(hub);
  free(hub->fdw);
  hub->fdw = NULL;
  hub->fdw_cap = 0;
  gv_work_shutdown(hub); /* before the loop goes: results are dropped */
  if (ev_is_active(&hub->timer_watcher))
    ev_timer_stop(hub->loop, &hub->timer_watcher);
  gv__timers_free(hub);
  gv__io_free(hub);
  gv__runners_free(hub);
  if (hub->own_loop) ev_loop_destroy(hub->loop);
  hub->loop = NULL;
}

static void io_ready(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  gv_greenlet *g = gv_container_of(w, gv_greenlet, io);
  if (gv__fd_dead(w->fd)) revents = EV_ERROR; /* gv_wake stops w */
  gv_wake(g, GV_WAKE_NORMAL);
  w->data = (void *)(intptr_t)revents;
}

void gv_greenlet_init(gv_hub *hub, gv_greenlet *g, lua_State *L, int nargs) {
  memset(g, 0, sizeof *g);
  g->hub = hub;
  g->L = L;
  g->nargs = nargs;
  g->state = GV_NEW;
  gv_link_init(&g->all);
  gv_link_init(&g->wait);
  ev_init(&g->io, io_ready);
}

void gv_greenlet_init_main(gv_hub *hub, gv_greenlet *g, lua_State *L) {
  gv_greenlet_init(hub, g, L, 0);
  g->flags = GV_F_MAIN | GV_F_STARTED;
  g->state = GV_RUNNING;
  hub->main = g;
  hub->current = g;
}

void gv_greenlet_start(gv_greenlet *g) {
  gv_hub *hub = g->hub;
  g->state = GV_READY;
  gv_link_append(&hub->alive, &g->all);
  hub->nalive++;
  gv_schedule(hub, &g->run);
}

void gv_greenlet_cancel_start(gv_greenlet *g) {
  gv_hub *hub = g->hub;
  if (g->state == GV_DEAD) return;
  gv_unschedule(hub, &g->run);
  if (!gv_link_empty(&g->all)) {
    gv_link_remove(&g->all);
    hub->nalive--;
  }
  g->state = GV_DEAD;
}
