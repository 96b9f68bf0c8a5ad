/*
** l_queue.c - gevent.queue: Queue, LifoQueue, PriorityQueue, JoinableQueue,
** Channel, and the errors Empty and Full.
**
** Items live in a Lua table (user value UV_ITEMS): a ring for Queue (head,
** count and capacity kept here), an array for LifoQueue, a binary heap with
** Python's heapq algorithm for PriorityQueue. Blocked getters and putters
** wait in FIFO wait queues; a putter's item stays on its own stack (index 2
** of its blocked put) until it is taken.
**
** Hand-offs follow gevent's Queue._unlock: a callback embedded in the queue,
** scheduled on the hub when a put or get may unblock someone. It moves one
** blocked putter's item into the queue, or lets one getter take an item, and
** switches to that greenlet at once, as gevent does from the hub: the
** greenlet is queued to run next, the callback right after it, so it runs
** until it blocks again and the loop goes on from there in gevent's order.
** The callback is plain C; only moving a putter's item into the items can
** raise (a comparator, memory), and only that step is protected.
*/
#include <string.h>
#include "bindings.h"

/* l_event.c */
int l_event_wait(lua_State *L);
void l_event_push_new(lua_State *L, l_hub *h);
void l_event_set_at(lua_State *L, int idx);
void l_event_clear_at(lua_State *L, int idx);

#define L_EMPTY "gevent.queue.Empty"
#define L_FULL "gevent.queue.Full"

/* Types, as Lua sees them. */
enum { T_QUEUE, T_LIFO, T_PRIO, T_JOINABLE, T_CHANNEL, T_NUM };
static const char *const type_names[T_NUM] = {
  "Queue", "LifoQueue", "PriorityQueue", "JoinableQueue", "Channel"
};
static const char *const type_meta[T_NUM] = {
  "gevent.Queue", "gevent.LifoQueue", "gevent.PriorityQueue",
  "gevent.JoinableQueue", "gevent.Channel"
};

/* Item orders. */
enum { Q_FIFO, Q_LIFO, Q_PRIO, Q_NONE };

/* User values. */
enum {
  UV_ITEMS = 1,  /* the items */
  UV_CMP,        /* PriorityQueue: comparator (nil: <) */
  UV_COND,       /* JoinableQueue: Event set when no task is unfinished */
  UV_NUM = UV_COND
};

typedef struct l_queue {
  gv_callback unlock;       /* gevent's _unlock, scheduled on the hub */
  l_hub *h;
  gv_waitq getters;         /* wait ctx: 1 for peek */
  gv_waitq putters;         /* item at index 2 of their stacks */
  lua_Integer maxsize;      /* -1: unbounded */
  lua_Integer head;         /* Queue: first slot of the ring (0-based) */
  lua_Integer count;        /* items */
  lua_Integer cap;          /* Queue: ring capacity */
  lua_Integer unfinished;   /* JoinableQueue */
  int ref;                  /* registry slot: the queue while 'unlock' is
                            ** pending, else false; freed by __gc */
  unsigned char type, order;
  unsigned char active;     /* unlock scheduled or under way */
  unsigned char phase;      /* where the unlock loop resumes */
  unsigned char repeat;     /* the unlock loop's 'repeat' */
} l_queue;

/* ---- access ------------------------------------------------------------ */

static l_queue *test_queue(lua_State *L, int idx) {
  for (int t = 0; t < T_NUM; t++) {
    l_queue *q = luaL_testudata(L, idx, type_meta[t]);
    if (q) return q;
  }
  return NULL;
}

static l_queue *check_queue(lua_State *L, int idx) {
  l_queue *q = test_queue(L, idx);
  if (!q) luaL_typeerror(L, idx, "gevent.Queue");
  return q;
}

/* Index 1 of a method call: l_isself makes the usual case one
** comparison. */
static l_queue *check_self(lua_State *L) {
  if (l_isself(L, 1)) return lua_touserdata(L, 1);
  return check_queue(L, 1);
}

/* Cancels the wait's Timeout object at idx, if one was given. */
static void cancel_timeout(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TUSERDATA) l_cancel_timeout(L, idx);
}

static l_queue *check_joinable(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, type_meta[T_JOINABLE]);
}

static int raise_new(lua_State *L, const char *key) {
  l_error_new(L, key, NULL);
  return lua_error(L);
}

static int is_unbounded_or_room(l_queue *q) {
  return q->maxsize < 0 || q->count < q->maxsize;
}

/* Pushes value idx of blocked greenlet g's stack (its put's item). */
static void push_blocked_value(lua_State *L, gv_greenlet *g, int idx) {
  lua_State *B = gv_blocked_thread(g);
  lua_checkstack(B, 2);
  lua_pushvalue(B, idx);
  lua_xmove(B, L, 1);
}

/* Moves the value on top of L onto blocked g's stack: what its wait
** returns. */
static void give_value(lua_State *L, gv_greenlet *g) {
  lua_State *B = gv_blocked_thread(g);
  lua_checkstack(B, 2);
  lua_xmove(L, B, 1);
}

/* Queues the unlock callback; the queue stays anchored in its registry
** slot until the callback is done. */
static void schedule_unlock(lua_State *L, l_queue *q, int self) {
  if (q->active) return;
  lua_pushvalue(L, self);
  if (q->ref == LUA_NOREF) q->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  else lua_rawseti(L, LUA_REGISTRYINDEX, q->ref);
  q->active = 1;
  q->phase = 0;
  q->repeat = 0;
  gv_schedule(&q->h->hub, &q->unlock);
}

/* The unlock loop ended (hub context): releases the anchor. Setting an
** existing registry slot cannot raise. */
static void unlock_done(gv_hub *hub, l_queue *q) {
  q->active = 0;
  lua_pushboolean(hub->L, 0);
  lua_rawseti(hub->L, LUA_REGISTRYINDEX, q->ref);
}

/* ---- items ------------------------------------------------------------- */

/* Whether a < b (stack indices) by the comparator at cmp, or by '<'. */
static int less(lua_State *L, int cmp, int a, int b) {
  if (lua_isnil(L, cmp)) return lua_compare(L, a, b, LUA_OPLT);
  lua_pushvalue(L, cmp);
  lua_pushvalue(L, a);
  lua_pushvalue(L, b);
  lua_call(L, 2, 1);
  int r = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return r;
}

/* heapq's _siftdown, swapping as CPython's _heapq does (the heap stays a
** permutation of its items if a comparison raises). Positions 0-based. */
static void siftdown(lua_State *L, int t, int cmp, lua_Integer startpos,
                     lua_Integer pos) {
  lua_rawgeti(L, t, pos + 1);
  int item = lua_gettop(L);
  while (pos > startpos) {
    lua_Integer parentpos = (pos - 1) >> 1;
    lua_rawgeti(L, t, parentpos + 1);
    if (!less(L, cmp, item, item + 1)) {
      lua_pop(L, 1);
      break;
    }
    lua_rawseti(L, t, pos + 1);
    lua_pushvalue(L, item);
    lua_rawseti(L, t, parentpos + 1);
    pos = parentpos;
  }
  lua_pop(L, 1);
}

/* heapq's _siftup (CPython's _heapq version). */
static void siftup(lua_State *L, int t, int cmp, lua_Integer n,
                   lua_Integer pos) {
  lua_Integer startpos = pos, limit = n >> 1;
  while (pos < limit) {
    lua_Integer child = 2 * pos + 1;
    if (child + 1 < n) {
      lua_rawgeti(L, t, child + 1);
      lua_rawgeti(L, t, child + 2);
      int top = lua_gettop(L);
      int lt = less(L, cmp, top - 1, top);
      lua_pop(L, 2);
      if (!lt) child++;
    }
    lua_rawgeti(L, t, child + 1);
    lua_rawgeti(L, t, pos + 1);
    lua_rawseti(L, t, child + 1);
    lua_rawseti(L, t, pos + 1);
    pos = child;
  }
  siftdown(L, t, cmp, startpos, pos);
}

/* Ring slot (1-based) of the i-th item (0-based) of a Queue. */
static lua_Integer slot(l_queue *q, lua_Integer i) {
  lua_Integer s = q->head + i; /* head, i < cap */
  return (s >= q->cap ? s - q->cap : s) + 1;
}

/* Appends the value at idx to the items (gevent's _put, without the
** JoinableQueue part). */
static void items_put(lua_State *L, l_queue *q, int self, int idx) {
  idx = lua_absindex(L, idx);
  lua_getiuservalue(L, self, UV_ITEMS);
  int t = lua_gettop(L);
  switch (q->order) {
  case Q_FIFO:
    if (q->count == q->cap && q->head == 0 && q->cap) {
      q->cap *= 2; /* not wrapped: the table grows as items are appended */
    } else if (q->count == q->cap) { /* grow: a new table, items in order */
      lua_Integer ncap = q->cap ? q->cap * 2 : 8;
      lua_createtable(L, (int)ncap, 0);
      for (lua_Integer i = 0; i < q->count; i++) {
        lua_rawgeti(L, t, slot(q, i));
        lua_rawseti(L, -2, i + 1);
      }
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, self, UV_ITEMS);
      lua_replace(L, t);
      q->head = 0;
      q->cap = ncap;
    }
    lua_pushvalue(L, idx);
    lua_rawseti(L, t, slot(q, q->count));
    q->count++;
    break;
  case Q_LIFO:
    lua_pushvalue(L, idx);
    lua_rawseti(L, t, ++q->count);
    break;
  case Q_PRIO:
    lua_pushvalue(L, idx);
    lua_rawseti(L, t, ++q->count);
    lua_getiuservalue(L, self, UV_CMP);
    siftdown(L, t, t + 1, 0, q->count - 1);
    break;
  }
  lua_settop(L, t - 1);
}

/* Removes the next item and pushes it (gevent's _get); count > 0. */
static void items_get(lua_State *L, l_queue *q, int self) {
  lua_getiuservalue(L, self, UV_ITEMS);
  int t = lua_gettop(L);
  switch (q->order) {
  case Q_FIFO:
    lua_rawgeti(L, t, slot(q, 0));
    lua_pushnil(L);
    lua_rawseti(L, t, slot(q, 0));
    if (++q->head == q->cap) q->head = 0;
    if (--q->count == 0 && q->cap > 1024) { /* drop a big empty ring */
      lua_newtable(L);
      lua_setiuservalue(L, self, UV_ITEMS);
      q->head = q->cap = 0;
    }
    break;
  case Q_LIFO:
    lua_rawgeti(L, t, q->count);
    lua_pushnil(L);
    lua_rawseti(L, t, q->count--);
    break;
  case Q_PRIO: {
    lua_rawgeti(L, t, q->count); /* lastelt */
    lua_pushnil(L);
    lua_rawseti(L, t, q->count--);
    if (q->count > 0) {
      lua_rawgeti(L, t, 1); /* returnitem */
      lua_insert(L, -2);
      lua_rawseti(L, t, 1);
      lua_getiuservalue(L, self, UV_CMP);
      siftup(L, t, t + 2, q->count, 0);
      lua_pop(L, 1);
    }
    break;
  }
  }
  lua_replace(L, t); /* the item, the only value above the items */
}

/* Pushes the next item without removing it (gevent's _peek); count > 0. */
static void items_peek(lua_State *L, l_queue *q, int self) {
  lua_getiuservalue(L, self, UV_ITEMS);
  lua_Integer i = q->order == Q_FIFO ? slot(q, 0)
                : q->order == Q_LIFO ? q->count : 1;
  lua_rawgeti(L, -1, i);
  lua_remove(L, -2);
}

/* gevent's _put: items_put, and for a JoinableQueue one more task. */
static void do_put(lua_State *L, l_queue *q, int self, int idx) {
  items_put(L, q, self, idx);
  if (q->type == T_JOINABLE) {
    q->unfinished++;
    lua_getiuservalue(L, self, UV_COND);
    l_event_clear_at(L, -1);
    lua_pop(L, 1);
  }
}

/* do_put(self at 1, item at 2), protected. */
static int put_p(lua_State *L) {
  do_put(L, lua_touserdata(L, 1), 1, 2);
  return 0;
}

/* ---- the unlock callback (hub context) --------------------------------- */

/* Moves blocked putter p's item into the items and queues p to run next
** (p's stack holds the queue at index 1, the item at 2). If that raises,
** gevent throws the error into the putter. */
static void unlock_put(gv_hub *hub, gv_greenlet *p) {
  lua_State *L = hub->L;
  lua_pushcfunction(L, put_p);
  push_blocked_value(L, p, 1);
  push_blocked_value(L, p, 2);
  if (lua_pcall(L, 2, 0, 0) == LUA_OK) {
    gv_wake_after(p, GV_WAKE_NORMAL, NULL);
  } else {
    gv_throw(p, L);            /* queued at the tail: run it next */
    gv_unschedule(hub, &p->run);
    gv_schedule_after(hub, &p->run, NULL);
  }
}

/* One step of Channel._unlock: a getter takes the first putter's item. */
static void channel_unlock(gv_hub *hub, l_queue *q) {
  gv_greenlet *g = gv_waitq_first(&q->getters);
  gv_greenlet *p = gv_waitq_first(&q->putters);
  if (g && p) {
    push_blocked_value(hub->L, p, 2);
    give_value(hub->L, g);
    gv_callback *after = gv_wake_after(g, GV_WAKE_NORMAL, NULL);
    after = gv_wake_after(p, GV_WAKE_NORMAL, after);
    gv_schedule_after(hub, &q->unlock, after);
    return;
  }
  unlock_done(hub, q);
}

/* One step of Queue._unlock:
**   while True:
**     repeat = False
**     if putters and room: repeat = True; put its item; switch to it
**     if getters and qsize(): repeat = True; switch to the getter
**     if not repeat: return
** Each switch queues the greenlet and this callback after it, and returns;
** 'phase' says where to go on. */
static void unlock_fire(gv_hub *hub, gv_callback *cb) {
  l_queue *q = gv_container_of(cb, l_queue, unlock);
  if (q->order == Q_NONE) {
    channel_unlock(hub, q);
    return;
  }
  for (;;) {
    if (q->phase == 0) {
      q->repeat = 0;
      gv_greenlet *p = gv_waitq_first(&q->putters);
      q->phase = 1;
      if (p && is_unbounded_or_room(q)) {
        q->repeat = 1;
        unlock_put(hub, p);
        gv_schedule_after(hub, &q->unlock, &p->run);
        return;
      }
    }
    q->phase = 0;
    gv_greenlet *g = gv_waitq_first(&q->getters);
    if (g && q->count > 0) {
      q->repeat = 1;
      gv_schedule_after(hub, &q->unlock, gv_wake_after(g, GV_WAKE_NORMAL, NULL));
      return;
    }
    if (!q->repeat) break;
  }
  unlock_done(hub, q);
}

/* ---- put --------------------------------------------------------------- */

/* Continuation of a blocked put: [self, item, block, timeout]. */
static int put_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  l_hub *h = l_hubup(L);
  int wake = h->hub.current->wake;
  cancel_timeout(L, 4);
  if (wake == GV_WAKE_THROW) return lua_error(L);
  if (wake == GV_WAKE_TIMEOUT) return raise_new(L, L_FULL);
  return 0;
}

/* Channel.put: always waits for a getter (block false: for no time). */
static int channel_put(lua_State *L, l_hub *h, l_queue *q, int block) {
  gv_hub *hub = &h->hub;
  lua_settop(L, 4);
  if (!hub->current) { /* in the hub: hand it to a waiting getter */
    gv_greenlet *g = gv_waitq_first(&q->getters);
    if (!g) return raise_new(L, L_FULL);
    lua_pushvalue(L, 2);
    give_value(L, g);
    gv_wake_after(g, GV_WAKE_NORMAL, NULL);
    return 0;
  }
  gv_greenlet *cur = gv_check_block(hub, L);
  void *tmo = NULL;
  double timeout = 0;
  if (block) {
    timeout = l_timeout_arg(L, cur, 4, 1, &tmo);
  } else {
    lua_pushinteger(L, 0);
    lua_replace(L, 4);
  }
  if (!gv_waitq_empty(&q->getters)) schedule_unlock(L, q, 1);
  return gv_waitq_wait(hub, &q->putters, L, timeout, "Channel.put", 0,
                       put_k);
}

/* q:put(item, block, timeout) */
static int q_put(lua_State *L) {
  l_queue *q = check_self(L);
  l_hub *h = q->h;
  gv_hub *hub = &h->hub;
  int block = 1;
  void *tmo;
  if (lua_gettop(L) != 2) { /* not just q:put(item) */
    luaL_checkany(L, 2);
    l_optargs(L, 3, "block", "timeout", NULL);
    block = lua_isnil(L, 3) || lua_toboolean(L, 3);
    l_opttimeout(L, 4, &tmo); /* type check */
  }
  if (q->order == Q_NONE) return channel_put(L, h, q, block);
  if (is_unbounded_or_room(q)) {
    do_put(L, q, 1, 2);
    if (!gv_waitq_empty(&q->getters)) schedule_unlock(L, q, 1);
    return 0;
  }
  if (!hub->current) { /* in the hub: getters take items at once */
    gv_callback *after = NULL;
    gv_greenlet *g;
    while ((g = gv_waitq_first(&q->getters)) != NULL && q->count > 0 &&
           q->count >= q->maxsize) {
      if (gv_wait_ctx(g)) items_peek(L, q, 1);
      else items_get(L, q, 1);
      give_value(L, g);
      after = gv_wake_after(g, GV_WAKE_NORMAL, after);
    }
    if (q->count < q->maxsize) {
      do_put(L, q, 1, 2);
      return 0;
    }
    return raise_new(L, L_FULL);
  }
  if (!block) return raise_new(L, L_FULL);
  lua_settop(L, 4);
  gv_greenlet *cur = gv_check_block(hub, L);
  double timeout = l_timeout_arg(L, cur, 4, 1, &tmo);
  if (!gv_waitq_empty(&q->getters)) schedule_unlock(L, q, 1);
  return gv_waitq_wait(hub, &q->putters, L, timeout, "Queue.put", 0, put_k);
}

/* q:put_nowait(item) */
static int q_put_nowait(lua_State *L) {
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  lua_pushboolean(L, 0);
  return q_put(L);
}

/* ---- get / peek -------------------------------------------------------- */

static int wait_get(lua_State *L, l_queue *q, int peek);

/* Continuation of a blocked get or peek: [self, block, timeout]. */
static int get_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  l_queue *q = lua_touserdata(L, 1);
  int wake = q->h->hub.current->wake;
  if (wake == GV_WAKE_NORMAL && lua_gettop(L) == 3 && q->count == 0 &&
      q->order != Q_NONE)
    return wait_get(L, q, (int)ctx); /* overtaken: wait again */
  cancel_timeout(L, 3);
  if (wake == GV_WAKE_THROW) return lua_error(L);
  if (wake == GV_WAKE_TIMEOUT) return raise_new(L, L_EMPTY);
  if (lua_gettop(L) > 3) return 1; /* handed over */
  if (q->order == Q_NONE) lua_pushnil(L); /* cannot happen */
  else if (ctx) items_peek(L, q, 1);
  else items_get(L, q, 1);
  return 1;
}

/* Blocks in get/peek: [self, block, timeout]. */
static int wait_get(lua_State *L, l_queue *q, int peek) {
  gv_hub *hub = &q->h->hub;
  gv_greenlet *cur = gv_check_block(hub, L);
  void *tmo = NULL;
  double timeout = lua_isnil(L, 3) ? -1 : l_timeout_arg(L, cur, 3, 1, &tmo);
  if (!gv_waitq_empty(&q->putters)) schedule_unlock(L, q, 1);
  return gv_waitq_wait(hub, &q->getters, L, timeout,
                       peek ? "Queue.peek" : "Queue.get",
                       (lua_KContext)peek, get_k);
}

/* Channel.get: always waits for a putter (block false: for no time). */
static int channel_get(lua_State *L, l_hub *h, l_queue *q, int block) {
  gv_hub *hub = &h->hub;
  gv_greenlet *p;
  lua_settop(L, 3);
  if (!hub->current && (p = gv_waitq_first(&q->putters)) != NULL) {
    push_blocked_value(L, p, 2);
    gv_wake(p, GV_WAKE_NORMAL); /* gevent: run_callback(putter.switch) */
    return 1;
  }
  gv_greenlet *cur = gv_check_block(hub, L);
  void *tmo = NULL;
  double timeout = 0;
  if (block) {
    timeout = l_timeout_arg(L, cur, 3, 1, &tmo);
  } else {
    lua_pushinteger(L, 0);
    lua_replace(L, 3);
  }
  if (!gv_waitq_empty(&q->putters)) schedule_unlock(L, q, 1);
  return gv_waitq_wait(hub, &q->getters, L, timeout, "Channel.get", 0,
                       get_k);
}

static int get_or_peek(lua_State *L, int peek) {
  l_queue *q = check_self(L);
  l_hub *h = q->h;
  gv_hub *hub = &h->hub;
  int block = 1;
  if (lua_gettop(L) != 1) { /* not just q:get() */
    l_optargs(L, 2, "block", "timeout", NULL);
    block = lua_isnil(L, 2) || lua_toboolean(L, 2);
    void *tmo;
    l_opttimeout(L, 3, &tmo); /* type check */
  }
  if (q->order == Q_NONE) {
    if (peek) return luaL_error(L, "a Channel cannot peek");
    return channel_get(L, h, q, block);
  }
  if (q->count > 0) {
    if (peek) {
      items_peek(L, q, 1);
      return 1;
    }
    if (!gv_waitq_empty(&q->putters)) schedule_unlock(L, q, 1);
    items_get(L, q, 1);
    return 1;
  }
  if (!hub->current) { /* in the hub: take blocked putters' items */
    gv_callback *after = NULL;
    gv_greenlet *p;
    while ((p = gv_waitq_first(&q->putters)) != NULL) {
      push_blocked_value(L, p, 2);
      do_put(L, q, 1, -1);
      lua_pop(L, 1);
      after = gv_wake_after(p, GV_WAKE_NORMAL, after);
      if (q->count > 0) {
        if (peek) items_peek(L, q, 1);
        else items_get(L, q, 1);
        return 1;
      }
    }
    return raise_new(L, L_EMPTY);
  }
  if (!block) return raise_new(L, L_EMPTY);
  if (lua_gettop(L) == 1) { /* [self, block, timeout] for get_k */
    lua_pushnil(L);
    lua_pushnil(L);
  }
  return wait_get(L, q, peek);
}

/* q:get(block, timeout) */
static int q_get(lua_State *L) { return get_or_peek(L, 0); }

/* q:peek(block, timeout) */
static int q_peek(lua_State *L) { return get_or_peek(L, 1); }

static int q_get_nowait(lua_State *L) {
  lua_settop(L, 1);
  lua_pushboolean(L, 0);
  return get_or_peek(L, 0);
}

static int q_peek_nowait(lua_State *L) {
  lua_settop(L, 1);
  lua_pushboolean(L, 0);
  return get_or_peek(L, 1);
}

/* ---- sizes ------------------------------------------------------------- */

static int q_qsize(lua_State *L) {
  lua_pushinteger(L, check_self(L)->count);
  return 1;
}

static int q_empty(lua_State *L) {
  lua_pushboolean(L, check_self(L)->count == 0);
  return 1;
}

static int q_full(lua_State *L) {
  l_queue *q = check_self(L);
  lua_pushboolean(L, q->order == Q_NONE ||
                     (q->maxsize > 0 && q->count >= q->maxsize));
  return 1;
}

static int count_waiters(gv_waitq *w) {
  int n = 0;
  for (gv_link *l = w->head.next; l != &w->head; l = l->next) n++;
  return n;
}

/* ---- JoinableQueue ----------------------------------------------------- */

/* q:task_done() */
static int q_task_done(lua_State *L) {
  l_queue *q = check_joinable(L, 1);
  if (q->unfinished <= 0)
    return luaL_error(L, "task_done() called too many times");
  if (--q->unfinished == 0) {
    lua_getiuservalue(L, 1, UV_COND);
    l_event_set_at(L, -1);
  }
  return 0;
}

/* q:join(timeout): true when every task is done, false on timeout. */
static int q_join(lua_State *L) {
  check_joinable(L, 1);
  l_optargs(L, 2, "timeout", NULL);
  void *tmo;
  l_opttimeout(L, 2, &tmo); /* type check */
  lua_getiuservalue(L, 1, UV_COND);
  lua_replace(L, 1);
  return l_event_wait(L);
}

/* ---- metamethods ------------------------------------------------------- */

/* __index: methods (the class, upvalue 2) first, then fields. */
static int q_index(lua_State *L) {
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) return 1;
  l_queue *q = lua_touserdata(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "maxsize") == 0) {
      if (q->order == Q_NONE) lua_pushinteger(L, 1);
      else if (q->maxsize > 0) lua_pushinteger(L, q->maxsize);
      else lua_pushnil(L);
      return 1;
    }
    if (q->type == T_JOINABLE && strcmp(k, "unfinished_tasks") == 0) {
      lua_pushinteger(L, q->unfinished);
      return 1;
    }
    if (q->order == Q_NONE && strcmp(k, "balance") == 0) {
      lua_pushinteger(L, count_waiters(&q->putters) -
                         count_waiters(&q->getters));
      return 1;
    }
  }
  lua_pushnil(L);
  return 1;
}

/* Only maxsize can be set (gevent: None or <= 0 is unbounded). */
static int q_newindex(lua_State *L) {
  l_queue *q = lua_touserdata(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2),
                                              "maxsize") == 0 &&
      q->order != Q_NONE) {
    if (lua_isnil(L, 3)) {
      q->maxsize = -1;
    } else {
      lua_Integer n = luaL_checkinteger(L, 3);
      q->maxsize = n <= 0 ? -1 : n;
    }
    return 0;
  }
  return luaL_error(L, "cannot set field '%s' of a %s",
                    luaL_tolstring(L, 2, NULL), type_names[q->type]);
}

/* Frees the registry slot (the queue is not anchored, or the state is
** closing). */
static int q_gc(lua_State *L) {
  l_queue *q = lua_touserdata(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, q->ref);
  q->ref = LUA_NOREF;
  return 0;
}

static int q_len(lua_State *L) {
  lua_pushinteger(L, ((l_queue *)lua_touserdata(L, 1))->count);
  return 1;
}

static int q_tostring(lua_State *L) {
  l_queue *q = lua_touserdata(L, 1);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '<');
  luaL_addstring(&b, type_names[q->type]);
  if (q->order != Q_NONE) {
    if (q->maxsize > 0) {
      lua_pushfstring(L, " maxsize=%I", q->maxsize);
      luaL_addvalue(&b);
    }
    lua_pushfstring(L, " qsize=%I", q->count);
    luaL_addvalue(&b);
  }
  int n = count_waiters(&q->getters);
  if (n) {
    lua_pushfstring(L, " getters[%d]", n);
    luaL_addvalue(&b);
  }
  n = count_waiters(&q->putters);
  if (n) {
    lua_pushfstring(L, " putters[%d]", n);
    luaL_addvalue(&b);
  }
  if (q->type == T_JOINABLE && q->unfinished) {
    lua_pushfstring(L, " tasks=%I", q->unfinished);
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, '>');
  luaL_pushresult(&b);
  return 1;
}

/* ---- construction ------------------------------------------------------ */

static int arg_error(lua_State *L, int type, int arg, const char *msg) {
  return l_argerror(L, arg, lua_pushfstring(L, "gevent.queue.%s",
                                            type_names[type]), msg);
}

/* Class(...): Queue(maxsize, items), LifoQueue(maxsize, items),
** PriorityQueue(maxsize, items, cmp) (also PriorityQueue(cmp) and
** PriorityQueue(maxsize, cmp)), JoinableQueue(maxsize, items,
** unfinished_tasks), Channel(); or one options table {maxsize=, items=,
** cmp=, unfinished_tasks=}. */
static int q_new(lua_State *L) {
  l_hub *h = l_hubup(L);
  int type = (int)lua_tointeger(L, lua_upvalueindex(2));
  lua_remove(L, 1); /* the class */
  /* normalise to [maxsize, items, cmp, unfinished] */
  if (l_isopts(L, 1)) {
    lua_settop(L, 1);
    l_optfield(L, 1, "maxsize");
    l_optfield(L, 1, "items");
    l_optfield(L, 1, "cmp");
    l_optfield(L, 1, "unfinished_tasks");
    lua_remove(L, 1);
  } else if (type == T_PRIO) {
    lua_settop(L, 3);
    if (lua_isfunction(L, 1)) {
      lua_settop(L, 1);
      lua_pushnil(L);
      lua_insert(L, 1);
      lua_pushnil(L);
      lua_insert(L, 2);
    } else if (lua_isfunction(L, 2)) {
      lua_settop(L, 2);
      lua_pushnil(L);
      lua_insert(L, 2);
    }
    lua_settop(L, 4);
  } else if (type == T_JOINABLE) {
    lua_settop(L, 3);
    lua_pushnil(L);
    lua_insert(L, 3);
  } else {
    lua_settop(L, 2);
  }
  lua_settop(L, 4);
  lua_Integer maxsize = -1;
  if (!lua_isnil(L, 1)) {
    int isint;
    lua_Integer n = lua_tointegerx(L, 1, &isint);
    if (!isint)
      return arg_error(L, type, 1, lua_type(L, 1) == LUA_TNUMBER
                                   ? "maxsize must be an integer"
                                   : "maxsize must be a number or nil");
    if (n < 0) return arg_error(L, type, 1, "maxsize must not be negative");
    if (type == T_CHANNEL && n != 1)
      return luaL_error(L, "Channels have a maxsize of 1");
    maxsize = n == 0 ? -1 : n; /* gevent: Queue(0) is unbounded */
  }
  if (type == T_CHANNEL && maxsize != -1 && maxsize != 1)
    return luaL_error(L, "Channels have a maxsize of 1");
  if (!lua_isnil(L, 2) && !lua_istable(L, 2))
    return arg_error(L, type, 2, "items must be a table");
  if (!lua_isnil(L, 3)) {
    if (type != T_PRIO)
      return luaL_error(L, "only a PriorityQueue takes a comparator");
    if (!lua_isfunction(L, 3) && !luaL_getmetafield(L, 3, "__call"))
      return arg_error(L, type, 3, "comparator must be callable");
    lua_settop(L, 4);
  }
  lua_Integer unfinished = 0;
  if (!lua_isnil(L, 4)) {
    int isint;
    unfinished = lua_tointegerx(L, 4, &isint);
    if (!isint || unfinished < 0)
      return arg_error(L, type, 3, "unfinished_tasks must be a "
                                   "non-negative integer");
  }
  l_queue *q = lua_newuserdatauv(L, sizeof *q, UV_NUM);
  int self = lua_gettop(L);
  memset(q, 0, sizeof *q);
  q->unlock.fn = unlock_fire;
  q->unlock.kind = GV_CB_QUEUE;
  q->h = h;
  gv_waitq_init(&q->getters);
  gv_waitq_init(&q->putters);
  q->maxsize = type == T_CHANNEL ? 1 : maxsize;
  q->ref = LUA_NOREF;
  q->type = (unsigned char)type;
  q->order = type == T_LIFO ? Q_LIFO : type == T_PRIO ? Q_PRIO
           : type == T_CHANNEL ? Q_NONE : Q_FIFO;
  lua_newtable(L);
  lua_setiuservalue(L, self, UV_ITEMS);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, self, UV_CMP);
  luaL_setmetatable(L, type_meta[type]);
  if (lua_istable(L, 2) && q->order != Q_NONE) { /* initial items */
    lua_Integer n;
    if (lua_getfield(L, 2, "n") == LUA_TNUMBER) n = lua_tointeger(L, -1);
    else n = (lua_Integer)lua_rawlen(L, 2);
    lua_pop(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, 2, i);
      if (q->order == Q_PRIO) { /* heapify below */
        lua_getiuservalue(L, self, UV_ITEMS);
        lua_insert(L, -2);
        lua_rawseti(L, -2, ++q->count);
        lua_pop(L, 1);
      } else {
        items_put(L, q, self, -1);
        lua_pop(L, 1);
      }
    }
    if (q->order == Q_PRIO && q->count > 1) {
      lua_getiuservalue(L, self, UV_ITEMS);
      lua_getiuservalue(L, self, UV_CMP);
      int t = lua_gettop(L) - 1;
      for (lua_Integer i = q->count / 2 - 1; i >= 0; i--)
        siftup(L, t, t + 1, q->count, i);
      lua_pop(L, 2);
    }
  }
  if (type == T_JOINABLE) {
    q->unfinished = unfinished ? unfinished : q->count;
    l_event_push_new(L, h);
    if (!q->unfinished) l_event_set_at(L, -1);
    lua_setiuservalue(L, self, UV_COND);
  }
  lua_settop(L, self);
  return 1;
}

/* ---- registration ------------------------------------------------------ */

static const luaL_Reg queue_methods[] = {
  {"put", q_put},
  {"get", q_get},
  {"put_nowait", q_put_nowait},
  {"get_nowait", q_get_nowait},
  {"peek", q_peek},
  {"peek_nowait", q_peek_nowait},
  {"qsize", q_qsize},
  {"empty", q_empty},
  {"full", q_full},
  {NULL, NULL}
};

static const luaL_Reg joinable_methods[] = {
  {"put", q_put},
  {"get", q_get},
  {"put_nowait", q_put_nowait},
  {"get_nowait", q_get_nowait},
  {"peek", q_peek},
  {"peek_nowait", q_peek_nowait},
  {"qsize", q_qsize},
  {"empty", q_empty},
  {"full", q_full},
  {"task_done", q_task_done},
  {"join", q_join},
  {NULL, NULL}
};

static const luaL_Reg channel_methods[] = {
  {"put", q_put},
  {"get", q_get},
  {"put_nowait", q_put_nowait},
  {"get_nowait", q_get_nowait},
  {"qsize", q_qsize},
  {"empty", q_empty},
  {"full", q_full},
  {NULL, NULL}
};

static const luaL_Reg instance_meta[] = {
  {"__newindex", q_newindex},
  {"__gc", q_gc},
  {"__len", q_len},
  {"__tostring", q_tostring},
  {NULL, NULL}
};

void l_queue_open(lua_State *L, l_hub *h) {
  (void)h;
  if (lua_getfield(L, LUA_REGISTRYINDEX, L_EMPTY) == LUA_TNIL) {
    l_class_new(L, "Empty", 0, L_EMPTY);
    l_class_new(L, "Full", 0, L_FULL);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  for (int t = 0; t < T_NUM; t++) {
    l_newtype(L, type_meta[t], t == T_CHANNEL ? channel_methods
                             : t == T_JOINABLE ? joinable_methods
                             : queue_methods, instance_meta, q_index);
    lua_pushinteger(L, t);
    l_newclass(L, type_names[t], q_new, 1);
    lua_setfield(L, -3, type_names[t]);
    lua_pop(L, 1);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, L_EMPTY);
  lua_setfield(L, -2, "Empty");
  lua_getfield(L, LUA_REGISTRYINDEX, L_FULL);
  lua_setfield(L, -2, "Full");
}
