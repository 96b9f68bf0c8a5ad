/*
** aux.c - what every binding shares: registering functions with the hub
** as upvalue, the one recipe for a Lua-visible type, protected calls from
** hub context, and reading arguments (timeouts, options tables, signal
** names). Depends on nothing else in bindings/.
*/
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "bindings.h"

void l_setfuncs(lua_State *L, const luaL_Reg *fns) {
  lua_getfield(L, LUA_REGISTRYINDEX, L_HUB);
  luaL_setfuncs(L, fns, 1);
}

void l_hub_protected(l_hub *h, lua_CFunction f, void *ud) {
  lua_State *L = h->hub.L;
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, ud);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "gvlua: error in the hub: %s\n",
            luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
  }
}

double l_opttimeout(lua_State *L, int idx, void **tmo) {
  *tmo = NULL;
  switch (lua_type(L, idx)) {
  case LUA_TNONE:
  case LUA_TNIL:
    return -1;
  case LUA_TNUMBER: {
    double t = lua_tonumber(L, idx);
    return t < 0 ? 0 : t;
  }
  default:
    if ((*tmo = luaL_testudata(L, idx, L_TIMEOUT)) != NULL) return -1;
    luaL_typeerror(L, idx, "number or gevent.Timeout");
    return -1;
  }
}

int l_argerror(lua_State *L, int arg, const char *fname, const char *msg) {
  return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, fname, msg);
}

int l_typeerror(lua_State *L, int arg, int idx, const char *fname,
                const char *expected) {
  return l_argerror(L, arg, fname, lua_pushfstring(L, "%s expected, got %s",
                    expected, luaL_typename(L, idx)));
}

int l_isopts(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TTABLE && !lua_getmetatable(L, idx);
}

void l_optfield(lua_State *L, int idx, const char *name) {
  lua_getfield(L, idx, name);
}

void l_optargs(lua_State *L, int idx, ...) {
  va_list ap;
  int n = 0;
  const char *name;
  int opts = l_isopts(L, idx);
  if (opts) lua_settop(L, idx);
  va_start(ap, idx);
  while ((name = va_arg(ap, const char *)) != NULL) {
    if (opts) lua_getfield(L, idx, name);
    n++;
  }
  va_end(ap);
  if (opts) lua_remove(L, idx);
  lua_settop(L, idx + n - 1);
}

void l_newtype(lua_State *L, const char *name, const luaL_Reg *methods,
               const luaL_Reg *meta, lua_CFunction index) {
  if (!luaL_newmetatable(L, name)) return; /* made already (the module was
                                           ** opened before) */
  int mt = lua_gettop(L);
  if (meta) l_setfuncs(L, meta);
  lua_newtable(L);
  for (; methods && methods->name; methods++) {
    lua_getfield(L, LUA_REGISTRYINDEX, L_HUB);
    lua_pushlightuserdata(L, (void *)lua_topointer(L, mt));
    lua_pushcclosure(L, methods->func, 2);
    lua_setfield(L, -2, methods->name);
  }
  if (index) {
    lua_pushvalue(L, -1);
    lua_setfield(L, mt, "__methods");
    lua_getfield(L, LUA_REGISTRYINDEX, L_HUB);
    lua_insert(L, -2);
    lua_newtable(L);
    lua_pushcclosure(L, index, 3);
  }
  lua_setfield(L, mt, "__index");
}

static int class_tostring(lua_State *L) {
  lua_getfield(L, 1, "__name");
  lua_pushfstring(L, "<class %s>", luaL_optstring(L, -1, "?"));
  return 1;
}

void l_newclass(lua_State *L, const char *classname, lua_CFunction ctor,
                int nup) {
  int mt = lua_gettop(L) - nup;
  if (lua_getfield(L, mt, "__methods") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_getfield(L, mt, "__index");
  }
  int cls = lua_gettop(L);
  if (lua_getmetatable(L, cls)) { /* a class already */
    lua_pop(L, 1);
    lua_copy(L, cls, mt + 1);
    lua_settop(L, mt + 1);
    return;
  }
  lua_pushstring(L, classname);
  lua_setfield(L, cls, "__name");
  lua_createtable(L, 0, 2);
  lua_getfield(L, LUA_REGISTRYINDEX, L_HUB);
  for (int i = 1; i <= nup; i++) lua_pushvalue(L, mt + i);
  lua_pushcclosure(L, ctor, 1 + nup);
  lua_setfield(L, -2, "__call");
  lua_pushcfunction(L, class_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_setmetatable(L, cls);
  lua_copy(L, cls, mt + 1);
  lua_settop(L, mt + 1);
}

/* ---- signal names ------------------------------------------------------ */

static const struct { const char *name; int num; } signames[] = {
  {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL},
  {"TRAP", SIGTRAP}, {"ABRT", SIGABRT}, {"BUS", SIGBUS}, {"FPE", SIGFPE},
  {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
  {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
  {"TERM", SIGTERM}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},
  {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
  {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU},
  {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
  {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"SYS", SIGSYS}, {NULL, 0}
};

int l_checksignal(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, idx);
    if (n < 1 || n >= NSIG) luaL_argerror(L, idx, "invalid signal number");
    return (int)n;
  }
  const char *s = luaL_checkstring(L, idx);
  const char *name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;
  for (int i = 0; signames[i].name; i++)
    if (strcmp(signames[i].name, name) == 0) return signames[i].num;
  return luaL_argerror(L, idx, lua_pushfstring(L, "unknown signal '%s'", s));
}

int l_push_oserror(lua_State *L, int err, const char *what) {
  lua_pushnil(L);
  if (what) lua_pushfstring(L, "%s: %s", what, strerror(err));
  else lua_pushstring(L, strerror(err));
  lua_pushinteger(L, err);
  return 3;
}
