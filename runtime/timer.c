/*
** timer.c - the hub's timers: a binary min-heap of caller-owned gv_timer
** records ordered by (deadline, start sequence), so equal deadlines fire in
** start order (libev's heap does not promise that). The loop sleeps until
** the earliest deadline through one ev_timer armed before each poll.
*/
#include <stdlib.h>
#include "internal.h"

static int before(const gv_timer *a, const gv_timer *b) {
  return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void place(gv_hub *hub, size_t i, gv_timer *t) {
  hub->heap[i] = t;
  t->index = i + 1;
}

static void sift_up(gv_hub *hub, size_t i) {
  gv_timer *t = hub->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(t, hub->heap[parent])) break;
    place(hub, i, hub->heap[parent]);
    i = parent;
  }
  place(hub, i, t);
}

static void sift_down(gv_hub *hub, size_t i) {
  gv_timer *t = hub->heap[i];
  size_t n = hub->nheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(hub->heap[c + 1], hub->heap[c])) c++;
    if (!before(hub->heap[c], t)) break;
    place(hub, i, hub->heap[c]);
    i = c;
  }
  place(hub, i, t);
}

int gv__timers_init(gv_hub *hub) {
  hub->heap_cap = 64;
  hub->heap = malloc(hub->heap_cap * sizeof *hub->heap);
  hub->nheap = 0;
  return hub->heap ? 0 : -1;
}

void gv__timers_free(gv_hub *hub) {
  for (size_t i = 0; i < hub->nheap; i++) hub->heap[i]->index = 0;
  free(hub->heap);
  hub->heap = NULL;
  hub->nheap = hub->heap_cap = 0;
}

/* Starts 't' to call fn in hub context 'seconds' from the loop's time.
** Restarts it if active. Allocates only when the heap grows. */
void gv_timer_start(gv_hub *hub, gv_timer *t, double seconds, gv_timer_fn fn) {
  if (t->index) gv_timer_stop(hub, t);
  if (hub->nheap == hub->heap_cap) {
    size_t cap = hub->heap_cap * 2;
    gv_timer **h = realloc(hub->heap, cap * sizeof *h);
    if (!h) abort(); /* out of memory on a timer: nothing sane to do */
    hub->heap = h;
    hub->heap_cap = cap;
  }
  /* NaN waits no time, as a negative wait does (a NaN deadline would
  ** break the heap's order and make the poll's wait NaN: forever); past
  ** GV_TIMER_MAX is as good as never and keeps the deadline finite */
  if (!(seconds > 0)) seconds = 0;
  else if (seconds > GV_TIMER_MAX) seconds = GV_TIMER_MAX;
  t->at = ev_now(hub->loop) + seconds;
  t->seq = ++hub->timer_seq;
  t->fn = fn;
  place(hub, hub->nheap++, t);
  sift_up(hub, hub->nheap - 1);
}

void gv_timer_stop(gv_hub *hub, gv_timer *t) {
  if (!t->index) return;
  size_t i = t->index - 1;
  t->index = 0;
  gv_timer *last = hub->heap[--hub->nheap];
  if (last == t) return;
  place(hub, i, last);
  if (i > 0 && before(last, hub->heap[(i - 1) / 2])) sift_up(hub, i);
  else sift_down(hub, i);
}

void gv__timers_expire(gv_hub *hub) {
  double now = ev_now(hub->loop);
  while (hub->nheap && hub->heap[0]->at <= now) {
    gv_timer *t = hub->heap[0];
    gv_timer_stop(hub, t);
    t->fn(hub, t);
  }
}

double gv__timers_next(gv_hub *hub) {
  if (!hub->nheap) return -1;
  double d = hub->heap[0]->at - ev_now(hub->loop);
  return d < 0 ? 0 : d;
}
