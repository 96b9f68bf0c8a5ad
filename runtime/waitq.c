/*
** waitq.c - FIFO queues of blocked greenlets (events, locks, queues,
** joins). The queue node and the timeout timer live in the greenlet, so
** waiting allocates nothing.
*/
#include "internal.h"

int gv_waitq_wait(gv_hub *hub, gv_waitq *q, lua_State *L, double timeout,
                  const char *what, lua_KContext ctx, gv_kfunction k) {
  gv_greenlet *g = gv_prepare_block(hub, L, what);
  gv_link_append(&q->head, &g->wait);
  return gv_block_timeout(hub, L, timeout, ctx, k);
}

gv_greenlet *gv_waitq_first(gv_waitq *q) {
  if (gv_link_empty(&q->head)) return NULL;
  return gv_container_of(q->head.next, gv_greenlet, wait);
}

int gv_waitq_wake_one(gv_waitq *q) {
  gv_greenlet *g = gv_waitq_first(q);
  if (!g) return 0;
  gv_wake(g, GV_WAKE_NORMAL);
  return 1;
}

int gv_waitq_wake_all(gv_waitq *q) {
  int n = 0;
  gv_greenlet *g;
  while ((g = gv_waitq_first(q)) != NULL) {
    gv_wake(g, GV_WAKE_NORMAL);
    n++;
  }
  return n;
}
