/*
** l_threadpool.c - gevent.threadpool: a pool of OS threads, each with its
** own lua_State, running functions copied from the hub's state.
**
** Copying: nil, booleans, numbers, strings, tables (shared references and
** cycles preserved, metatables copied), Lua functions (as bytecode, with
** their upvalues copied the same way; _ENV/the globals table maps to the
** worker's globals) and the standard library's functions and tables
** (mapped by name: `local insert = table.insert` works). A function's
** _ENV upvalue always becomes the worker's globals (whatever environment
** the function had here, e.g. busted's sandbox). Anything else
** (userdata, threads, other C functions) is an error naming where it is:
** "cannot copy userdata at argument 2.conn to a worker thread".
** Upvalues shared between two functions are copied separately.
**
** Threads: jobs run on the runtime's one work pool (runtime/work.c),
** which keeps a Lua state per pool thread for them (a gv_work_key) and
** reserves 'maxsize' threads while the ThreadPool exists. A ThreadPool
** only limits how many of its jobs run at once and queues the rest here,
** in hub context. Finished jobs come back in hub context, where their
** results are copied back and set on the job's AsyncResult.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <lualib.h>
#include "bindings.h"

#define TP_POOL "gevent.threadpool.ThreadPool"
#define TP_BOX "gevent.threadpool.Buffer"
#define TP_LIBS "gvlua.threadpool.libs"

/* ---- byte buffers ------------------------------------------------------ */

typedef struct tp_buf { char *p; size_t n, cap; } tp_buf;

static int buf_gc(lua_State *L) {
  tp_buf *b = lua_touserdata(L, 1);
  free(b->p);
  b->p = NULL;
  return 0;
}

static const luaL_Reg box_meta[] = {
  {"__gc", buf_gc},
  {NULL, NULL}
};

/* Pushes an empty buffer owned by the state (freed by __gc on error); in
** the hub's state and in the workers' (made there on first use). */
static tp_buf *buf_push(lua_State *L) {
  tp_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  l_newtype(L, TP_BOX, NULL, box_meta, NULL);
  lua_setmetatable(L, -2);
  return b;
}

static void buf_add(lua_State *L, tp_buf *b, const void *p, size_t n) {
  if (b->cap - b->n < n) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->n < n) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) luaL_error(L, "not enough memory");
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

/* ---- encoding ---------------------------------------------------------- */

enum { T_NIL, T_TRUE, T_FALSE, T_INT, T_NUM, T_STR, T_TABLE, T_END, T_REF,
       T_FUNC, T_GLOBALS, T_LIB };

typedef struct enc {
  lua_State *L;
  tp_buf *b;
  int seen;          /* table: object -> id */
  int libs;          /* table: standard library value -> "lib.name" */
  int globals;
  int nextid;
  int depth;
  const char *dir;   /* "to a worker thread" / "from a worker thread" */
  char path[320];
  size_t plen;
} enc;

static size_t path_add(enc *e, const char *fmt, ...) {
  size_t old = e->plen;
  if (old < sizeof e->path - 1) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->path + old, sizeof e->path - old, fmt, ap);
    va_end(ap);
    e->plen = strlen(e->path);
  }
  return old;
}

static void path_back(enc *e, size_t old) {
  e->plen = old;
  e->path[old] = '\0';
}

static void put_tag(enc *e, unsigned char t) { buf_add(e->L, e->b, &t, 1); }
static void put_int(enc *e, lua_Integer i) {
  buf_add(e->L, e->b, &i, sizeof i);
}

/* Raises (without a position: the Lua wrapper adds the caller's). */
static int refuse(enc *e, const char *what) {
  lua_pushfstring(e->L, "cannot copy %s at %s %s (only nil, booleans, "
                  "numbers, strings, tables and Lua functions can be "
                  "copied)", what, e->path, e->dir);
  return lua_error(e->L);
}

/* Builds (once per state) the map of standard library values. */
static void push_libs(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, TP_LIBS) == LUA_TTABLE) return;
  lua_pop(L, 1);
  static const char *const libs[] = {"_G", "string", "table", "math", "io",
    "os", "coroutine", "utf8", "debug", "package", NULL};
  lua_newtable(L);
  int map = lua_gettop(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  for (int i = 0; libs[i]; i++) {
    if (lua_getfield(L, -1, libs[i]) != LUA_TTABLE) { lua_pop(L, 1); continue; }
    int t = lua_gettop(L);
    if (i > 0) { /* the library table itself */
      lua_pushvalue(L, t);
      lua_pushstring(L, libs[i]);
      lua_rawset(L, map);
    }
    lua_pushnil(L);
    while (lua_next(L, t)) {
      int vt = lua_type(L, -1);
      if (lua_type(L, -2) == LUA_TSTRING &&
          (lua_iscfunction(L, -1) || (vt == LUA_TUSERDATA && i == 4))) {
        lua_pushvalue(L, -1);
        if (lua_rawget(L, map) == LUA_TNIL) {
          lua_pop(L, 1);
          lua_pushvalue(L, -1);
          lua_pushfstring(L, "%s.%s", libs[i], lua_tostring(L, -3));
          lua_rawset(L, map);
        } else {
          lua_pop(L, 1);
        }
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_pushvalue(L, map);
  lua_setfield(L, LUA_REGISTRYINDEX, TP_LIBS);
}

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud) {
  tp_buf *b = ud;
  buf_add(L, b, p, sz);
  return 0;
}

static void encode(enc *e, int idx);

/* Known object? Writes T_REF or T_LIB and returns 1. Else registers it. */
static int encode_known(enc *e, int idx) {
  lua_State *L = e->L;
  lua_pushvalue(L, idx);
  if (lua_rawget(L, e->libs) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    put_tag(e, T_LIB);
    put_int(e, (lua_Integer)len);
    buf_add(L, e->b, s, len);
    lua_pop(L, 1);
    return 1;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, idx);
  if (lua_rawget(L, e->seen) == LUA_TNUMBER) {
    put_tag(e, T_REF);
    put_int(e, lua_tointeger(L, -1));
    lua_pop(L, 1);
    return 1;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, idx);
  lua_pushinteger(L, ++e->nextid);
  lua_rawset(L, e->seen);
  return 0;
}

static void encode_table(enc *e, int idx) {
  lua_State *L = e->L;
  if (lua_rawequal(L, idx, e->globals)) { put_tag(e, T_GLOBALS); return; }
  if (encode_known(e, idx)) return;
  put_tag(e, T_TABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int k = lua_gettop(L) - 1, v = k + 1;
    size_t old;
    if (lua_type(L, k) == LUA_TSTRING) {
      const char *s = lua_tostring(L, k);
      int ident = (*s == '_' || (*s >= 'a' && *s <= 'z') ||
                   (*s >= 'A' && *s <= 'Z'));
      for (const char *c = s; *c && ident; c++)
        ident = *c == '_' || (*c >= 'a' && *c <= 'z') ||
                (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
      old = ident ? path_add(e, ".%s", s) : path_add(e, "[\"%s\"]", s);
    } else if (lua_type(L, k) == LUA_TNUMBER) {
      lua_pushvalue(L, k);
      old = path_add(e, "[%s]", lua_tostring(L, -1));
      lua_pop(L, 1);
    } else {
      old = path_add(e, "[%s key]", luaL_typename(L, k));
    }
    size_t o2 = path_add(e, " (key)");
    encode(e, k);
    path_back(e, o2);
    encode(e, v);
    path_back(e, old);
    lua_pop(L, 1);
  }
  put_tag(e, T_END);
  if (lua_getmetatable(L, idx)) {
    size_t old = path_add(e, " (metatable)");
    encode(e, lua_gettop(L));
    path_back(e, old);
    lua_pop(L, 1);
  } else {
    put_tag(e, T_NIL);
  }
}

static void encode_function(enc *e, int idx) {
  lua_State *L = e->L;
  if (encode_known(e, idx)) return;
  if (lua_iscfunction(L, idx)) refuse(e, "a C function");
  put_tag(e, T_FUNC);
  tp_buf *code = buf_push(L);
  lua_pushvalue(L, idx);
  lua_dump(L, dump_writer, code, 0);
  lua_pop(L, 1);
  put_int(e, (lua_Integer)code->n);
  buf_add(L, e->b, code->p, code->n);
  lua_pop(L, 1); /* code buffer */
  int nups = 0;
  while (lua_getupvalue(L, idx, nups + 1)) { lua_pop(L, 1); nups++; }
  put_int(e, nups);
  for (int i = 1; i <= nups; i++) {
    const char *name = lua_getupvalue(L, idx, i);
    if (strcmp(name, "_ENV") == 0) { /* the worker's globals, always */
      put_tag(e, T_GLOBALS);
      lua_pop(L, 1);
      continue;
    }
    size_t old = path_add(e, " (upvalue '%s')", *name ? name : "?");
    encode(e, lua_gettop(L));
    path_back(e, old);
    lua_pop(L, 1);
  }
}

static void encode(enc *e, int idx) {
  lua_State *L = e->L;
  idx = lua_absindex(L, idx);
  if (++e->depth > 180) {
    lua_pushfstring(L, "cannot copy %s %s: nested too deeply", e->path,
                    e->dir);
    lua_error(L);
  }
  luaL_checkstack(L, 8, "nested too deeply");
  switch (lua_type(L, idx)) {
  case LUA_TNIL: put_tag(e, T_NIL); break;
  case LUA_TBOOLEAN: put_tag(e, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
    break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      put_tag(e, T_INT);
      put_int(e, lua_tointeger(L, idx));
    } else {
      lua_Number n = lua_tonumber(L, idx);
      put_tag(e, T_NUM);
      buf_add(L, e->b, &n, sizeof n);
    }
    break;
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    put_tag(e, T_STR);
    put_int(e, (lua_Integer)len);
    buf_add(L, e->b, s, len);
    break;
  }
  case LUA_TTABLE: encode_table(e, idx); break;
  case LUA_TFUNCTION: encode_function(e, idx); break;
  case LUA_TUSERDATA:
    if (encode_known(e, idx)) break; /* io.stdout and friends */
    refuse(e, "userdata");
    break;
  case LUA_TLIGHTUSERDATA: refuse(e, "a light userdata"); break;
  case LUA_TTHREAD: refuse(e, "a thread (coroutine)"); break;
  default: refuse(e, luaL_typename(L, idx));
  }
  e->depth--;
}

/* Encodes values [first, first+n) into a new malloc'd buffer; 'names'
** formats the path of value i ("function", "argument %d", ...). Raises
** on values that cannot be copied. */
static char *encode_values(lua_State *L, int first, int n, size_t *len,
                           const char *name0, const char *names, int base,
                           const char *dir) {
  first = lua_absindex(L, first);
  enc e;
  memset(&e, 0, sizeof e);
  e.L = L;
  e.dir = dir;
  e.b = buf_push(L);
  lua_newtable(L);
  e.seen = lua_gettop(L);
  push_libs(L);
  e.libs = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  e.globals = lua_gettop(L);
  put_int(&e, n);
  for (int i = 0; i < n; i++) {
    path_back(&e, 0);
    if (i == 0 && name0) path_add(&e, "%s", name0);
    else path_add(&e, names, base + i - (name0 ? 1 : 0));
    encode(&e, first + i);
  }
  char *p = e.b->p;
  *len = e.b->n;
  e.b->p = NULL; /* ours now */
  lua_pop(L, 4);
  return p;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct dec {
  lua_State *L;
  const char *p, *end;
  int objs;
  int nextid;
} dec;

static void need(dec *d, size_t n) {
  if ((size_t)(d->end - d->p) < n) luaL_error(d->L, "corrupt copy buffer");
}

static int get_tag(dec *d) { need(d, 1); return (unsigned char)*d->p++; }
static lua_Integer get_int(dec *d) {
  lua_Integer i;
  need(d, sizeof i);
  memcpy(&i, d->p, sizeof i);
  d->p += sizeof i;
  return i;
}

static void decode(dec *d);

static void decode_lib(dec *d) {
  lua_State *L = d->L;
  size_t len = (size_t)get_int(d);
  need(d, len);
  lua_pushlstring(L, d->p, len);
  d->p += len;
  const char *s = lua_tostring(L, -1);
  const char *dot = strchr(s, '.');
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (!dot) {
    lua_getfield(L, -1, s);
  } else {
    lua_pushlstring(L, s, (size_t)(dot - s));
    if (strcmp(lua_tostring(L, -1), "_G") == 0) {
      lua_pop(L, 1);
      lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    } else {
      lua_gettable(L, -2);
    }
    if (lua_istable(L, -1)) lua_getfield(L, -1, dot + 1);
    else lua_pushnil(L);
    lua_remove(L, -2);
  }
  if (lua_isnil(L, -1))
    luaL_error(L, "cannot copy %s: not found in the other state", s);
  lua_replace(L, -3);
  lua_pop(L, 1);
}

static void decode(dec *d) {
  lua_State *L = d->L;
  luaL_checkstack(L, 8, "nested too deeply");
  int t = get_tag(d);
  switch (t) {
  case T_NIL: lua_pushnil(L); break;
  case T_TRUE: lua_pushboolean(L, 1); break;
  case T_FALSE: lua_pushboolean(L, 0); break;
  case T_INT: lua_pushinteger(L, get_int(d)); break;
  case T_NUM: {
    lua_Number n;
    need(d, sizeof n);
    memcpy(&n, d->p, sizeof n);
    d->p += sizeof n;
    lua_pushnumber(L, n);
    break;
  }
  case T_STR: {
    size_t len = (size_t)get_int(d);
    need(d, len);
    lua_pushlstring(L, d->p, len);
    d->p += len;
    break;
  }
  case T_GLOBALS: lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS); break;
  case T_LIB: decode_lib(d); break;
  case T_REF:
    lua_rawgeti(L, d->objs, get_int(d));
    break;
  case T_TABLE: {
    lua_newtable(L);
    int tbl = lua_gettop(L);
    lua_pushvalue(L, tbl);
    lua_rawseti(L, d->objs, ++d->nextid);
    for (;;) {
      need(d, 1);
      if ((unsigned char)*d->p == T_END) { d->p++; break; }
      decode(d);
      decode(d);
      lua_rawset(L, tbl);
    }
    decode(d);
    if (lua_istable(L, -1)) lua_setmetatable(L, tbl);
    else lua_pop(L, 1);
    break;
  }
  case T_FUNC: {
    size_t len = (size_t)get_int(d);
    need(d, len);
    if (luaL_loadbufferx(L, d->p, len, "=(copied function)", "b") != LUA_OK)
      lua_error(L);
    d->p += len;
    int f = lua_gettop(L);
    lua_pushvalue(L, f);
    lua_rawseti(L, d->objs, ++d->nextid);
    int nups = (int)get_int(d);
    for (int i = 1; i <= nups; i++) {
      decode(d);
      if (!lua_setupvalue(L, f, i)) lua_pop(L, 1);
    }
    break;
  }
  default:
    luaL_error(L, "corrupt copy buffer");
  }
}

/* Pushes the values in p[0, len); returns how many. */
static int decode_values(lua_State *L, const char *p, size_t len) {
  dec d = {L, p, p + len, 0, 0};
  lua_newtable(L);
  d.objs = lua_gettop(L);
  int n = (int)get_int(&d);
  luaL_checkstack(L, n + 8, "too many values");
  for (int i = 0; i < n; i++) decode(&d);
  lua_remove(L, d.objs);
  return n;
}

/* ---- the pool ---------------------------------------------------------- */

typedef struct tp_pool tp_pool;

typedef struct tp_job {
  gv_work w;                  /* first: the work pool's record */
  struct tp_job *next;        /* queued in the pool for a free slot */
  tp_pool *p;
  int gen;                    /* the pool's generation when queued */
  char *in;  size_t inlen;    /* fn, args */
  char *out; size_t outlen;   /* results or the error */
  int ok;
  int ref;                    /* result object (hub state registry) */
} tp_job;

/* Hub side only, but for 'gen', which running jobs read. Freed when the
** Lua object is gone and no job of it is in flight. */
struct tp_pool {
  l_hub *h;
  atomic_int gen;             /* bumped by kill(): older jobs stop */
  int maxsize;
  int running;                /* jobs handed to the work pool */
  int size;                   /* most of them at once (its "threads") */
  int pending;                /* submitted, not yet delivered */
  int closed;                 /* the Lua object was collected */
  tp_job *qhead, *qtail;      /* waiting for a slot */
  gv_waitq joiners;
};

static void job_free(tp_job *j) {
  free(j->in);
  free(j->out);
  free(j);
}

/* The job a pool thread runs now, for the kill hook. */
static __thread tp_job *current_job;

static void kill_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  tp_job *j = current_job;
  if (j && atomic_load(&j->p->gen) != j->gen)
    luaL_error(L, "the thread pool was killed");
}

/* gv_work_key: a pool thread's Lua state, made on its first job. */
static void *state_init(gv_work_key *key) {
  (void)key;
  lua_State *L = luaL_newstate();
  if (L) {
    luaL_openlibs(L);
    lua_sethook(L, kill_hook, LUA_MASKCOUNT, 1000);
  }
  return L;
}
static void state_fini(gv_work_key *key, void *L) {
  (void)key;
  lua_close(L);
}
static gv_work_key state_key = {state_init, state_fini, 0};

static int worker_msgh(lua_State *L) {
  return 1; /* keep the error value as it is */
}

/* On a pool thread: runs j, leaves its outcome encoded in j->out. */
static int run_job_p(lua_State *L) {
  tp_job *j = lua_touserdata(L, 1);
  lua_settop(L, 0);
  lua_pushcfunction(L, worker_msgh);
  int n = decode_values(L, j->in, j->inlen);
  int st = lua_pcall(L, n - 1, LUA_MULTRET, 1);
  int first = 2, nres = lua_gettop(L) - 1;
  j->ok = st == LUA_OK;
  if (!j->ok) {
    int t = lua_type(L, first);
    if (t == LUA_TFUNCTION || t == LUA_TUSERDATA || t == LUA_TTHREAD ||
        t == LUA_TLIGHTUSERDATA) { /* not worth copying: its text */
      luaL_tolstring(L, first, NULL);
      lua_replace(L, first);
    }
    j->out = encode_values(L, first, 1, &j->outlen, NULL, "the error", 0,
                           "from a worker thread");
    return 0;
  }
  j->out = encode_values(L, first, nres, &j->outlen, NULL, "result %d", 1,
                         "from a worker thread");
  return 0;
}

/* Encodes a string as the job's one error value. */
static void fail_with(tp_job *j, const char *msg) {
  free(j->out);
  j->out = NULL;
  j->ok = 0;
  size_t len = strlen(msg);
  lua_Integer one = 1, l = (lua_Integer)len;
  size_t total = 2 * sizeof(lua_Integer) + 1 + len;
  char *out = malloc(total);
  if (out) {
    memcpy(out, &one, sizeof one);
    out[sizeof one] = (char)T_STR;
    memcpy(out + sizeof one + 1, &l, sizeof l);
    memcpy(out + 2 * sizeof l + 1, msg, len);
    j->out = out;
    j->outlen = total;
  }
}

/* gv_work.run, on a pool thread. */
static void job_run(gv_work *w) {
  tp_job *j = (tp_job *)w;
  free(j->out); /* run again after a fork: start over */
  j->out = NULL;
  if (atomic_load(&j->p->gen) != j->gen) {
    fail_with(j, "the thread pool was killed");
    return;
  }
  lua_State *L = gv_work_state(&state_key);
  if (!L) {
    fail_with(j, "error in a worker thread (out of memory)");
    return;
  }
  current_job = j;
  lua_pushcfunction(L, run_job_p);
  lua_pushlightuserdata(L, j);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    /* copying failed (arguments, results or the error): send a string */
    const char *msg = lua_tostring(L, -1);
    fail_with(j, msg ? msg : "error in a worker thread");
  }
  lua_settop(L, 0);
  current_job = NULL;
  if (atomic_load(&j->p->gen) != j->gen) {
    gv_work_state_drop(&state_key); /* killed midway: a fresh state next */
  } else {
    lua_gc(L, LUA_GCCOLLECT);
  }
}

/* Hub side: a job's result object gets set / set_exception. */
static int deliver_p(lua_State *L) {
  tp_job *j = lua_touserdata(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, j->ref);
  int res = lua_gettop(L);
  luaL_unref(L, LUA_REGISTRYINDEX, j->ref);
  j->ref = LUA_NOREF;
  int n = 0, ok = j->ok;
  if (j->out) {
    n = decode_values(L, j->out, j->outlen);
  } else {
    lua_pushliteral(L, "error in a worker thread (out of memory)");
    n = 1;
    ok = 0;
  }
  lua_getfield(L, res, ok ? "set" : "set_exception");
  lua_insert(L, res + 1);
  lua_pushvalue(L, res);
  lua_insert(L, res + 2);
  lua_call(L, ok ? n + 1 : 2, 0);
  return 0;
}

static void pool_free(tp_pool *p) {
  gv_work_reserve(-p->maxsize);
  free(p);
}

static void job_delivered(tp_pool *p) {
  if (--p->pending == 0) gv_waitq_wake_all(&p->joiners);
}

static void job_done(gv_hub *hub, gv_work *w);

/* Hands queued jobs to the work pool while slots are free. A job the work
** pool refuses (no thread at all) fails at once. */
static void pool_dispatch(tp_pool *p) {
  while (p->qhead && p->running < p->maxsize) {
    tp_job *j = p->qhead;
    p->qhead = j->next;
    if (!p->qhead) p->qtail = NULL;
    j->next = NULL;
    j->w.run = job_run;
    j->w.done = job_done;
    p->running++;
    if (p->running > p->size) p->size = p->running;
    int e = gv_work_submit(&p->h->hub, &j->w);
    if (e) {
      char msg[128];
      snprintf(msg, sizeof msg, "cannot start a worker thread: %s",
               strerror(-e));
      fail_with(j, msg);
      job_done(&p->h->hub, &j->w);
    }
  }
}

/* gv_work.done, in hub context. */
static void job_done(gv_hub *hub, gv_work *w) {
  (void)hub;
  tp_job *j = (tp_job *)w;
  tp_pool *p = j->p;
  p->running--;
  if (!p->closed) l_hub_protected(p->h, deliver_p, j);
  if (j->ref != LUA_NOREF) luaL_unref(p->h->hub.L, LUA_REGISTRYINDEX, j->ref);
  job_free(j);
  job_delivered(p);
  if (p->closed) {
    if (p->running == 0) pool_free(p);
  } else {
    pool_dispatch(p);
  }
}

/* The Lua object: a pointer (the pool outlives it while jobs run). */
typedef struct tp_handle { tp_pool *p; } tp_handle;

static tp_pool *pool_get(lua_State *L, int idx) {
  tp_handle *hd = luaL_checkudata(L, idx, TP_POOL);
  if (!hd->p) luaL_error(L, "the thread pool is closed");
  return hd->p;
}

/* ThreadPool(maxsize) */
static int l_pool_new(lua_State *L) {
  l_hub *h = l_hubup(L);
  if (lua_istable(L, 1)) lua_remove(L, 1); /* called through the class */
  if (!lua_isnoneornil(L, 1) && !lua_isinteger(L, 1))
    l_typeerror(L, 1, 1, "gevent.threadpool.ThreadPool", "integer");
  lua_Integer n = luaL_optinteger(L, 1, 10);
  if (n < 1 || n > 1024)
    luaL_error(L, "bad argument #1 to 'gevent.threadpool.ThreadPool' "
                  "(size must be 1..1024)");
  tp_handle *hd = lua_newuserdatauv(L, sizeof *hd, 0);
  hd->p = NULL;
  luaL_setmetatable(L, TP_POOL);
  tp_pool *p = calloc(1, sizeof *p);
  if (!p) return luaL_error(L, "not enough memory");
  p->h = h;
  p->maxsize = (int)n;
  atomic_init(&p->gen, 0);
  gv_waitq_init(&p->joiners);
  gv_work_reserve(p->maxsize);
  hd->p = p;
  return 1;
}

/* submit(pool, result, fn, ...): queues fn(...); result gets set(...) or
** set_exception(err) in the hub. Arguments are copied now. A function of
** the module (gevent.threadpool's spawn), not a method of the pool. */
static int m_submit(lua_State *L) {
  tp_pool *p = pool_get(L, 1);
  luaL_checkany(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  int n = lua_gettop(L) - 2;
  size_t len;
  char *in = encode_values(L, 3, n, &len, "the function", "argument %d", 1,
                           "to a worker thread");
  tp_job *j = calloc(1, sizeof *j);
  if (!j) { free(in); return luaL_error(L, "not enough memory"); }
  j->in = in;
  j->inlen = len;
  j->p = p;
  j->gen = atomic_load(&p->gen);
  lua_pushvalue(L, 2);
  j->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (p->qtail) p->qtail->next = j;
  else p->qhead = j;
  p->qtail = j;
  p->pending++;
  pool_dispatch(p);
  lua_settop(L, 2);
  return 1;
}

static int join_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  tp_handle *hd = lua_touserdata(L, 1);
  lua_pushboolean(L, hd->p->pending == 0);
  return 1;
}

/* pool:join(timeout): waits until every job is done */
static int m_join(lua_State *L) {
  l_hub *h = l_hubup(L);
  tp_pool *p = pool_get(L, 1);
  l_optargs(L, 2, "timeout", NULL);
  void *tmo;
  double timeout = l_opttimeout(L, 2, &tmo);
  lua_settop(L, 1);
  if (p->pending == 0) { lua_pushboolean(L, 1); return 1; }
  return gv_waitq_wait(&h->hub, &p->joiners, L, timeout, "ThreadPool.join",
                       0, join_k);
}

/* Takes the queued jobs out; kill() fails them, the collector drops them. */
static tp_job *take_queue(tp_pool *p) {
  tp_job *q = p->qhead;
  p->qhead = p->qtail = NULL;
  return q;
}

/* pool:kill(): queued jobs fail, running ones are interrupted at their
** next Lua instruction batch. The pool can be used again. */
static int m_kill(lua_State *L) {
  tp_pool *p = pool_get(L, 1);
  atomic_fetch_add(&p->gen, 1);
  p->size = p->running;
  tp_job *q = take_queue(p);
  while (q) {
    tp_job *j = q;
    q = j->next;
    lua_rawgeti(L, LUA_REGISTRYINDEX, j->ref);
    luaL_unref(L, LUA_REGISTRYINDEX, j->ref);
    lua_getfield(L, -1, "set_exception");
    lua_insert(L, -2);
    lua_pushliteral(L, "the thread pool was killed");
    job_free(j);
    job_delivered(p);
    lua_call(L, 2, 0);
  }
  return 0;
}

static int m_gc(lua_State *L) {
  tp_handle *hd = lua_touserdata(L, 1);
  tp_pool *p = hd->p;
  if (!p) return 0;
  hd->p = NULL;
  p->closed = 1;
  atomic_fetch_add(&p->gen, 1); /* running jobs stop early */
  tp_job *q = take_queue(p);
  while (q) {
    tp_job *j = q;
    q = j->next;
    luaL_unref(L, LUA_REGISTRYINDEX, j->ref);
    job_free(j);
  }
  if (p->running == 0) pool_free(p);
  return 0;
}

static int m_index(lua_State *L) {
  tp_handle *hd = luaL_checkudata(L, 1, TP_POOL);
  const char *k = lua_tostring(L, 2);
  if (k && hd->p) {
    tp_pool *p = hd->p;
    if (strcmp(k, "maxsize") == 0 || strcmp(k, "size") == 0) {
      lua_pushinteger(L, k[0] == 'm' ? p->maxsize : p->size);
      return 1;
    }
    if (strcmp(k, "pending") == 0) {
      lua_pushinteger(L, p->pending);
      return 1;
    }
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(2)); /* the methods */
  return 1;
}

static int m_tostring(lua_State *L) {
  tp_handle *hd = luaL_checkudata(L, 1, TP_POOL);
  if (!hd->p) lua_pushliteral(L, "<ThreadPool (closed)>");
  else lua_pushfstring(L, "<ThreadPool at %p: %d/%d threads, %d pending>",
                       (void *)hd->p, hd->p->size, hd->p->maxsize,
                       hd->p->pending);
  return 1;
}

/* ---- a diagnostic: the work pool without Lua ----------------------------- */

/* _sleep_job(seconds, timeout): a work-pool job that sleeps on its thread
** while the calling greenlet waits for it (gv_work_wait): the specs check
** with it that the hub keeps running, that a pending job keeps the loop
** alive and that a timeout, a kill or a Timeout abandon the job. true, or
** nil, "timeout". */
typedef struct sleep_job { gv_work w; double s; } sleep_job;
static void sleep_run(gv_work *w) {
  double s = ((sleep_job *)w)->s;
  struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}
static void sleep_done(gv_hub *hub, gv_work *w) { (void)hub; free(w); }
static int sleep_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  l_hub *h = l_hubup(L);
  int taken = gv_work_taken((gv_work *)ctx);
  if (taken) free((void *)ctx);
  if (gv_current(&h->hub)->wake == GV_WAKE_THROW) return lua_error(L);
  if (!taken) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}
static int l_sleep_job(lua_State *L) {
  l_hub *h = l_hubup(L);
  double s = luaL_checknumber(L, 1);
  double t = luaL_optnumber(L, 2, -1);
  gv_check_block(&h->hub, L);
  sleep_job *j = calloc(1, sizeof *j);
  if (!j) return luaL_error(L, "not enough memory");
  j->s = s;
  j->w.run = sleep_run;
  j->w.done = sleep_done;
  j->w.drop = (void (*)(gv_work *))free;
  int rc = gv_work_wait(&h->hub, L, &j->w, t, (lua_KContext)j, sleep_k);
  if (rc < 0) {
    free(j);
    return luaL_error(L, "cannot submit: %s", strerror(-rc));
  }
  return rc;
}

/* ---- registration ------------------------------------------------------ */

static const luaL_Reg pool_methods[] = {
  {"join", m_join},
  {"kill", m_kill},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"_new", l_pool_new},
  {"submit", m_submit},
  {"_sleep_job", l_sleep_job},
  {NULL, NULL}
};

void l_threadpool_open(lua_State *L, l_hub *h) {
  (void)h;
  static const luaL_Reg meta[] = {
    {"__gc", m_gc},
    {"__tostring", m_tostring},
    {NULL, NULL}
  };
  l_newtype(L, TP_POOL, pool_methods, meta, m_index);
  lua_getfield(L, -1, "__methods");
  lua_setfield(L, -3, "_pool_methods"); /* gevent.threadpool adds sugar */
  lua_pop(L, 1);
  l_setfuncs(L, funcs);
}
