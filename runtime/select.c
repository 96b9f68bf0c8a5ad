/*
** select.c - waiting on many fds at once (select, poll, a child's pipes):
** one libev watcher per fd, all in caller-owned memory, the greenlet woken
** by the first that fires; readiness itself is read with poll(2), so there
** is no FD_SETSIZE cap. Waiting allocates nothing.
*/
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include "internal.h"

typedef struct gv_select {
  gv_greenlet *g;          /* the waiter while armed, else NULL */
  gv_hub *hub;
  struct pollfd *fds;
  int n;
  gv_kfunction k;          /* the caller's continuation */
  lua_KContext ctx;
  ev_io w[];
} gv_select;

size_t gv_select_size(int n) {
  return sizeof(gv_select) + (size_t)(n > 0 ? n : 0) * sizeof(ev_io);
}

int gv_select_poll(struct pollfd *p, int n) {
  /* poll(2) refuses more entries than RLIMIT_NOFILE (a list may name an fd
  ** twice): then it goes in slices. */
  int rc, total = 0, step = n;
  for (int i = 0; i < n; i += step) {
    int m = n - i < step ? n - i : step;
    do rc = poll(p + i, (nfds_t)m, 0); while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno == EINVAL && step > 64) { /* too many at once */
      step = 64;
      i -= step;
      continue;
    }
    if (rc < 0) {
      for (int j = i; j < i + m; j++) p[j].revents = 0;
      rc = 0;
    }
    total += rc;
  }
  return total;
}

long long gv_select_setsize(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      rl.rlim_cur > (rlim_t)LLONG_MAX)
    return LLONG_MAX;
  return (long long)rl.rlim_cur;
}

void gv_select_stop(void *set) {
  gv_select *s = set;
  if (!s->g) return;
  for (int i = 0; i < s->n; i++) gv_io_stop(s->hub, &s->w[i]);
  s->g = NULL;
}

gv_greenlet *gv_select_waiter(const void *set) {
  return ((const gv_select *)set)->g;
}

/* g->cancel: the wait ended however it did (gv_block kept the set as
** the wait's context). */
static void select_cancel(gv_greenlet *g) {
  gv_select_stop((void *)g->kctx);
}

static void select_ready(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop; (void)revents;
  gv_select *s = w->data;
  if (gv__fd_dead(w->fd)) gv_io_stop(s->hub, w); /* closed: poll says so */
  if (s->g) gv_wake(s->g, GV_WAKE_NORMAL);
}

/* The continuation: readiness now, then the caller's. */
static int select_k(lua_State *L, int status, lua_KContext ctx) {
  gv_select *s = (gv_select *)ctx;
  gv_select_poll(s->fds, s->n);
  return s->k(L, status, s->ctx);
}

int gv_select_wait(gv_hub *hub, lua_State *L, void *set, struct pollfd *fds,
                   int n, double timeout, const char *what, lua_KContext ctx,
                   gv_kfunction k) {
  gv_select *s = set;
  if (s->g) {
    lua_pushliteral(L, "another greenlet is already waiting on this");
    lua_error(L);
  }
  gv_greenlet *g = gv_prepare_block(hub, L, what);
  s->hub = hub;
  s->fds = fds;
  s->n = n;
  s->k = k;
  s->ctx = ctx;
  s->g = g;
  for (int i = 0; i < n; i++) {
    int ev = ((fds[i].events & (POLLIN | POLLPRI)) ? EV_READ : 0) |
             ((fds[i].events & POLLOUT) ? EV_WRITE : 0);
    ev_init(&s->w[i], select_ready);
    s->w[i].data = s;
    if (fds[i].fd < 0) continue; /* ignored, as poll(2) and Python do */
    ev_io_set(&s->w[i], fds[i].fd, ev ? ev : EV_READ);
    gv_io_start(hub, &s->w[i]);
  }
  g->cancel = select_cancel;
  if (k) return gv_block_timeout(hub, L, timeout, (lua_KContext)s, select_k);
  int why = gv_block_timeout(hub, L, timeout, (lua_KContext)s, NULL);
  gv_select_poll(fds, n);
  return why;
}
