/*
** l_class.c - error classes (GreenletExit, LoopExit, Timeout, Empty, ...).
** A class is a table that is the metatable of its instances; its own
** metatable's __index is the parent class and __call makes an instance.
** Class:is(v) is true for instances of it or of a subclass, and instances
** print as "Name: message".
*/
#include <string.h>
#include "bindings.h"

/* Pushes the parent of the class at idx, or nothing (returns 0). */
static int push_parent(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  int t = lua_getfield(L, -1, "__index");
  lua_remove(L, -2);
  if (t != LUA_TTABLE) { lua_pop(L, 1); return 0; }
  return 1;
}

int l_class_is(lua_State *L, int idx, int class_idx) {
  idx = lua_absindex(L, idx);
  class_idx = lua_absindex(L, class_idx);
  int t = lua_type(L, idx);
  if ((t != LUA_TTABLE && t != LUA_TUSERDATA) || !lua_getmetatable(L, idx))
    return 0;
  for (int depth = 0; depth < 64; depth++) {
    if (lua_rawequal(L, -1, class_idx)) { lua_pop(L, 1); return 1; }
    if (!push_parent(L, -1)) break;
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return 0;
}

/* Class:is(value) */
static int class_is(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushboolean(L, l_class_is(L, 2, 1));
  return 1;
}

/* tostring(instance): "Name: message", or "Name" without a message. */
static int instance_tostring(lua_State *L) {
  const char *name = "error";
  if (lua_getmetatable(L, 1)) {
    if (lua_getfield(L, -1, "__name") == LUA_TSTRING)
      name = lua_tostring(L, -1);
  }
  int t = lua_type(L, 1) == LUA_TTABLE ? lua_getfield(L, 1, "message")
                                        : LUA_TNIL;
  if (t != LUA_TNIL) {
    const char *msg = luaL_tolstring(L, -1, NULL);
    if (*msg) lua_pushfstring(L, "%s: %s", name, msg);
    else lua_pushstring(L, name);
  } else {
    lua_pushstring(L, name);
  }
  return 1;
}

/* Class(message, ...): a new instance; extra arguments go in args. */
static int class_call(lua_State *L) {
  int n = lua_gettop(L);
  lua_createtable(L, 0, 2);
  if (n >= 2 && !lua_isnil(L, 2)) {
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "message");
  }
  if (n > 2) {
    lua_createtable(L, n - 1, 1);
    for (int i = 2; i <= n; i++) {
      lua_pushvalue(L, i);
      lua_rawseti(L, -2, i - 1);
    }
    lua_pushinteger(L, n - 1);
    lua_setfield(L, -2, "n");
    lua_setfield(L, -2, "args");
  }
  lua_pushvalue(L, 1);
  lua_setmetatable(L, -2);
  return 1;
}

static int class_tostring(lua_State *L) {
  lua_getfield(L, 1, "__name");
  lua_pushfstring(L, "<class %s>", luaL_optstring(L, -1, "?"));
  return 1;
}

void l_class_new(lua_State *L, const char *name, int parent_idx,
                 const char *key) {
  if (parent_idx) parent_idx = lua_absindex(L, parent_idx);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, instance_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, class_is);
  lua_setfield(L, -2, "is");
  lua_pushcfunction(L, l_class_subclass);
  lua_setfield(L, -2, "subclass");
  lua_createtable(L, 0, 3); /* the class's metatable */
  if (parent_idx) {
    lua_pushvalue(L, parent_idx);
    lua_setfield(L, -2, "__index");
  }
  lua_pushcfunction(L, class_call);
  lua_setfield(L, -2, "__call");
  lua_pushcfunction(L, class_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_setmetatable(L, -2);
  if (key) {
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, key);
  }
}

/* Class:subclass(name): a new error class deriving from Class. */
int l_class_subclass(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *name = luaL_optstring(L, 2, NULL);
  if (!name) {
    lua_getfield(L, 1, "__name");
    name = luaL_optstring(L, -1, "Error");
  }
  l_class_new(L, name, 1, NULL);
  return 1;
}

void l_error_new(lua_State *L, const char *key, const char *msg) {
  lua_getfield(L, LUA_REGISTRYINDEX, key);
  lua_createtable(L, 0, 1);
  if (msg) {
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "message");
  }
  lua_insert(L, -2);
  lua_setmetatable(L, -2);
}
