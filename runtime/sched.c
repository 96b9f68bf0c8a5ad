/*
** sched.c - the scheduler: runner stacks, the run queue, resuming greenlets
** (fast path: lua_resume on a runner; slow path: switch to the stack the
** greenlet kept), blocking, polling libev and detecting when nothing can
** ever run again (LoopExit).
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define GV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GV_ASAN 1
#endif
#endif
#ifdef GV_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* A C stack running the scheduler loop. Free runners sit parked inside
** sched_loop; a greenlet suspended on the slow path holds its runner. */
struct gv_runner {
  gv_ctx ctx;
  gv_stack stack;
  gv_hub *hub;
  gv_runner *next_free;
};

/* Free runners kept parked for reuse; more are unmapped. */
#define GV_MAX_FREE_RUNNERS 16

static void sched_loop(gv_hub *hub) __attribute__((noreturn));

/* ---- switching C stacks ------------------------------------------------ */

/* Main thread's stack bounds, for AddressSanitizer's fiber annotations. */
#ifdef GV_ASAN
#include <pthread.h>
static void main_stack_bounds(const void **bottom, size_t *size) {
  static const void *b;
  static size_t s;
  if (!b) {
    pthread_attr_t a;
    void *addr;
    pthread_getattr_np(pthread_self(), &a);
    pthread_attr_getstack(&a, &addr, &s);
    pthread_attr_destroy(&a);
    b = addr;
  }
  *bottom = b;
  *size = s;
}
#endif

/* Switches from the running context (saved in 'from') to 'to', which runs
** on runner 'r' (NULL: the main greenlet's native stack). */
static void do_switch(gv_ctx *from, gv_ctx *to, gv_runner *r) {
#ifdef GV_ASAN
  void *fake = NULL;
  const void *bottom;
  size_t size;
  if (r) { bottom = r->stack.base; size = r->stack.size; }
  else main_stack_bounds(&bottom, &size);
  __sanitizer_start_switch_fiber(&fake, bottom, size);
  gv_ctx_switch(from, to);
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
  (void)r;
  gv_ctx_switch(from, to);
#endif
}

static void runner_entry(void *arg) {
  gv_runner *r = arg;
#ifdef GV_ASAN
  __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
  sched_loop(r->hub);
}

static gv_runner *runner_get(gv_hub *hub) {
  gv_runner *r = hub->free_runners;
  if (r) {
    hub->free_runners = r->next_free;
    hub->nfree_runners--;
    return r;
  }
  r = calloc(1, sizeof *r);
  if (!r || gv_stack_alloc(&r->stack, hub->stack_size) != 0) {
    fprintf(stderr, "gvlua: cannot allocate a C stack for a runner\n");
    abort();
  }
  r->hub = hub;
  gv_ctx_init(&r->ctx, r->stack.base, r->stack.size, runner_entry, r);
  hub->nrunners++;
  return r;
}

static void runner_destroy(gv_hub *hub, gv_runner *r) {
  gv_stack_free(&r->stack);
  free(r);
  hub->nrunners--;
}

/* Parks 'r' in the free list; unmaps a surplus runner that is not the one
** executing now. */
static void runner_put(gv_hub *hub, gv_runner *r) {
  r->next_free = hub->free_runners;
  hub->free_runners = r;
  hub->nfree_runners++;
  if (hub->nfree_runners > GV_MAX_FREE_RUNNERS) {
    gv_runner **p = &hub->free_runners;
    while (*p && *p == hub->runner) p = &(*p)->next_free;
    if (*p) {
      gv_runner *victim = *p;
      *p = victim->next_free;
      hub->nfree_runners--;
      runner_destroy(hub, victim);
    }
  }
}

/* Frees all parked runners except the one executing now. */
void gv__runners_free(gv_hub *hub) {
  gv_runner *r = hub->free_runners, *keep = NULL;
  while (r) {
    gv_runner *next = r->next_free;
    if (r == hub->runner) keep = r;
    else runner_destroy(hub, r);
    r = next;
  }
  hub->free_runners = keep;
  if (keep) keep->next_free = NULL;
  hub->nfree_runners = keep ? 1 : 0;
}

/* Frees the stack a greenlet abandoned on the slow path (hub closing). */
void gv__runner_abandon(gv_hub *hub, gv_runner *r) {
  if (r && r != hub->runner) runner_destroy(hub, r);
}

/* Where a greenlet suspended on the slow path keeps its context: in the
** runner it holds (one suspended context per stack), or for the main
** greenlet, which runs on the host's stack, in the hub. */
static gv_ctx *saved_ctx(gv_hub *hub, gv_greenlet *g) {
  return g->runner ? &g->runner->ctx : &hub->main_ctx;
}

/* Slow path: suspends the running greenlet 'g' with its C stack and runs
** the scheduler on a free runner until someone resumes g. */
static void switch_out(gv_hub *hub, gv_greenlet *g) {
  g->runner = hub->runner;
  g->flags |= GV_F_STACKFUL;
  gv_runner *r = runner_get(hub);
  hub->current = NULL;
  hub->runner = r;
  do_switch(saved_ctx(hub, g), &r->ctx, r);
  /* resumed by switch_into: current == g, runner == g->runner */
}

/* From the scheduler on runner 'self': resumes greenlet g on the stack it
** kept; 'self' is parked until the scheduler needs it again. */
static void switch_into(gv_hub *hub, gv_greenlet *g) {
  gv_runner *self = hub->runner;
  runner_put(hub, self);
  g->flags &= ~GV_F_STACKFUL;
  g->state = GV_RUNNING;
  hub->current = g;
  hub->runner = g->runner;
  do_switch(&self->ctx, saved_ctx(hub, g), g->runner);
  /* whoever switched back to 'self' set hub->runner = self */
}

/* ---- the run queue ----------------------------------------------------- */

void gv_schedule(gv_hub *hub, gv_callback *cb) {
  if (cb->queued) return;
  cb->queued = 1;
  cb->next = NULL;
  if (hub->runq_tail) hub->runq_tail->next = cb;
  else hub->runq_head = cb;
  hub->runq_tail = cb;
  hub->runq_len++;
}

void gv_unschedule(gv_hub *hub, gv_callback *cb) {
  if (!cb->queued) return;
  gv_callback **p = &hub->runq_head, *prev = NULL;
  while (*p && *p != cb) { prev = *p; p = &(*p)->next; }
  if (!*p) return;
  *p = cb->next;
  if (hub->runq_tail == cb) hub->runq_tail = prev;
  cb->queued = 0;
  hub->runq_len--;
}

void gv_schedule_after(gv_hub *hub, gv_callback *cb, gv_callback *after) {
  if (cb->queued) return;
  gv_callback *last = hub->next_last;
  int extend = last && last->queued && (!after || after == last);
  if (!after && extend) after = last;
  cb->queued = 1;
  hub->runq_len++;
  if (after && after->queued) {
    cb->next = after->next;
    after->next = cb;
    if (hub->runq_tail == after) hub->runq_tail = cb;
  } else {
    cb->next = hub->runq_head;
    hub->runq_head = cb;
    if (!hub->runq_tail) hub->runq_tail = cb;
  }
  if (extend || hub->runq_head == cb) hub->next_last = cb;
}

static gv_callback *runq_pop(gv_hub *hub) {
  gv_callback *cb = hub->runq_head;
  hub->runq_head = cb->next;
  if (!hub->runq_head) hub->runq_tail = NULL;
  hub->runq_len--;
  cb->queued = 0;
  return cb;
}

/* Fast path and first start: resumes g's thread on this runner. */
static void resume(gv_hub *hub, gv_greenlet *g) {
  int nargs, nres = 0;
  if (!(g->flags & GV_F_STARTED)) {
    if (!g->L) hub->hooks.materialize(hub, g);
    g->flags |= GV_F_STARTED;
    if (!g->L) { /* no memory for its thread: it dies at once */
      g->state = GV_DEAD;
      gv_link_remove(&g->all);
      hub->nalive--;
      hub->hooks.finished(hub, g, LUA_ERRMEM, 0);
      return;
    }
    nargs = g->nargs;
  } else {
    nargs = g->wake == GV_WAKE_THROW ? 1 : 0;
  }
  g->state = GV_RUNNING;
  hub->current = g;
  int status = lua_resume(g->L, NULL, nargs, &nres);
  hub->current = NULL;
  if (status == LUA_YIELD) {
    if (g->state == GV_RUNNING) { /* a yield that was not ours */
      lua_pop(g->L, nres);
      g->state = GV_READY;
      gv_schedule(hub, &g->run);
      if (hub->hooks.stray_yield) hub->hooks.stray_yield(hub, g);
    }
    return;
  }
  g->state = GV_DEAD;
  gv_link_remove(&g->all);
  hub->nalive--;
  hub->hooks.finished(hub, g, status, nres);
}

static void run_one(gv_hub *hub, gv_callback *cb) {
  hub->next_last = NULL; /* a new entry: its "next" chain starts empty */
  if (cb->fn) {
    if (__builtin_expect(hub->observe != 0, 0)) gv__observe_callback(hub);
    cb->fn(hub, cb);
    return;
  }
  gv_greenlet *g = gv_container_of(cb, gv_greenlet, run);
  if (g->state != GV_READY) return;
  /* the only cost of observation (counters, events, the monitor) while
  ** it is off: this branch */
  if (__builtin_expect(hub->observe != 0, 0)) gv__observe_switch(hub, g);
  if (g->flags & GV_F_STACKFUL) switch_into(hub, g);
  else resume(hub, g);
}

/* ---- polling ----------------------------------------------------------- */

/* Polls libev: max_wait < 0 blocks until the next event or timer, 0 does
** not wait. Runs expired timers. Returns the number of active watchers
** other than the hub's own timer. */
static int poll_io(gv_hub *hub, double max_wait) {
  double t = gv__timers_next(hub);
  if (max_wait >= 0 && (t < 0 || max_wait < t)) t = max_wait;
  if (hub->nfdcheck) gv__io_check(hub); /* before libev hands them to epoll */
  int flags = EVRUN_ONCE;
  if (t == 0) flags = EVRUN_NOWAIT;
  else if (t > 0) {
    ev_timer_set(&hub->timer_watcher, t, 0.);
    ev_timer_start(hub->loop, &hub->timer_watcher);
  }
  /* waiting in the poller is idleness, not a block (the monitor reads it) */
  if (t != 0) __atomic_store_n(&hub->polling, 1, __ATOMIC_RELAXED);
  int active = ev_run(hub->loop, flags);
  if (t != 0) __atomic_store_n(&hub->polling, 0, __ATOMIC_RELAXED);
  if (ev_is_active(&hub->timer_watcher)) {
    ev_timer_stop(hub->loop, &hub->timer_watcher);
    active--;
  }
  gv__timers_expire(hub);
  return active;
}

/* Reads a coarse clock (a few ns through the vDSO); polls I/O when it has
** moved, so busy greenlets trading sleep(0) still let I/O and timers in
** without a syscall per switch. */
static long coarse_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

int gv__update_now(gv_hub *hub) {
  long tick = coarse_now();
  if (tick == hub->coarse_tick) return 0;
  hub->coarse_tick = tick;
  ev_now_update(hub->loop);
  return 1;
}

double gv_now(gv_hub *hub) {
  gv__update_now(hub);
  return ev_now(hub->loop);
}

static void maybe_poll(gv_hub *hub) {
  long tick = coarse_now();
  if (tick != hub->coarse_tick) {
    hub->coarse_tick = tick;
    poll_io(hub, 0);
  }
}

/* Nothing is runnable, no timer is pending and no watcher can fire. */
static void on_deadlock(gv_hub *hub) {
  gv_greenlet *m = hub->main;
  if (hub->exit_waiter) {
    gv_greenlet *g = hub->exit_waiter;
    hub->exit_waiter = NULL;
    gv_wake(g, GV_WAKE_NORMAL);
  } else if (m && m->state == GV_BLOCKED && m->blocked_L) {
    hub->hooks.push_loop_exit(hub, hub->L);
    gv_throw(m, hub->L);
  } else {
    fprintf(stderr, "gvlua: every greenlet is blocked forever and the main "
                    "greenlet is not waiting\n");
    abort();
  }
}

static void wake_idlers(gv_hub *hub) {
  while (!gv_link_empty(&hub->idlers)) {
    gv_greenlet *g = gv_container_of(hub->idlers.next, gv_greenlet, wait);
    gv_wake(g, GV_WAKE_NORMAL);
  }
}

static void step_done(gv_hub *hub) {
  gv_greenlet *m = hub->step_waiter;
  hub->step_waiter = NULL;
  double t = hub->runq_head ? 0 : hub->step_timeout;
  if (t >= 0) poll_io(hub, t);
  gv_wake(m, GV_WAKE_NORMAL);
}

static void sched_loop(gv_hub *hub) {
  for (;;) {
    if (hub->runq_head) {
      /* One batch: what was queued when it began, in FIFO order. */
      size_t n = hub->runq_len;
      while (n-- && hub->runq_head) run_one(hub, runq_pop(hub));
      if (hub->step_waiter) step_done(hub);
      else maybe_poll(hub);
      continue;
    }
    if (hub->step_waiter) { step_done(hub); continue; }
    if (!gv_link_empty(&hub->idlers)) {
      poll_io(hub, 0);
      if (!hub->runq_head) wake_idlers(hub);
      continue;
    }
    int active = poll_io(hub, -1);
    hub->coarse_tick = coarse_now();
    if (!hub->runq_head && !hub->nheap && active <= 0) on_deadlock(hub);
  }
}

/* ---- blocking ---------------------------------------------------------- */

gv_greenlet *gv_check_block(gv_hub *hub, lua_State *L) {
  gv_greenlet *g = hub->current;
  if (!g) {
    lua_pushliteral(L, "cannot block in the hub: a hub callback must not "
                       "wait (spawn a greenlet for that)");
    lua_error(L);
  }
  if (!(L == g->L && lua_isyieldable(L)) && lua_gc(L, LUA_GCISRUNNING) < 0) {
    lua_pushliteral(L, "cannot block inside a __gc finalizer");
    lua_error(L);
  }
  return g;
}

gv_greenlet *gv_prepare_block(gv_hub *hub, lua_State *L, const char *what) {
  gv_greenlet *g = gv_check_block(hub, L);
  g->state = GV_BLOCKED;
  g->wake = GV_WAKE_NONE;
  g->waiting_on = what;
  return g;
}

static int block_k(lua_State *L, int status, lua_KContext ctx) {
  gv_greenlet *g = (gv_greenlet *)ctx;
  g->owned = NULL; /* the continuation's again */
  g->blocked_L = NULL;
  g->waiting_on = NULL;
  if (g->wake == GV_WAKE_THROW && !(g->flags & GV_F_CATCH))
    return lua_error(L); /* the thrown value is on top */
  g->flags &= ~GV_F_CATCH;
  return g->k(L, status, g->kctx);
}

int gv_can_yield(gv_hub *hub, lua_State *L) {
  gv_greenlet *g = hub->current;
  return g && L == g->L && !(g->flags & GV_F_MAIN) && lua_isyieldable(L);
}

int gv_block(gv_hub *hub, lua_State *L, lua_KContext ctx, gv_kfunction k) {
  gv_greenlet *g = hub->current;
  g->k = k;
  g->kctx = ctx;
  g->blocked_L = L;
  if (k && gv_can_yield(hub, L))
    return lua_yieldk(L, 0, (lua_KContext)g, block_k);
  switch_out(hub, g);
  if (k) return block_k(L, LUA_YIELD, (lua_KContext)g);
  /* C callers without a continuation: report the reason instead */
  g->blocked_L = NULL;
  g->waiting_on = NULL;
  if (g->wake == GV_WAKE_THROW && !(g->flags & GV_F_CATCH)) lua_error(L);
  g->flags &= ~GV_F_CATCH;
  return g->wake;
}

static void block_timed_out(gv_hub *hub, gv_timer *t) {
  (void)hub;
  gv_wake(gv_container_of(t, gv_greenlet, timer), GV_WAKE_TIMEOUT);
}

void gv__arm_timeout(gv_hub *hub, double timeout) {
  gv__update_now(hub);
  gv_timer_start(hub, &hub->current->timer, timeout, block_timed_out);
}

int gv_block_here(gv_hub *hub, lua_State *L) {
  return gv_block(hub, L, 0, NULL);
}

/* Ends g's wait (queue, timer, fd, custom cancel) and marks it ready. */
static void end_wait(gv_greenlet *g, int why) {
  gv_hub *hub = g->hub;
  if (!gv_link_empty(&g->wait)) gv_link_remove(&g->wait);
  if (g->timer.index) gv_timer_stop(hub, &g->timer);
  gv_io_stop(hub, &g->io);
  if (g->wait_obj) gv__fdwatch_detach(g);
  if (g->cancel) {
    void (*cancel)(gv_greenlet *) = g->cancel;
    g->cancel = NULL;
    cancel(g);
  }
  g->wake = (unsigned char)why;
  g->state = GV_READY;
}

void gv_wake(gv_greenlet *g, int why) {
  if (g->state != GV_BLOCKED) return;
  end_wait(g, why);
  gv_schedule(g->hub, &g->run);
}

gv_callback *gv_wake_after(gv_greenlet *g, int why, gv_callback *after) {
  if (g->state == GV_BLOCKED) {
    end_wait(g, why);
    gv_schedule_after(g->hub, &g->run, after);
  }
  return &g->run;
}

int gv_throw(gv_greenlet *g, lua_State *from) {
  if (!(g->flags & GV_F_STARTED) || g->state == GV_DEAD) {
    lua_pop(from, 1);
    return g->state == GV_DEAD ? -1 : 1;
  }
  lua_State *to = g->blocked_L;
  if (!to) { /* running: the caller raises it itself */
    lua_pop(from, 1);
    return -1;
  }
  lua_checkstack(to, 2);
  lua_xmove(from, to, 1);
  if (g->wake == GV_WAKE_THROW) lua_replace(to, -2); /* newest error wins */
  if (g->state == GV_BLOCKED) gv_wake(g, GV_WAKE_THROW);
  else g->wake = GV_WAKE_THROW;
  return 0;
}

static void sleep_done(gv_hub *hub, gv_timer *t) {
  (void)hub;
  gv_wake(gv_container_of(t, gv_greenlet, timer), GV_WAKE_NORMAL);
}

int gv_sleep(gv_hub *hub, lua_State *L, double seconds, lua_KContext ctx,
             gv_kfunction k) {
  gv_greenlet *g = gv_prepare_block(hub, L, "sleep");
  if (seconds > 0) {
    gv__update_now(hub);
    gv_timer_start(hub, &g->timer, seconds, sleep_done);
  } else {
    g->state = GV_READY;
    g->wake = GV_WAKE_NORMAL;
    gv_schedule(hub, &g->run);
  }
  return gv_block(hub, L, ctx, k);
}

int gv_idle(gv_hub *hub, lua_State *L, lua_KContext ctx, gv_kfunction k) {
  gv_greenlet *g = gv_prepare_block(hub, L, "idle");
  gv_link_append(&hub->idlers, &g->wait);
  return gv_block(hub, L, ctx, k);
}

int gv_run(gv_hub *hub, lua_State *L) {
  if (hub->exit_waiter) {
    lua_pushliteral(L, "another greenlet is already waiting for the loop "
                       "to finish");
    lua_error(L);
  }
  gv_greenlet *g = gv_prepare_block(hub, L, "wait() for all greenlets");
  hub->exit_waiter = g;
  gv_block_here(hub, L); /* a throw cuts the wait short: clear the slot */
  if (hub->exit_waiter == g) hub->exit_waiter = NULL;
  return 0;
}

int gv_step(gv_hub *hub, lua_State *L, double timeout) {
  gv_greenlet *g = gv_prepare_block(hub, L, "a step of the hub");
  hub->step_waiter = g;
  hub->step_timeout = timeout;
  gv_block_here(hub, L);
  if (hub->step_waiter == g) hub->step_waiter = NULL;
  return (int)hub->nalive;
}
