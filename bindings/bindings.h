/*
** bindings.h - what the Lua bindings share: the hub as Lua sees it, the
** greenlet userdata, error classes and the helpers every module uses.
** Every C function a module registers gets the hub as upvalue 1.
*/
#ifndef GV_BINDINGS_H
#define GV_BINDINGS_H

#include <lua.h>
#include <lauxlib.h>
#include "gv.h"

/* The hub of a Lua state, a full userdata anchored in the registry. */
typedef struct l_hub {
  gv_hub hub;
  int threads_ref;        /* registry ref: pool of finished threads */
  int nthreads;           /* threads in the pool */
  unsigned nomem_iter;    /* 1 + the loop iteration (ev_iteration) in which
                          ** memory last ran out for a greenlet; 0: none
                          ** since a spawn found memory (l_greenlet.c) */
  unsigned next_ident;       /* minimal_ident never handed out yet */
  unsigned deaths;           /* greenlets that died so far */
  unsigned *free_idents;     /* min-heap of idents of collected greenlets */
  size_t nfree_idents, free_idents_cap;
  struct l_greenlet *main;
  int site_line;             /* the last spawn site, see record_site */
  char site_src[LUA_IDSIZE];
  gv_callback events_cb;     /* delivers queued events (l_monitor.c) */
  gv_greenlet *int_victim;   /* greenlet Ctrl-C's error was raised in */
  /* What l_monitor.c, a layer above l_greenlet.c, does when greenlets are
  ** spawned or die (set by l_monitor_hooks): 'greenlet_event' runs only
  ** while GV_OBS_EVENTS is observed, 'interrupted' only for int_victim.
  ** See l_monitor.c for their contracts. */
  void (*greenlet_event)(lua_State *L, struct l_hub *h, const char *kind,
                         int idx);
  int (*interrupted)(lua_State *L, struct l_hub *h, int self, int err,
                     const char *tb);
} l_hub;

/* Finished threads kept for new greenlets. The pool's table is made this
** size up front, so that putting a thread back never allocates (it may
** happen when memory has run out). */
#define L_THREAD_POOL_MAX 1024

/* A Greenlet object. User values hold its Lua-side state (UV_*). */
typedef struct l_greenlet {
  gv_greenlet g;
  gv_waitq joiners;       /* greenlets in join()/get() */
  const char *where;      /* spawn site (the UV_SPAWNED string) */
  const char *cname;      /* the name a user gave it (a string kept in
                          ** UV_EXTRA), for reports made without Lua */
  int ref;                /* registry anchor while started and alive */
  int nvalues;            /* results stored in UV_THREAD once dead */
  int nbody;              /* fn + args stored in UV_THREAD before it runs */
  unsigned ident;         /* minimal_ident + 1; 0 until first read */
  unsigned death;         /* order of death in the hub (joinall's order) */
  unsigned char use_run;  /* body is self:_run(...) */
  unsigned char failed;   /* died with an error other than GreenletExit */
  unsigned char started;  /* start() or start_later() was called */
  unsigned char arg_in_links; /* body's one argument parked in UV_LINKS */
  unsigned char has_links;    /* dead with links parked in the registry */
} l_greenlet;

/* Greenlet user values. */
enum {
  UV_THREAD = 1,  /* its body (fn, args) until it first runs, then its Lua
                  ** thread; its results once dead */
  UV_EXTRA,       /* instance fields, and the class of a subclass
                  ** instance; nil for a plain Greenlet */
  UV_LINKS,       /* link callbacks while alive; the error when dead */
  UV_SPAWNED,     /* "file:line" where it was spawned */
  UV_IDENT,       /* the token that frees its minimal_ident when collected */
  UV_COUNT = UV_IDENT
};

/* Registry keys. */
#define L_HUB "gevent.hub"
#define L_GREENLET "gevent.Greenlet"        /* instance metatable */
#define L_GREENLET_IDENT "gevent.Greenlet.ident"      /* minimal_ident tokens */
#define L_GREENLET_CLASS "gvlua.GreenletClass"
#define L_TIMEOUT "gevent.Timeout"          /* Timeout class = metatable */
#define L_GREENLETEXIT "gevent.GreenletExit"
#define L_LOOPEXIT "gevent.LoopExit"
#define L_SLICEEXCEEDED "gevent.SliceExceeded"

/* The hub given to C functions as upvalue 1. */
#define l_hubup(L) ((l_hub *)lua_touserdata((L), lua_upvalueindex(1)))

/* l_hub.c: the hub of a Lua state. */
l_hub *l_hub_get(lua_State *L);             /* creates it on first use */
/* Makes the hub of L's state on loop (NULL: its own); raises on failure. */
l_hub *l_hub_new(lua_State *L, struct ev_loop *loop);

/* aux.c: what every binding shares. */
/* Registers 'fns' into the table on top, each with the hub as upvalue. */
void l_setfuncs(lua_State *L, const luaL_Reg *fns);
/* The one recipe for a Lua-visible type. Pushes the metatable registered
** as 'name' (gevent.<Type>: luaL_checkudata's errors name it), made on
** first use with
** - the metamethods 'meta' (__gc, __close, __tostring, __call, ...; may be
**   NULL), each with the hub as upvalue 1;
** - a table of 'methods' (may be NULL), each with upvalues 1 the hub and 2
**   the metatable as a light userdata (l_isself);
** - without 'index' that table is __index; with it (types with fields),
**   the table is __methods and __index is 'index' with upvalues 1 the hub,
**   2 the methods table, 3 a table of the type's own (for caches). */
void l_newtype(lua_State *L, const char *name, const luaL_Reg *methods,
               const luaL_Reg *meta, lua_CFunction index);
/* Makes the type whose metatable is below the 'nup' values on top a class,
** as gevent's classes are: its methods table, named 'classname', callable
** (Class(...) calls ctor(Class, ...) with upvalues the hub and the 'nup'
** values) and printing as <class classname>. Pops the values and pushes
** the class above the metatable (the same class when made already). */
void l_newclass(lua_State *L, const char *classname, lua_CFunction ctor,
                int nup);
/* In a method made by l_newtype: whether the value at idx is of the
** method's own type (one comparison; luaL_testudata looks the name up). */
static inline int l_isself(lua_State *L, int idx) {
  int same = 0;
  if (lua_getmetatable(L, idx)) {
    same = lua_topointer(L, -1) == lua_touserdata(L, lua_upvalueindex(2));
    lua_pop(L, 1);
  }
  return same;
}
/* Runs f(L) in protected mode on the hub's thread from hub context;
** prints and swallows errors. 'ud' is passed as a light userdata. */
void l_hub_protected(l_hub *h, lua_CFunction f, void *ud);
/* Reads an optional timeout argument: nil -> -1 (none), a number, or a
** Timeout object (then *tmo is set to it and -1 returned). Type check
** only: waits about to block use l_timeout_arg (l_timeout.c). */
double l_opttimeout(lua_State *L, int idx, void **tmo);
/* Whether the value at idx is an options table. */
int l_isopts(lua_State *L, int idx);
/* Reads field 'name' of the options table at idx onto the stack top. */
void l_optfield(lua_State *L, int idx, const char *name);
/* The options convention of API.md: if the value at idx is an options
** table, it is replaced by its fields named by the NULL-terminated list,
** as positional arguments from idx on. Either way the stack is then cut
** to exactly those arguments (idx + count - 1). */
void l_optargs(lua_State *L, int idx, ...);
/* A signal number or name ("SIGTERM", "TERM") at idx; raises otherwise. */
int l_checksignal(lua_State *L, int idx);
/* An operating-system failure the LuaSocket way: pushes nil, "what: msg"
** (or "msg"), err; returns 3. */
int l_push_oserror(lua_State *L, int err, const char *what);
/* Raise "bad argument #arg to 'fname' (msg)" and "(expected, got <type
** of idx>)" naming the public function: for constructors reached through
** a class's __call, which Lua cannot name when they are called from C
** (pcall(Class, x) says '?'), and names Lua would give by the call site. */
int l_argerror(lua_State *L, int arg, const char *fname, const char *msg);
int l_typeerror(lua_State *L, int arg, int idx, const char *fname,
                const char *expected);

/* l_class.c: error classes. */
/* Pushes a new class named 'name' whose parent is at parent_idx (0: none),
** also stored in the registry under 'key' when not NULL. */
void l_class_new(lua_State *L, const char *name, int parent_idx,
                 const char *key);
/* Whether the value at idx is an instance of the class at class_idx. */
int l_class_is(lua_State *L, int idx, int class_idx);
/* Pushes an instance of the registry class 'key' with message 'msg'. */
void l_error_new(lua_State *L, const char *key, const char *msg);
/* Class:subclass(name) */
int l_class_subclass(lua_State *L);

/* l_greenlet.c */
void l_greenlet_open(lua_State *L, l_hub *h);   /* fields into table on top */
void l_greenlet_register(lua_State *L);  /* classes, metatables */
l_greenlet *l_greenlet_check(lua_State *L, int idx);
l_greenlet *l_greenlet_test(lua_State *L, int idx);
/* Pushes the object of g (alive, or the main greenlet: anchored). */
static inline void l_greenlet_push(lua_State *L, l_greenlet *g) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref);
}
/* The greenlet's minimal_ident, assigned on first use (idx: the object). */
unsigned l_greenlet_ident(lua_State *L, int idx);
void l_greenlet_idents_free(l_hub *h);
/* Installs the runtime hooks that give greenlets their Lua side (finished,
** materialize, LoopExit, describe, ...). */
void l_greenlet_hooks(l_hub *h);
/* Makes the greenlet of host thread L (the main greenlet). */
void l_greenlet_new_main(lua_State *L, l_hub *h);
/* Spawns fn (at fn_idx) with nargs values on top as arguments; pops them. */
l_greenlet *l_greenlet_spawn(lua_State *L, l_hub *h, int nargs);

/* l_monitor.c: gevent.config's C side, counters, events, run info. */
void l_monitor_open(lua_State *L, l_hub *h);
/* Installs the monitor's runtime hooks (interrupts, switches, the monitor
** thread's events) and the l_hub ones above. */
void l_monitor_hooks(l_hub *h);
/* Describes g for reports made without Lua (async-signal-safe). */
void l_greenlet_describe(gv_hub *hub, gv_greenlet *g, char *buf,
                         size_t size);

/* l_timeout.c */
void l_timeout_open(lua_State *L, l_hub *h);
void l_timeout_register(lua_State *L);
/* Whether the value at idx is a Timeout object; returns it or NULL. */
void *l_timeout_test(lua_State *L, int idx);
/* Pushes a new, unstarted Timeout (seconds < 0: none). */
void l_timeout_push_new(lua_State *L, double seconds);
/* l_opttimeout for a wait about to block: a Timeout given there that is
** not running is started (gevent's _start_new_or_dummy). */
double l_wait_timeout(lua_State *L, int idx, void **tmo);
/* The optional-Timeout protocol of a wait about to block, in one place.
** Reads the timeout argument at idx: nil (-1: no limit), seconds, or a
** gevent.Timeout object, which 'start' starts when it is not running
** (gevent's _start_new_or_dummy). For a Timeout, *tmo is set to it and cur
** gets GV_F_CATCH: the wait's continuation then sees the Timeout fire
** (l_timeout_fired) instead of the error raising at the blocking point.
** Returns the seconds for the wait's own timer. Raises on a bad type. */
double l_timeout_arg_slow(lua_State *L, gv_greenlet *cur, int idx, int start,
                          void **tmo);
static inline double l_timeout_arg(lua_State *L, gv_greenlet *cur, int idx,
                                   int start, void **tmo) {
  if (lua_type(L, idx) <= LUA_TNIL) { /* none or nil: the common case */
    *tmo = NULL;
    return -1;
  }
  return l_timeout_arg_slow(L, cur, idx, start, tmo);
}
/* In the continuation of such a wait: 1 when it was ended by its own
** Timeout (the error is popped), 0 when it was not thrown into; raises any
** other thrown error (a kill, another Timeout). */
int l_timeout_fired(lua_State *L, gv_greenlet *cur, void *tmo);
/* Cancels the Timeout at idx if it is one: gevent cancels a wait's timer
** when the wait ends. */
void l_cancel_timeout(lua_State *L, int idx);

void l_event_open(lua_State *L, l_hub *h);
void l_queue_open(lua_State *L, l_hub *h);
/* l_socket.c */
void l_socket_open(lua_State *L, l_hub *h);
void l_select_open(lua_State *L, l_hub *h);
/* l_callback.c: run_callback (require("gvlua").callback). */
void l_callback_open(lua_State *L, l_hub *h);
void l_waiter_open(lua_State *L, l_hub *h);
void l_dns_open(lua_State *L, l_hub *h);

/* l_lock.c */
void l_lock_open(lua_State *L, l_hub *h);

/* l_subprocess.c, l_signal.c, l_threadpool.c */

void l_subprocess_open(lua_State *L, l_hub *h);
void l_os_open(lua_State *L, l_hub *h);
void l_signal_open(lua_State *L, l_hub *h);
void l_threadpool_open(lua_State *L, l_hub *h);
/* l_ssl.c */
void l_ssl_open(lua_State *L, l_hub *h);
/* The TLS connection of the gevent.ssl.Connection at idx, for gevent.http
** to serve HTTPS over (raises if it is not one, is closed, or holds input
** its receive buffered). The object keeps owning the fd and the TLS state. */
gv_tls *l_ssl_conn_tls(lua_State *L, int idx);
/* l_http.c, l_websocket.c */
void l_http_open(lua_State *L, l_hub *h);
void l_websocket_open(lua_State *L, l_hub *h);

#endif
