/*
** l_event.c - gevent.event: Event and AsyncResult.
**
** Both are gevent's AbstractLinkable: one ordered list of links, each a
** greenlet blocked in wait()/get() (in the 'links' wait queue, its place in
** the list in its continuation context) or a rawlink callback (a Lua value
** in the EUV_LINKS table with its place). When the object becomes ready with
** links, a notification callback embedded in the object is scheduled on the
** hub (gevent's _notify_links). It walks the links present when it started:
** a callback is called there, in the hub; a greenlet is switched to at once
** (gevent switches to it from the hub): it is queued to run next, the
** notifier right after it, so it runs until it blocks and the walk goes on
** from there, in gevent's order. A greenlet that calls wait() on a ready
** object while a notification is under way waits its turn after the walk
** (gevent's arrived_while_waiting).
*/
#include <stdio.h>
#include <string.h>
#include "bindings.h"

#define L_EVENT "gevent.Event"
#define L_RESULT "gevent.AsyncResult"

enum { K_EVENT, K_RESULT };

/* User values. */
enum {
  EUV_LINKS = 1,  /* rawlinks: [2i-1] callback, [2i] its place */
  EUV_VALUE,      /* AsyncResult: the value */
  EUV_EXC,        /* AsyncResult: the error */
  EUV_NUM = EUV_EXC
};

typedef struct l_event {
  gv_callback notify;     /* the notification callback */
  l_hub *h;
  gv_waitq links;         /* greenlets waiting, in order (wait ctx: place) */
  gv_waitq arrived;       /* waited on it ready during a notification */
  lua_Integer next_seq;   /* places of links, in order of linking */
  lua_Integer final_seq;  /* last place the running walk serves */
  int rl_head, rl_tail;   /* rawlink slots in use: [head, tail) */
  int rl_count;           /* live rawlinks */
  int ref;                /* registry anchor while notifying */
  unsigned char kind;
  unsigned char active;   /* notification scheduled or under way */
  unsigned char phase;    /* 0: not begun, 1: links, 2: arrived */
  unsigned char flag;     /* Event: set; AsyncResult: has a value */
  unsigned char has_exc;  /* AsyncResult: has an error */
} l_event;

#define SEQ_NONE LUA_MAXINTEGER

/* ---- helpers shared with l_queue.c ------------------------------------- */


/* ---- access ------------------------------------------------------------ */

static l_event *test_event(lua_State *L, int idx, int kind) {
  return luaL_testudata(L, idx, kind == K_EVENT ? L_EVENT : L_RESULT);
}

static l_event *check_event(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, L_EVENT);
}

static l_event *check_result(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, L_RESULT);
}

/* Either kind (rawlink, unlink, ready, ...). */
static l_event *check_linkable(lua_State *L, int idx) {
  l_event *e = test_event(L, idx, K_EVENT);
  if (!e) e = test_event(L, idx, K_RESULT);
  if (!e) luaL_typeerror(L, idx, "gevent.Event or gevent.AsyncResult");
  return e;
}

static int is_ready(l_event *e) {
  return e->kind == K_EVENT ? e->flag : (e->flag || e->has_exc);
}

static int has_links(l_event *e) {
  return !gv_waitq_empty(&e->links) || e->rl_count > 0;
}

static void anchor(lua_State *L, l_event *e, int self) {
  if (e->ref != LUA_NOREF) return;
  lua_pushvalue(L, self);
  e->ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void unanchor(lua_State *L, l_event *e) {
  if (e->ref == LUA_NOREF) return;
  luaL_unref(L, LUA_REGISTRYINDEX, e->ref);
  e->ref = LUA_NOREF;
}

/* Pushes the rawlinks table, creating it if 'create'; returns 0 (and
** pushes nothing) if there is none. */
static int push_rawlinks(lua_State *L, int self, int create) {
  if (lua_getiuservalue(L, self, EUV_LINKS) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  if (!create) return 0;
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, self, EUV_LINKS);
  return 1;
}

/* Place of the first rawlink (skipping removed ones), or SEQ_NONE. The
** rawlinks table is at t. */
static lua_Integer first_rawlink(lua_State *L, l_event *e, int t) {
  if (e->rl_count == 0) return SEQ_NONE;
  while (e->rl_head < e->rl_tail) {
    if (lua_rawgeti(L, t, 2 * (lua_Integer)e->rl_head - 1) != LUA_TNIL) {
      lua_pop(L, 1);
      lua_rawgeti(L, t, 2 * (lua_Integer)e->rl_head);
      lua_Integer seq = lua_tointeger(L, -1);
      lua_pop(L, 1);
      return seq;
    }
    lua_pop(L, 1);
    e->rl_head++;
  }
  return SEQ_NONE;
}

/* Removes rawlink slot i (its callback is pushed if 'push'). */
static void remove_rawlink(lua_State *L, l_event *e, int t, int i,
                           int push) {
  if (push) lua_rawgeti(L, t, 2 * (lua_Integer)i - 1);
  lua_pushnil(L);
  lua_rawseti(L, t, 2 * (lua_Integer)i - 1);
  lua_pushnil(L);
  lua_rawseti(L, t, 2 * (lua_Integer)i);
  if (--e->rl_count == 0) e->rl_head = e->rl_tail = 1;
}

/* gevent's _check_and_notify: ready with links and no notification yet
** scheduled: schedule one. self at idx. */
static void check_and_notify(lua_State *L, l_event *e, int self) {
  if (!is_ready(e) || !has_links(e) || e->active) return;
  e->active = 1;
  e->phase = 0;
  anchor(L, e, self);
  gv_schedule(&e->h->hub, &e->notify);
}

/* gevent's unlink: with no links left, a notification that has not begun
** is dropped. */
static void maybe_stop(lua_State *L, l_event *e) {
  if (has_links(e) || !e->active || e->phase != 0 ||
      !gv_waitq_empty(&e->arrived))
    return;
  gv_unschedule(&e->h->hub, &e->notify);
  e->active = 0;
  unanchor(L, e);
}

/* ---- the notification (hub context) ------------------------------------ */

static int link_msgh(lua_State *L) {
  luaL_traceback(L, L, luaL_tolstring(L, 1, NULL), 1);
  return 1;
}

/* Calls the callback on top with self; errors are reported, not raised. */
static void call_link(lua_State *L, int self) {
  lua_pushcfunction(L, link_msgh);
  lua_insert(L, -2);
  lua_pushvalue(L, self);
  if (lua_pcall(L, 1, 0, -3) != LUA_OK) {
    fprintf(stderr, "gvlua: error in a link callback: %s\n",
            lua_tostring(L, -1));
    fflush(stderr);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* One step of the walk: returns after queuing a woken greenlet (the
** notifier is queued after it) or when the walk is over. */
static int notify_p(lua_State *L) {
  l_event *e = lua_touserdata(L, 1);
  gv_hub *hub = &e->h->hub;
  lua_settop(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref);
  int self = 2;
  if (!push_rawlinks(L, self, 0)) lua_pushnil(L);
  int t = 3;
  if (e->phase == 0) {
    e->phase = 1;
    e->final_seq = e->next_seq - 1;
  }
  if (e->phase == 1) {
    for (;;) {
      gv_greenlet *w = gv_waitq_first(&e->links);
      lua_Integer wseq = w ? (lua_Integer)gv_wait_ctx(w) : SEQ_NONE;
      lua_Integer rseq = lua_istable(L, t) ? first_rawlink(L, e, t)
                                           : SEQ_NONE;
      if (rseq < wseq) {
        if (rseq > e->final_seq) break;
        remove_rawlink(L, e, t, e->rl_head, 1);
        call_link(L, self);
        if (!lua_istable(L, t) && push_rawlinks(L, self, 0))
          lua_replace(L, t);
        continue;
      }
      if (!w || wseq > e->final_seq) break;
      gv_schedule_after(hub, &e->notify,
                        gv_wake_after(w, GV_WAKE_NORMAL, NULL));
      return 0;
    }
    e->phase = 2;
    e->final_seq = e->next_seq - 1;
  }
  gv_greenlet *w = gv_waitq_first(&e->arrived);
  if (w && (lua_Integer)gv_wait_ctx(w) <= e->final_seq) {
    gv_schedule_after(hub, &e->notify,
                        gv_wake_after(w, GV_WAKE_NORMAL, NULL));
    return 0;
  }
  /* the walk is over: late arrivals go back on the links */
  while ((w = gv_waitq_first(&e->arrived)) != NULL) {
    gv_set_wait_ctx(w, (lua_KContext)e->next_seq++);
    gv_waitq_move(&e->links, w);
  }
  e->phase = 0;
  e->active = 0;
  unanchor(L, e);
  check_and_notify(L, e, self);
  return 0;
}

static void notify_fire(gv_hub *hub, gv_callback *cb) {
  l_event *e = gv_container_of(cb, l_event, notify);
  l_hub_protected(hub->ud, notify_p, e);
}

/* ---- creation ---------------------------------------------------------- */

static l_event *event_new(lua_State *L, l_hub *h, int kind) {
  l_event *e = lua_newuserdatauv(L, sizeof *e, kind == K_EVENT ? 1 : EUV_NUM);
  memset(e, 0, sizeof *e);
  e->notify.fn = notify_fire;
  e->notify.kind = GV_CB_EVENT;
  e->h = h;
  gv_waitq_init(&e->links);
  gv_waitq_init(&e->arrived);
  e->next_seq = 1;
  e->rl_head = e->rl_tail = 1;
  e->ref = LUA_NOREF;
  e->kind = (unsigned char)kind;
  luaL_setmetatable(L, kind == K_EVENT ? L_EVENT : L_RESULT);
  return e;
}

/* Event() / AsyncResult(): called through the class's __call. */
static int c_new_event(lua_State *L) {
  event_new(L, l_hubup(L), K_EVENT);
  return 1;
}

static int c_new_result(lua_State *L) {
  event_new(L, l_hubup(L), K_RESULT);
  return 1;
}

/* ---- waiting ----------------------------------------------------------- */

/* Reads an optional timeout argument at 2 (or {timeout=} there) and leaves
** the stack as [self, timeout]. */
static void timeout_arg(lua_State *L) {
  l_optargs(L, 2, "timeout", NULL);
  void *tmo;
  l_opttimeout(L, 2, &tmo); /* type check only */
}

/* What a wait returns: Event: true; AsyncResult: its value. */
static int push_wait_result(lua_State *L, l_event *e, int ok) {
  if (e->kind == K_EVENT) lua_pushboolean(L, ok);
  else if (e->flag) lua_getiuservalue(L, 1, EUV_VALUE);
  else lua_pushnil(L);
  return 1;
}

/* Continuation of wait(): [self, timeout]. */
static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  l_hub *h = l_hubup(L);
  l_event *e = lua_touserdata(L, 1);
  int wake = h->hub.current->wake;
  void *tmo = l_timeout_test(L, 2);
  if (tmo) l_cancel_timeout(L, 2);
  if (wake == GV_WAKE_THROW) {
    if (!tmo || lua_touserdata(L, -1) != tmo) return lua_error(L);
    lua_pop(L, 1); /* its own Timeout: a timeout */
  }
  if (wake != GV_WAKE_NORMAL) {
    maybe_stop(L, e);
    return push_wait_result(L, e, 0);
  }
  return push_wait_result(L, e, 1);
}

/* Continuation of a wait on a ready object during a notification:
** [self, timeout, result]. */
static int arrived_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  lua_settop(L, 3);
  return 1;
}

/* gevent's _wait: ready: the result (after the notification under way,
** if any); otherwise blocks until notified or timed out. Stack: [self,
** timeout]. */
static int do_wait(lua_State *L, const char *what) {
  l_hub *h = l_hubup(L);
  l_event *e = lua_touserdata(L, 1);
  if (is_ready(e)) {
    push_wait_result(L, e, 1);
    if (!e->active || !h->hub.current) return 1;
    return gv_waitq_wait(&h->hub, &e->arrived, L, -1, what,
                         (lua_KContext)e->next_seq++, arrived_k);
  }
  gv_greenlet *cur = gv_check_block(&h->hub, L);
  void *tmo;
  double timeout = l_timeout_arg(L, cur, 2, 1, &tmo);
  return gv_waitq_wait(&h->hub, &e->links, L, timeout, what,
                       (lua_KContext)e->next_seq++, wait_k);
}

/* ---- Event ------------------------------------------------------------- */

static int m_set(lua_State *L) {
  l_event *e = check_event(L, 1);
  e->flag = 1;
  check_and_notify(L, e, 1);
  return 0;
}

static int m_clear(lua_State *L) {
  check_event(L, 1)->flag = 0;
  return 0;
}

static int m_is_set(lua_State *L) {
  lua_pushboolean(L, check_event(L, 1)->flag);
  return 1;
}

/* evt:wait(timeout): whether it was set (false: timed out). */
static int m_wait(lua_State *L) {
  check_event(L, 1);
  timeout_arg(L);
  return do_wait(L, "Event.wait");
}

/* For l_queue.c (JoinableQueue): the Event at 1, the timeout at 2;
** registered functions only (the hub is upvalue 1). */
int l_event_wait(lua_State *L) {
  check_event(L, 1);
  lua_settop(L, 2);
  return do_wait(L, "JoinableQueue.join");
}

void l_event_push_new(lua_State *L, l_hub *h) {
  event_new(L, h, K_EVENT);
}

void l_event_set_at(lua_State *L, int idx) {
  l_event *e = lua_touserdata(L, idx);
  e->flag = 1;
  check_and_notify(L, e, lua_absindex(L, idx));
}

void l_event_clear_at(lua_State *L, int idx) {
  ((l_event *)lua_touserdata(L, idx))->flag = 0;
}

/* ---- AsyncResult ------------------------------------------------------- */

/* a:set(value) */
static int r_set(lua_State *L) {
  l_event *e = check_result(L, 1);
  lua_settop(L, 2);
  lua_setiuservalue(L, 1, EUV_VALUE);
  e->flag = 1;
  check_and_notify(L, e, 1);
  return 0;
}

/* a:set_exception(err) */
static int r_set_exception(lua_State *L) {
  l_event *e = check_result(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  lua_setiuservalue(L, 1, EUV_EXC);
  e->has_exc = 1;
  check_and_notify(L, e, 1);
  return 0;
}

/* Ready: pushes the value or raises the error. */
static int push_outcome(lua_State *L, l_event *e) {
  if (e->flag) {
    lua_getiuservalue(L, 1, EUV_VALUE);
    return 1;
  }
  lua_getiuservalue(L, 1, EUV_EXC);
  return lua_error(L);
}

/* Continuation of get(): [self, block, timeout]. */
static int get_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  l_hub *h = l_hubup(L);
  l_event *e = lua_touserdata(L, 1);
  int wake = h->hub.current->wake;
  if (l_timeout_test(L, 3)) l_cancel_timeout(L, 3);
  if (wake == GV_WAKE_THROW) return lua_error(L);
  if (wake == GV_WAKE_TIMEOUT) {
    maybe_stop(L, e);
    l_timeout_push_new(L, lua_tonumber(L, 3)); /* gevent's started timer */
    return lua_error(L);
  }
  if (is_ready(e)) return push_outcome(L, e);
  l_timeout_push_new(L, -1);
  return lua_error(L);
}

/* a:get(block, timeout): the value, or raises the error; Timeout when it
** is not ready in time. */
static int r_get(lua_State *L) {
  l_hub *h = l_hubup(L);
  l_event *e = check_result(L, 1);
  l_optargs(L, 2, "block", "timeout", NULL);
  int block = lua_isnil(L, 2) || lua_toboolean(L, 2);
  void *tmo;
  l_opttimeout(L, 3, &tmo);
  if (is_ready(e)) return push_outcome(L, e);
  if (!block) {
    l_timeout_push_new(L, -1);
    return lua_error(L);
  }
  gv_greenlet *cur = gv_check_block(&h->hub, L);
  double timeout = l_timeout_arg(L, cur, 3, 1, &tmo); /* to cancel it,
                                                        then re-raise */
  return gv_waitq_wait(&h->hub, &e->links, L, timeout, "AsyncResult.get",
                       (lua_KContext)e->next_seq++, get_k);
}

static int r_get_nowait(lua_State *L) {
  lua_settop(L, 1);
  lua_pushboolean(L, 0);
  return r_get(L);
}

/* a:result(timeout) == a:get(true, timeout) */
static int r_result(lua_State *L) {
  l_optargs(L, 2, "timeout", NULL);
  lua_pushboolean(L, 1);
  lua_insert(L, 2);
  return r_get(L);
}

/* a:wait(timeout): the value (nil if not set in time, or if it failed). */
static int r_wait(lua_State *L) {
  check_result(L, 1);
  timeout_arg(L);
  return do_wait(L, "AsyncResult.wait");
}

static int r_successful(lua_State *L) {
  lua_pushboolean(L, check_result(L, 1)->flag);
  return 1;
}

static int r_false(lua_State *L) {
  check_result(L, 1);
  lua_pushboolean(L, 0);
  return 1;
}

/* a(source): as a link of a greenlet, takes over its outcome. */
static int r_call(lua_State *L) {
  check_result(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  lua_getfield(L, 2, "successful");
  lua_pushvalue(L, 2);
  lua_call(L, 1, 1);
  int ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_pushcfunction(L, ok ? r_set : r_set_exception);
  lua_pushvalue(L, 1);
  lua_getfield(L, 2, ok ? "value" : "exception");
  lua_call(L, 2, 0);
  return 0;
}

/* __index: methods (the class, upvalue 2) first, then value, exception. */
static int r_index(lua_State *L) {
  l_event *e = lua_touserdata(L, 1);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) return 1;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "value") == 0) {
      if (e->flag) lua_getiuservalue(L, 1, EUV_VALUE);
      else lua_pushnil(L);
      return 1;
    }
    if (strcmp(k, "exception") == 0) {
      if (e->has_exc) lua_getiuservalue(L, 1, EUV_EXC);
      else lua_pushnil(L);
      return 1;
    }
  }
  lua_pushnil(L);
  return 1;
}

/* ---- both -------------------------------------------------------------- */

static int m_ready(lua_State *L) {
  lua_pushboolean(L, is_ready(check_linkable(L, 1)));
  return 1;
}

/* obj:rawlink(fn): fn(obj) is called in the hub when it is ready. */
static int m_rawlink(lua_State *L) {
  l_event *e = check_linkable(L, 1);
  if (!lua_isfunction(L, 2) && !luaL_getmetafield(L, 2, "__call"))
    return luaL_typeerror(L, 2, "callable");
  lua_settop(L, 2);
  push_rawlinks(L, 1, 1);
  int i = e->rl_tail++;
  lua_pushvalue(L, 2);
  lua_rawseti(L, 3, 2 * (lua_Integer)i - 1);
  lua_pushinteger(L, e->next_seq++);
  lua_rawseti(L, 3, 2 * (lua_Integer)i);
  e->rl_count++;
  check_and_notify(L, e, 1);
  return 0;
}

/* obj:unlink(fn): removes the first link to fn. */
static int m_unlink(lua_State *L) {
  l_event *e = check_linkable(L, 1);
  lua_settop(L, 2);
  if (e->rl_count > 0 && push_rawlinks(L, 1, 0)) {
    for (int i = e->rl_head; i < e->rl_tail; i++) {
      lua_rawgeti(L, 3, 2 * (lua_Integer)i - 1);
      int same = lua_rawequal(L, -1, 2);
      lua_pop(L, 1);
      if (same) {
        remove_rawlink(L, e, 3, i, 0);
        break;
      }
    }
  }
  maybe_stop(L, e);
  return 0;
}

static int m_linkcount(lua_State *L) {
  l_event *e = check_linkable(L, 1);
  lua_Integer n = e->rl_count;
  for (gv_link *l = e->links.head.next; l != &e->links.head; l = l->next)
    n++;
  lua_pushinteger(L, n);
  return 1;
}

static int m_tostring(lua_State *L) {
  l_event *e = check_linkable(L, 1);
  lua_pushcfunction(L, m_linkcount);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  int n = (int)lua_tointeger(L, -1);
  if (e->kind == K_EVENT) {
    lua_pushfstring(L, "<Event %s _links[%d]>", e->flag ? "set" : "clear",
                    n);
  } else {
    const char *state = e->flag ? (e->has_exc ? "value, exception" : "value")
                      : e->has_exc ? "exception" : "unset";
    lua_pushfstring(L, "<AsyncResult %s _links[%d]>", state, n);
  }
  return 1;
}

/* ---- registration ------------------------------------------------------ */

static const luaL_Reg event_methods[] = {
  {"set", m_set},
  {"clear", m_clear},
  {"wait", m_wait},
  {"is_set", m_is_set},
  {"isSet", m_is_set},
  {"ready", m_ready},
  {"rawlink", m_rawlink},
  {"unlink", m_unlink},
  {"linkcount", m_linkcount},
  {NULL, NULL}
};

static const luaL_Reg result_methods[] = {
  {"set", r_set},
  {"set_result", r_set},
  {"set_exception", r_set_exception},
  {"get", r_get},
  {"get_nowait", r_get_nowait},
  {"result", r_result},
  {"wait", r_wait},
  {"ready", m_ready},
  {"done", m_ready},
  {"successful", r_successful},
  {"cancel", r_false},
  {"cancelled", r_false},
  {"rawlink", m_rawlink},
  {"unlink", m_unlink},
  {"linkcount", m_linkcount},
  {NULL, NULL}
};

static const luaL_Reg event_meta[] = {
  {"__tostring", m_tostring},
  {NULL, NULL}
};

static const luaL_Reg result_meta[] = {
  {"__tostring", m_tostring},
  {"__call", r_call},
  {NULL, NULL}
};

void l_event_open(lua_State *L, l_hub *h) {
  (void)h;
  l_newtype(L, L_EVENT, event_methods, event_meta, NULL);
  l_newclass(L, "Event", c_new_event, 0);
  lua_setfield(L, -3, "Event");
  lua_pop(L, 1);
  l_newtype(L, L_RESULT, result_methods, result_meta, r_index);
  l_newclass(L, "AsyncResult", c_new_result, 0);
  lua_setfield(L, -3, "AsyncResult");
  lua_pop(L, 1);
}
