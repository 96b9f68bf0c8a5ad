/*
** work.c - work on OS threads: a small process-wide pool of pthreads runs
** blocking calls (getaddrinfo, ...) that must never stall the hub. Each hub
** gets an ev_async watcher through which finished work comes back; it is
** ev_unref'd while nothing is pending, so an idle pool never keeps the loop
** alive, and ref'd while work is in flight, so a greenlet waiting for a
** result is not mistaken for a deadlock.
*/
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include "gv.h"

#define GV_WORK_MAX_THREADS 8

enum { W_QUEUED = 1, W_RUNNING, W_FINISHED, W_TAKEN };

/* Per-hub completion point. */
typedef struct gv_workhub {
  gv_hub *hub;
  ev_async async;
  gv_work *done_head, *done_tail;  /* finished, not yet dispatched */
  int pending;                     /* submitted, not yet dispatched */
  int dead;                        /* hub shut down: drop late results */
  struct gv_workhub *next;
} gv_workhub;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static gv_work *queue_head, *queue_tail;
static int nthreads, nidle;
static gv_workhub *hubs;

static void *worker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  for (;;) {
    while (!queue_head) {
      nidle++;
      pthread_cond_wait(&cv, &mu);
      nidle--;
    }
    gv_work *w = queue_head;
    queue_head = w->next;
    if (!queue_head) queue_tail = NULL;
    w->next = NULL;
    w->state = W_RUNNING;
    pthread_mutex_unlock(&mu);
    w->run(w);
    pthread_mutex_lock(&mu);
    w->state = W_FINISHED;
    gv_workhub *wh = w->wh;
    if (wh->dead) {
      /* the hub is gone: nobody can take the result */
      if (--wh->pending == 0) free(wh);
      continue;
    }
    if (wh->done_tail) wh->done_tail->next = w;
    else wh->done_head = w;
    wh->done_tail = w;
    ev_async_send(wh->hub->loop, &wh->async);
  }
  return NULL;
}

/* Hub context: hands finished work to its owners. */
static void async_cb(struct ev_loop *loop, ev_async *a, int revents) {
  (void)revents;
  gv_workhub *wh = gv_container_of(a, gv_workhub, async);
  pthread_mutex_lock(&mu);
  gv_work *w = wh->done_head;
  wh->done_head = wh->done_tail = NULL;
  pthread_mutex_unlock(&mu);
  while (w) {
    gv_work *next = w->next;
    w->next = NULL;
    pthread_mutex_lock(&mu);
    int left = --wh->pending;
    pthread_mutex_unlock(&mu);
    if (left == 0) ev_unref(loop);
    if (!gv_waitq_empty(&w->waiters)) {
      w->state = W_TAKEN;                 /* the waiter owns w now */
      gv_waitq_wake_all(&w->waiters);
    } else if (w->done) {
      w->done(wh->hub, w);
    }
    w = next;
  }
}

/* The pool's threads outlive Lua states: when this code is in a Lua C
** module (gvlua.so), lua_close would dlclose it under their feet. Before
** the first thread starts, the object holding this code is pinned. */
static void pin_code(void) {
  static int pinned;
  if (pinned) return;
  pinned = 1;
  Dl_info info;
  if (dladdr((void *)worker, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
}

/* Finds or creates the completion point of 'hub'. Called with mu held. */
static gv_workhub *workhub(gv_hub *hub) {
  for (gv_workhub *wh = hubs; wh; wh = wh->next)
    if (wh->hub == hub) return wh;
  gv_workhub *wh = calloc(1, sizeof *wh);
  if (!wh) return NULL;
  wh->hub = hub;
  ev_async_init(&wh->async, async_cb);
  ev_async_start(hub->loop, &wh->async);
  ev_unref(hub->loop);
  wh->next = hubs;
  hubs = wh;
  return wh;
}

static int submit(gv_hub *hub, gv_work *w) {
  pthread_mutex_lock(&mu);
  gv_workhub *wh = workhub(hub);
  if (!wh) {
    pthread_mutex_unlock(&mu);
    return -ENOMEM;
  }
  if (nidle == 0 && nthreads < GV_WORK_MAX_THREADS) {
    pin_code();
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024);
    if (pthread_create(&t, &a, worker, NULL) == 0) nthreads++;
    pthread_attr_destroy(&a);
    if (nthreads == 0) {
      pthread_mutex_unlock(&mu);
      return -EAGAIN;
    }
  }
  w->wh = wh;
  w->next = NULL;
  w->state = W_QUEUED;
  if (wh->pending++ == 0) ev_ref(hub->loop);
  if (queue_tail) queue_tail->next = w;
  else queue_head = w;
  queue_tail = w;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  return 0;
}

int gv_work_submit(gv_hub *hub, gv_work *w) {
  gv_waitq_init(&w->waiters);
  return submit(hub, w);
}

static void work_timed_out(gv_hub *hub, gv_timer *t) {
  (void)hub;
  gv_wake(gv_container_of(t, gv_greenlet, timer), GV_WAKE_TIMEOUT);
}

int gv_work_wait(gv_hub *hub, lua_State *L, gv_work *w, double timeout,
                 lua_KContext ctx, gv_kfunction k) {
  gv_greenlet *g = gv_check_block(hub, L);
  gv_waitq_init(&w->waiters);
  int err = submit(hub, w);
  if (err) return err;
  g = gv_prepare_block(hub, L, "work on an OS thread");
  g->flags |= GV_F_CATCH;  /* k runs on a throw too, to free what it owns */
  gv_link_append(&w->waiters.head, &g->wait);
  if (timeout >= 0) {
    gv__update_now(hub);
    gv_timer_start(hub, &g->timer, timeout, work_timed_out);
  }
  return gv_block(hub, L, ctx, k);
}

int gv_work_taken(gv_work *w) {
  pthread_mutex_lock(&mu);
  int taken = w->state == W_TAKEN;
  pthread_mutex_unlock(&mu);
  return taken;
}

void gv_work_shutdown(gv_hub *hub) {
  pthread_mutex_lock(&mu);
  gv_workhub **p = &hubs;
  while (*p && (*p)->hub != hub) p = &(*p)->next;
  gv_workhub *wh = *p;
  if (!wh) {
    pthread_mutex_unlock(&mu);
    return;
  }
  *p = wh->next;
  /* results already back but not dispatched: drop them */
  for (gv_work *w = wh->done_head; w; w = w->next) wh->pending--;
  wh->done_head = wh->done_tail = NULL;
  if (hub->loop) {
    if (wh->pending == 0) ev_ref(hub->loop);
    ev_async_stop(hub->loop, &wh->async);
  }
  wh->dead = 1;
  int keep = wh->pending > 0;   /* workers still hold items: they free wh */
  pthread_mutex_unlock(&mu);
  if (!keep) free(wh);
}
