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
** Workers keep the signal mask of the hub's thread (a blocked mask would
** be inherited by os.execute/io.popen children run from a job); the
** handlers involved (libev's, gevent.subprocess's SIGCHLD) are safe to run
** on any thread and use SA_RESTART.
**
** Completion: workers queue finished jobs and poke an ev_async in the
** hub, referenced only while jobs are pending; the hub copies results
** back and sets the job's result object (set / set_exception).
*/
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lualib.h>
#include "bindings.h"

#define TP_POOL "gevent.threadpool.ThreadPool"
#define TP_RESULT "gevent.threadpool.Result"
#define TP_BOX "gvlua.threadpool.buffer"
#define TP_LIBS "gvlua.threadpool.libs"

/* ---- byte buffers ------------------------------------------------------ */

typedef struct tp_buf { char *p; size_t n, cap; } tp_buf;

static int buf_gc(lua_State *L) {
  tp_buf *b = lua_touserdata(L, 1);
  free(b->p);
  b->p = NULL;
  return 0;
}

/* Pushes an empty buffer owned by the state (freed by __gc on error). */
static tp_buf *buf_push(lua_State *L) {
  tp_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  if (luaL_newmetatable(L, TP_BOX)) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
  }
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

typedef struct tp_job {
  struct tp_job *next;
  char *in;  size_t inlen;    /* fn, args */
  char *out; size_t outlen;   /* results or the error */
  int ok;
  int ref;                    /* result object (hub state registry) */
} tp_job;

typedef struct tp_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_int refs;            /* the Lua object + each worker */
  atomic_int gen;             /* bumped by kill(): old workers exit */
  int maxsize;
  int nthreads, idle, nqueued;
  tp_job *qhead, *qtail;      /* waiting for a worker */
  tp_job *dhead, *dtail;      /* finished, for the hub */
  struct ev_loop *loop;       /* NULL once the Lua side is gone */
  ev_async async;
  /* hub side only */
  l_hub *h;
  int pending;                /* submitted, not yet delivered */
  int reffed;
  gv_waitq joiners;
  pid_t pid;
} tp_pool;

typedef struct tp_worker { tp_pool *p; int gen; } tp_worker;

static void job_free(tp_job *j) {
  free(j->in);
  free(j->out);
  free(j);
}

static void pool_unref(tp_pool *p) {
  if (atomic_fetch_sub(&p->refs, 1) != 1) return;
  tp_job *j;
  while ((j = p->qhead)) { p->qhead = j->next; job_free(j); }
  while ((j = p->dhead)) { p->dhead = j->next; job_free(j); }
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

static void kill_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  tp_worker *w = *(tp_worker **)lua_getextraspace(L);
  if (atomic_load(&w->p->gen) != w->gen)
    luaL_error(L, "the thread pool was killed");
}

static int worker_msgh(lua_State *L) {
  return 1; /* keep the error value as it is */
}

/* In the worker: runs j, leaves its outcome encoded in j->out. */
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

static void run_job(lua_State *L, tp_job *j) {
  lua_pushcfunction(L, run_job_p);
  lua_pushlightuserdata(L, j);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    /* copying failed (arguments, results or the error): send a string */
    free(j->out);
    j->out = NULL;
    j->ok = 0;
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    if (!msg) { msg = "error in a worker thread"; len = strlen(msg); }
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
  lua_settop(L, 0);
}

static void *worker_main(void *arg) {
  tp_worker w = *(tp_worker *)arg;
  free(arg);
  tp_pool *p = w.p;
  lua_State *L = luaL_newstate();
  if (L) {
    luaL_openlibs(L);
    *(tp_worker **)lua_getextraspace(L) = &w;
    lua_sethook(L, kill_hook, LUA_MASKCOUNT, 1000);
  }
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->qhead && atomic_load(&p->gen) == w.gen) {
      p->idle++;
      pthread_cond_wait(&p->cv, &p->mu);
      if (atomic_load(&p->gen) == w.gen) p->idle--;
    }
    if (atomic_load(&p->gen) != w.gen) break;
    tp_job *j = p->qhead;
    p->qhead = j->next;
    if (!p->qhead) p->qtail = NULL;
    p->nqueued--;
    pthread_mutex_unlock(&p->mu);
    if (L) {
      run_job(L, j);
      lua_gc(L, LUA_GCCOLLECT);
    }
    pthread_mutex_lock(&p->mu);
    j->next = NULL;
    if (p->dtail) p->dtail->next = j;
    else p->dhead = j;
    p->dtail = j;
    if (p->loop) ev_async_send(p->loop, &p->async);
  }
  pthread_mutex_unlock(&p->mu);
  if (L) lua_close(L);
  pool_unref(p);
  return NULL;
}

/* Starts one more worker (mutex held). */
static int start_worker(tp_pool *p) {
  tp_worker *w = malloc(sizeof *w);
  if (!w) return ENOMEM;
  w->p = p;
  w->gen = atomic_load(&p->gen);
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  atomic_fetch_add(&p->refs, 1);
  pthread_t t;
  int e = pthread_create(&t, &at, worker_main, w);
  pthread_attr_destroy(&at);
  if (e) {
    atomic_fetch_sub(&p->refs, 1);
    free(w);
    return e;
  }
  p->nthreads++;
  return 0;
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

static void job_done(tp_pool *p) {
  if (--p->pending == 0) {
    if (p->reffed && p->loop) { ev_unref(p->loop); p->reffed = 0; }
    gv_waitq_wake_all(&p->joiners);
  }
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop; (void)revents;
  tp_pool *p = gv_container_of(w, tp_pool, async);
  pthread_mutex_lock(&p->mu);
  tp_job *list = p->dhead;
  p->dhead = p->dtail = NULL;
  pthread_mutex_unlock(&p->mu);
  while (list) {
    tp_job *j = list;
    list = j->next;
    l_hub_protected(p->h, deliver_p, j);
    if (j->ref != LUA_NOREF) luaL_unref(p->h->hub.L, LUA_REGISTRYINDEX, j->ref);
    job_free(j);
    job_done(p);
  }
}

/* The Lua object: a pointer (the pool outlives it while workers run). */
typedef struct tp_handle { tp_pool *p; } tp_handle;

static tp_pool *pool_new(l_hub *h, int maxsize) {
  tp_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  atomic_init(&p->refs, 1);
  atomic_init(&p->gen, 0);
  p->maxsize = maxsize;
  p->h = h;
  p->loop = h->hub.loop;
  p->pid = getpid();
  gv_waitq_init(&p->joiners);
  ev_async_init(&p->async, async_cb);
  ev_async_start(p->loop, &p->async);
  ev_unref(p->loop);
  return p;
}

/* Detaches the Lua side: workers exit, queued jobs are dropped. */
static void pool_close(lua_State *L, tp_pool *p) {
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->gen, 1);
  struct ev_loop *loop = p->loop;
  p->loop = NULL;
  tp_job *q = p->qhead, *d = p->dhead;
  p->qhead = p->qtail = p->dhead = p->dtail = NULL;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (loop && p->h->hub.loop) {
    if (!p->reffed) ev_ref(loop);
    ev_async_stop(loop, &p->async);
  }
  for (int pass = 0; pass < 2; pass++) {
    tp_job *list = pass ? d : q;
    while (list) {
      tp_job *j = list;
      list = j->next;
      if (L) luaL_unref(L, LUA_REGISTRYINDEX, j->ref);
      job_free(j);
    }
  }
  pool_unref(p);
}

/* After fork(), the child has none of the parent's threads: start over. */
static tp_pool *pool_get(lua_State *L, int idx) {
  tp_handle *hd = luaL_checkudata(L, idx, TP_POOL);
  if (!hd->p) luaL_error(L, "the thread pool is closed");
  if (hd->p->pid != getpid()) {
    tp_pool *old = hd->p;
    if (old->loop) { /* the old pool is leaked: its threads are gone */
      if (!old->reffed) ev_ref(old->loop);
      ev_async_stop(old->loop, &old->async);
    }
    hd->p = pool_new(old->h, old->maxsize);
    if (!hd->p) luaL_error(L, "not enough memory");
  }
  return hd->p;
}

/* ThreadPool(maxsize) */
static int l_pool_new(lua_State *L) {
  l_hub *h = l_hubup(L);
  if (lua_istable(L, 1)) lua_remove(L, 1); /* called through the class */
  lua_Integer n = luaL_optinteger(L, 1, 10);
  luaL_argcheck(L, n >= 1 && n <= 1024, 1, "size must be 1..1024");
  tp_handle *hd = lua_newuserdatauv(L, sizeof *hd, 0);
  hd->p = NULL;
  luaL_setmetatable(L, TP_POOL);
  hd->p = pool_new(h, (int)n);
  if (!hd->p) return luaL_error(L, "not enough memory");
  return 1;
}

/* pool:_submit(result, fn, ...): queues fn(...); result gets set(...) or
** set_exception(err) in the hub. Arguments are copied now. */
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
  lua_pushvalue(L, 2);
  j->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  pthread_mutex_lock(&p->mu);
  if (p->qtail) p->qtail->next = j;
  else p->qhead = j;
  p->qtail = j;
  p->nqueued++;
  int e = 0;
  if (p->nqueued > p->idle && p->nthreads < p->maxsize) e = start_worker(p);
  if (e && p->nthreads == 0) {
    p->qhead = j->next; /* it was the only job: take it back */
    if (!p->qhead) p->qtail = NULL;
    p->nqueued--;
    pthread_mutex_unlock(&p->mu);
    luaL_unref(L, LUA_REGISTRYINDEX, j->ref);
    job_free(j);
    return luaL_error(L, "cannot start a worker thread: %s", strerror(e));
  }
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (p->pending++ == 0 && !p->reffed) { ev_ref(p->loop); p->reffed = 1; }
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

/* pool:kill(): queued jobs fail, running ones are interrupted at their
** next Lua instruction batch; the workers exit. The pool can be used
** again (new workers are started). */
static int m_kill(lua_State *L) {
  tp_pool *p = pool_get(L, 1);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->gen, 1);
  p->nthreads = 0;
  p->idle = 0;
  p->nqueued = 0;
  tp_job *q = p->qhead;
  p->qhead = p->qtail = NULL;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  while (q) {
    tp_job *j = q;
    q = j->next;
    lua_rawgeti(L, LUA_REGISTRYINDEX, j->ref);
    luaL_unref(L, LUA_REGISTRYINDEX, j->ref);
    lua_getfield(L, -1, "set_exception");
    lua_insert(L, -2);
    lua_pushliteral(L, "the thread pool was killed");
    job_free(j);
    job_done(p);
    lua_call(L, 2, 0);
  }
  return 0;
}

static int m_gc(lua_State *L) {
  tp_handle *hd = lua_touserdata(L, 1);
  if (hd->p) {
    tp_pool *p = hd->p;
    hd->p = NULL;
    if (p->pid == getpid()) pool_close(L, p);
  }
  return 0;
}

static int m_index(lua_State *L) {
  tp_handle *hd = luaL_checkudata(L, 1, TP_POOL);
  const char *k = lua_tostring(L, 2);
  if (k && hd->p) {
    tp_pool *p = hd->p;
    if (strcmp(k, "maxsize") == 0 || strcmp(k, "size") == 0) {
      pthread_mutex_lock(&p->mu);
      int v = k[0] == 'm' ? p->maxsize : p->nthreads;
      pthread_mutex_unlock(&p->mu);
      lua_pushinteger(L, v);
      return 1;
    }
    if (strcmp(k, "pending") == 0) {
      lua_pushinteger(L, p->pending);
      return 1;
    }
  }
  luaL_getmetatable(L, TP_POOL);
  lua_getfield(L, -1, "__methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

static int m_tostring(lua_State *L) {
  tp_handle *hd = luaL_checkudata(L, 1, TP_POOL);
  if (!hd->p) lua_pushliteral(L, "<ThreadPool (closed)>");
  else lua_pushfstring(L, "<ThreadPool at %p: %d/%d threads, %d pending>",
                       (void *)hd->p, hd->p->nthreads, hd->p->maxsize,
                       hd->p->pending);
  return 1;
}

/* ---- Result: what spawn() returns when gevent.event has no AsyncResult */

typedef struct tp_result {
  gv_waitq waiters;
  int state;      /* 0 pending, 1 value, 2 exception */
  int n;          /* values */
} tp_result;
/* user values: 1 values table / the error; 2 links */

static tp_result *res_check(lua_State *L) {
  return luaL_checkudata(L, 1, TP_RESULT);
}

static int r_new(lua_State *L) {
  tp_result *r = lua_newuserdatauv(L, sizeof *r, 2);
  memset(r, 0, sizeof *r);
  gv_waitq_init(&r->waiters);
  luaL_setmetatable(L, TP_RESULT);
  return 1;
}

static void r_notify(lua_State *L, tp_result *r) {
  gv_waitq_wake_all(&r->waiters);
  if (lua_getiuservalue(L, 1, 2) != LUA_TTABLE) { lua_pop(L, 1); return; }
  int links = lua_gettop(L);
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 2);
  lua_Integer n = luaL_len(L, links);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, links, i);
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
      fprintf(stderr, "gvlua: error in a link callback: %s\n",
              luaL_tolstring(L, -1, NULL));
      lua_pop(L, 2);
    }
  }
  lua_settop(L, links - 1);
}

/* r:set(value): like AsyncResult, it keeps one value. */
static int r_set(lua_State *L) {
  tp_result *r = res_check(L);
  int n = lua_gettop(L) - 1 > 0 ? 1 : 0;
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; i++) {
    lua_pushvalue(L, i + 1);
    lua_rawseti(L, -2, i);
  }
  lua_setiuservalue(L, 1, 1);
  r->n = n;
  r->state = 1;
  lua_settop(L, 1);
  r_notify(L, r);
  return 0;
}

static int r_set_exception(lua_State *L) {
  tp_result *r = res_check(L);
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, 1, 1);
  r->state = 2;
  lua_settop(L, 1);
  r_notify(L, r);
  return 0;
}

static int r_push_values(lua_State *L, tp_result *r) {
  lua_getiuservalue(L, 1, 1);
  if (r->state == 2) return lua_error(L);
  int t = lua_gettop(L);
  luaL_checkstack(L, r->n, "too many results");
  for (int i = 1; i <= r->n; i++) lua_rawgeti(L, t, i);
  return r->n;
}

static int r_get_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  tp_result *r = lua_touserdata(L, 1);
  if (r->state) return r_push_values(L, r);
  l_timeout_push_new(L, lua_isnumber(L, 3) ? lua_tonumber(L, 3) : -1);
  return lua_error(L);
}

/* r:get(block, timeout) */
static int r_get(lua_State *L) {
  l_hub *h = l_hubup(L);
  tp_result *r = res_check(L);
  l_optargs(L, 2, "block", "timeout", NULL);
  if (r->state) return r_push_values(L, r);
  if (!lua_isnil(L, 2) && !lua_toboolean(L, 2)) {
    l_timeout_push_new(L, -1);
    return lua_error(L);
  }
  void *tmo;
  double timeout = l_opttimeout(L, 3, &tmo);
  return gv_waitq_wait(&h->hub, &r->waiters, L, timeout, "a thread result",
                       0, r_get_k);
}

static int r_get_nowait(lua_State *L) {
  lua_settop(L, 1);
  lua_pushboolean(L, 0);
  return r_get(L);
}

static int r_wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  tp_result *r = lua_touserdata(L, 1);
  if (r->state == 1 && r->n > 0) {
    lua_getiuservalue(L, 1, 1);
    lua_rawgeti(L, -1, 1);
    return 1;
  }
  lua_pushnil(L);
  return 1;
}

/* r:wait(timeout): waits; returns the value (nil on timeout or error) */
static int r_wait(lua_State *L) {
  l_hub *h = l_hubup(L);
  tp_result *r = res_check(L);
  l_optargs(L, 2, "timeout", NULL);
  if (r->state) return r_wait_k(L, 0, 0);
  void *tmo;
  double timeout = l_opttimeout(L, 2, &tmo);
  return gv_waitq_wait(&h->hub, &r->waiters, L, timeout, "a thread result",
                       0, r_wait_k);
}

static int r_ready(lua_State *L) {
  lua_pushboolean(L, res_check(L)->state != 0);
  return 1;
}

static int r_successful(lua_State *L) {
  lua_pushboolean(L, res_check(L)->state == 1);
  return 1;
}

static int r_rawlink(lua_State *L) {
  tp_result *r = res_check(L);
  luaL_checkany(L, 2);
  if (r->state) {
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 0);
    return 0;
  }
  if (lua_getiuservalue(L, 1, 2) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 2);
  }
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  return 0;
}

static int r_unlink(lua_State *L) {
  res_check(L);
  if (lua_getiuservalue(L, 1, 2) != LUA_TTABLE) return 0;
  int t = lua_gettop(L);
  lua_Integer n = luaL_len(L, t), j = 1;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, t, i);
    if (lua_rawequal(L, -1, 2)) lua_pop(L, 1);
    else lua_rawseti(L, t, j++);
  }
  for (; j <= n; j++) { lua_pushnil(L); lua_rawseti(L, t, j); }
  return 0;
}

static int r_index(lua_State *L) {
  tp_result *r = res_check(L);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "value") == 0) {
    if (r->state == 1 && r->n > 0) {
      lua_getiuservalue(L, 1, 1);
      lua_rawgeti(L, -1, 1);
    } else {
      lua_pushnil(L);
    }
    return 1;
  }
  if (k && strcmp(k, "exception") == 0) {
    if (r->state == 2) lua_getiuservalue(L, 1, 1);
    else lua_pushnil(L);
    return 1;
  }
  luaL_getmetatable(L, TP_RESULT);
  lua_getfield(L, -1, "__methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

static int r_tostring(lua_State *L) {
  tp_result *r = res_check(L);
  lua_pushfstring(L, "<Result at %p: %s>", (void *)r,
                  r->state == 0 ? "pending" : r->state == 1 ? "value"
                                                            : "exception");
  return 1;
}

/* ---- registration ------------------------------------------------------ */

static const luaL_Reg pool_methods[] = {
  {"_submit", m_submit},
  {"join", m_join},
  {"kill", m_kill},
  {NULL, NULL}
};

static const luaL_Reg result_methods[] = {
  {"set", r_set},
  {"set_exception", r_set_exception},
  {"get", r_get},
  {"get_nowait", r_get_nowait},
  {"wait", r_wait},
  {"ready", r_ready},
  {"successful", r_successful},
  {"rawlink", r_rawlink},
  {"unlink", r_unlink},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"_new", l_pool_new},
  {"_Result", r_new},
  {NULL, NULL}
};

void l_threadpool_open(lua_State *L, l_hub *h) {
  (void)h;
  if (luaL_newmetatable(L, TP_POOL)) {
    lua_newtable(L);
    l_setfuncs(L, pool_methods);
    lua_setfield(L, -2, "__methods");
    lua_pushcfunction(L, m_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, m_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, m_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_getfield(L, -1, "__methods");
  lua_setfield(L, -3, "_pool_methods");
  lua_pop(L, 1);
  if (luaL_newmetatable(L, TP_RESULT)) {
    lua_newtable(L);
    l_setfuncs(L, result_methods);
    lua_setfield(L, -2, "__methods");
    lua_pushcfunction(L, r_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, r_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  l_setfuncs(L, funcs);
}
