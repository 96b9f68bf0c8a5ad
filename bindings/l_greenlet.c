/*
** l_greenlet.c - gevent's Greenlet for Lua: spawn, sleep, join, kill,
** links, subclassing, and what happens when a greenlet's body ends (results
** stored, errors reported with the spawn site, joiners and links woken).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bindings.h"


static const char ERRBOX[] = "gevent.Greenlet.ErrorBox";
static const char NOMEM_START[] = "cannot start the greenlet: not enough memory";

/* ---- access ------------------------------------------------------------ */

l_greenlet *l_greenlet_test(lua_State *L, int idx) {
  return luaL_testudata(L, idx, L_GREENLET);
}

l_greenlet *l_greenlet_check(lua_State *L, int idx) {
  l_greenlet *g = l_greenlet_test(L, idx);
  if (!g) luaL_typeerror(L, idx, L_GREENLET);
  return g;
}

static int is_dead(l_greenlet *g) { return g->g.state == GV_DEAD; }

/* ---- minimal_ident: small integers, the smallest free one first ------- */

static void idents_push(l_hub *h, unsigned id) {
  if (h->nfree_idents == h->free_idents_cap) {
    size_t cap = h->free_idents_cap ? 2 * h->free_idents_cap : 64;
    unsigned *a = realloc(h->free_idents, cap * sizeof *a);
    if (!a) return; /* the ident is simply not reused */
    h->free_idents = a;
    h->free_idents_cap = cap;
  }
  size_t i = h->nfree_idents++;
  while (i > 0 && h->free_idents[(i - 1) / 2] > id) {
    h->free_idents[i] = h->free_idents[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h->free_idents[i] = id;
}

static unsigned idents_pop(l_hub *h) {
  unsigned top = h->free_idents[0];
  unsigned last = h->free_idents[--h->nfree_idents];
  size_t i = 0, n = h->nfree_idents;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h->free_idents[c + 1] < h->free_idents[c]) c++;
    if (h->free_idents[c] >= last) break;
    h->free_idents[i] = h->free_idents[c];
    i = c;
  }
  if (n) h->free_idents[i] = last;
  return top;
}

/* Like gevent, idents are handed out when first asked for, and a
** collected greenlet's ident is reused. Only greenlets that have one pay
** for a finalizer, and not the greenlet itself: a small token with __gc,
** made then and kept in its UV_IDENT, is collected with it. (Giving the
** greenlet a __gc metatable late cost O(objects made since it): Lua looks
** for it in its list of all objects. The token is the newest object.) */
typedef struct ident_token { l_hub *h; unsigned ident; } ident_token;

unsigned l_greenlet_ident(lua_State *L, int idx) {
  l_greenlet *g = lua_touserdata(L, idx);
  if (!g->ident) {
    l_hub *h = g->g.hub->ud;
    idx = lua_absindex(L, idx);
    ident_token *t = lua_newuserdatauv(L, sizeof *t, 0); /* may raise */
    g->ident = 1 + (h->nfree_idents ? idents_pop(h) : h->next_ident++);
    t->h = h;
    t->ident = g->ident;
    luaL_setmetatable(L, L_GREENLET_IDENT);
    lua_setiuservalue(L, idx, UV_IDENT);
  }
  return g->ident - 1;
}

static int ident_gc(lua_State *L) {
  ident_token *t = lua_touserdata(L, 1);
  if (t->h->hub.loop) idents_push(t->h, t->ident - 1);
  return 0;
}

void l_greenlet_idents_free(l_hub *h) {
  free(h->free_idents);
  h->free_idents = NULL;
  h->nfree_idents = h->free_idents_cap = 0;
}

/* ---- describing errors without raising -------------------------------- */

static int tostring_p(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  return 1;
}

/* Pushes the text of the error at idx, never raising (but for memory): its
** __tostring's result, or a description when it has none or it fails. */
static const char *push_error_text(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING || t == LUA_TNUMBER) {
    lua_pushvalue(L, idx);
    return lua_tostring(L, -1);
  }
  if (luaL_getmetafield(L, idx, "__tostring") != LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushcfunction(L, tostring_p);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
      return lua_tostring(L, -1);
    lua_pop(L, 1);
    return lua_pushfstring(L, "(error object is a %s value; its __tostring "
                              "failed)", luaL_typename(L, idx));
  }
  return lua_pushfstring(L, "(error object is a %s value)",
                         luaL_typename(L, idx));
}

/* ---- the body: runs on the greenlet's own thread ----------------------- */

/* Message handler: keeps GreenletExit as is, boxes other errors with the
** traceback taken where they were raised. */
static int body_msgh(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, L_GREENLETEXIT);
  int is_exit = l_class_is(L, 1, -1);
  lua_pop(L, 1);
  if (is_exit) return 1;
  const char *msg = push_error_text(L, 1); /* the object stays as it is */
  luaL_traceback(L, L, msg, 1);
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_insert(L, -2);
  lua_rawseti(L, -2, 2);
  luaL_setmetatable(L, ERRBOX);
  return 1;
}

/* Returns true, results... or false, error. */
static int body_k(lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  lua_pushboolean(L, status == LUA_OK || status == LUA_YIELD);
  lua_replace(L, 1); /* over the message handler */
  return lua_gettop(L);
}

/* The first function of every greenlet thread: fn, args... on the stack. */
static int body(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushcfunction(L, body_msgh);
  lua_insert(L, 1);
  return body_k(L, lua_pcallk(L, n - 1, LUA_MULTRET, 1, 0, body_k), 0);
}

/* ---- creation ---------------------------------------------------------- */

/* Pushes a thread for a new greenlet, reusing a finished one if any. */
static lua_State *thread_get(lua_State *L, l_hub *h) {
  if (h->nthreads > 0) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->threads_ref);
    lua_rawgeti(L, -1, h->nthreads);
    lua_pushnil(L);
    lua_rawseti(L, -3, h->nthreads--);
    lua_remove(L, -2);
    return lua_tothread(L, -1);
  }
  return lua_newthread(L);
}

/* Key of the class in a subclass instance's UV_EXTRA table. */
static const char CLASS_KEY = 0;

static int is_base_class(lua_State *L, int idx) {
  lua_getfield(L, LUA_REGISTRYINDEX, L_GREENLET_CLASS);
  int r = lua_rawequal(L, -1, idx);
  lua_pop(L, 1);
  return r;
}

/* Pushes the class of the greenlet at idx. */
static void push_class(lua_State *L, int idx) {
  if (lua_getiuservalue(L, idx, UV_EXTRA) == LUA_TTABLE) {
    if (lua_rawgetp(L, -1, &CLASS_KEY) != LUA_TNIL) {
      lua_remove(L, -2);
      return;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, L_GREENLET_CLASS);
}

/* Pushes a new unstarted greenlet of class at cls_idx (0: Greenlet). */
static l_greenlet *greenlet_new(lua_State *L, l_hub *h, int cls_idx) {
  if (cls_idx) cls_idx = lua_absindex(L, cls_idx);
  l_greenlet *g = lua_newuserdatauv(L, sizeof *g, UV_COUNT);
  gv_greenlet_init(&h->hub, &g->g, NULL, 0); /* thread: when it first runs */
  gv_waitq_init(&g->joiners);
  g->nbody = 0;
  g->arg_in_links = 0;
  g->ref = LUA_NOREF;
  g->ident = 0;
  g->nvalues = 0;
  g->use_run = g->failed = g->started = 0;
  g->where = NULL;
  g->cname = NULL;
  if (cls_idx && !is_base_class(L, cls_idx)) {
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, cls_idx);
    lua_rawsetp(L, -2, &CLASS_KEY);
    lua_setiuservalue(L, -2, UV_EXTRA);
  }
  luaL_setmetatable(L, L_GREENLET);
  return g;
}

void l_greenlet_new_main(lua_State *L, l_hub *h) {
  l_greenlet *g = lua_newuserdatauv(L, sizeof *g, UV_COUNT);
  memset(g, 0, sizeof *g);
  gv_greenlet_init_main(&h->hub, &g->g, L);
  gv_waitq_init(&g->joiners);
  g->ident = 0;
  g->started = 1;
  lua_pushliteral(L, "MainGreenlet");
  lua_setiuservalue(L, -2, UV_SPAWNED);
  luaL_setmetatable(L, L_GREENLET);
  g->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  h->main = g;
}

/* Stores fn and its arguments (nargs values on top of L, popped) as the
** body of the greenlet at idx until it first runs: the function in
** UV_THREAD, and its one argument in UV_LINKS (empty so early; see
** body_unpack), or a table {fn, args...} in UV_THREAD. No garbage is left
** behind for the common spawn(fn) and spawn(fn, x). */
static void set_body(lua_State *L, int idx, int nargs) {
  l_greenlet *g = lua_touserdata(L, idx);
  idx = lua_absindex(L, idx);
  g->arg_in_links = 0;
  if (nargs == 2 && lua_getiuservalue(L, idx, UV_LINKS) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_setiuservalue(L, idx, UV_LINKS);
    g->arg_in_links = 1;
    nargs = 1;
  } else if (nargs == 2) {
    lua_pop(L, 1);
  }
  if (nargs > 1) {
    lua_createtable(L, nargs, 0);
    lua_insert(L, -(nargs + 1));
    for (int i = nargs; i >= 1; i--) lua_rawseti(L, -(i + 1), i); /* pops */
  }
  lua_setiuservalue(L, idx, UV_THREAD);
  g->nbody = nargs + g->arg_in_links;
}

/* Moves an argument parked in UV_LINKS into a body table, so that links
** can be added before the greenlet runs. */
static void body_unpack(lua_State *L, int idx) {
  l_greenlet *g = lua_touserdata(L, idx);
  if (!g->arg_in_links) return;
  idx = lua_absindex(L, idx);
  lua_createtable(L, 2, 0);
  lua_getiuservalue(L, idx, UV_THREAD);
  lua_rawseti(L, -2, 1);
  lua_getiuservalue(L, idx, UV_LINKS);
  lua_rawseti(L, -2, 2);
  lua_setiuservalue(L, idx, UV_THREAD);
  lua_pushnil(L);
  lua_setiuservalue(L, idx, UV_LINKS);
  g->arg_in_links = 0;
}

/* In hub context, just before a greenlet first runs: gives it a thread
** (a finished one if any) holding body, fn, args... */
static int materialize_p(lua_State *L) {
  l_greenlet *g = lua_touserdata(L, 1);
  l_hub *h = g->g.hub->ud;
  l_greenlet_push(L, g);                       /* 2: self */
  lua_State *T = thread_get(L, h);              /* 3: thread */
  lua_getiuservalue(L, 2, UV_THREAD);           /* 4: body */
  int n = g->nbody;
  lua_checkstack(T, n + 2);
  luaL_checkstack(L, n + 2, "too many arguments");
  lua_pushcfunction(T, body);
  if (g->arg_in_links) {
    lua_xmove(L, T, 1);
    lua_getiuservalue(L, 2, UV_LINKS);
    lua_xmove(L, T, 1);
    lua_pushnil(L);
    lua_setiuservalue(L, 2, UV_LINKS);
    g->arg_in_links = 0;
  } else if (n == 1) {
    lua_xmove(L, T, 1);
  } else {
    for (int i = 1; i <= n; i++) lua_rawgeti(L, 4, i);
    lua_xmove(L, T, n);
    lua_pop(L, 1);
  }
  lua_setiuservalue(L, 2, UV_THREAD);           /* the thread, from 3 */
  g->g.nargs = n;
  g->g.L = T;
  return 0;
}

/* Out of memory. Near the limit every allocation that fails first costs
** Lua an emergency full collection, which on a big heap takes long: a
** hub starting thousands of greenlets that each run out would take
** minutes, and the code that spawned them would wait all along. So once
** memory ran out for a greenlet (it could not start, or died of it), the
** greenlets due to start in the same loop iteration die at once with
** "cannot start the greenlet: not enough memory", and the next spawn or
** start allocates a thread itself first (check_memory): the caller gets
** Lua's "not enough memory" while it lasts, and all goes on once memory
** is free again. */
static void out_of_memory(l_hub *h) {
  h->nomem_iter = 1 + (unsigned)gv_loop_info_of(&h->hub).iterations;
}

static void on_materialize(gv_hub *hub, gv_greenlet *g) {
  l_hub *h = hub->ud;
  lua_State *L = hub->L;
  if (h->nomem_iter && h->nomem_iter ==
      1 + (unsigned)gv_loop_info_of(hub).iterations) return; /* dies */
  lua_pushcfunction(L, materialize_p);
  lua_pushlightuserdata(L, g);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    lua_pop(L, 1);
    g->L = NULL;
    out_of_memory(h);
  }
}

/* Before a greenlet is scheduled to start after memory ran out: a thread
** for the pool, allocated here so that no memory raises in the caller. */
static void check_memory(lua_State *L, l_hub *h) {
  lua_newthread(L); /* raises "not enough memory" */
  if (h->nthreads < L_THREAD_POOL_MAX) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->threads_ref);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, h->nthreads + 1);
    h->nthreads++;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  h->nomem_iter = 0;
}

/* Records where the greenlet was spawned ("file:line" of the nearest Lua
** caller; "hub" when spawned from hub context, e.g. by a link). Spawns
** usually come in loops from one place: the last site's string is reused
** (kept in the hub's user value 3) instead of formatting a new one. */
static void record_site(lua_State *L, int self) {
  l_greenlet *g = lua_touserdata(L, self);
  l_hub *h = g->g.hub->ud;
  lua_Debug ar;
  int found = 0;
  for (int level = 1; !found && lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    found = ar.currentline > 0;
  }
  if (!found) {
    lua_pushliteral(L, "hub");
  } else if (ar.currentline == h->site_line && h->site_src[0] &&
             strcmp(ar.short_src, h->site_src) == 0) {
    lua_getfield(L, LUA_REGISTRYINDEX, L_HUB);
    lua_getiuservalue(L, -1, 3);
    lua_remove(L, -2);
  } else {
    lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
    h->site_line = ar.currentline;
    memcpy(h->site_src, ar.short_src, sizeof h->site_src);
    lua_getfield(L, LUA_REGISTRYINDEX, L_HUB);
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, -2, 3);
    lua_pop(L, 1);
  }
  g->where = lua_tostring(L, -1);
  lua_setiuservalue(L, self, UV_SPAWNED);
}

/* Readies the body of the greenlet at idx, anchors it and records where
** it was started. Returns 0 if it was already started. */
static int prepare_start(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  l_greenlet *g = lua_touserdata(L, idx);
  if (g->g.state != GV_NEW || g->started) return 0;
  l_hub *h = g->g.hub->ud;
  if (h->nomem_iter) check_memory(L, h);
  if (g->use_run || g->nbody == 0) { /* body is self:_run() */
    lua_getfield(L, idx, "_run");
    if (!lua_isfunction(L, -1) && !luaL_getmetafield(L, -1, "__call"))
      luaL_error(L, "greenlet has no function to run (give one, or "
                    "define _run in its class)");
    lua_pushvalue(L, idx);
    set_body(L, idx, 2);
  }
  g->started = 1;
  if (g->ref == LUA_NOREF) {
    lua_pushvalue(L, idx);
    g->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  record_site(L, idx);
  return 1;
}

/* Schedules the greenlet at idx to run its body. */
static void greenlet_start(lua_State *L, int idx) {
  if (prepare_start(L, idx)) {
    l_greenlet *g = lua_touserdata(L, idx);
    gv_greenlet_start(&g->g);
    if (gv_observing(g->g.hub, GV_OBS_EVENTS)) {
      l_hub *h = g->g.hub->ud;
      h->greenlet_event(L, h, "spawned", idx);
    }
  }
}

l_greenlet *l_greenlet_spawn(lua_State *L, l_hub *h, int nargs) {
  /* fn and nargs arguments on top */
  l_greenlet *g = greenlet_new(L, h, 0);
  lua_insert(L, -(nargs + 2));
  set_body(L, -(nargs + 2), nargs + 1);
  greenlet_start(L, -1);
  return g;
}

/* ---- death ------------------------------------------------------------- */

/* The failure report: the traceback (which starts with the error), then
** a line naming the greenlet that ends with the error itself. Arguments:
** self, error, traceback or nil. */
static int report_p(lua_State *L) {
  const char *msg = push_error_text(L, 2);
  const char *tb = lua_isstring(L, 3) ? lua_tostring(L, 3) : msg;
  const char *name = luaL_tolstring(L, 1, NULL);
  fprintf(stderr, "%s\n%s failed: %s\n", tb, name, msg);
  fflush(stderr);
  return 0;
}

/* Prints the report; if that fails (a subclass's __index raising, no
** memory), or memory ran out in this loop iteration (formatting would
** cost emergency collections), a plainer one from C data. */
static void print_report(lua_State *L, int self, int err, int tb) {
  l_hub *h = ((l_greenlet *)lua_touserdata(L, self))->g.hub->ud;
  if (h->nomem_iter && h->nomem_iter ==
      1 + (unsigned)gv_loop_info_of(&h->hub).iterations) {
    l_greenlet *g = lua_touserdata(L, self);
    fprintf(stderr, "gvlua: a greenlet spawned at %s failed: %s\n",
            g->where ? g->where : "?", lua_type(L, err) == LUA_TSTRING ?
            lua_tostring(L, err) : luaL_typename(L, err));
    fflush(stderr);
    return;
  }
  lua_pushcfunction(L, report_p);
  lua_pushvalue(L, self);
  lua_pushvalue(L, err);
  if (tb) lua_pushvalue(L, tb);
  else lua_pushnil(L);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    l_greenlet *g = lua_touserdata(L, self);
    fprintf(stderr, "gvlua: a greenlet spawned at %s failed: %s\n",
            g->where ? g->where : "?", lua_type(L, err) == LUA_TSTRING ?
            lua_tostring(L, err) : luaL_typename(L, err));
    fflush(stderr);
    lua_pop(L, 1);
  }
}

/* Runs the links of dead g (self at idx) in registration order: rawlinks
** are called here, in the hub; the others get a greenlet each. */
static void run_links(lua_State *L, l_hub *h, int self, int links) {
  l_greenlet *g = lua_touserdata(L, self);
  lua_Integer n = luaL_len(L, links);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, links, i); /* {fn, kind} */
    if (!lua_istable(L, -1)) { lua_pop(L, 1); continue; }
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    int kind = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if ((kind == 2 && g->failed) || (kind == 3 && !g->failed)) {
      lua_pop(L, 2);
      continue;
    }
    lua_pushvalue(L, self);
    if (kind == 0) {
      if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "gvlua: error in a link callback: %s\n",
                luaL_tolstring(L, -1, NULL));
        lua_pop(L, 2);
      }
    } else {
      l_greenlet_spawn(L, h, 1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

static int notify_p(lua_State *L) {
  l_greenlet *g = lua_touserdata(L, 1);
  l_greenlet_push(L, g);
  lua_rawgetp(L, LUA_REGISTRYINDEX, g); /* the links, parked at death */
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, g);
  if (lua_istable(L, 3)) run_links(L, g->g.hub->ud, 2, 3);
  return 0;
}

/* In hub context, a little after g died (as gevent's _notify_links):
** links in registration order, then the joiners; then g is unanchored. */
static void notify(gv_hub *hub, gv_callback *cb) {
  l_greenlet *g = gv_container_of(cb, l_greenlet, g.run);
  if (g->has_links) l_hub_protected(hub->ud, notify_p, g);
  gv_waitq_wake_all(&g->joiners);
  luaL_unref(hub->L, LUA_REGISTRYINDEX, g->ref);
  g->ref = LUA_NOREF;
}

/* Stores the outcome of dead g (self at idx): nvalues values from 'vals',
** or the error at 'err' (0: none), and schedules the notification of its
** links and joiners (its run-queue entry is free now). */
static void settle(lua_State *L, l_greenlet *g, int self, int vals,
                   int err) {
  g->death = ++((l_hub *)g->g.hub->ud)->deaths;
  lua_getiuservalue(L, self, UV_LINKS);
  g->has_links = lua_istable(L, -1);
  if (g->has_links) lua_rawsetp(L, LUA_REGISTRYINDEX, g);
  else lua_pop(L, 1);
  if (err) {
    g->failed = 1;
    lua_pushnil(L);
    lua_setiuservalue(L, self, UV_THREAD);
    lua_pushvalue(L, err);
    lua_setiuservalue(L, self, UV_LINKS);
  } else {
    if (g->nvalues == 0) {
      lua_pushnil(L);
    } else if (g->nvalues == 1) {
      lua_pushvalue(L, vals);
    } else {
      lua_createtable(L, g->nvalues, 0);
      for (int i = 0; i < g->nvalues; i++) {
        lua_pushvalue(L, vals + i);
        lua_rawseti(L, -2, i + 1);
      }
    }
    lua_setiuservalue(L, self, UV_THREAD);
    lua_pushnil(L);
    lua_setiuservalue(L, self, UV_LINKS);
  }
  g->g.run.fn = notify;
  g->g.run.kind = GV_CB_LINKS;
  gv_schedule(g->g.hub, &g->g.run);
}

/* Whether the value at idx is an error boxed by body_msgh. */
static int is_errbox(lua_State *L, int idx) {
  if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, ERRBOX);
  int r = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return r;
}

/* Whether the value at idx is a GreenletExit. */
static int is_greenlet_exit(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_getfield(L, LUA_REGISTRYINDEX, L_GREENLETEXIT);
  int r = l_class_is(L, idx, -1);
  lua_pop(L, 1);
  return r;
}

typedef struct finished { l_greenlet *g; int status, nres; } finished;

/* In hub context: the body of g returned. Stores the outcome. */
static int finish_p(lua_State *L) {
  finished *f = lua_touserdata(L, 1);
  l_greenlet *g = f->g;
  l_hub *h = g->g.hub->ud;
  lua_State *T = g->g.L;
  int status = f->status, nres = f->nres;
  l_greenlet_push(L, g);
  int self = lua_gettop(L);
  int tb = 0;
  int vals = 0, err = 0;
  if (!T) { /* it never got a thread: out of memory (a string kept in the
            ** registry: pushing it allocates nothing) */
    lua_rawgetp(L, LUA_REGISTRYINDEX, NOMEM_START);
    err = lua_gettop(L);
  } else if (status == LUA_OK) {
    luaL_checkstack(L, nres + 8, "too many results");
    lua_xmove(T, L, nres); /* ok, results... | false, error */
    int base = self + 1;
    if (lua_toboolean(L, base)) {
      vals = base + 1;
      g->nvalues = nres - 1;
    } else {
      err = base + 1;
      if (is_errbox(L, err)) { /* unbox error + traceback */
        lua_rawgeti(L, err, 2);
        lua_rawgeti(L, err, 1);
        lua_replace(L, err);
        tb = lua_gettop(L);
      }
      if (is_greenlet_exit(L, err)) { /* gevent counts it as success */
        vals = err;
        g->nvalues = 1;
        err = 0;
      }
    }
    lua_settop(T, 0); /* finished cleanly: the thread can be reused */
    if (h->nthreads < L_THREAD_POOL_MAX) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, h->threads_ref);
      lua_getiuservalue(L, self, UV_THREAD);
      lua_rawseti(L, -2, ++h->nthreads);
      lua_pop(L, 1);
    }
  } else { /* the body wrapper itself failed (out of memory, ...) */
    lua_xmove(T, L, 1);
    err = lua_gettop(L);
  }
  if (err && !tb && lua_type(L, err) == LUA_TSTRING &&
      strcmp(lua_tostring(L, err), "not enough memory") == 0)
    out_of_memory(h); /* Lua's memory error (no handler ran for it) */
  g->g.L = NULL;
  int report = err != 0;
  if (h->int_victim == &g->g) { /* Ctrl-C's error was raised in g */
    h->int_victim = NULL;
    if (err && h->interrupted(L, h, self, err, tb ? lua_tostring(L, tb)
                                                  : NULL))
      report = 0; /* handed on to the main greenlet */
  }
  if (report) print_report(L, self, err, tb);
  settle(L, g, self, vals, err);
  if (gv_observing(&h->hub, GV_OBS_EVENTS))
    h->greenlet_event(L, h, "finished", self);
  return 0;
}

/* finish_p failed (no memory): the greenlet dies with that error, its
** joiners are woken; its links, which need memory to run, are dropped.
** Allocates nothing: the error on top of L is Lua's own message. */
static void finish_fallback(lua_State *L, l_greenlet *g) {
  l_hub *h = g->g.hub->ud;
  int err = lua_gettop(L);
  l_greenlet_push(L, g);
  lua_pushnil(L);
  lua_setiuservalue(L, -2, UV_THREAD);
  lua_pushvalue(L, err);
  lua_setiuservalue(L, -2, UV_LINKS);
  lua_pop(L, 2);
  g->g.L = NULL;
  g->failed = 1;
  g->has_links = 0;
  if (!g->death) g->death = ++h->deaths;
  out_of_memory(h);
  fprintf(stderr, "gvlua: a greenlet spawned at %s failed: not enough "
                  "memory\n", g->where ? g->where : "?");
  g->g.run.fn = notify;
  gv_schedule(g->g.hub, &g->g.run);
}

static void on_finished(gv_hub *hub, gv_greenlet *gg, int status, int nres) {
  finished f = {(l_greenlet *)gg, status, nres};
  lua_State *L = hub->L;
  lua_pushcfunction(L, finish_p);
  lua_pushlightuserdata(L, &f);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) finish_fallback(L, f.g);
}

/* ---- LoopExit ---------------------------------------------------------- */

static void push_loop_exit(gv_hub *hub, lua_State *L) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "This operation would block forever");
  size_t n = 0;
  for (gv_link *l = hub->alive.next; l != &hub->alive; l = l->next) {
    gv_greenlet *g = gv_container_of(l, gv_greenlet, all);
    if (g->state != GV_BLOCKED) continue;
    luaL_addstring(&b, n++ == 0 ? "; blocked greenlets: " : ", ");
    if (n > 20) { luaL_addstring(&b, "..."); break; }
    l_greenlet *lg = (l_greenlet *)g;
    l_greenlet_push(L, lg); /* naming it assigns its ident, as in gevent */
    unsigned id = l_greenlet_ident(L, -1);
    lua_pop(L, 1);
    lua_pushfstring(L, "Greenlet-%d (spawned at %s) waits on %s", (int)id,
                    lg->where ? lg->where : "?",
                    gv_waiting_on(g) ? gv_waiting_on(g) : "something");
    luaL_addvalue(&b);
  }
  if (hub->main && gv_waiting_on(hub->main)) {
    lua_pushfstring(L, "; the main greenlet waits on %s",
                    gv_waiting_on(hub->main));
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  l_error_new(L, L_LOOPEXIT, lua_tostring(L, -1));
  lua_remove(L, -2);
}

/* Raised at the first instruction after a stray coroutine.yield. */
static void stray_yield_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "attempt to yield from outside a coroutine");
}

/* A greenlet's body called coroutine.yield at its top level: as in the
** main thread, that is an error. The greenlet was rescheduled; the error
** is raised where it continues. */
static void on_stray_yield(gv_hub *hub, gv_greenlet *g) {
  (void)hub;
  lua_sethook(g->L, stray_yield_hook, LUA_MASKCOUNT, 1);
}

/* Names g without calling Lua (the monitor thread, signal handlers). */
void l_greenlet_describe(gv_hub *hub, gv_greenlet *gg, char *buf,
                         size_t size) {
  l_greenlet *g = (l_greenlet *)gg;
  const char *where = g->where ? g->where : "?";
  if (gg->flags & GV_F_MAIN)
    snprintf(buf, size, "the main greenlet");
  else if (g->cname)
    snprintf(buf, size, "greenlet \"%s\" (spawned at %s)", g->cname, where);
  else { /* the name it has, or would get if asked now (read only: this
         ** runs in a signal handler too) */
    l_hub *h = hub->ud;
    snprintf(buf, size, "greenlet \"Greenlet-%u\" (spawned at %s)",
             g->ident ? g->ident - 1 : h->nfree_idents ? h->free_idents[0]
                                                       : h->next_ident,
             where);
  }
}

void l_greenlet_hooks(l_hub *h) {
  h->hub.hooks.finished = on_finished;
  h->hub.hooks.materialize = on_materialize;
  h->hub.hooks.push_loop_exit = push_loop_exit;
  h->hub.hooks.stray_yield = on_stray_yield;
  h->hub.hooks.describe = l_greenlet_describe;
}

/* ---- gevent functions -------------------------------------------------- */

static int k_none(lua_State *L, int status, lua_KContext ctx) {
  (void)L; (void)status; (void)ctx;
  return 0;
}

/* gevent.sleep(seconds) */
static int l_sleep(lua_State *L) {
  l_hub *h = l_hubup(L);
  double s = luaL_optnumber(L, 1, 0);
  lua_settop(L, 0);
  return gv_sleep(&h->hub, L, s, 0, k_none);
}

/* gevent.idle() */
static int l_idle(lua_State *L) {
  l_hub *h = l_hubup(L);
  return gv_idle(&h->hub, L, 0, k_none);
}

/* gevent.getcurrent() */
static int l_getcurrent(lua_State *L) {
  l_hub *h = l_hubup(L);
  gv_greenlet *g = h->hub.current;
  if (!g) lua_pushnil(L);
  else l_greenlet_push(L, (l_greenlet *)g);
  return 1;
}

/* Raises unless the value at idx can be called. */
static void check_callable(lua_State *L, int idx) {
  if (lua_isfunction(L, idx)) return;
  if (luaL_getmetafield(L, idx, "__call") != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  luaL_typeerror(L, idx, "function");
}

/* gevent.spawn(fn, ...) */
static int l_spawn(lua_State *L) {
  l_hub *h = l_hubup(L);
  int n = lua_gettop(L);
  check_callable(L, 1);
  l_greenlet_spawn(L, h, n - 1);
  return 1;
}

static void start_later_fire(gv_hub *hub, gv_timer *t) {
  l_greenlet *g = gv_container_of(t, l_greenlet, g.timer);
  if (g->g.state == GV_NEW) gv_greenlet_start(&g->g);
  (void)hub;
}

/* g:start_later(seconds): the body is made ready now, started later. */
static void start_later(lua_State *L, l_hub *h, int idx, double s) {
  l_greenlet *g = lua_touserdata(L, idx);
  if (!prepare_start(L, idx)) return;
  if (gv_observing(&h->hub, GV_OBS_EVENTS))
    h->greenlet_event(L, h, "spawned", idx);
  gv_now(&h->hub);
  gv_timer_start(&h->hub, &g->g.timer, s, start_later_fire); /* not started:
                                                  its wait timer is free */
}

/* gevent.spawn_later(seconds, fn, ...) */
static int l_spawn_later(lua_State *L) {
  l_hub *h = l_hubup(L);
  double s = luaL_checknumber(L, 1);
  int n = lua_gettop(L);
  check_callable(L, 2);
  l_greenlet *g = greenlet_new(L, h, 0);
  (void)g;
  lua_insert(L, 2);
  set_body(L, 2, n - 1);
  start_later(L, h, 2, s);
  return 1;
}

/* gevent.wait() with no objects: run until nothing is left. */
static int l_run(lua_State *L) {
  l_hub *h = l_hubup(L);
  gv_run(&h->hub, L);
  return 0;
}

typedef struct { unsigned death; int idx; } by_death;

static int cmp_death(const void *a, const void *b) {
  unsigned x = ((const by_death *)a)->death, y = ((const by_death *)b)->death;
  return x < y ? -1 : x > y;
}

/* Pushes a new array of the dead greenlets of the list at idx, in the
** order they died (joinall's result, without linking to each). */
static void push_by_death(lua_State *L, int idx) {
  lua_Integer n = luaL_len(L, idx), k = 0;
  by_death *v = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *v, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    l_greenlet *g = l_greenlet_test(L, -1);
    if (g && is_dead(g)) {
      v[k].death = g->death;
      v[k++].idx = (int)i;
    }
    lua_pop(L, 1);
  }
  qsort(v, (size_t)k, sizeof *v, cmp_death);
  lua_createtable(L, (int)k, 0);
  for (lua_Integer i = 0; i < k; i++) {
    lua_rawgeti(L, idx, v[i].idx);
    lua_rawseti(L, -2, i + 1);
  }
}

/* Joins the greenlets of the list at 1 from entry ctx on, one after the
** other; the greenlet waited for sits at 2 while it lasts. An entry that
** stopped being a greenlet while we waited is skipped. */
static int join_all_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  l_hub *h = l_hubup(L);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  for (lua_Integer i = (lua_Integer)ctx; i <= n; i++) {
    lua_settop(L, 1);
    lua_rawgeti(L, 1, i);                              /* 2 */
    l_greenlet *g = l_greenlet_test(L, 2);
    if (!g || is_dead(g)) continue;
    if (&g->g == h->hub.current)
      return luaL_error(L, "a greenlet cannot join itself");
    return gv_waitq_wait(&h->hub, &g->joiners, L, -1, "join",
                         (lua_KContext)i, join_all_k);
  }
  lua_settop(L, 1);
  push_by_death(L, 1);
  return 1;
}

/* gvlua._join_all(list): joinall without timeout, count or raise_error
** for a list of greenlets only (the common case): joins each in turn and
** returns them in the order they died. Returns false, having done
** nothing, if an entry is not a greenlet: the caller takes the general
** path. In C because the same loop in Lua (the argument check, then
** ipairs and a join call per entry) made spawn + joinall 10% dearer. */
static int l_join_all(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  luaL_getmetatable(L, L_GREENLET);                    /* 2 */
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    int ok = lua_getmetatable(L, -1) && lua_rawequal(L, -1, 2);
    lua_settop(L, 2);
    if (!ok) {
      lua_pushboolean(L, 0);
      return 1;
    }
  }
  return join_all_k(L, LUA_OK, 1);
}

/* gvlua._monotonic(): seconds on a monotonic clock (for deadlines). */
static int l_monotonic(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
  return 1;
}

/* gvlua._stats(): the hub's counters, for tests and diagnostics. */
static int l_stats(lua_State *L) {
  gv_hub_counts c = gv_hub_counts_of(&l_hubup(L)->hub);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)c.alive);
  lua_setfield(L, -2, "alive");
  lua_pushinteger(L, (lua_Integer)c.runners);
  lua_setfield(L, -2, "runners");
  lua_pushinteger(L, (lua_Integer)c.free_runners);
  lua_setfield(L, -2, "free_runners");
  lua_pushinteger(L, (lua_Integer)c.runq);
  lua_setfield(L, -2, "ready");
  lua_pushinteger(L, (lua_Integer)c.timers);
  lua_setfield(L, -2, "timers");
  lua_pushinteger(L, (lua_Integer)l_hubup(L)->nthreads);
  lua_setfield(L, -2, "pooled_threads");
  return 1;
}

/* ---- Greenlet methods -------------------------------------------------- */

static int m_start(lua_State *L) {
  l_greenlet_check(L, 1);
  greenlet_start(L, 1);
  lua_settop(L, 1);
  return 1;
}

static int m_start_later(lua_State *L) {
  l_greenlet_check(L, 1);
  start_later(L, l_hubup(L), 1, luaL_checknumber(L, 2));
  lua_settop(L, 1);
  return 1;
}

/* After a join-like wait: the Timeout argument at stack index ctx (if it
** is one) is cancelled, as gevent does when the wait ends. */
static int join_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  l_cancel_timeout(L, (int)ctx);
  lua_pushboolean(L, is_dead((l_greenlet *)lua_touserdata(L, 1)));
  return 1;
}

/* Waits for g (at 1) to die; the timeout at idx: a number ends the wait
** quietly, a Timeout raises itself when it fires (gevent 22.10 raises a
** Timeout from join(timeout=t) too). Continues with k(..., idx). */
static int join_wait(lua_State *L, int idx, gv_kfunction k) {
  l_hub *h = l_hubup(L);
  l_greenlet *g = lua_touserdata(L, 1);
  void *tmo;
  if (&g->g == h->hub.current)
    return luaL_error(L, "a greenlet cannot join itself");
  double timeout = l_wait_timeout(L, idx, &tmo);
  return gv_waitq_wait(&h->hub, &g->joiners, L, timeout, "join",
                       (lua_KContext)idx, k);
}

/* g:join(timeout): returns whether g is dead. */
static int m_join(lua_State *L) {
  l_greenlet *g = l_greenlet_check(L, 1);
  l_optargs(L, 2, "timeout", NULL);
  if (is_dead(g)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return join_wait(L, 2, join_k);
}

/* Pushes the results of dead g at idx, or raises its error. */
static int push_results(lua_State *L, int idx) {
  l_greenlet *g = lua_touserdata(L, idx);
  if (g->failed) {
    lua_getiuservalue(L, idx, UV_LINKS);
    return lua_error(L);
  }
  lua_getiuservalue(L, idx, UV_THREAD);
  if (g->nvalues <= 1) return 1;
  int t = lua_gettop(L);
  luaL_checkstack(L, g->nvalues, "too many results");
  for (int i = 1; i <= g->nvalues; i++) lua_rawgeti(L, t, i);
  return g->nvalues;
}

static int raise_timeout(lua_State *L, double seconds) {
  l_timeout_push_new(L, seconds);
  return lua_error(L);
}

static int get_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  l_cancel_timeout(L, 3);
  if (!is_dead((l_greenlet *)lua_touserdata(L, 1)))
    return raise_timeout(L, lua_tonumber(L, 3));
  return push_results(L, 1);
}

/* g:get(block, timeout): the value(s), or raises the greenlet's error. */
static int m_get(lua_State *L) {
  l_greenlet *g = l_greenlet_check(L, 1);
  l_optargs(L, 2, "block", "timeout", NULL);
  int block = lua_isnil(L, 2) || lua_toboolean(L, 2);
  if (is_dead(g)) return push_results(L, 1);
  if (!block) return raise_timeout(L, -1);
  l_hub *h = l_hubup(L);
  void *tmo;
  if (&g->g == h->hub.current)
    return luaL_error(L, "a greenlet cannot get its own result");
  double timeout = l_wait_timeout(L, 3, &tmo);
  return gv_waitq_wait(&h->hub, &g->joiners, L, timeout, "get", 0, get_k);
}

/* Pushes the error kill() raises: GreenletExit() by default; a class is
** instantiated, any other value is used as is. */
static void push_kill_error(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) {
    l_error_new(L, L_GREENLETEXIT, NULL);
  } else if (lua_istable(L, idx) && luaL_getmetafield(L, idx, "__call")) {
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_call(L, 0, 1);
  } else {
    lua_pushvalue(L, idx);
  }
}

/* g:kill(exception, block, timeout) */
static int m_kill(lua_State *L) {
  l_hub *h = l_hubup(L);
  l_greenlet *g = l_greenlet_check(L, 1);
  l_optargs(L, 2, "exception", "block", "timeout", NULL);
  int block = lua_isnil(L, 3) || lua_toboolean(L, 3);
  if (is_dead(g)) return 0;
  push_kill_error(L, 2);
  if (&g->g == h->hub.current) return lua_error(L);
  if (!(g->g.flags & GV_F_STARTED)) {
    /* never ran: it will not run at all */
    if (gv_timer_active(&g->g.timer)) /* start_later pending */
      gv_timer_stop(&h->hub, &g->g.timer);
    gv_greenlet_cancel_start(&g->g);
    g->g.state = GV_DEAD;
    g->g.L = NULL;
    body_unpack(L, 1); /* the links slot holds links only */
    if (g->ref == LUA_NOREF) {
      lua_pushvalue(L, 1);
      g->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    int e = lua_gettop(L);
    if (is_greenlet_exit(L, e)) {
      g->nvalues = 1;
      settle(L, g, 1, e, 0);
    } else {
      settle(L, g, 1, 0, e);
    }
    return 0;
  }
  gv_throw(&g->g, L);
  if (!block) return 0;
  lua_settop(L, 4);
  return join_wait(L, 4, join_k); /* block: wait for it to die */
}

static int m_ready(lua_State *L) {
  lua_pushboolean(L, is_dead(l_greenlet_check(L, 1)));
  return 1;
}

static int m_successful(lua_State *L) {
  l_greenlet *g = l_greenlet_check(L, 1);
  lua_pushboolean(L, is_dead(g) && !g->failed);
  return 1;
}

/* Appends {fn, kind} to the links. On a dead greenlet the link runs a
** little later, from the hub (as gevent's rawlink on a dead greenlet). */
static int add_link(lua_State *L, int kind) {
  l_greenlet *g = l_greenlet_check(L, 1);
  luaL_checkany(L, 2);
  if (is_dead(g)) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, g) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_rawsetp(L, LUA_REGISTRYINDEX, g);
    }
    g->has_links = 1;
    if (g->ref == LUA_NOREF) { /* anchored again until notified */
      lua_pushvalue(L, 1);
      g->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    g->g.run.fn = notify;
    g->g.run.kind = GV_CB_LINKS;
    gv_schedule(g->g.hub, &g->g.run);
  } else {
    body_unpack(L, 1);
    if (lua_getiuservalue(L, 1, UV_LINKS) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, 1, UV_LINKS);
    }
  }
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, kind);
  lua_rawseti(L, -2, 2);
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  return 0;
}

static int m_rawlink(lua_State *L) { return add_link(L, 0); }
static int m_link(lua_State *L) { return add_link(L, 1); }
static int m_link_value(lua_State *L) { return add_link(L, 2); }
static int m_link_exception(lua_State *L) { return add_link(L, 3); }

/* g:unlink(fn): removes every link to fn. */
static int m_unlink(lua_State *L) {
  l_greenlet *g = l_greenlet_check(L, 1);
  if (is_dead(g)) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, g) != LUA_TTABLE) return 0;
  } else if (g->arg_in_links ||
             lua_getiuservalue(L, 1, UV_LINKS) != LUA_TTABLE) {
    return 0;
  }
  int links = lua_gettop(L);
  lua_Integer n = luaL_len(L, links), j = 1;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, links, i);
    lua_rawgeti(L, -1, 1);
    int same = lua_rawequal(L, -1, 2);
    lua_pop(L, 1);
    if (!same) lua_rawseti(L, links, j++);
    else lua_pop(L, 1);
  }
  for (; j <= n; j++) {
    lua_pushnil(L);
    lua_rawseti(L, links, j);
  }
  return 0;
}

static int m_tostring(lua_State *L) {
  l_greenlet *g = l_greenlet_check(L, 1);
  lua_getfield(L, 1, "name");
  const char *name = luaL_optstring(L, -1, "?");
  const char *what = "";
  if (g->g.flags & GV_F_MAIN) what = "main";
  else if (is_dead(g)) what = g->failed ? "dead, failed" : "dead";
  else if (g->g.state == GV_NEW) what = g->started ? "scheduled"
                                                    : "not started";
  else what = g->g.state == GV_RUNNING ? "running"
            : g->g.state == GV_BLOCKED ? "blocked" : "ready";
  lua_getiuservalue(L, 1, UV_SPAWNED);
  lua_pushfstring(L, "<Greenlet \"%s\" at %p: %s, spawned at %s>", name,
                  (void *)g, what, luaL_optstring(L, -1, "?"));
  return 1;
}

/* Properties computed from the C state. */
static int property(lua_State *L, l_greenlet *g, const char *k) {
  switch (k[0]) {
  case 'd':
    if (strcmp(k, "dead") == 0) {
      lua_pushboolean(L, is_dead(g));
      return 1;
    }
    break;
  case 's':
    if (strcmp(k, "started") == 0) {
      lua_pushboolean(L, g->started || is_dead(g));
      return 1;
    }
    break;
  case 'v':
    if (strcmp(k, "value") == 0) {
      if (is_dead(g) && !g->failed && g->nvalues >= 1) {
        lua_getiuservalue(L, 1, UV_THREAD);
        if (g->nvalues > 1) lua_rawgeti(L, -1, 1);
      } else {
        lua_pushnil(L);
      }
      return 1;
    }
    break;
  case 'e':
    if (strcmp(k, "exception") == 0) {
      if (is_dead(g) && g->failed) lua_getiuservalue(L, 1, UV_LINKS);
      else lua_pushnil(L);
      return 1;
    }
    break;
  case 'n':
    if (strcmp(k, "name") == 0) {
      if (g->g.flags & GV_F_MAIN) lua_pushliteral(L, "MainGreenlet");
      else lua_pushfstring(L, "Greenlet-%d", (int)l_greenlet_ident(L, 1));
      return 1;
    }
    break;
  case 'm':
    if (strcmp(k, "minimal_ident") == 0) {
      lua_pushinteger(L, (lua_Integer)l_greenlet_ident(L, 1));
      return 1;
    }
    break;
  }
  return 0;
}

/* __index: instance fields, then properties, then the class chain. */
static int m_index(lua_State *L) {
  l_greenlet *g = lua_touserdata(L, 1);
  if (lua_getiuservalue(L, 1, UV_EXTRA) == LUA_TTABLE) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL) return 1;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING && property(L, g, lua_tostring(L, 2)))
    return 1;
  push_class(L, 1);
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  return 1;
}

/* __newindex: instance fields (subclasses keep state there). A string
** 'name' is also kept for the C side (the stack overflow report). */
static int m_newindex(lua_State *L) {
  if (lua_getiuservalue(L, 1, UV_EXTRA) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_EXTRA);
  }
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, -3);
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "name") == 0) {
    l_greenlet *g = lua_touserdata(L, 1);
    /* the string stays alive in UV_EXTRA while it is the name */
    g->cname = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : NULL;
  }
  return 0;
}

/* Greenlet.init(self, fn, ...): the base initialiser. */
static int c_init(lua_State *L) {
  l_greenlet *g = l_greenlet_check(L, 1);
  if (g->g.state != GV_NEW || g->started)
    return luaL_error(L, "greenlet already started");
  int n = lua_gettop(L);
  if (n >= 2 && !lua_isnil(L, 2)) {
    check_callable(L, 2);
    set_body(L, 1, n - 1);
    g->use_run = 0;
  } else {
    g->use_run = 1;
  }
  return 0;
}

/* Class(...): a new instance; calls Class.init(self, ...). */
static int c_call(lua_State *L) {
  l_hub *h = l_hubup(L);
  int n = lua_gettop(L);
  if (n >= 2 && !lua_isnil(L, 2) && is_base_class(L, 1) &&
      !lua_isfunction(L, 2) && luaL_getmetafield(L, 2, "__call") == LUA_TNIL)
    l_typeerror(L, 1, 2, "gevent.Greenlet", "function");
  greenlet_new(L, h, 1);
  lua_replace(L, 1); /* self in place of the class */
  push_class(L, 1);
  lua_getfield(L, -1, "init");
  lua_remove(L, -2);
  lua_insert(L, 1);
  lua_pushvalue(L, 2);
  lua_insert(L, 1); /* self, init, self, args... */
  lua_call(L, n, 0);
  return 1;
}

/* Greenlet.spawn(fn, ...) or Class:spawn(...): new and started. */
static int c_spawn(lua_State *L) {
  l_hub *h = l_hubup(L);
  if (lua_istable(L, 1)) { /* Class:spawn(...) */
    c_call(L);
    greenlet_start(L, -1);
    return 1;
  }
  check_callable(L, 1);
  l_greenlet_spawn(L, h, lua_gettop(L) - 1);
  return 1;
}

/* Whether the value at idx is Greenlet or a class made by subclass():
** its metatables' __index chain reaches Greenlet. */
static int is_greenlet_class(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  int top = lua_gettop(L), found = 0;
  lua_pushvalue(L, idx);
  for (int depth = 0; depth < 64 && lua_istable(L, -1); depth++) {
    if (is_base_class(L, lua_gettop(L))) { found = 1; break; }
    if (!lua_getmetatable(L, -1)) break;  /* t, mt */
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);                     /* t, mt, parent */
    lua_replace(L, -3);
    lua_pop(L, 1);                         /* parent */
  }
  lua_settop(L, top);
  return found;
}

/* Class:subclass(methods): a class deriving from Class. */
static int c_subclass(lua_State *L) {
  if (!is_greenlet_class(L, 1)) luaL_typeerror(L, 1, "Greenlet class");
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_newtable(L);
  lua_getmetatable(L, 1); /* share __call/__tostring, chain __index */
  lua_createtable(L, 0, 3);
  lua_getfield(L, -2, "__call");
  lua_setfield(L, -2, "__call");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "GreenletClass");
  lua_setfield(L, -2, "__name");
  lua_setmetatable(L, -3);
  lua_pop(L, 1);
  if (lua_istable(L, 2)) { /* optional table of methods */
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, -4);
    }
  }
  return 1;
}

/* ---- registration ------------------------------------------------------ */

static const luaL_Reg greenlet_methods[] = {
  {"start", m_start},
  {"start_later", m_start_later},
  {"join", m_join},
  {"get", m_get},
  {"kill", m_kill},
  {"ready", m_ready},
  {"successful", m_successful},
  {"link", m_link},
  {"link_value", m_link_value},
  {"link_exception", m_link_exception},
  {"rawlink", m_rawlink},
  {"unlink", m_unlink},
  {"init", c_init},
  {"spawn", c_spawn},
  {"subclass", c_subclass},
  {NULL, NULL}
};

static const luaL_Reg greenlet_meta[] = {
  {"__newindex", m_newindex},
  {"__tostring", m_tostring},
  {NULL, NULL}
};

static const luaL_Reg gevent_funcs[] = {
  {"spawn", l_spawn},
  {"spawn_later", l_spawn_later},
  {"sleep", l_sleep},
  {"idle", l_idle},
  {"getcurrent", l_getcurrent},
  {"_run_until_done", l_run},
  {"_stats", l_stats},
  {"_monotonic", l_monotonic},
  {"_join_all", l_join_all},
  {NULL, NULL}
};

static const luaL_Reg ident_meta[] = {
  {"__gc", ident_gc},
  {NULL, NULL}
};

/* Creates the classes and metatables (once per state, with the hub). */
void l_greenlet_register(lua_State *L) {
  l_class_new(L, "GreenletExit", 0, L_GREENLETEXIT);
  l_class_new(L, "LoopExit", 0, L_LOOPEXIT);
  lua_pop(L, 2);
  l_newtype(L, ERRBOX, NULL, NULL, NULL); /* marks boxed errors */
  lua_pop(L, 1);
  lua_pushstring(L, NOMEM_START); /* kept: the message when memory is out */
  lua_rawsetp(L, LUA_REGISTRYINDEX, NOMEM_START);
  l_newtype(L, L_GREENLET, greenlet_methods, greenlet_meta, m_index);
  l_newclass(L, "Greenlet", c_call, 0);
  lua_setfield(L, LUA_REGISTRYINDEX, L_GREENLET_CLASS);
  lua_pop(L, 1);
  l_newtype(L, L_GREENLET_IDENT, NULL, ident_meta, NULL);
  lua_pop(L, 1);
}

void l_greenlet_open(lua_State *L, l_hub *h) {
  (void)h;
  lua_getfield(L, LUA_REGISTRYINDEX, L_GREENLETEXIT);
  lua_setfield(L, -2, "GreenletExit");
  lua_getfield(L, LUA_REGISTRYINDEX, L_LOOPEXIT);
  lua_setfield(L, -2, "LoopExit");
  lua_getfield(L, LUA_REGISTRYINDEX, L_GREENLET_CLASS);
  lua_setfield(L, -2, "Greenlet");
  l_setfuncs(L, gevent_funcs);
}
