/* test_timer.c - the timer heap: deadline order, equal deadlines in start
** order, stop from the middle, restart. */
#include <stdlib.h>
#include "internal.h"
#include "unit.h"

static int fired[64], nfired;
static gv_timer timers[64];

static void on_fire(gv_hub *hub, gv_timer *t) {
  (void)hub;
  fired[nfired++] = (int)(t - timers);
}

static void test_order(void) {
  gv_hub hub;
  CHECK(gv_hub_init(&hub, ev_loop_new(0), NULL) == 0);
  /* deadlines: i%4 * 1ms, inserted in index order */
  for (int i = 0; i < 40; i++)
    gv_timer_start(&hub, &timers[i], (i % 4) * 0.001, on_fire);
  gv_timer_stop(&hub, &timers[5]);
  gv_timer_start(&hub, &timers[6], 0.010, on_fire); /* restarted: last */
  CHECK(gv_timer_active(&timers[6]) && !gv_timer_active(&timers[5]));
  ev_sleep(0.02);
  ev_now_update(hub.loop);
  gv__timers_expire(&hub);
  CHECK(nfired == 39);
  /* expected: by deadline, then by start order */
  int k = 0, ok = 1;
  for (int d = 0; d < 4; d++)
    for (int i = 0; i < 40; i++)
      if (i % 4 == d && i != 5 && i != 6) ok &= fired[k++] == i;
  CHECK(ok);
  CHECK(fired[38] == 6);
  CHECK(gv__timers_next(&hub) == -1);
  struct ev_loop *loop = hub.loop;
  gv_hub_close(&hub);
  ev_loop_destroy(loop);
}

static void test_many(void) {
  gv_hub hub;
  CHECK(gv_hub_init(&hub, ev_loop_new(0), NULL) == 0);
  enum { N = 20000 };
  gv_timer *ts = calloc(N, sizeof *ts);
  srand(7);
  for (int i = 0; i < N; i++)
    gv_timer_start(&hub, &ts[i], (rand() % 1000) / 1e6, on_fire);
  for (int i = 0; i < N; i += 3) gv_timer_stop(&hub, &ts[i]);
  double last = -1;
  int ordered = 1, n = 0;
  while (hub.nheap) {
    gv_timer *t = hub.heap[0];
    ordered &= t->at >= last;
    last = t->at;
    gv_timer_stop(&hub, t);
    n++;
  }
  CHECK(ordered);
  CHECK(n == N - (N + 2) / 3);
  free(ts);
  struct ev_loop *loop = hub.loop;
  gv_hub_close(&hub);
  ev_loop_destroy(loop);
}

int main(void) {
  RUN(test_order);
  RUN(test_many);
  return unit_report();
}
