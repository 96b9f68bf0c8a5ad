/*
** gv.h - what the runtime offers the bindings: the hub (scheduler on
** libev), greenlets, blocking, timers, waits on one or many fds, wait
** queues, the work pool, child processes, signals and the resolver. Only
** runtime/ includes runtime/internal.h (context switch, stacks, runners,
** timer heap); embedders use include/gvlua.h instead of either.
**
** Fields marked "runtime's" in the structs below are read and written by
** runtime/ only; bindings go through the functions and inline accessors
** declared here (tests/boundary.sh checks that mechanically).
**
** Model. Each greenlet owns a Lua thread. The scheduler runs on "runner"
** C stacks and resumes greenlets there with lua_resume. A greenlet that
** blocks where its own thread can yield suspends with lua_yieldk (the fast
** path) and gives its runner back at once; one that blocks where it cannot
** yield (inside a C call, a nested coroutine, the main chunk) keeps its
** runner and switches C stacks (the slow path). Blocking primitives are
** written continuation-style (gv_block) so both paths share one code path.
*/
#ifndef GV_H
#define GV_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <poll.h>
#include <ev.h>
#include <lua.h>

#define gv_container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

typedef struct gv_hub gv_hub;
typedef struct gv_greenlet gv_greenlet;
typedef struct gv_runner gv_runner;

/* ---- context switch (ctx.c, ctx_<arch>.S) ---------------------------- */

/* A suspended C execution context: its saved stack pointer. */
#if defined(GV_CTX_UCONTEXT)
#include <ucontext.h>
typedef struct gv_ctx { ucontext_t uc; } gv_ctx;
#else
typedef struct gv_ctx { void *sp; } gv_ctx;
#endif

/* ---- stacks (stack.c) ------------------------------------------------ */

/* Installs (once per process) a SIGSEGV handler on an alternate stack that
** reports a guard-page hit with describe(arg) and aborts. */
void gv_stack_overflow_handler(void (*describe)(void *arg, int fd),
                               void *arg);

/* ---- the allocator for states gvlua owns (alloc.c) ------------------- */

typedef struct gv_alloc gv_alloc;
gv_alloc *gv_alloc_new(void);
/* Frees the allocator's memory: only after lua_close of its state. */
void gv_alloc_free(gv_alloc *a);
/* The lua_Alloc; ud is the gv_alloc. Safe to install on a running state. */
void *gv_alloc_f(void *ud, void *ptr, size_t osize, size_t nsize);

/* ---- intrusive lists --------------------------------------------------- */

typedef struct gv_link { struct gv_link *prev, *next; } gv_link;

static inline void gv_link_init(gv_link *l) { l->prev = l->next = l; }
static inline int gv_link_empty(const gv_link *l) { return l->next == l; }
static inline void gv_link_append(gv_link *head, gv_link *l) {
  l->prev = head->prev; l->next = head;
  head->prev->next = l; head->prev = l;
}
static inline void gv_link_remove(gv_link *l) {
  l->prev->next = l->next; l->next->prev = l->prev;
  l->prev = l->next = l;
}

/* ---- run queue entries ------------------------------------------------- */

/* Something the hub runs in FIFO order: a greenlet to resume (fn NULL) or
** a callback. Callbacks run in hub context: they must not block. */
typedef struct gv_callback gv_callback;
typedef void (*gv_callback_fn)(gv_hub *hub, gv_callback *cb);
struct gv_callback {
  gv_callback *next;
  gv_callback_fn fn;
  int queued;
  unsigned char kind;       /* GV_CB_*: what it is, for run info only */
};

/* Kinds of callbacks (gv_callback.kind, set by the owner with fn), named
** by gv_callback_name for run-info reports. */
enum {
  GV_CB_OTHER,    /* (zero: also greenlet entries, whose fn is NULL) */
  GV_CB_LINKS,    /* a dead greenlet's links and joiners */
  GV_CB_EVENT,    /* an Event's or AsyncResult's wake-ups */
  GV_CB_QUEUE,    /* a queue's hand-off to its waiters */
  GV_CB_DEFER     /* a function deferred to the hub (gevent.pool) */
};
const char *gv_callback_name(const gv_callback *cb);

/* Appends 'cb' to the run queue unless it is already queued. */
void gv_schedule(gv_hub *hub, gv_callback *cb);
/* Removes 'cb' from the run queue if it is there (O(queue length)). */
void gv_unschedule(gv_hub *hub, gv_callback *cb);
/* Queues 'cb' (unless already queued) to run right after 'after', or with
** 'after' NULL, next: after the entries the running callback or greenlet
** already queued this way, in order. This is how gevent's hub switches
** into greenlets from a callback (notify, unlock): each runs until it
** blocks before the callback goes on. O(1). */
void gv_schedule_after(gv_hub *hub, gv_callback *cb,
                       gv_callback *after);

/* ---- timers (timer.c) ------------------------------------------------- */

/* A one-shot timer owned by its user; fires in deadline order, equal
** deadlines in start order. fn runs in hub context. */
typedef struct gv_timer gv_timer;
typedef void (*gv_timer_fn)(gv_hub *hub, gv_timer *t);
struct gv_timer {
  double at;
  uint64_t seq;
  size_t index;     /* position in the heap + 1; 0 when inactive */
  gv_timer_fn fn;
};

/* Starts t to fire in 'seconds': negative or NaN is 0 (the next poll),
** more than GV_TIMER_MAX (about 30 years, +inf included) is GV_TIMER_MAX. */
#define GV_TIMER_MAX 1e9
void gv_timer_start(gv_hub *hub, gv_timer *t, double seconds,
                    gv_timer_fn fn);
void gv_timer_stop(gv_hub *hub, gv_timer *t);
static inline int gv_timer_active(const gv_timer *t) { return t->index != 0; }
/* ---- greenlets --------------------------------------------------------- */

enum gv_state {
  GV_NEW,       /* created, not started */
  GV_READY,     /* in the run queue, about to start or continue */
  GV_RUNNING,
  GV_BLOCKED,   /* suspended, waiting for a wake-up */
  GV_DEAD
};

/* Why a blocked greenlet was resumed. */
enum gv_wake {
  GV_WAKE_NONE,
  GV_WAKE_NORMAL,   /* what it waited for happened */
  GV_WAKE_TIMEOUT,  /* its wait's own timer fired */
  GV_WAKE_THROW     /* an error was thrown into it (kill, Timeout, LoopExit) */
};

/* Greenlet flags. */
#define GV_F_MAIN     0x01   /* the host's thread: always the slow path */
#define GV_F_STACKFUL 0x02   /* suspended on the slow path, holds ctx */
#define GV_F_CATCH    0x04   /* its blocking primitive handles throws itself */
#define GV_F_STARTED  0x08

typedef int (*gv_kfunction)(lua_State *L, int status, lua_KContext ctx);

/* A greenlet: memory owned by the bindings' object that embeds it.
** Fields marked "runtime's" are private to runtime/: bindings use the
** accessors below. The others: hub, L, nargs, state, wake and flags are
** readable; flags takes GV_F_CATCH from a primitive about to block;
** cancel is set by a primitive that has its own cleanup when its wait
** ends; run (with run.fn set) and timer are the owner's to use while the
** greenlet is new or dead (start_later, notifying links). */
struct gv_greenlet {
  gv_callback run;          /* run-queue entry (fn NULL) */
  gv_hub *hub;
  lua_State *L;             /* its own Lua thread (main: the host's) */
  lua_State *blocked_L;     /* runtime's: thread blocked in a primitive */
  gv_link all;              /* runtime's: in hub->alive while started */
  gv_link wait;             /* runtime's: in a gv_waitq while on one */
  gv_timer timer;           /* the current wait's timeout, or a sleep */
  ev_io io;                 /* runtime's: fd wait */
  gv_runner *runner;        /* runtime's: runner stack held on the slow
                            ** path (its saved context is there, or in
                            ** hub->main_ctx for the main greenlet) */
  gv_kfunction k;           /* runtime's: continuation of the block */
  lua_KContext kctx;        /* runtime's: see gv_wait_ctx */
  void (*cancel)(gv_greenlet *g); /* extra cleanup when a wait is cut short */
  /* C memory the current wait holds for its continuation (a lookup, a
  ** job): if the hub closes while the greenlet is still suspended (it is
  ** never resumed), gv_hub_close calls release(owned). Cleared when the
  ** continuation runs: it owns the memory again. */
  void *owned;
  void (*release)(void *owned);
  const char *waiting_on;   /* runtime's: see gv_waiting_on */
  int waiting_fd;           /* runtime's: fd of the current fd wait */
  void *wait_obj;           /* runtime's: the gv_fdwatch or fd set waited on */
  int nargs;                /* values on L for the first resume */
  unsigned char state, flags, wake;
};

/* What blocked greenlet g waits on ("sleep", "Queue.get", ...) for
** LoopExit and run-info reports; NULL when it is not blocked. */
static inline const char *gv_waiting_on(const gv_greenlet *g) {
  return g->waiting_on;
}
/* The context its continuation will get (gv_block's ctx), for primitives
** that keep per-waiter data there (an event's link order, a peek flag);
** gv_set_wait_ctx changes it while g waits. */
static inline lua_KContext gv_wait_ctx(const gv_greenlet *g) {
  return g->kctx;
}
static inline void gv_set_wait_ctx(gv_greenlet *g, lua_KContext ctx) {
  g->kctx = ctx;
}
/* Whether blocked g will continue in k (which primitive it is blocked in). */
static inline int gv_waits_in(const gv_greenlet *g, gv_kfunction k) {
  return g->k == k;
}
/* The Lua thread blocked g suspended in: a primitive that hands it values
** (a queue's put to a waiting get) pushes them there while g waits. */
static inline lua_State *gv_blocked_thread(const gv_greenlet *g) {
  return g->blocked_L;
}

/* The current greenlet, or NULL in hub context. */
static inline gv_greenlet *gv_current(gv_hub *hub);

/* ---- the hub (hub.c, sched.c) ---------------------------------------- */

/* Hooks the bindings give the runtime (Lua values live there). */
typedef struct gv_hooks {
  /* A greenlet's body returned (status LUA_OK, nres results on g->L) or
  ** raised (status > LUA_YIELD, error on top of g->L). Runs in hub context
  ** on the hub's runner, with hub->current == g. */
  void (*finished)(gv_hub *hub, gv_greenlet *g, int status, int nres);
  /* A greenlet without a thread (g->L NULL) is about to run for the first
  ** time: give it one holding its body (set g->L and g->nargs). Threads
  ** are made late so that greenlets that run one after another reuse
  ** finished threads. Leaving g->L NULL means out of memory. */
  void (*materialize)(gv_hub *hub, gv_greenlet *g);
  /* The main greenlet would wait forever: push the LoopExit error onto L. */
  void (*push_loop_exit)(gv_hub *hub, lua_State *L);
  /* A greenlet's thread yielded without blocking (a stray
  ** coroutine.yield at its top level). */
  void (*stray_yield)(gv_hub *hub, gv_greenlet *g);
  /* Interrupt requests (GV_IRQ_* bits) for the Lua code running now, on
  ** the hub's thread: from a Lua hook on L, the thread that runs (a
  ** greenlet's, or hub->L in hub context), or with L NULL from hub
  ** context when no Lua code ran to take them. May raise in L. */
  void (*interrupt)(gv_hub *hub, lua_State *L, unsigned bits);
  /* Greenlet g is about to run (only while GV_OBS_SWITCH is on). */
  void (*switched)(gv_hub *hub, gv_greenlet *g);
  /* A monitor event (GV_MON_*) in hub context: 'value' is its figure. */
  void (*monitor_event)(gv_hub *hub, int event, double value);
  /* Writes a one-line description of g ("greenlet \"name\" (spawned at
  ** file:line)") into buf. Must be async-signal-safe and read no Lua
  ** state: the monitor thread and signal handlers call it. */
  void (*describe)(gv_hub *hub, gv_greenlet *g, char *buf, size_t size);
} gv_hooks;

/* What the hub counts while observation is on (see gv_observe). The
** hub's thread writes switches and callbacks, the monitor thread the
** blocked_* figures; read them with gv_stats_of. */
typedef struct gv_stats {
  uint64_t switches;         /* greenlets resumed */
  uint64_t callbacks;        /* hub callbacks run */
  uint64_t blocked_reports;  /* blocks longer than max_blocking_time */
  double blocked_time;       /* seconds those blocks lasted, in all */
} gv_stats;

/* A hub: memory owned by the bindings. loop, L, hooks, main and ud are the
** bindings' to read (hooks and ud to set once); current through
** gv_current; everything from 'runner' on is the runtime's. */
struct gv_hub {
  struct ev_loop *loop;
  int own_loop;
  int backend_fd;            /* libev's epoll fd if known, else -1 */
  int evpipe_fd;             /* libev's wake-up eventfd if known, else -1 */
  lua_State *L;              /* hub's Lua thread, for callbacks */
  gv_hooks hooks;
  gv_greenlet *current;      /* NULL in hub context */
  gv_greenlet *main;
  void *ud;                  /* the bindings' data */
  /* the runtime's */
  gv_runner *runner;         /* runner whose stack runs now (NULL: main's) */
  gv_ctx main_ctx;           /* the main greenlet's context while it waits */
  gv_runner *free_runners;
  unsigned nfree_runners, nrunners;
  size_t stack_size;
  /* run queue */
  gv_callback *runq_head, *runq_tail;
  size_t runq_len;
  gv_callback *next_last;    /* last entry gv_schedule_after queued "next"
                             ** since the current entry started running */
  /* timers: binary min-heap on (at, seq) */
  gv_timer **heap;
  size_t nheap, heap_cap;
  uint64_t timer_seq;
  ev_timer timer_watcher;
  /* housekeeping */
  gv_link alive;             /* started greenlets not yet dead */
  size_t nalive;
  gv_greenlet *exit_waiter;  /* blocked in gevent.wait(): woken at loop exit */
  gv_link idlers;            /* greenlets in gevent.idle() (gv_greenlet.wait) */
  gv_greenlet *step_waiter;  /* main in gvlua_step: woken after one poll */
  double step_timeout;
  long coarse_tick;          /* coarse clock at last time update */
  struct gv_children *children; /* child.c's registry, made on first use */
  int *fdw;                  /* io.c: cancelable waiters per fd */
  size_t fdw_cap;
  /* fds whose epoll registration changes at the next poll (io.c) */
  struct pollfd *fdcheck;
  size_t nfdcheck, fdcheck_cap;
  int fdcheck_lost;          /* one could not be noted (no memory) */
  int fdcheck_top;           /* 1 + the highest fd ever noted */
  /* observation (monitor.c): the scheduler pays one predictable branch
  ** per run-queue entry on 'observe' and nothing else while it is 0 */
  unsigned char observe;     /* GV_OBS_* bits */
  unsigned char polling;     /* waiting in the poller (monitor reads it) */
  gv_stats stats;
  struct gv_monitor *monitor; /* the monitor thread, NULL when off */
  /* interrupts (interrupt.c) */
  unsigned irq;              /* pending GV_IRQ_* bits (atomic) */
  int irq_ready;             /* gv_irq_enable done */
  pthread_t thread;          /* the thread the hub runs on */
  ev_async irq_async;        /* wakes an idle hub for a request */
  struct gv_armed {          /* threads the interrupt hook is set on, and */
    lua_State *L;            /* the hook each had before */
    lua_Hook hook;
    int mask, count;
  } armed[4];
};

static inline gv_greenlet *gv_current(gv_hub *hub) { return hub->current; }

/* The loop's time in seconds, refreshed first if the coarse clock moved
** (timers count from it: read it for deadlines). */
double gv_now(gv_hub *hub);

/* The loop's own counts for run-info reports: iterations so far, watchers
** with events pending now, and its time without refreshing it. */
typedef struct gv_loop_info {
  unsigned long iterations;
  int pending;
  double now;
} gv_loop_info;
gv_loop_info gv_loop_info_of(gv_hub *hub);

/* Counts for run-info reports: greenlets started and not dead, entries in
** the run queue, active timers. */
typedef struct gv_hub_counts {
  size_t alive, runq, timers;
  unsigned runners, free_runners;   /* C stacks mapped, parked */
} gv_hub_counts;
static inline gv_hub_counts gv_hub_counts_of(const gv_hub *hub) {
  gv_hub_counts c = {hub->nalive, hub->runq_len, hub->nheap, hub->nrunners,
                     hub->nfree_runners};
  return c;
}

/* Initialises a hub on 'loop' (NULL: a new loop). 0 or -errno. */
int gv_hub_init(gv_hub *hub, struct ev_loop *loop, lua_State *L);
/* fork() for a process with a hub: stdio is flushed first; in the child
** the loop is re-made for the new process (ev_loop_fork) and the work
** pool starts over (jobs in flight are run again there); greenlets are
** kept, as gevent does. Returns fork's result (-1 with errno). Never
** switches greenlets. */
pid_t gv_hub_fork(gv_hub *hub);
/* Frees the hub's resources. Greenlets still suspended are abandoned. */
void gv_hub_close(gv_hub *hub);

/* Prepares 'g' (memory owned by the caller) to run a body on thread 'L'
** whose stack holds the function and 'nargs' arguments. */
void gv_greenlet_init(gv_hub *hub, gv_greenlet *g, lua_State *L,
                      int nargs);
/* Makes the host thread 'L' the main greenlet 'g'. */
void gv_greenlet_init_main(gv_hub *hub, gv_greenlet *g, lua_State *L);
/* Schedules a new greenlet to start (spawn). */
void gv_greenlet_start(gv_greenlet *g);
/* Stops a started greenlet that has not run yet from ever running. */
void gv_greenlet_cancel_start(gv_greenlet *g);

/* ---- blocking -------------------------------------------------------- */

/* Suspends the current greenlet, which must be 'L''s greenlet, until it is
** woken; then calls k(L, LUA_YIELD, ctx) and returns what k returns. On the
** fast path it never returns to its caller (lua_yieldk); use it as
** 'return gv_block(L, ctx, k);' from a lua_CFunction. Before calling it
** the primitive registers the greenlet where it will be woken (a wait
** queue, a timer, an fd). Unless GV_F_CATCH is set, a thrown error is
** raised at the blocking point instead of calling k. With k NULL it always
** takes the slow path and returns the wake reason (for C callers). */
int gv_block(gv_hub *hub, lua_State *L, lua_KContext ctx,
             gv_kfunction k);
/* The same for C callers that cannot return through Lua (embedders):
** always the slow path; returns the wake reason. Raises thrown errors. */
int gv_block_here(gv_hub *hub, lua_State *L);
/* Whether gv_block with a continuation would take the fast path (L's
** greenlet can yield here). A primitive that blocks again and again in a
** loop checks it: on the slow path, gv_block calls k from its own frame,
** so a k that blocks again nests a C frame per round (thousands of
** rounds overflow the stack); there it loops itself, blocking with k NULL
** (gv_block returns once woken), and uses k only on the fast path. */
int gv_can_yield(gv_hub *hub, lua_State *L);
/* gv_block with a limit: with timeout >= 0 (seconds) it first arms the
** greenlet's timer, whose expiry wakes it with GV_WAKE_TIMEOUT (gv_wake
** stops the timer however the wait ends). Every "wait for X or a timeout"
** primitive blocks through here. Switches greenlets; raises as gv_block. */
void gv__arm_timeout(gv_hub *hub, double timeout); /* sched.c */
static inline int gv_block_timeout(gv_hub *hub, lua_State *L, double timeout,
                                   lua_KContext ctx, gv_kfunction k) {
  if (timeout >= 0) gv__arm_timeout(hub, timeout);
  return gv_block(hub, L, ctx, k);
}
/* Checks that L's greenlet may block here; raises a Lua error if not.
** Returns the current greenlet. */
gv_greenlet *gv_check_block(gv_hub *hub, lua_State *L);
/* gv_check_block, then marks the greenlet GV_BLOCKED on 'what' (a static
** string for LoopExit reports). Register wake-ups next, then gv_block. */
gv_greenlet *gv_prepare_block(gv_hub *hub, lua_State *L,
                              const char *what);

/* Wakes blocked greenlet 'g' for 'why': cancels what else it waited on
** (wait queue, timer, fd, g->cancel) and schedules it. No-op unless g is
** GV_BLOCKED. */
void gv_wake(gv_greenlet *g, int why);
/* The same, queued with gv_schedule_after(hub, &g->run, after). Returns
** &g->run (to chain further entries after it). */
gv_callback *gv_wake_after(gv_greenlet *g, int why,
                           gv_callback *after);

/* Throws the value on top of 'from' into 'g' (pops it): g raises it at its
** blocking point when it next runs. Returns 0 when g is suspended (blocked
** or ready) and will raise it; 1 when g was new (it is marked dead without
** running); -1 when g is dead or running (the value is dropped: a running
** greenlet's caller raises the error itself). Never switches. */
int gv_throw(gv_greenlet *g, lua_State *from);

/* Sleep: 0 moves the current greenlet to the back of the run queue. */
int gv_sleep(gv_hub *hub, lua_State *L, double seconds,
             lua_KContext ctx, gv_kfunction k);

/* ---- wait queues (waitq.c) ------------------------------------------- */

/* FIFO of greenlets blocked on one thing (event, lock, queue, join). */
typedef struct gv_waitq { gv_link head; } gv_waitq;

static inline void gv_waitq_init(gv_waitq *q) { gv_link_init(&q->head); }
static inline int gv_waitq_empty(const gv_waitq *q) {
  return gv_link_empty(&q->head);
}
/* Blocks the current greenlet on 'q' until woken or 'timeout' seconds
** (negative: no limit). k sees the reason in gv_current(hub)->wake. */
int gv_waitq_wait(gv_hub *hub, gv_waitq *q, lua_State *L,
                  double timeout, const char *what,
                  lua_KContext ctx, gv_kfunction k);
/* Wakes the first / all waiters (GV_WAKE_NORMAL) in FIFO order. Returns
** how many were woken. */
int gv_waitq_wake_one(gv_waitq *q);
int gv_waitq_wake_all(gv_waitq *q);
/* First waiter without waking it, or NULL. */
gv_greenlet *gv_waitq_first(gv_waitq *q);
/* Moves g (blocked, or woken and not yet run) from whatever wait queue it
** is on to the back of q: primitives that reorder waiters or park woken
** ones (a lock's granted list) keep them in their own gv_waitq. */
static inline void gv_waitq_move(gv_waitq *q, gv_greenlet *g) {
  if (!gv_link_empty(&g->wait)) gv_link_remove(&g->wait);
  gv_link_append(&q->head, &g->wait);
}
/* Whether g is on a wait queue; gv_waitq_leave takes it off (no wake). */
static inline int gv_waitq_queued(const gv_greenlet *g) {
  return !gv_link_empty(&g->wait);
}
static inline void gv_waitq_leave(gv_greenlet *g) {
  if (!gv_link_empty(&g->wait)) gv_link_remove(&g->wait);
}

/* ---- fd waits (io.c) ------------------------------------------------- */

/* Whether fd may be given to libev, or closed by Lua code: 0, or -EBADF
** (not open) or -EINVAL (libev's own epoll fd or eventfd, known for loops
** the hub made). Waits check it before they register fd. */
int gv_fd_check(gv_hub *hub, int fd);

/* Every ev_io of the hub is started and stopped through these, never
** ev_io_start/ev_io_stop: libev aborts the process (an assertion in
** epoll_modify) when epoll_ctl refuses an fd, and an fd can be closed
** between a start and the next poll, where libev tells epoll. So these
** note the fd, and before each poll the hub checks the noted fds (one
** poll(2)); every watcher on an fd found closed gets a ready event with
** gv__fd_dead(fd) true (internal.h) and must stop itself (gv_wait_fd's greenlet is
** woken with EV_ERROR in its io.data; a gv_fdwatch's waiters too). */
void gv_io_start(gv_hub *hub, ev_io *w);
void gv_io_stop(gv_hub *hub, ev_io *w);

/* Blocks until fd is ready for events (EV_READ|EV_WRITE) or timeout.
** k sees gv_current(hub)->wake: GV_WAKE_NORMAL or GV_WAKE_TIMEOUT, and the
** ready events in gv_fd_events(gv_current(hub)): EV_ERROR when fd was
** closed behind the wait's back. Raises a Lua error if fd fails
** gv_fd_check (callers check first to raise their own). */
int gv_wait_fd(gv_hub *hub, lua_State *L, int fd, int events,
               double timeout, lua_KContext ctx, gv_kfunction k);

/* The events that ended g's last fd wait: EV_READ, EV_WRITE; EV_ERROR when
** the fd was closed behind the wait's back; GV_FD_CLOSED when gv_fd_cancel
** ended it; 0 when a gv_fdwatch wake-up or a timeout did. */
#define GV_FD_CLOSED 0x10000
static inline int gv_fd_events(const gv_greenlet *g) {
  return (int)(intptr_t)g->io.data &
         (EV_READ | EV_WRITE | EV_ERROR | GV_FD_CLOSED);
}

/* Makes the current greenlet's coming wait on fd (gv_wait_fd or
** gv_fdwatch_wait, called next) one that gv_fd_cancel can end: a socket
** about to be closed wakes its waiters first. Uses g->cancel. */
void gv__fd_cancelable(gv_hub *hub, gv_greenlet *g, int fd);  /* io.c */
void gv__fdw_cancel(gv_greenlet *g);                           /* io.c */
static inline void gv_fd_cancelable(gv_hub *hub, gv_greenlet *g, int fd) {
  if (fd >= 0 && (size_t)fd < hub->fdw_cap) { /* the common case, inline */
    hub->fdw[fd]++;
    g->cancel = gv__fdw_cancel;
  } else {
    gv__fd_cancelable(hub, g, fd);
  }
}
/* Wakes the greenlets in a cancelable wait on fd (they see GV_FD_CLOSED);
** returns how many. Call before closing fd. Only schedules. */
int gv_fd_cancel(gv_hub *hub, int fd);

/* A watcher owned by one file (a socket object) rather than by a
** greenlet. It stays armed between waits, so request/response traffic
** costs no epoll_ctl per wait; armed with nobody waiting it does not keep
** the loop alive, and it disarms itself when it fires for nobody. One
** reader and one writer wait through it at a time; further waiters, waits
** for both events at once and waits on another fd while it has waiters
** fall back to gv_wait_fd. The owner must gv_fdwatch_stop it before the
** fd is closed (a new file under the same number needs a new epoll
** registration) and before its memory is freed. */
typedef struct gv_fdwatch {
  ev_io io;
  gv_greenlet *waiter[2];   /* blocked reader, writer */
  gv_hub *hub;              /* of its last wait */
  unsigned char idle;       /* armed, nobody waiting: ev_unref'd */
} gv_fdwatch;

void gv_fdwatch_init(gv_fdwatch *w);
/* As gv_wait_fd, for EV_READ or EV_WRITE on fd through w. */
int gv_fdwatch_wait(gv_hub *hub, lua_State *L, gv_fdwatch *w, int fd,
                    int events, double timeout, lua_KContext ctx,
                    gv_kfunction k);
/* Whether w is armed for fd now (a wait on another fd re-registers). */
int gv_fdwatch_armed(const gv_fdwatch *w, int fd);
/* Disarms w (its waiters, if any, must have been woken). */
void gv_fdwatch_stop(gv_hub *hub, gv_fdwatch *w);

/* ---- waiting on many fds (select.c) ---------------------------------- */

/* A wait on several fds at once. 'set' is caller-owned memory of
** gv_select_size(n) bytes, zeroed before its first use, and 'fds' (poll(2)
** entries: POLLIN, POLLPRI, POLLOUT asked; negative fds ignored) stays the
** caller's too; both must stay valid until the wait ends (a userdata on
** L's stack does). The greenlet blocks until one fd is ready or 'timeout'
** seconds (negative: none); then revents are filled by poll(2) (POLLERR,
** POLLHUP, POLLNVAL reported too) and k(L, LUA_YIELD, ctx) is called. With
** k NULL it takes the slow path and returns the wake reason, revents
** filled. A set has one waiter at a time: a second raises. A caller that
** handles a throw itself (its own Timeout) sets GV_F_CATCH first. Switches
** greenlets; raises as gv_block. Allocates nothing. */
size_t gv_select_size(int n);
int gv_select_wait(gv_hub *hub, lua_State *L, void *set, struct pollfd *fds,
                   int n, double timeout, const char *what, lua_KContext ctx,
                   gv_kfunction k);
/* The greenlet waiting through 'set', or NULL (the set is idle). */
gv_greenlet *gv_select_waiter(const void *set);
/* Disarms 'set' without waking anyone (its owner is being freed; a waiter
** must have been woken first). */
void gv_select_stop(void *set);
/* poll(2) without waiting: fills revents, returns how many are set. */
int gv_select_poll(struct pollfd *fds, int n);
/* How many fds a select may take: RLIMIT_NOFILE as it is now (LuaSocket's
** _SETSIZE; there is no FD_SETSIZE cap). */
long long gv_select_setsize(void);

/* ---- scheduler entry points for the main greenlet --------------------- */

/* Main greenlet: run until nothing can make progress (gevent.wait()). */
int gv_run(gv_hub *hub, lua_State *L);
/* Main greenlet: one scheduler step (see gvlua_step). */
int gv_step(gv_hub *hub, lua_State *L, double timeout);
/* Current greenlet: wait until the hub has nothing else to do. */
int gv_idle(gv_hub *hub, lua_State *L, lua_KContext ctx,
            gv_kfunction k);

/* ---- the resolver (dns.c) -------------------------------------------- */

/* A lookup. The caller makes it (gv_dns_new), waits for it (gv_dns_wait),
** then owns it again only if it finished (gv_dns_taken): then it reads the
** results and frees it (gv_dns_free). A wait cut short (timeout, kill,
** Timeout) abandons the lookup: the backend cancels or finishes it and
** frees it; the caller must not touch it again. Results are formatted
** already: addresses as text, errors in LuaSocket's words. Which backend
** resolves (c-ares in the hub by default, or the C library on the work
** pool: GVLUA_RESOLVER=ares|thread) is not part of the contract, except
** that a backend which can cancel (c-ares) does so at once and hands the
** lookup back failed ("timeout"): gv_dns_taken says which. */
typedef struct gv_dns gv_dns;
enum { GV_DNS_ADDRINFO, GV_DNS_HOST, GV_DNS_NAMEINFO };
typedef struct gv_dns_query {
  int kind;                 /* GV_DNS_* */
  const char *host, *serv;  /* copied; either may be NULL (not both) */
  int family, socktype, protocol, flags;  /* AF_*, SOCK_*, AI_* hints */
} gv_dns_query;
/* One getaddrinfo result. */
typedef struct gv_dns_addr {
  const char *family;       /* "inet", "inet6", "unix", "unspec" */
  char addr[64];            /* numeric host */
  int port, protocol;
  const char *socktype;     /* "stream", "dgram", "raw" */
  char *canonname;          /* or NULL */
} gv_dns_addr;

/* A new lookup (nothing runs yet): NULL when out of memory. For
** GV_DNS_ADDRINFO without host, AI_PASSIVE is added (a bind address). */
gv_dns *gv_dns_new(const gv_dns_query *q);
/* Starts d and blocks the current greenlet until it finished or 'timeout'
** seconds (negative: none) passed; then k(L, LUA_YIELD, ctx), however the
** wait ended (GV_F_CATCH is set: on GV_WAKE_THROW the error is on top of
** L, re-raise it). Returns -errno (nothing blocked; d still the
** caller's) if it could not start. Raises before starting if L's
** greenlet cannot block. Switches greenlets. */
int gv_dns_wait(gv_hub *hub, lua_State *L, gv_dns *d, double timeout,
                lua_KContext ctx, gv_kfunction k);
/* In gv_dns_wait's continuation: 1 if d finished and is the caller's. */
int gv_dns_taken(gv_dns *d);
void gv_dns_free(gv_dns *d);
/* Results of a finished lookup: NULL, or what failed (LuaSocket's words). */
const char *gv_dns_error(const gv_dns *d);
/* GV_DNS_ADDRINFO: the n results. */
const gv_dns_addr *gv_dns_addrs(const gv_dns *d, int *n);
/* GV_DNS_HOST: the official name; aliases and addresses (text), each
** NULL-terminated. */
const char *gv_dns_host(const gv_dns *d, char *const **aliases,
                        char *const **ips);
/* GV_DNS_NAMEINFO: the n host names (when host was given) and the service
** name (when serv was). */
char *const *gv_dns_names(const gv_dns *d, int *n, const char **serv);
/* The backend lookups go to: "ares" or "thread". */
const char *gv_dns_backend(void);
/* Lookups started so far in this process (tests: a literal address must
** not need one). */
unsigned long gv_dns_lookups(void);
/* 4 or 6 when host is a literal IPv4 / IPv6 address, else 0: no lookup
** needed. */
int gv_dns_isnumeric(const char *host);

/* ---- child processes (child.c) --------------------------------------- */

/* A child process of this hub: memory owned by the runtime, from spawn or
** fork until the owner releases it and it is reaped. pid, done and status
** are readable; the rest is the runtime's. */
typedef struct gv_child gv_child;
struct gv_child {
  pid_t pid;
  int status;            /* wait status once reaped (done) */
  unsigned char done;    /* reaped (or reaped by someone else: status 0) */
  unsigned char forked;  /* the owner's mark (gevent.os: from fork) */
  unsigned char released; /* the runtime's, and below */
  gv_waitq waiters;
  gv_child *next;
};

/* What the child's stdin, stdout, stderr are. */
enum { GV_SPAWN_INHERIT, GV_SPAWN_PIPE, GV_SPAWN_DEVNULL, GV_SPAWN_STDOUT,
       GV_SPAWN_FD };
typedef struct gv_spawn_fd {
  int how;               /* GV_SPAWN_*: STDOUT only for stderr */
  int fd;                /* GV_SPAWN_FD: this fd of ours */
  int reopen;            /* give a fresh open file description of fd (ours
                         ** is non-blocking; the child's must not be) */
} gv_spawn_fd;
typedef struct gv_spawn {
  char *const *argv;     /* NULL-terminated */
  char *const *envp;     /* NULL: this process's environment */
  const char *file;      /* the program (PATH searched); NULL: argv[0] */
  const char *cwd;       /* NULL: ours */
  gv_spawn_fd std[3];
  int setsid, close_fds; /* a new session; close fds above 2 */
  int cwd_missing;       /* out: spawn failed because cwd is missing */
} gv_spawn;

/* Starts a child: posix_spawn with signal dispositions and mask reset.
** Pipes asked for are close-on-exec, above fd 2, and our ends are
** non-blocking: pipes[i] is our end for std[i] (or -1). The child is
** registered with the hub (*out), reaped when SIGCHLD says so, and freed
** once the owner calls gv_child_release and it is reaped. 0, or -errno
** (nothing started; no fds left open). Never switches, never raises. */
int gv_child_spawn(gv_hub *hub, gv_spawn *o, gv_child **out, int pipes[3]);
/* fork() through gv_hub_fork; the parent gets the child registered in
** *out (release it when done), the child 0 (the parent's children are
** marked done there, their waiters woken). -errno on failure. */
pid_t gv_child_fork(gv_hub *hub, gv_child **out);
/* Reaps c if it has exited, without blocking: 1 when c is done. */
int gv_child_poll(gv_child *c);
/* Blocks until c is reaped or 'timeout' seconds (negative: none); then
** k(L, LUA_YIELD, ctx): c->done tells which. The hub's loop stays alive
** while a greenlet waits for a child. Switches greenlets; raises as
** gv_block. */
int gv_child_wait(gv_hub *hub, lua_State *L, gv_child *c, double timeout,
                  lua_KContext ctx, gv_kfunction k);
/* The owner is done with c (freed now if reaped, else once reaped). */
void gv_child_release(gv_hub *hub, gv_child *c);
/* A registered child by pid, or NULL. */
gv_child *gv_child_find(gv_hub *hub, pid_t pid);
/* Python's returncode for a wait status: the exit code, or -signal. */
int gv_child_code(int status);
/* A wait status as how it ended (GV_EXITED, GV_KILLED, GV_STOPPED) and
** the exit code or signal in *code. */
enum { GV_EXITED, GV_KILLED, GV_STOPPED };
int gv_status_decode(int status, int *code);
/* kill(2): 0 or -errno. */
int gv_kill(pid_t pid, int sig);
/* waitpid(2) for pids not registered here, blocking the whole process
** unless 'nohang': the pid, 0 (nohang: none ended yet), or -errno. */
pid_t gv_waitpid(pid_t pid, int *status, int nohang);

/* ---- signals (signal.c) --------------------------------------------- */

/* A handler for one signal: memory owned by the caller (a Lua object).
** fn runs in hub context (it must not block) each time the signal is
** delivered. An active handler does not keep the loop alive. */
typedef struct gv_signal gv_signal;
struct gv_signal {
  ev_signal w;            /* the runtime's */
  gv_hub *hub;
  void (*fn)(gv_hub *hub, gv_signal *s);
  int signum;
};
/* Starts s for signum: 0, -EINVAL (not a signal, or SIGKILL/SIGSTOP,
** which cannot be handled) or -EBUSY (SIGCHLD: the runtime reaps children
** through it). Never switches, never raises. */
int gv_signal_start(gv_hub *hub, gv_signal *s, int signum,
                    void (*fn)(gv_hub *hub, gv_signal *s));
/* Stops s (no-op when stopped or the hub is closed). Call before freeing. */
void gv_signal_stop(gv_signal *s);
int gv_signal_active(const gv_signal *s);
/* Writes to a pipe whose reader is gone must fail with EPIPE, not kill
** the process (Python and LuaSocket do the same): SIGPIPE is ignored
** unless the host set a handler of its own. */
void gv_signal_ignore_sigpipe(void);
/* ---- interrupts (interrupt.c) ----------------------------------------- */

/* Requests to the Lua code the hub runs now. Each is taken once, by the
** first Lua code that runs on the hub's thread (through a hook set on the
** running Lua thread only while a request is pending: nothing is paid
** otherwise), or, when none runs (the hub waits in the poller), by the hub
** itself: then hooks.interrupt gets L NULL. */
#define GV_IRQ_INT    0x1   /* Ctrl-C: raise "interrupted!" */
#define GV_IRQ_REPORT 0x2   /* the monitor: report the running code */
#define GV_IRQ_SLICE  0x4   /* the running greenlet exceeded max_slice */

/* Makes the hub interruptible: its thread is the calling one (the hub's
** owner); requests from other threads reach it with GV_IRQ_SIGNAL. Called
** by gv_interrupt_sigint and the monitor; idempotent. 0 or -errno. */
int gv_irq_enable(gv_hub *hub);
/* Posts 'bits' to the hub. Async-signal-safe and callable from any thread
** once gv_irq_enable was called (else it does nothing). Never switches,
** never raises: the request is acted upon by hooks.interrupt. */
void gv_interrupt(gv_hub *hub, unsigned bits);
/* Ctrl-C for 'hub' (on != 0) or the default action again: SIGINT posts
** GV_IRQ_INT and restores the default action, so that a second Ctrl-C
** kills a process whose Lua code cannot be reached (lua.c's behaviour).
** One hub per process receives SIGINT this way. */
void gv_interrupt_sigint(gv_hub *hub, int on);
/* The signal other threads use to reach the hub's thread: SIGURG, which
** nothing else uses and whose default action is to ignore it (Go's
** runtime preempts with it for the same reasons). Installed with
** SA_RESTART; a handler the host had is still called for its own. */
#define GV_IRQ_SIGNAL SIGURG

/* ---- observation, run info and the monitor thread (monitor.c) --------- */

/* hub->observe bits. */
#define GV_OBS_COUNT  0x1   /* keep the stats (the monitor needs them) */
#define GV_OBS_SWITCH 0x2   /* call hooks.switched before each switch */
#define GV_OBS_EVENTS 0x4   /* the bindings report spawns and deaths */
#define GV_OBS_USER   0x8   /* counters asked for by the user */

/* Sets or clears observation bits. The monitor keeps GV_OBS_COUNT on
** while it runs, whatever the caller clears. */
void gv_observe(gv_hub *hub, unsigned bits, int on);
/* Which of 'bits' are on (one load: cheap enough for any path). */
static inline unsigned gv_observing(const gv_hub *hub, unsigned bits) {
  return hub->observe & bits;
}
/* A snapshot of the counters (any thread). */
gv_stats gv_stats_of(gv_hub *hub);
/* Whether the monitor thread runs. */
static inline int gv_monitor_running(const gv_hub *hub) {
  return hub->monitor != NULL;
}

/* Run info: the started greenlets that are not dead, one after the other
** (g NULL: the first; NULL after the last), and the run queue's entries
** (cb NULL: the first). Neither may change during the walk. */
gv_greenlet *gv_alive_next(gv_hub *hub, gv_greenlet *g);
const gv_callback *gv_runq_next(gv_hub *hub, const gv_callback *cb);
/* Seconds until the hub's earliest timer, or -1 if none. */
double gv_next_timer(gv_hub *hub);
/* What g waits on: fd (-1: no fd wait) and its events (EV_READ,
** EV_WRITE), seconds until its own timer fires (-1: none). */
typedef struct gv_wait_info {
  int fd, events;
  double timer;
} gv_wait_info;
gv_wait_info gv_wait_info_of(gv_hub *hub, const gv_greenlet *g);

/* Monitor events (hooks.monitor_event). */
#define GV_MON_MEMORY_OVER  1   /* RSS passed max_memory_usage (bytes) */
#define GV_MON_MEMORY_UNDER 2   /* RSS back under it (bytes) */

/* What the monitor thread watches; zero or negative values are "off". */
typedef struct gv_monitor_config {
  int monitor_thread;           /* report blocks and memory */
  double max_blocking_time;     /* seconds without a switch: a report */
  double max_slice;             /* CPU seconds a greenlet may run without
                                ** yielding before GV_IRQ_SLICE */
  double max_memory_usage;      /* bytes of RSS */
  double memory_monitor_period; /* seconds between RSS readings */
} gv_monitor_config;

/* Applies 'cfg' at once: starts the monitor thread when monitor_thread
** or max_slice asks for it, stops it (and waits for it) when neither
** does. From the hub's thread. 0 or -errno (no thread could be made). */
int gv_monitor_configure(gv_hub *hub, const gv_monitor_config *cfg);
/* The block being reported, for hooks.interrupt (GV_IRQ_REPORT, SLICE):
** seconds since it began (at least; for a slice, max_slice) and whether
** the request still holds (the hub has not switched since the monitor
** made it). Marks a report as delivered: the monitor then says nothing
** more about this block. */
int gv_monitor_block(gv_hub *hub, unsigned bit, double *seconds);
/* After a fork, in the child: the monitor thread did not survive the fork;
** start it again if it ran. */
void gv_monitor_after_fork(gv_hub *hub);
/* Resident set size of the process in bytes, 0 if unknown. */
size_t gv_monitor_rss(void);

/* ---- work on OS threads (work.c) -------------------------------------- */

/* A job for the process-wide pool of OS threads (blocking calls such as
** getaddrinfo, the thread pool's Lua functions: work that must not stall
** the hub). Memory is the caller's and must stay valid until the job is
** handed back. While jobs are in flight the hub's loop is kept alive; an
** idle pool does not keep it alive. The pool has GV_WORK_THREADS threads
** at most, plus what gv_work_reserve added; threads start on demand and
** stay. After fork() the child has none of the parent's threads: jobs
** queued or running at the fork are run again from the start in the child
** (by new threads), so a run function must be safe to repeat. */
typedef struct gv_work gv_work;
struct gv_work {
  void (*run)(gv_work *w);               /* on a pool thread: no Lua, no hub */
  void (*done)(gv_hub *hub, gv_work *w); /* hub context, after run; may free */
  /* The hub went away before w was handed back (gv_work_shutdown: its
  ** state closed, the process exiting): release w. Called on a pool thread
  ** or in gv_work_shutdown, with no hub and no Lua; w's run has finished
  ** or never started. NULL: w is left as it is. */
  void (*drop)(gv_work *w);
  /* the runtime's */
  gv_work *next;
  struct gv_workhub *wh;
  gv_waitq waiters;
  int state;
};

#define GV_WORK_THREADS 8

/* Queues w; w->done(hub, w) is called in hub context once w->run(w) has
** returned. 0 or -errno (no thread could be started). Never switches. */
int gv_work_submit(gv_hub *hub, gv_work *w);
/* Submits w and blocks the current greenlet until w->run has returned or
** 'timeout' seconds (negative: no limit) passed; then k(L, LUA_YIELD, ctx).
** k is called however the wait ends (GV_F_CATCH is set for it): first
** gv_work_taken(w) tells whether the caller owns w again (w finished; free
** it, w->done is not called) or w was abandoned (do not touch it: w->done
** frees it when run returns). Then gv_current(hub)->wake: GV_WAKE_NORMAL
** (finished), GV_WAKE_TIMEOUT, or GV_WAKE_THROW (kill, Timeout: the error
** is on top of L; re-raise it with lua_error unless it is a Timeout the
** caller handles). Returns -errno if it could not submit (nothing
** blocked). Raises before submitting if L's greenlet cannot block. */
int gv_work_wait(gv_hub *hub, lua_State *L, gv_work *w,
                 double timeout, lua_KContext ctx, gv_kfunction k);
/* In gv_work_wait's continuation: 1 if w finished and is the caller's. */
int gv_work_taken(gv_work *w);
/* Detaches the hub from the pool (call before its loop is destroyed):
** results of work still in flight are dropped (not freed). */
void gv_work_shutdown(gv_hub *hub);
/* Raises (n > 0) or lowers the pool's thread limit by n: a client that
** runs long jobs (the thread pool: n = its size) reserves threads for
** them, so short jobs (DNS) still find one. */
void gv_work_reserve(int n);

/* Per-thread state for one kind of job (the thread pool keeps a Lua state
** per pool thread): 'init' makes it on a pool thread the first time a job
** there asks (NULL: out of memory, asked again next time); 'fini' frees it
** on that thread when a job drops it (gv_work_state_drop). The key's
** memory is static; at most GV_WORK_KEYS keys exist. */
typedef struct gv_work_key {
  void *(*init)(struct gv_work_key *key);
  void (*fini)(struct gv_work_key *key, void *state);
  int slot;   /* the runtime's: 0 until first used */
} gv_work_key;
#define GV_WORK_KEYS 4
/* On a pool thread, from run: this thread's state for key (NULL on any
** other thread). */
void *gv_work_state(gv_work_key *key);
/* On a pool thread, from run: frees this thread's state for key (the next
** job asking gets a fresh one: after a job was killed midway, say). */
void gv_work_state_drop(gv_work_key *key);
/* Counts for tests and run-info: threads started, idle, jobs queued. */
typedef struct gv_work_counts { int threads, idle, queued, limit; }
  gv_work_counts;
gv_work_counts gv_work_counts_now(void);

/* ---- TLS over a file descriptor (tls.c, x509.c: OpenSSL) ------------- */

/* Why OpenSSL: it is the TLS library every Debian system has, the one
** LuaSec, Python's ssl, nginx and curl use, so trust stores, cipher policy
** and SSL_CERT_FILE/SSL_CERT_DIR behave as users know them.
**
** Model. A gv_tls_ctx holds the settings (an SSL_CTX: certificates, trust,
** verification, versions, ALPN, per-name contexts for SNI, a client
** session cache); it is reference counted and shared by connections. A
** gv_tls is one connection over a non-blocking fd; its memory is the
** caller's (embed it in your object), the fd stays the caller's (gv_tls
** never closes it). Every operation comes in two forms:
** - a step (gv_tls_*_step): one try, never blocks, returns what it needs
**   (GV_TLS_WANT_READ / GV_TLS_WANT_WRITE) for the caller to wait on, so a
**   Lua binding can wait continuation-style with gv_tls_wait;
** - a blocking call (gv_tls_handshake, gv_tls_read, ...) for C callers:
**   loops over the step, waiting on the fd on the slow path (any C stack,
**   no continuation needed), within a timeout for the whole call.
** Waits go through the connection's own gv_fdwatch, armed across waits.
** Only the calling greenlet blocks. One greenlet at a time may read
** (handshake, read, shutdown) and one may write; gv_tls_close wakes both
** (they see GV_TLS_CLOSED). All functions run on the hub's thread.
** Errors: GV_TLS_ERROR with a message in gv_tls_error(t), which says what
** failed ("certificate verify failed: hostname mismatch", "wrong version
** number", "tlsv1 alert unknown ca"). */

typedef struct gv_tls_ctx gv_tls_ctx;
typedef struct gv_tls gv_tls;
typedef struct x509_st gv_x509;     /* an OpenSSL certificate */

enum {
  GV_TLS_OK = 0,
  GV_TLS_WANT_READ = -1,  /* step: wait until the fd is readable, retry */
  GV_TLS_WANT_WRITE = -2, /* step: wait until the fd is writable, retry */
  GV_TLS_EOF = -3,        /* the peer closed the connection */
  GV_TLS_ERROR = -4,      /* failed: gv_tls_error(t) says why */
  GV_TLS_TIMEOUT = -5,    /* blocking calls: the timeout passed */
  GV_TLS_CLOSED = -6      /* gv_tls_close was called meanwhile */
};

/* Verification modes (gv_tls_ctx_verify). */
#define GV_TLS_VERIFY_NONE 0
#define GV_TLS_VERIFY_PEER 1      /* check the peer's certificate if sent */
#define GV_TLS_VERIFY_REQUIRE 2   /* server: a client certificate is
                                  ** required (with PEER) */

/* A new context for clients (server 0) or servers. Defaults: TLS 1.2 and
** 1.3, renegotiation refused, unexpected EOF read as EOF; clients verify
** the peer against OpenSSL's default paths (SSL_CERT_FILE, SSL_CERT_DIR)
** and check the host name, and keep sessions per host name for
** resumption; servers verify nothing and resume sessions (cache and
** tickets). NULL when out of memory. Ignores SIGPIPE process-wide if it is
** at its default (a write to a closed peer must fail, not kill). */
gv_tls_ctx *gv_tls_ctx_new(int server);
void gv_tls_ctx_ref(gv_tls_ctx *c);
void gv_tls_ctx_unref(gv_tls_ctx *c);
/* The message of the last failed gv_tls_ctx_* call. */
const char *gv_tls_ctx_error(gv_tls_ctx *c);
/* The setters return 0, or -1 with gv_tls_ctx_error set. */
/* TLS versions as 0x0303 (1.2) .. 0x0304 (1.3); 0 keeps the default. */
int gv_tls_ctx_versions(gv_tls_ctx *c, int min, int max);
/* PEM certificate chain and private key (password may be NULL). */
int gv_tls_ctx_certificate(gv_tls_ctx *c, const char *certfile,
                           const char *keyfile, const char *password);
/* Trust anchors; both NULL: OpenSSL's default paths. On a server, cafile
** also names the CAs a client certificate may come from. */
int gv_tls_ctx_trust(gv_tls_ctx *c, const char *cafile,
                     const char *capath);
void gv_tls_ctx_verify(gv_tls_ctx *c, int mode, int depth);
/* Clients: whether the host name given to gv_tls_set_host is checked
** against the certificate (default on while verifying). */
void gv_tls_ctx_check_hostname(gv_tls_ctx *c, int on);
/* OpenSSL cipher list (TLS 1.2) and TLS 1.3 suites; NULL keeps one. */
int gv_tls_ctx_ciphers(gv_tls_ctx *c, const char *list,
                       const char *suites);
/* ALPN protocols in preference order: clients offer them, servers pick
** their first one the client offers (none in common: no ALPN). */
int gv_tls_ctx_alpn(gv_tls_ctx *c, const char *const *protos, int n);
/* Servers: connections whose client asks for 'name' (SNI; "*.x.y" matches
** one label) use 'sub''s certificate and settings. c keeps a reference. */
int gv_tls_ctx_sni(gv_tls_ctx *c, const char *name, gv_tls_ctx *sub);
/* Servers: names not in the SNI list are refused (unrecognized_name). */
void gv_tls_ctx_sni_strict(gv_tls_ctx *c, int on);
/* Clients: whether sessions are kept per host name and resumed. */
void gv_tls_ctx_session_cache(gv_tls_ctx *c, int on);
int gv_tls_ctx_is_server(const gv_tls_ctx *c);

struct gv_tls {
  struct ssl_st *ssl;
  gv_tls_ctx *ctx;          /* referenced */
  int fd;
  gv_fdwatch w;
  gv_greenlet *op[2];       /* greenlet in a read-side / write-side wait */
  char *host;               /* client: SNI and checked name */
  struct gv_tls_sni *sni;   /* server: per-connection SNI names */
  int nsni;
  unsigned char sni_strict, handshaken, closed, eof, failed;
  char err[256];
};

/* Starts a connection on fd (made non-blocking) with ctx (referenced).
** 0, or -1 with gv_tls_error(t) set (then gv_tls_close is still due). */
int gv_tls_init(gv_tls *t, gv_tls_ctx *ctx, int fd);
/* Client, before the handshake: the server's name, sent as SNI (unless
** numeric) and checked against its certificate (a name or an IP). */
int gv_tls_set_host(gv_tls *t, const char *name);
/* Server, before the handshake: SNI names for this connection only (as
** gv_tls_ctx_sni; when given, the context's list is not used). */
int gv_tls_sni(gv_tls *t, const char *name, gv_tls_ctx *sub);
void gv_tls_sni_strict(gv_tls *t, int on);
/* Wakes greenlets waiting on t (GV_TLS_CLOSED), disarms the watcher and
** frees the TLS state; the fd stays open. Safe twice; 'hub' NULL when its
** loop is gone already. */
void gv_tls_close(gv_hub *hub, gv_tls *t);
const char *gv_tls_error(const gv_tls *t);

/* Steps: one non-blocking try. */
int gv_tls_handshake_step(gv_tls *t);      /* GV_TLS_OK when done */
/* Bytes read (> 0) or a GV_TLS_* code. */
long gv_tls_read_step(gv_tls *t, void *buf, size_t n);
/* Bytes written (> 0, maybe fewer than n) or a GV_TLS_* code. After a
** WANT, retry with the same data (at least the same first n bytes). */
long gv_tls_write_step(gv_tls *t, const void *buf, size_t n);
/* Sends close_notify (does not wait for the peer's). GV_TLS_OK when sent. */
int gv_tls_shutdown_step(gv_tls *t);
/* Bytes decrypted and buffered inside TLS, readable without waiting. */
int gv_tls_pending(const gv_tls *t);

/* Blocks the current greenlet until t's fd is ready for 'want' (a step's
** WANT code) or timeout (< 0: none); op 0 for read-side operations, 1 for
** write-side. Continuation-style as gv_block, with t as k's context: k
** sees gv_current(hub)->wake (GV_WAKE_NORMAL or GV_WAKE_TIMEOUT) and
** t->closed. With k NULL (C callers) it returns the wake reason.
** Raises (kill, Timeout) at the blocking point unless GV_F_CATCH. Raises
** if another greenlet already waits on the same side of t. */
int gv_tls_wait(gv_hub *hub, lua_State *L, gv_tls *t, int op,
                int want, double timeout, gv_kfunction k);

/* Blocking calls for C code running in a greenlet (slow path: callable
** from any C function). timeout in seconds for the whole call (< 0: none).
** They may switch greenlets; a kill or Timeout is raised as a Lua error in
** L (t stays consistent). */
int gv_tls_handshake(gv_hub *hub, lua_State *L, gv_tls *t,
                     double timeout);
/* Bytes read (> 0, at most n) or GV_TLS_EOF/ERROR/TIMEOUT/CLOSED. */
long gv_tls_read(gv_hub *hub, lua_State *L, gv_tls *t, void *buf,
                 size_t n, double timeout);
/* Writes all n bytes: n, or a GV_TLS_* code (*sent: bytes written). */
long gv_tls_write(gv_hub *hub, lua_State *L, gv_tls *t,
                  const void *buf, size_t n, double timeout,
                  size_t *sent);
int gv_tls_shutdown(gv_hub *hub, lua_State *L, gv_tls *t,
                    double timeout);

/* What was negotiated (NULL / 0 before the handshake or when absent). */
const char *gv_tls_version(const gv_tls *t);  /* "TLSv1.3" */
const char *gv_tls_cipher(const gv_tls *t, int *bits);
const char *gv_tls_alpn(const gv_tls *t, size_t *len);
const char *gv_tls_servername(const gv_tls *t);
int gv_tls_resumed(const gv_tls *t);
/* Peer verification: NULL when it passed (or was not done: *done 0),
** else the reason ("certificate has expired"). */
const char *gv_tls_verify_result(const gv_tls *t, int *done);
/* The peer's certificate (n 0) or the n-th of the chain it sent, with a
** new reference (gv_x509_free), or NULL. */
gv_x509 *gv_tls_peer_cert(const gv_tls *t, int n);
int gv_tls_peer_chain_len(const gv_tls *t);

/* ---- certificates (x509.c) -------------------------------------------- */

/* Reads the first PEM certificate in buf; NULL if none. */
gv_x509 *gv_x509_from_pem(const char *buf, size_t len);
void gv_x509_free(gv_x509 *x);
/* The certificate in PEM, malloc'd (free it); NULL when out of memory. */
char *gv_x509_pem(gv_x509 *x, size_t *len);
/* Calls fn for each field, in order: ("subject" | "issuer", short name or
** OID, value) per name entry; ("san", "dNSName" | "iPAddress" | "email" |
** "URI", value) per subjectAltName entry; ("serial", "", hex);
** ("notbefore" | "notafter", "", "YYYY-MM-DD HH:MM:SSZ"); ("version", "",
** "3"); ("signature", "", algorithm). Values are UTF-8. */
typedef void (*gv_x509_field_fn)(void *ud, const char *section,
                          const char *key, const char *value,
                          size_t len);
void gv_x509_fields(gv_x509 *x, gv_x509_field_fn fn, void *ud);
/* Hex digest ("sha256", "sha1", ...) into out (2 * 64 + 1 bytes); 0, or
** -1 for an unknown algorithm. */
int gv_x509_digest(gv_x509 *x, const char *alg, char *out);
/* Whether the certificate names 'host' (a DNS name or an IP address). */
int gv_x509_check_host(gv_x509 *x, const char *host);
/* Whether it is valid at Unix time t. */
int gv_x509_valid_at(gv_x509 *x, double t);

/* ---- HTTP/1.1 messages (http.c) ----------------------------------------
** The parser glue: Node's http_parser (libhttp-parser, Debian) tokenizes a
** message head; this file adds the strictness http_parser 2.9 lacks
** (bare LF, obs-fold, a space before the colon, non-token header names,
** transfer codings other than chunked, HTTP/1.1 without Host) and frames
** bodies itself (Content-Length, and a strict chunked decoder: http_parser
** accepts "3\rX" and a chunk without its CRLF). Plain C, no Lua, no I/O:
** every function works on caller-owned buffers and allocates nothing. */

/* A byte range of the buffer the head was parsed from. */
typedef struct gv_http_span { uint32_t off, len; } gv_http_span;

typedef struct gv_http_field { gv_http_span name, value; } gv_http_field;

/* Limits a head must respect (sizes in bytes). */
typedef struct gv_http_limits {
  uint32_t max_head;      /* request line + headers: 431 past it */
  uint32_t max_uri;       /* request target: 414 past it */
  uint32_t max_fields;    /* header lines: 431 past it (<= GV_HTTP_FIELDS) */
} gv_http_limits;

#define GV_HTTP_FIELDS 128

/* Head flags. */
#define GV_HTTP_KEEPALIVE 0x01  /* the connection may carry another message */
#define GV_HTTP_CHUNKED   0x02  /* body framed by Transfer-Encoding: chunked */
#define GV_HTTP_CONTINUE  0x04  /* Expect: 100-continue */
#define GV_HTTP_UPGRADE   0x08  /* Connection: upgrade with an Upgrade field */
#define GV_HTTP_HEAD      0x10  /* request method HEAD */

/* A parsed head. Spans point into the caller's buffer, relative to the
** start of the head. */
typedef struct gv_http_head {
  gv_http_span method, target, path, query, reason;
  int status;              /* responses */
  unsigned char major, minor, flags;
  unsigned char method_id; /* requests: http_parser's enum http_method */
  int64_t content_length;  /* -1: none */
  uint32_t nfields;
  gv_http_field fields[GV_HTTP_FIELDS];
} gv_http_head;

/* Incremental state for one head. */
typedef struct gv_http_scan {
  uint32_t pos;            /* bytes already checked for line endings */
  uint32_t lines;
} gv_http_scan;

static inline void gv_http_scan_init(gv_http_scan *s) { s->pos = s->lines = 0; }

/* Parses the request head at buf[0, len). Returns the head's length in
** bytes once complete (the body or the next message follows), 0 when more
** bytes are needed, or minus the status to answer with before closing:
** 400 malformed or ambiguous framing, 414 target too long, 431 head too
** large or too many fields, 501 a transfer coding other than chunked, 505
** a version other than 1.0/1.1. 's' carries the work already done between
** calls on a growing buffer (start it with gv_http_scan_init). */
int gv_http_parse_request(gv_http_scan *s, const char *buf,
                   size_t len, const gv_http_limits *lim,
                   gv_http_head *h);
/* The same for a response head (the client); 'head_request' says the
** request was HEAD (no body follows whatever the framing says). Returns
** the head's length, 0 for more, or -1 when malformed. Bodies of 1xx, 204
** and 304 are empty; without Content-Length or chunked the body runs to
** the end of the connection (content_length -1, not chunked). */
int gv_http_parse_response(gv_http_scan *s, const char *buf,
                    size_t len, const gv_http_limits *lim,
                    int head_request, gv_http_head *h);

/* Case-insensitive comparison of a span of buf with a lower-case name. */
int gv_http_span_is(const char *buf, gv_http_span sp, const char *lname,
             size_t n);
/* The value of the first field named 'lname' (lower case), or NULL. */
const gv_http_span *gv_http_find(const gv_http_head *h, const char *buf,
                          const char *lname, size_t n);

/* A strict chunked-body decoder (RFC 9112 7.1): hex sizes without sign or
** space, chunk extensions of visible characters after ';', CRLF everywhere,
** trailers syntax-checked and dropped. */
typedef struct gv_http_chunked {
  uint64_t left;           /* data bytes left in the current chunk */
  uint64_t max;            /* largest chunk size accepted (0: no limit) */
  uint32_t linelen;        /* bytes of the current size/trailer line */
  unsigned char state, digits;
} gv_http_chunked;

void gv_http_chunked_init(gv_http_chunked *c, uint64_t max_chunk);
/* Decodes buf[0, *len) in place: the data bytes decoded move to the front
** and *len becomes their count. Returns how many input bytes were used (all
** of them unless the body ended first: the state carries partial lines):
** *done is set when the body ended there (what follows is the next
** message); a return below 0 is a framing error (-400, or -413 for a chunk
** larger than the maximum). */
long gv_http_chunked_decode(gv_http_chunked *c, char *buf,
                     size_t *len, int *done);

/* The reason phrase of a status code ("Unknown" for codes it lacks). */
const char *gv_http_reason(int status, size_t *len);
/* Writes "HTTP/1.1 <status> <reason>\r\nDate: <date>\r\n" to out (at
** least 128 bytes); the Date value is formatted once per second of 'now'
** (seconds since the epoch). Returns the length. */
size_t gv_http_status_line(char *out, int minor, int status,
                    double now);
/* Whether 's' may be a header field name (RFC 9110 token) / value (no
** CR, LF or NUL, other control bytes but HTAB refused). */
int gv_http_token_ok(const char *s, size_t n);
int gv_http_value_ok(const char *s, size_t n);

/* ---- a server connection (http_conn.c) -----------------------------------
** The per-connection state machine of an HTTP/1.1 server without Lua: an
** input buffer holding the current request's head (the spans of 'head'
** point into it) followed by its body bytes and whatever the client
** pipelined, body framing, and an output buffer for response heads. The
** caller (bindings/l_http.c) does the waiting between steps (gv_fdwatch on
** c->w) and calls the handler. Nothing here blocks or switches greenlets;
** the buffers are malloc'd and grow up to the limits, and are reused for
** every request of the connection. */

/* Body framing states. */
enum { GV_BODY_NONE, GV_BODY_LENGTH, GV_BODY_CHUNKED, GV_BODY_DONE };

typedef struct gv_http_conn {
  int fd;
  gv_fdwatch w;
  gv_tls *tls;              /* HTTPS: reads and writes go through it */
  int tls_want;             /* its last step's GV_TLS_WANT_READ/WRITE */
  gv_http_limits lim;
  uint64_t max_body;        /* body bytes accepted (0: no limit): 413 */
  char *buf;                /* input */
  size_t cap, len;
  size_t head_len;          /* the current request's head, 0: none yet */
  gv_http_scan scan;
  gv_http_head head;
  /* the current request's body: decoded bytes ready at [bstart, bstart +
  ** bavail), raw bytes after them up to len */
  size_t bstart, bavail;
  uint64_t body_left;       /* Content-Length bytes not yet framed */
  uint64_t body_seen;       /* body bytes framed so far */
  gv_http_chunked chunked;
  unsigned char body_state;
  int body_error;           /* status of a framing error in the body */
  /* output */
  char *out;
  size_t ocap, olen, osent;
  const char *wbody;        /* body written after out (caller keeps it) */
  size_t wlen, wsent;
} gv_http_conn;

/* Sets up c for fd (owned by the caller) with the limits. 0 or -ENOMEM.
** For HTTPS set c->tls afterwards (a handshaken connection on fd, the
** caller's): fill and flush then read and write through it and leave in
** c->tls_want which readiness to wait for (gv_tls_wait). */
int gv_http_conn_init(gv_http_conn *c, int fd,
               const gv_http_limits *lim, uint64_t max_body);
/* Frees the buffers (the caller stops c->w and closes the fd). */
void gv_http_conn_free(gv_http_conn *c);
/* One read(2) into the input buffer: bytes read, 0 at end of input,
** -EAGAIN, or -errno; -ENOBUFS when the buffer is full at its limit. */
long gv_http_conn_fill(gv_http_conn *c);
/* Parses the next request head from the bytes buffered: 1 ready (c->head),
** 0 more bytes needed, or -status to answer before closing. */
int gv_http_conn_parse(gv_http_conn *c);
/* Frames body bytes buffered: returns how many decoded bytes are ready at
** c->buf + c->bstart (c->bavail), or -status on a framing error or a body
** over max_body. Whether more will come: c->body_state != GV_BODY_DONE. */
long gv_http_conn_body(gv_http_conn *c);
/* Drops the first n ready body bytes (the caller has taken them). */
void gv_http_conn_take(gv_http_conn *c, size_t n);
/* Drops n bytes of raw input at c->bstart: a connection another protocol
** (WebSocket) took over reads its own frames there. */
void gv_http_conn_take_raw(gv_http_conn *c, size_t n);
/* Ends the current request: drops its head and what is framed of its body,
** keeping what the client sent after it. Returns 1 if the connection can
** carry the next request (the body was all read), else 0. */
int gv_http_conn_next(gv_http_conn *c);
/* Whether fd has input or its end (EOF, an error) waiting now: an idle
** client connection that does was closed or broken by its server. One
** poll(2) with timeout 0; never blocks. */
int gv_http_input_waiting(int fd);
/* Whether input follows the current request (pipelined) or a head has
** begun: then waiting for the next request is not idling. */
static inline int gv_http_conn_pending(const gv_http_conn *c) {
  return c->len > c->bstart;
}

/* Response heads are built in c->out: */
/* Starts one: status line and Date for the request's version. */
void gv_http_out_begin(gv_http_conn *c, int status, double now);
/* Appends "name: value\r\n" if both are valid (RFC 9110), else returns -1
** and appends nothing. -ENOMEM when the buffer cannot grow. */
int gv_http_out_field(gv_http_conn *c, const char *name, size_t nlen,
               const char *value, size_t vlen);
/* Appends raw bytes (the framing fields the caller chose, a chunk's
** size line, the empty line). 0 or -ENOMEM. */
int gv_http_out_raw(gv_http_conn *c, const char *s, size_t n);
/* Queues 'body' (kept alive by the caller until flushed) after out. */
static inline void gv_http_out_body(gv_http_conn *c, const char *b, size_t n) {
  c->wbody = b;
  c->wlen = n;
  c->wsent = 0;
}
/* Writes what is queued with one writev: 1 all written (out emptied),
** 0 when the socket is full (wait for EV_WRITE and call again), -errno. */
int gv_http_conn_flush(gv_http_conn *c);


/* ---- WebSocket frames (websocket.c) --------------------------------------
** RFC 6455 without I/O: the handshake's accept key, frame headers, masks,
** UTF-8 checks. No allocation. */
typedef struct gv_ws_frame {
  uint64_t len;             /* payload length */
  unsigned char fin, opcode, masked;
  unsigned char mask[4];
} gv_ws_frame;

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key (24 base64
** characters): 0 and 28 characters plus NUL in out, or -1 for a bad key. */
int gv_ws_accept(const char *key, size_t n, char out[29]);
/* Parses a frame header at p[0, n): its length (2 to 14), 0 when more
** bytes are needed, -1 for a protocol error (RSV bits, unknown opcode,
** a control frame fragmented or over 125 bytes, a length not in its
** shortest form). */
int gv_ws_parse(const unsigned char *p, size_t n, gv_ws_frame *f);
/* XORs p[0, n) with mask, starting at byte 'offset' of the payload. */
void gv_ws_unmask(unsigned char *p, size_t n,
                  const unsigned char mask[4], uint64_t offset);
/* Writes a frame header (at most 14 bytes) to out; mask NULL: unmasked
** (server to client). Returns its length. */
size_t gv_ws_header(unsigned char *out, int fin, int opcode,
                           uint64_t len, const unsigned char *mask);
/* Whether s[0, n) is valid UTF-8 (text messages must be). */
int gv_ws_utf8_ok(const unsigned char *s, size_t n);

#endif
