/*
** work.c - the one pool of OS threads: blocking calls (getaddrinfo, the
** thread pool's Lua functions) run here so they never stall a hub. Each
** hub gets an ev_async watcher through which finished work comes back; it
** is ev_unref'd while nothing is pending, so an idle pool never keeps the
** loop alive, and ref'd while work is in flight, so a greenlet waiting for
** a result is not mistaken for a deadlock. Threads start on demand up to a
** limit and stay; jobs can keep per-thread state (gv_work_key). After
** fork() the pool starts over in the child (see gv_work in gv.h).
*/
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

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
static int nthreads, nidle, nqueued, reserved;
static gv_workhub *hubs;
#define MAX_THREADS 1024
static gv_work *running[MAX_THREADS]; /* jobs on a thread now, for fork */
static int nkeys;

/* Every pool thread's states, by thread and gv_work_key slot. Globals, not
** thread-locals, so they stay reachable for leak checkers; a fork's child
** can neither run nor free its parent's (a job may have been midway), so
** fork_child moves them to 'forked', where they stay reachable too. */
static void *states[MAX_THREADS][GV_WORK_KEYS];
static __thread int self = -1;      /* this pool thread's index */
typedef struct forked_states {
  struct forked_states *next;
  void *s[MAX_THREADS][GV_WORK_KEYS];
} forked_states;
static forked_states *forked;

static void enqueue_front(gv_work *w) {
  w->next = queue_head;
  queue_head = w;
  if (!queue_tail) queue_tail = w;
  nqueued++;
}

static void *worker(void *arg) {
  int me = (int)(intptr_t)arg;
  self = me;
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
    nqueued--;
    w->next = NULL;
    w->state = W_RUNNING;
    running[me] = w;
    pthread_mutex_unlock(&mu);
    w->run(w);
    pthread_mutex_lock(&mu);
    running[me] = NULL;
    w->state = W_FINISHED;
    gv_workhub *wh = w->wh;
    if (wh->dead) {
      /* the hub is gone: nobody can take the result */
      if (--wh->pending == 0) free(wh);
      if (w->drop) {
        pthread_mutex_unlock(&mu);
        w->drop(w);
        pthread_mutex_lock(&mu);
      }
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

/* ---- fork --------------------------------------------------------------- */

/* The parent holds mu across fork(), so the child's copy of the pool is
** consistent. The child has only the forking thread: the pool's threads
** are gone, so jobs that were running go back to the front of the queue
** (run again from the start) and new threads are started for the queue
** at the next submit or gv__work_after_fork. Per-thread states of the
** parent's threads are kept, never run nor freed (see 'states'). */
static void fork_prepare(void) { pthread_mutex_lock(&mu); }
static void fork_parent(void) { pthread_mutex_unlock(&mu); }
static void fork_child(void) {
  pthread_mutex_unlock(&mu);
  pthread_cond_init(&cv, NULL);
  for (int i = 0; i < nthreads; i++) {
    if (running[i]) {
      running[i]->state = W_QUEUED;
      enqueue_front(running[i]);
      running[i] = NULL;
    }
  }
  nthreads = nidle = 0;
  int any = 0;
  for (int i = 0; i < MAX_THREADS * GV_WORK_KEYS && !any; i++)
    any = (&states[0][0])[i] != NULL;
  forked_states *f = any ? malloc(sizeof *f) : NULL;
  if (f) { /* else there are none, or they are only leaked */
    memcpy(f->s, states, sizeof states);
    f->next = forked;
    forked = f;
  }
  memset(states, 0, sizeof states);
}

static void atfork_once(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void install_atfork(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, atfork_once);
}

/* Starts threads until every queued job has one or the limit is reached
** (mu held). 0, or -errno when no thread runs at all. */
static int start_threads(void) {
  int limit = GV_WORK_THREADS + reserved;
  if (limit > MAX_THREADS) limit = MAX_THREADS;
  int err = 0;
  while (nqueued > nidle && nthreads < limit) {
    pin_code();
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024);
    running[nthreads] = NULL;
    err = pthread_create(&t, &a, worker, (void *)(intptr_t)nthreads);
    pthread_attr_destroy(&a);
    if (err) break;
    nthreads++;
  }
  return nthreads == 0 && err ? -err : 0;
}

void gv__work_after_fork(void) {
  pthread_mutex_lock(&mu);
  start_threads();
  for (gv_workhub *wh = hubs; wh; wh = wh->next)
    if (wh->done_head) ev_async_send(wh->hub->loop, &wh->async);
  pthread_mutex_unlock(&mu);
}

/* ---- submitting --------------------------------------------------------- */

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
  install_atfork();
  pthread_mutex_lock(&mu);
  gv_workhub *wh = workhub(hub);
  if (!wh) {
    pthread_mutex_unlock(&mu);
    return -ENOMEM;
  }
  w->wh = wh;
  w->next = NULL;
  w->state = W_QUEUED;
  if (queue_tail) queue_tail->next = w;
  else queue_head = w;
  queue_tail = w;
  nqueued++;
  int err = start_threads();
  if (err) { /* no thread at all: take it back */
    gv_work **p = &queue_head, *prev = NULL;
    while (*p != w) { prev = *p; p = &(*p)->next; }
    *p = w->next;
    if (queue_tail == w) queue_tail = prev;
    nqueued--;
    pthread_mutex_unlock(&mu);
    return err;
  }
  if (wh->pending++ == 0) ev_ref(hub->loop);
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  return 0;
}

int gv_work_submit(gv_hub *hub, gv_work *w) {
  gv_waitq_init(&w->waiters);
  return submit(hub, w);
}

/* The hub closed with w's waiter still suspended: w is released here if
** it was handed to the waiter already, else by the pool (gv_work_shutdown
** or its thread), since the waiter is no longer in w->waiters. */
static void work_release(void *p) {
  gv_work *w = p;
  pthread_mutex_lock(&mu);
  int taken = w->state == W_TAKEN;
  pthread_mutex_unlock(&mu);
  if (taken && w->drop) w->drop(w);
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
  g->owned = w;
  g->release = work_release;
  return gv_block_timeout(hub, L, timeout, ctx, k);
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
  int unrefd = wh->pending == 0; /* the async watcher does not hold the loop */
  /* results already back but not dispatched, and jobs still queued
  ** (cancelled: they will not run): dropped; running ones are dropped by
  ** their thread when they finish */
  gv_work *dropped = wh->done_head;
  for (gv_work *w = dropped; w; w = w->next) wh->pending--;
  wh->done_head = wh->done_tail = NULL;
  gv_work **q = &queue_head, *prev = NULL;
  while (*q) {
    gv_work *w = *q;
    if (w->wh != wh) { prev = w; q = &w->next; continue; }
    *q = w->next;
    if (queue_tail == w) queue_tail = prev;
    nqueued--;
    wh->pending--;
    w->next = dropped;
    dropped = w;
  }
  if (hub->loop) {
    if (unrefd) ev_ref(hub->loop); /* libev: before stopping it */
    ev_async_stop(hub->loop, &wh->async);
  }
  wh->dead = 1;
  int keep = wh->pending > 0;   /* workers still hold items: they free wh */
  pthread_mutex_unlock(&mu);
  if (!keep) free(wh);
  while (dropped) {
    gv_work *next = dropped->next;
    if (dropped->drop) dropped->drop(dropped);
    dropped = next;
  }
}

void gv_work_reserve(int n) {
  pthread_mutex_lock(&mu);
  reserved += n;
  if (reserved < 0) reserved = 0;
  pthread_mutex_unlock(&mu);
}

/* ---- per-thread state ---------------------------------------------------- */

static int key_slot(gv_work_key *key) {
  if (!key->slot) {
    pthread_mutex_lock(&mu);
    if (!key->slot && nkeys < GV_WORK_KEYS) key->slot = ++nkeys;
    pthread_mutex_unlock(&mu);
  }
  return key->slot - 1;
}

void *gv_work_state(gv_work_key *key) {
  int i = key_slot(key);
  if (i < 0 || self < 0) return NULL;
  void **s = &states[self][i];
  if (!*s) *s = key->init(key);
  return *s;
}

void gv_work_state_drop(gv_work_key *key) {
  int i = key_slot(key);
  if (i < 0 || self < 0 || !states[self][i]) return;
  void *s = states[self][i];
  states[self][i] = NULL;
  if (key->fini) key->fini(key, s);
}

gv_work_counts gv_work_counts_now(void) {
  pthread_mutex_lock(&mu);
  gv_work_counts c = {nthreads, nidle, nqueued, GV_WORK_THREADS + reserved};
  pthread_mutex_unlock(&mu);
  return c;
}
