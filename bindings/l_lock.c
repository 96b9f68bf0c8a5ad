/*
** l_lock.c - gevent.lock: Semaphore, BoundedSemaphore, Lock and RLock.
**
** One object serves all four kinds. acquire() returns the object itself
** (truthy and closable: `local held <close> = sem:acquire()` releases it at
** scope exit) or false when it gave up.
**
** Fairness. A release wakes the first waiter in FIFO order and reserves
** the freed unit for it: the unit still counts in `counter` (as in gevent,
** where the waiter takes it when its notification runs), but nobody else
** (the releaser included) can acquire it before the waiter runs. A woken
** waiter's wait link is parked in the object's 'granted' list until its
** continuation runs; if it was killed in between, the continuation hands
** the unit to the next waiter, so a kill leaves no trace. wait() callers
** are woken without reserving anything.
*/
#include <string.h>
#include "bindings.h"

enum { K_SEM, K_BOUNDED, K_LOCK, K_RLOCK, K_COUNT };

static const char *const MT[K_COUNT] = {
  "gevent.Semaphore", "gevent.BoundedSemaphore", "gevent.Lock",
  "gevent.RLock"
};
static const char *const CLASSNAME[K_COUNT] = {
  "Semaphore", "BoundedSemaphore", "Lock", "RLock"
};
static const char *const PUBLIC[K_COUNT] = { /* names in argument errors */
  "gevent.lock.Semaphore", "gevent.lock.BoundedSemaphore",
  "gevent.lock.Lock", "gevent.lock.RLock"
};
/* What a blocked greenlet waits on, for LoopExit reports. */
static const char *const WAIT_ACQUIRE[K_COUNT] = {
  "Semaphore.acquire", "BoundedSemaphore.acquire", "Lock.acquire",
  "RLock.acquire"
};
static const char *const WAIT_WAIT[K_COUNT] = {
  "Semaphore.wait", "BoundedSemaphore.wait", "Lock.wait", "RLock.wait"
};

/* User value 1: the RLock's owner (a greenlet object) or nil. */
typedef struct l_sem {
  gv_waitq waiters;       /* blocked in acquire() or wait(), FIFO */
  gv_waitq granted;       /* woken acquirers whose unit is reserved */
  lua_Integer counter;
  lua_Integer initial;    /* the bound (BoundedSemaphore, Lock) */
  lua_Integer count;      /* RLock recursion depth */
  lua_Integer reserved;   /* units promised to woken acquirers */
  gv_greenlet *owner;     /* RLock owner (anchored in user value 1) */
  int kind;
} l_sem;

static l_sem *test_sem(lua_State *L, int idx) {
  for (int k = 0; k < K_COUNT; k++) {
    l_sem *s = luaL_testudata(L, idx, MT[k]);
    if (s) return s;
  }
  return NULL;
}

static l_sem *check_sem(lua_State *L, int idx) {
  l_sem *s = test_sem(L, idx);
  if (!s) luaL_typeerror(L, idx, "gevent.Semaphore");
  return s;
}

/* ---- the core: handing units to waiters -------------------------------- */

static int acquire_k(lua_State *L, int status, lua_KContext ctx);
static int wait_k(lua_State *L, int status, lua_KContext ctx);

/* Units free for a new acquire: not promised to a woken waiter. */
static lua_Integer avail(const l_sem *s) { return s->counter - s->reserved; }

/* Promises free units to waiters in FIFO order and wakes them; wait()
** callers are woken without a promise. Only schedules (safe in hub
** context). */
static void pump(l_sem *s) {
  gv_greenlet *w;
  while (avail(s) > 0 && (w = gv_waitq_first(&s->waiters)) != NULL) {
    if (gv_waits_in(w, wait_k)) {
      gv_wake(w, GV_WAKE_NORMAL);
    } else {
      s->reserved++;
      gv_wake(w, GV_WAKE_NORMAL); /* unlinks it from the wait queue */
      gv_waitq_move(&s->granted, w);
    }
  }
}

/* Pushes the running greenlet's object (or nil in the hub). */
static gv_greenlet *push_current(lua_State *L, l_hub *h) {
  gv_greenlet *cur = h->hub.current;
  if (cur) l_greenlet_push(L, (l_greenlet *)cur);
  else lua_pushnil(L);
  return cur;
}

/* The acquirer at 1 got a unit: records RLock ownership; returns self. */
static int acquired(lua_State *L, l_sem *s) {
  if (s->kind == K_RLOCK) {
    l_hub *h = l_hubup(L);
    s->owner = push_current(L, h);
    lua_setiuservalue(L, 1, 1);
    s->count = 1;
  }
  lua_pushvalue(L, 1);
  return 1;
}

static int acquire_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  l_hub *h = l_hubup(L);
  gv_greenlet *cur = h->hub.current;
  l_sem *s = lua_touserdata(L, 1);
  int granted = gv_waitq_queued(cur);
  if (granted) {
    gv_waitq_leave(cur);
    s->reserved--;
  }
  if (cur->wake == GV_WAKE_THROW) {
    if (ctx && lua_touserdata(L, -1) == (void *)ctx) {
      /* our own Timeout fired; if the unit was already ours, keep it */
      lua_pop(L, 1);
      if (!granted) {
        lua_pushboolean(L, 0);
        return 1;
      }
    } else {
      if (granted) pump(s); /* killed after the wake: pass the unit on */
      return lua_error(L);
    }
  } else if (!granted) { /* the wait's own timer */
    lua_pushboolean(L, 0);
    return 1;
  }
  s->counter--;
  return acquired(L, s);
}

/* Reads (blocking, timeout) at 2, 3, or an options table at 2; leaves
** blocking at 2 and timeout at 3. */
static void read_args(lua_State *L, int has_blocking) {
  if (has_blocking) {
    l_optargs(L, 2, "blocking", "timeout", NULL);
  } else {
    l_optargs(L, 2, "timeout", NULL);
    lua_pushnil(L);
    lua_insert(L, 2);
  }
}

/* sem:acquire(blocking, timeout) -> sem | false */
static int m_acquire(lua_State *L) {
  l_hub *h = l_hubup(L);
  l_sem *s = check_sem(L, 1);
  read_args(L, 1);
  int blocking = lua_isnil(L, 2) || lua_toboolean(L, 2);
  void *tmo;
  double timeout = l_opttimeout(L, 3, &tmo);
  if (s->kind == K_RLOCK) {
    gv_greenlet *cur = h->hub.current;
    if (!cur) return luaL_error(L, "an RLock cannot be acquired in the hub");
    if (s->owner == cur) {
      s->count++;
      lua_settop(L, 1);
      return 1;
    }
  }
  if (avail(s) > 0) {
    s->counter--;
    lua_settop(L, 1);
    return acquired(L, s);
  }
  if (!blocking) {
    lua_pushboolean(L, 0);
    return 1;
  }
  gv_greenlet *cur = gv_check_block(&h->hub, L);
  lua_settop(L, 1);
  cur->flags |= GV_F_CATCH; /* acquire_k must see kills to give back */
  return gv_waitq_wait(&h->hub, &s->waiters, L, timeout,
                       WAIT_ACQUIRE[s->kind], (lua_KContext)tmo, acquire_k);
}

/* Gives one unit back, checking the kind's rules. */
static void do_release(lua_State *L, l_sem *s) {
  switch (s->kind) {
  case K_BOUNDED:
    if (s->counter >= s->initial)
      luaL_error(L, "Semaphore released too many times");
    break;
  case K_LOCK:
    if (s->counter >= s->initial) luaL_error(L, "release unlocked lock");
    break;
  case K_RLOCK: {
    l_hub *h = l_hubup(L);
    gv_greenlet *cur = h->hub.current;
    if (!s->owner || s->owner != cur)
      luaL_error(L, "cannot release un-acquired lock");
    if (--s->count > 0) return;
    s->owner = NULL;
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 1);
    break;
  }
  default:
    break;
  }
  s->counter++;
  pump(s);
}

/* sem:release() -> counter */
static int m_release(lua_State *L) {
  l_sem *s = check_sem(L, 1);
  do_release(L, s);
  if (s->kind == K_RLOCK) return 0;
  lua_pushinteger(L, s->counter);
  return 1;
}

/* __close(sem, err): releases, whatever the error. */
static int m_close(lua_State *L) {
  l_sem *s = check_sem(L, 1);
  lua_settop(L, 1);
  do_release(L, s);
  return 0;
}

static int m_locked(lua_State *L) {
  l_sem *s = check_sem(L, 1);
  lua_pushboolean(L, avail(s) <= 0); /* whether acquire() would block */
  return 1;
}

static int m_ready(lua_State *L) {
  l_sem *s = check_sem(L, 1);
  lua_pushboolean(L, avail(s) > 0);
  return 1;
}

static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  l_hub *h = l_hubup(L);
  gv_greenlet *cur = h->hub.current;
  l_sem *s = lua_touserdata(L, 1);
  if (cur->wake == GV_WAKE_THROW) {
    if (!ctx || lua_touserdata(L, -1) != (void *)ctx) return lua_error(L);
    lua_pop(L, 1);
  }
  lua_pushinteger(L, s->counter); /* units reserved for waiters included */
  return 1;
}

/* sem:wait(timeout) -> the counter once a unit is free (maybe 0 after a
** timeout, or if waiters ahead took it); units already promised to woken
** acquirers count, as they do in gevent. */
static int m_wait(lua_State *L) {
  l_hub *h = l_hubup(L);
  l_sem *s = check_sem(L, 1);
  read_args(L, 0);
  void *tmo;
  l_opttimeout(L, 3, &tmo); /* type check before anything else */
  if (avail(s) > 0) {
    lua_pushinteger(L, s->counter);
    return 1;
  }
  gv_greenlet *cur = gv_check_block(&h->hub, L);
  double timeout = l_timeout_arg(L, cur, 3, 0, &tmo);
  lua_settop(L, 1);
  return gv_waitq_wait(&h->hub, &s->waiters, L, timeout, WAIT_WAIT[s->kind],
                       (lua_KContext)tmo, wait_k);
}

/* rlock:_is_owned() */
static int m_is_owned(lua_State *L) {
  l_sem *s = check_sem(L, 1);
  l_hub *h = l_hubup(L);
  lua_pushboolean(L, s->owner && s->owner == h->hub.current);
  return 1;
}

static int m_tostring(lua_State *L) {
  l_sem *s = check_sem(L, 1);
  int n = 0;
  for (gv_link *l = s->waiters.head.next; l != &s->waiters.head; l = l->next)
    n++;
  if (s->kind == K_RLOCK)
    lua_pushfstring(L, "<RLock at %p count=%d waiters=%d>", (void *)s,
                    (int)(s->owner ? s->count : 0), n);
  else
    lua_pushfstring(L, "<%s at %p counter=%d waiters=%d>",
                    CLASSNAME[s->kind], (void *)s, (int)s->counter, n);
  return 1;
}

/* __index: counter (semaphores), then the class (upvalue 2). */
static int m_index(lua_State *L) {
  l_sem *s = lua_touserdata(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "counter") == 0 && s->kind != K_RLOCK) {
      lua_pushinteger(L, s->counter);
      return 1;
    }
  }
  lua_pushvalue(L, 2);
  lua_gettable(L, lua_upvalueindex(2));
  return 1;
}

/* Class(value): a new object of the kind in upvalue 2. */
static int c_new(lua_State *L) {
  int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
  lua_Integer n = 1;
  if ((kind == K_SEM || kind == K_BOUNDED) && !lua_isnoneornil(L, 2)) {
    int isint;
    n = lua_tointegerx(L, 2, &isint);
    if (!isint) return l_typeerror(L, 1, 2, PUBLIC[kind], "integer");
    if (n < 0)
      return l_argerror(L, 1, PUBLIC[kind], "semaphore initial value must "
                        "be >= 0");
  }
  l_sem *s = lua_newuserdatauv(L, sizeof *s, 1);
  memset(s, 0, sizeof *s);
  gv_waitq_init(&s->waiters);
  gv_waitq_init(&s->granted);
  s->counter = s->initial = n;
  s->kind = kind;
  luaL_setmetatable(L, MT[kind]);
  return 1;
}

/* ---- registration ------------------------------------------------------ */

static const luaL_Reg sem_methods[] = {
  {"acquire", m_acquire},
  {"release", m_release},
  {"locked", m_locked},
  {"ready", m_ready},
  {"wait", m_wait},
  {NULL, NULL}
};

static const luaL_Reg rlock_methods[] = {
  {"acquire", m_acquire},
  {"release", m_release},
  {"locked", m_locked},
  {"_is_owned", m_is_owned},
  {NULL, NULL}
};

static const luaL_Reg sem_meta[] = {
  {"__close", m_close},
  {"__tostring", m_tostring},
  {NULL, NULL}
};

void l_lock_open(lua_State *L, l_hub *h) {
  (void)h;
  for (int k = 0; k < K_COUNT; k++) {
    l_newtype(L, MT[k], k == K_RLOCK ? rlock_methods : sem_methods,
              sem_meta, m_index);
    lua_pushinteger(L, k);
    l_newclass(L, CLASSNAME[k], c_new, 1);
    lua_setfield(L, -3, CLASSNAME[k]);
    lua_pop(L, 1);
  }
}
