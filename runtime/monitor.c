/*
** monitor.c - watching a hub from outside: the counters the scheduler
** keeps while observation is on, and the monitor thread, which notices
** that the hub has not switched for max_blocking_time (a greenlet hogs it,
** or a C call blocks), that a greenlet ran longer than max_slice, or that
** memory use passed max_memory_usage.
**
** The monitor reads only counters and flags the hub's thread publishes
** with atomic stores; everything that touches Lua (the traceback of the
** code that blocks, raising SliceExceeded) happens on the hub's thread,
** through an interrupt request (interrupt.c). Nothing of this costs the
** scheduler more than one predictable branch while it is off.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

typedef struct gv_monitor {
  gv_hub *hub;
  pthread_t thread;
  pthread_mutex_t mu;          /* guards everything below */
  pthread_cond_t cv;           /* configuration changed, or stop */
  int stop;
  gv_monitor_config cfg;
  clockid_t cpu;               /* CPU clock of the hub's thread */
  int have_cpu;
  /* The block being watched: the hub's tick count the monitor last saw
  ** change, and when it saw it (the block began at most a period
  ** earlier). */
  uint64_t ticks;
  double wall0, cpu0, last;
  int reported;                /* 0, 1 requested, 2 delivered or noted */
  double requested_at;
  /* memory */
  double next_memory;
  int memory_over;
  /* events for the hub (hooks.monitor_event), sent with 'async' */
  ev_async async;
  int pending;                 /* bit (1 << event) */
  double value[3];
} gv_monitor;

/* ---- counters -------------------------------------------------------- */

static void bump(uint64_t *c) {
  __atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

void gv__observe_switch(gv_hub *hub, gv_greenlet *g) {
  bump(&hub->stats.switches);
  if ((hub->observe & GV_OBS_SWITCH) && hub->hooks.switched)
    hub->hooks.switched(hub, g);
}

void gv__observe_callback(gv_hub *hub) {
  bump(&hub->stats.callbacks);
}

void gv_observe(gv_hub *hub, unsigned bits, int on) {
  if (on) hub->observe |= (unsigned char)bits;
  else hub->observe &= (unsigned char)~bits;
  if (hub->monitor) hub->observe |= GV_OBS_COUNT;
}

static uint64_t ticks_of(gv_hub *hub) {
  return __atomic_load_n(&hub->stats.switches, __ATOMIC_RELAXED) +
         __atomic_load_n(&hub->stats.callbacks, __ATOMIC_RELAXED);
}

/* ---- clocks and memory ------------------------------------------------ */

static double clock_s(clockid_t c) {
  struct timespec ts;
  if (clock_gettime(c, &ts) != 0) return 0;
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono(void) { return clock_s(CLOCK_MONOTONIC); }

size_t gv_monitor_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size, resident;
  size_t rss = 0;
  if (!f) return 0;
  if (fscanf(f, "%lu %lu", &size, &resident) == 2)
    rss = (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
  fclose(f);
  return rss;
}

/* ---- reports from the monitor thread ---------------------------------- */

/* One write per report, so that lines from threads do not interleave. */
static void say(const char *msg) {
  size_t n = strlen(msg);
  while (n > 0) {
    ssize_t w = write(2, msg, n);
    if (w <= 0) break;
    msg += w;
    n -= (size_t)w;
  }
}

static void describe_running(gv_hub *hub, char *buf, size_t size) {
  gv_greenlet *g = __atomic_load_n(&hub->current, __ATOMIC_RELAXED);
  if (g && hub->hooks.describe) hub->hooks.describe(hub, g, buf, size);
  else snprintf(buf, size, g ? "a greenlet" : "the hub");
}

/* The report was asked for a period ago and no Lua code took it: the hub's
** thread is inside a C function. The greenlet cannot have changed (the
** tick count did not), so naming it from here reads settled fields. */
static void note_c_call(gv_monitor *m, double seconds) {
  char who[256], msg[512];
  describe_running(m->hub, who, sizeof who);
  snprintf(msg, sizeof msg,
           "gvlua: the hub has been blocked for %.3f s (max_blocking_time "
           "%g s) by %s, inside a C function; its traceback follows when "
           "it returns to Lua\n",
           seconds, m->cfg.max_blocking_time, who);
  say(msg);
}

static void post_event(gv_monitor *m, int event, double value) {
  m->pending |= 1 << event;
  m->value[event] = value;
  ev_async_send(m->hub->loop, &m->async);
}

static void check_memory(gv_monitor *m, double now) {
  if (!m->cfg.monitor_thread || m->cfg.max_memory_usage <= 0) return;
  if (now < m->next_memory) return;
  m->next_memory = now + m->cfg.memory_monitor_period;
  double rss = (double)gv_monitor_rss(), max = m->cfg.max_memory_usage;
  char msg[256];
  if (rss > max && !m->memory_over) {
    m->memory_over = 1;
    snprintf(msg, sizeof msg, "gvlua: memory usage %.1f MiB passed "
             "max_memory_usage (%.1f MiB)\n", rss / 1048576, max / 1048576);
    say(msg);
    post_event(m, GV_MON_MEMORY_OVER, rss);
  } else if (rss <= max && m->memory_over) {
    m->memory_over = 0;
    post_event(m, GV_MON_MEMORY_UNDER, rss);
  }
}

/* Seconds between two looks at the hub. */
static double period_of(const gv_monitor_config *c) {
  double p = 1;
  if (c->monitor_thread && c->max_blocking_time > 0)
    p = fmin(p, c->max_blocking_time / 2);
  if (c->max_slice > 0) p = fmin(p, c->max_slice / 4);
  if (c->monitor_thread && c->max_memory_usage > 0)
    p = fmin(p, c->memory_monitor_period);
  return fmax(p, 0.001);
}

/* One look at the hub (mu held). */
static void sample(gv_monitor *m) {
  gv_hub *hub = m->hub;
  double now = mono();
  uint64_t ticks = ticks_of(hub);
  int idle = __atomic_load_n(&hub->polling, __ATOMIC_RELAXED);
  double cpu = m->have_cpu ? clock_s(m->cpu) : 0;
  if (ticks != m->ticks || idle) { /* it moved: a new period begins */
    if (m->reported) {
      double total = hub->stats.blocked_time + (m->last - m->wall0);
      __atomic_store(&hub->stats.blocked_time, &total, __ATOMIC_RELAXED);
    }
    m->ticks = ticks;
    m->wall0 = m->last = now;
    m->cpu0 = cpu;
    m->reported = 0;
    check_memory(m, now);
    return;
  }
  m->last = now;
  double blocked = now - m->wall0;
  double mbt = m->cfg.max_blocking_time;
  if (m->cfg.monitor_thread && mbt > 0) {
    if (!m->reported && blocked >= mbt) {
      m->reported = 1;
      m->requested_at = now;
      bump(&hub->stats.blocked_reports);
      gv_interrupt(hub, GV_IRQ_REPORT);
    } else if (m->reported == 1 && now - m->requested_at >= period_of(&m->cfg)) {
      m->reported = 2;
      note_c_call(m, blocked);
    }
  }
  if (m->cfg.max_slice > 0 && m->have_cpu && cpu - m->cpu0 >= m->cfg.max_slice) {
    m->cpu0 = cpu; /* if it is caught and goes on, it gets another slice */
    gv_interrupt(hub, GV_IRQ_SLICE);
  }
  check_memory(m, now);
}

static void *monitor_main(void *arg) {
  gv_monitor *m = arg;
  pthread_mutex_lock(&m->mu);
  while (!m->stop) {
    double wake = mono() + period_of(&m->cfg);
    struct timespec ts;
    ts.tv_sec = (time_t)wake;
    ts.tv_nsec = (long)((wake - (double)ts.tv_sec) * 1e9);
    int r = 0;
    while (!m->stop && r != ETIMEDOUT)
      r = pthread_cond_timedwait(&m->cv, &m->mu, &ts);
    if (!m->stop) sample(m);
  }
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

/* ---- events, on the hub's thread ---------------------------------------- */

static void async_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop; (void)revents;
  gv_monitor *m = gv_container_of(w, gv_monitor, async);
  pthread_mutex_lock(&m->mu);
  int pending = m->pending;
  double value[3];
  memcpy(value, m->value, sizeof value);
  m->pending = 0;
  pthread_mutex_unlock(&m->mu);
  for (int e = 1; e <= 2; e++)
    if ((pending & (1 << e)) && m->hub->hooks.monitor_event)
      m->hub->hooks.monitor_event(m->hub, e, value[e]);
}

int gv_monitor_block(gv_hub *hub, unsigned bit, double *seconds) {
  gv_monitor *m = hub->monitor;
  *seconds = 0;
  if (!m) return 0;
  pthread_mutex_lock(&m->mu);
  int valid = ticks_of(hub) == m->ticks;
  if (valid) {
    if (bit == GV_IRQ_SLICE && m->have_cpu) {
      *seconds = m->cfg.max_slice;
    } else {
      *seconds = mono() - m->wall0;
      if (m->reported) m->reported = 2;
    }
  }
  pthread_mutex_unlock(&m->mu);
  return valid;
}

/* ---- starting and stopping ---------------------------------------------- */

static int start_thread(gv_monitor *m) {
  m->have_cpu = pthread_getcpuclockid(m->hub->thread, &m->cpu) == 0;
  m->ticks = ticks_of(m->hub);
  m->wall0 = m->last = mono();
  m->cpu0 = m->have_cpu ? clock_s(m->cpu) : 0;
  m->reported = 0;
  m->stop = 0;
  /* the monitor takes no signal: Ctrl-C and the rest go to the hub */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(&m->thread, NULL, monitor_main, m);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return -e;
}

static int wanted(const gv_monitor_config *c) {
  return c->monitor_thread || c->max_slice > 0;
}

static void sync_init(gv_monitor *m) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&m->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&m->mu, NULL);
}

int gv_monitor_configure(gv_hub *hub, const gv_monitor_config *cfg) {
  gv_monitor *m = hub->monitor;
  if (!wanted(cfg)) {
    gv__monitor_close(hub);
    return 0;
  }
  if (m) {
    pthread_mutex_lock(&m->mu);
    if (!cfg->monitor_thread || cfg->max_memory_usage <= 0)
      m->memory_over = 0;
    if (cfg->memory_monitor_period != m->cfg.memory_monitor_period)
      m->next_memory = 0;
    m->cfg = *cfg;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return 0;
  }
  int e = gv_irq_enable(hub);
  if (e != 0) return e;
  m = calloc(1, sizeof *m);
  if (!m) return -ENOMEM;
  m->hub = hub;
  m->cfg = *cfg;
  sync_init(m);
  ev_async_init(&m->async, async_cb);
  ev_async_start(hub->loop, &m->async);
  ev_unref(hub->loop);
  if ((e = start_thread(m)) != 0) {
    ev_ref(hub->loop);
    ev_async_stop(hub->loop, &m->async);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
    return e;
  }
  hub->monitor = m;
  gv_observe(hub, 0, 1);
  return 0;
}

void gv__monitor_close(gv_hub *hub) {
  gv_monitor *m = hub->monitor;
  if (!m) return;
  pthread_mutex_lock(&m->mu);
  m->stop = 1;
  pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->mu);
  pthread_join(m->thread, NULL);
  if (hub->loop && ev_is_active(&m->async)) {
    ev_ref(hub->loop);
    ev_async_stop(hub->loop, &m->async);
  }
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  free(m);
  hub->monitor = NULL;
  hub->observe &= (unsigned char)~GV_OBS_COUNT;
}

void gv_monitor_after_fork(gv_hub *hub) {
  gv_monitor *m = hub->monitor;
  if (!m) return;
  /* The thread is gone and may have held the lock: start afresh. */
  sync_init(m);
  m->pending = 0;
  if (start_thread(m) != 0) {
    ev_ref(hub->loop);
    ev_async_stop(hub->loop, &m->async);
    free(m);
    hub->monitor = NULL;
  }
}

/* ---- run info ------------------------------------------------------------ */

const char *gv_callback_name(const gv_callback *cb) {
  static const char *const names[] = {
    "a callback",
    "links and joiners of a dead greenlet",
    "wake-ups of an Event or AsyncResult",
    "a queue's hand-off to its waiters",
    "a function deferred to the hub",
  };
  return cb->kind < sizeof names / sizeof names[0] ? names[cb->kind]
                                                  : names[0];
}

gv_stats gv_stats_of(gv_hub *hub) {
  gv_stats s;
  s.switches = __atomic_load_n(&hub->stats.switches, __ATOMIC_RELAXED);
  s.callbacks = __atomic_load_n(&hub->stats.callbacks, __ATOMIC_RELAXED);
  s.blocked_reports = __atomic_load_n(&hub->stats.blocked_reports,
                                      __ATOMIC_RELAXED);
  __atomic_load(&hub->stats.blocked_time, &s.blocked_time, __ATOMIC_RELAXED);
  return s;
}

gv_greenlet *gv_alive_next(gv_hub *hub, gv_greenlet *g) {
  gv_link *l = g ? g->all.next : hub->alive.next;
  return l == &hub->alive ? NULL : gv_container_of(l, gv_greenlet, all);
}

const gv_callback *gv_runq_next(gv_hub *hub, const gv_callback *cb) {
  return cb ? cb->next : hub->runq_head;
}

double gv_next_timer(gv_hub *hub) {
  return gv__timers_next(hub);
}

gv_wait_info gv_wait_info_of(gv_hub *hub, const gv_greenlet *g) {
  gv_wait_info wi = {-1, 0, -1};
  if (gv_timer_active(&g->timer))
    wi.timer = g->timer.at - ev_now(hub->loop);
  if (g->state != GV_BLOCKED) return wi;
  if (ev_is_active(&g->io)) {
    wi.fd = g->io.fd;
    wi.events = g->io.events & (EV_READ | EV_WRITE);
  } else if (g->wait_obj) { /* a gv_fdwatch's waiter */
    const gv_fdwatch *w = g->wait_obj;
    wi.fd = g->waiting_fd;
    wi.events = (w->waiter[0] == g ? EV_READ : 0) |
                (w->waiter[1] == g ? EV_WRITE : 0);
  }
  return wi;
}
