/*
** interrupt.c - requests to the Lua code a hub runs now: Ctrl-C, the
** monitor's request for a traceback, the slice limit. A request sets a bit
** and arms a Lua hook on the Lua thread running now; the hook hands the
** bits to hooks.interrupt. The hook is set only while a request is
** pending, so Lua code runs at full speed otherwise, and nothing is read
** on the scheduler's path.
**
** Arming happens on the hub's own thread: in a signal handler (SIGINT, or
** GV_IRQ_SIGNAL sent by another thread) or in hub code. lua_sethook only
** sets fields of the lua_State and marks its call frames, which Lua allows
** from a signal handler on the thread that runs that state (lua.c does the
** same for Ctrl-C); from another thread it would race with the interpreter,
** so other threads send a signal instead. When the hub waits in the poller
** no Lua code runs to take a request: an ev_async watcher wakes it and
** the hub passes the bits on with L NULL.
*/
#include <errno.h>
#include <string.h>
#include "internal.h"

#define ARM_MASK (LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT)

/* Hubs that accept requests, for the signal handler to find the one
** whose thread it interrupted. Slots are read with atomic loads. */
#define MAX_HUBS 64
static gv_hub *hubs[MAX_HUBS];

/* The hub SIGINT goes to (gv_interrupt_sigint). */
static gv_hub *sigint_hub;

/* GV_IRQ_SIGNAL's handler: 0 not installed, 1 being installed, 2 ready. */
static int signal_state;
static struct sigaction prev_action;

static const char HUB_KEY = 0; /* registry: light userdata, the hub */

static void irq_hook(lua_State *L, lua_Debug *ar);

/* ---- arming the hook (on the hub's thread) ----------------------------- */

/* The Lua thread that runs now: the current greenlet's, or the hub's own
** (hub callbacks run their Lua code there). */
static lua_State *running(gv_hub *hub) {
  gv_greenlet *g = __atomic_load_n(&hub->current, __ATOMIC_RELAXED);
  lua_State *L = g ? g->L : NULL;
  return L ? L : hub->L;
}

/* Sets the hook on L, remembering the one L had (a debugger's, say), which
** the hook puts back when it fires. With every slot taken the oldest is
** given up (its thread gets no hook back: it most likely had none). */
static void arm(gv_hub *hub, lua_State *L) {
  if (!L || lua_gethook(L) == irq_hook) return;
  struct gv_armed *slot = NULL;
  for (size_t i = 0; i < sizeof hub->armed / sizeof hub->armed[0]; i++)
    if (!hub->armed[i].L) { slot = &hub->armed[i]; break; }
  if (!slot) slot = &hub->armed[0];
  slot->L = L;
  slot->hook = lua_gethook(L);
  slot->mask = lua_gethookmask(L);
  slot->count = lua_gethookcount(L);
  lua_sethook(L, irq_hook, ARM_MASK, 1);
}

/* Puts back the hook L had before arm. */
static void disarm(gv_hub *hub, lua_State *L) {
  for (size_t i = 0; i < sizeof hub->armed / sizeof hub->armed[0]; i++) {
    struct gv_armed *slot = &hub->armed[i];
    if (slot->L == L) {
      lua_sethook(L, slot->hook, slot->mask, slot->count);
      slot->L = NULL;
      return;
    }
  }
  lua_sethook(L, NULL, 0, 0);
}

static gv_hub *hub_of(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &HUB_KEY);
  gv_hub *hub = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return hub;
}

/* The hook: the first Lua code to run after a request takes it. */
static void irq_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  gv_hub *hub = hub_of(L);
  if (!hub) { lua_sethook(L, NULL, 0, 0); return; }
  /* the slots are shared with arm(), which runs in signal handlers */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, GV_IRQ_SIGNAL);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  disarm(hub, L);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  unsigned bits = __atomic_exchange_n(&hub->irq, 0, __ATOMIC_ACQ_REL);
  if (bits && hub->hooks.interrupt) hub->hooks.interrupt(hub, L, bits);
}

/* The hub was woken in the poller: no Lua code ran to take the request. */
static void irq_async_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop; (void)revents;
  gv_hub *hub = gv_container_of(w, gv_hub, irq_async);
  unsigned bits = __atomic_exchange_n(&hub->irq, 0, __ATOMIC_ACQ_REL);
  if (bits && hub->hooks.interrupt) hub->hooks.interrupt(hub, NULL, bits);
}

/* ---- reaching the hub's thread ------------------------------------------ */

static void on_irq_signal(int sig, siginfo_t *si, void *uc) {
  int saved = errno, ours = 0;
  pthread_t self = pthread_self();
  for (int i = 0; i < MAX_HUBS; i++) {
    gv_hub *hub = __atomic_load_n(&hubs[i], __ATOMIC_ACQUIRE);
    if (hub && pthread_equal(hub->thread, self) &&
        __atomic_load_n(&hub->irq, __ATOMIC_ACQUIRE)) {
      arm(hub, running(hub));
      ours = 1;
    }
  }
  errno = saved;
  if (ours) return;
  /* Not a request of ours: the host's handler, if it had one. */
  if (prev_action.sa_flags & SA_SIGINFO) {
    if (prev_action.sa_sigaction) prev_action.sa_sigaction(sig, si, uc);
  } else if (prev_action.sa_handler != SIG_DFL &&
             prev_action.sa_handler != SIG_IGN) {
    prev_action.sa_handler(sig);
  }
}

/* Installs GV_IRQ_SIGNAL's handler once per process. Async-signal-safe. */
static void install_signal(void) {
  int expected = 0;
  if (__atomic_compare_exchange_n(&signal_state, &expected, 1, 0,
                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_irq_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaction(GV_IRQ_SIGNAL, &sa, &prev_action);
    __atomic_store_n(&signal_state, 2, __ATOMIC_RELEASE);
    return;
  }
  while (__atomic_load_n(&signal_state, __ATOMIC_ACQUIRE) != 2) {
    /* another thread is installing it: a few instructions away */
  }
}

int gv_irq_enable(gv_hub *hub) {
  if (hub->irq_ready) return 0;
  int slot = -1;
  for (int i = 0; i < MAX_HUBS && slot < 0; i++) {
    gv_hub *expected = NULL;
    if (__atomic_compare_exchange_n(&hubs[i], &expected, hub, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      slot = i;
  }
  if (slot < 0) return -EAGAIN;
  install_signal();
  hub->thread = pthread_self();
  lua_pushlightuserdata(hub->L, hub);
  lua_rawsetp(hub->L, LUA_REGISTRYINDEX, &HUB_KEY);
  ev_async_init(&hub->irq_async, irq_async_cb);
  ev_async_start(hub->loop, &hub->irq_async);
  ev_unref(hub->loop); /* a request channel is no reason to keep running */
  hub->irq_ready = 1;
  return 0;
}

void gv_interrupt(gv_hub *hub, unsigned bits) {
  if (!hub || !hub->irq_ready) return;
  __atomic_fetch_or(&hub->irq, bits, __ATOMIC_ACQ_REL);
  if (pthread_equal(pthread_self(), hub->thread)) arm(hub, running(hub));
  else pthread_kill(hub->thread, GV_IRQ_SIGNAL);
  ev_async_send(hub->loop, &hub->irq_async);
}

void gv__irq_close(gv_hub *hub) {
  if (!hub->irq_ready) return;
  if (__atomic_load_n(&sigint_hub, __ATOMIC_ACQUIRE) == hub)
    gv_interrupt_sigint(hub, 0);
  for (int i = 0; i < MAX_HUBS; i++) {
    gv_hub *expected = hub;
    __atomic_compare_exchange_n(&hubs[i], &expected, NULL, 0,
                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  }
  if (ev_is_active(&hub->irq_async)) {
    ev_ref(hub->loop);
    ev_async_stop(hub->loop, &hub->irq_async);
  }
  hub->irq_ready = 0;
}

/* ---- Ctrl-C ----------------------------------------------------------- */

static void set_sigint(void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, GV_IRQ_SIGNAL);
  sigaction(SIGINT, &sa, NULL);
}

static void on_sigint(int sig) {
  (void)sig;
  int saved = errno;
  set_sigint(SIG_DFL); /* a second Ctrl-C kills, as in lua.c */
  gv_interrupt(__atomic_load_n(&sigint_hub, __ATOMIC_ACQUIRE), GV_IRQ_INT);
  errno = saved;
}

void gv_interrupt_sigint(gv_hub *hub, int on) {
  if (on && gv_irq_enable(hub) == 0) {
    __atomic_store_n(&sigint_hub, hub, __ATOMIC_RELEASE);
    set_sigint(on_sigint);
  } else {
    set_sigint(SIG_DFL);
    __atomic_store_n(&sigint_hub, NULL, __ATOMIC_RELEASE);
  }
}
