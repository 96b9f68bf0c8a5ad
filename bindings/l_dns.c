/*
** l_dns.c - the resolver as gevent.socket uses it (getaddrinfo, gethost,
** getnameinfo, isnumeric): arguments in, runtime/dns.c's lookups, results
** out as LuaSocket's tables. A lookup blocks only its greenlet; a kill or
** a Timeout abandons it.
*/
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include "bindings.h"

static int push_results(lua_State *L, gv_dns *d, int kind, int has_host,
                        int has_serv) {
  const char *err = gv_dns_error(d);
  if (err) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  if (kind == GV_DNS_HOST) {
    char *const *aliases, *const *ips;
    const char *name = gv_dns_host(d, &aliases, &ips);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    lua_newtable(L);
    for (int i = 0; aliases[i]; i++) {
      lua_pushstring(L, aliases[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "alias");
    lua_newtable(L);
    for (int i = 0; ips[i]; i++) {
      lua_pushstring(L, ips[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "ip");
    return 1;
  }
  if (kind == GV_DNS_NAMEINFO) {
    int n, nres = 0;
    const char *serv;
    char *const *names = gv_dns_names(d, &n, &serv);
    if (has_host) {
      lua_newtable(L);
      for (int i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
      }
    } else {
      lua_pushnil(L);
    }
    nres++;
    if (has_serv) { lua_pushstring(L, serv); nres++; }
    return nres;
  }
  int n;
  const gv_dns_addr *a = gv_dns_addrs(d, &n);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 0, 6);
    lua_pushstring(L, a[i].family);
    lua_setfield(L, -2, "family");
    lua_pushstring(L, a[i].addr);
    lua_setfield(L, -2, "addr");
    lua_pushinteger(L, a[i].port);
    lua_setfield(L, -2, "port");
    lua_pushstring(L, a[i].socktype);
    lua_setfield(L, -2, "socktype");
    lua_pushinteger(L, a[i].protocol);
    lua_setfield(L, -2, "protocol");
    if (a[i].canonname) {
      lua_pushstring(L, a[i].canonname);
      lua_setfield(L, -2, "canonname");
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* Stack during the wait: 1 kind, 2 has host, 3 has serv. */
static int lookup_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  l_hub *h = l_hubup(L);
  gv_dns *d = (gv_dns *)ctx;
  int taken = gv_dns_taken(d);
  if (gv_current(&h->hub)->wake == GV_WAKE_THROW) { /* killed: re-raise */
    if (taken) gv_dns_free(d);
    return lua_error(L);
  }
  if (!taken) { /* abandoned: the runtime frees it */
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  int n = push_results(L, d, (int)lua_tointeger(L, 1), lua_toboolean(L, 2),
                       lua_toboolean(L, 3));
  gv_dns_free(d);
  return n;
}

static int lookup(lua_State *L, const gv_dns_query *q) {
  l_hub *h = l_hubup(L);
  gv_check_block(&h->hub, L); /* raises before d exists, not after */
  gv_dns *d = gv_dns_new(q);
  if (!d) return luaL_error(L, "not enough memory");
  lua_settop(L, 0);
  lua_pushinteger(L, q->kind);
  lua_pushboolean(L, q->host != NULL);
  lua_pushboolean(L, q->serv != NULL);
  int rc = gv_dns_wait(&h->hub, L, d, -1, (lua_KContext)d, lookup_k);
  if (rc < 0) { /* could not start */
    gv_dns_free(d);
    lua_pushnil(L);
    lua_pushstring(L, strerror(-rc));
    return 2;
  }
  return rc;
}

static int opt_family(lua_State *L, int idx) {
  static const char *const names[] = {"unspec", "inet", "inet6", "unix",
                                      NULL};
  static const int vals[] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX};
  if (lua_isinteger(L, idx)) return (int)lua_tointeger(L, idx);
  return vals[luaL_checkoption(L, idx, "unspec", names)];
}

static int opt_socktype(lua_State *L, int idx) {
  static const char *const names[] = {"any", "stream", "dgram", NULL};
  static const int vals[] = {0, SOCK_STREAM, SOCK_DGRAM};
  if (lua_isinteger(L, idx)) return (int)lua_tointeger(L, idx);
  return vals[luaL_checkoption(L, idx, "any", names)];
}

static const char *optstr(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : luaL_checkstring(L, idx);
}

/* getaddrinfo(host, port, family, socktype, protocol, flags) ->
** {{family=, addr=, port=, socktype=, protocol=, canonname=}...} | nil, err */
static int l_getaddrinfo(lua_State *L) {
  if (lua_isnoneornil(L, 1) && lua_isnoneornil(L, 2))
    return luaL_error(L, "host and port cannot be both nil");
  gv_dns_query q = {GV_DNS_ADDRINFO, NULL, NULL, 0, 0, 0, 0};
  q.serv = optstr(L, 2);
  q.host = optstr(L, 1);
  q.family = opt_family(L, 3);
  q.socktype = opt_socktype(L, 4);
  q.protocol = (int)luaL_optinteger(L, 5, 0);
  q.flags = (int)luaL_optinteger(L, 6, 0);
  return lookup(L, &q);
}

/* gethost(address) -> resolved {name, alias, ip} | nil, err
** (gethostbyname / gethostbyaddr, as LuaSocket's toip/tohostname) */
static int l_gethost(lua_State *L) {
  gv_dns_query q = {GV_DNS_HOST, NULL, NULL, 0, 0, 0, 0};
  q.host = luaL_checkstring(L, 1);
  return lookup(L, &q);
}

/* getnameinfo(host, serv) as LuaSocket's dns.getnameinfo */
static int l_getnameinfo(lua_State *L) {
  if (lua_isnoneornil(L, 1) && lua_isnoneornil(L, 2))
    return luaL_error(L, "host and serv cannot be both nil");
  gv_dns_query q = {GV_DNS_NAMEINFO, NULL, NULL, 0, 0, 0, 0};
  q.host = optstr(L, 1);
  q.serv = optstr(L, 2);
  return lookup(L, &q);
}

/* isnumeric(host) -> "inet" | "inet6" | nil: a literal address needs no
** resolver. */
static int l_isnumeric(lua_State *L) {
  switch (gv_dns_isnumeric(luaL_checkstring(L, 1))) {
  case 4: lua_pushliteral(L, "inet"); break;
  case 6: lua_pushliteral(L, "inet6"); break;
  default: lua_pushnil(L);
  }
  return 1;
}

/* _lookups(): how many lookups went to the resolver (tests) */
static int l_lookups(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)gv_dns_lookups());
  return 1;
}

/* _backend(): the resolver lookups go to, "ares" or "thread" */
static int l_backend(lua_State *L) {
  lua_pushstring(L, gv_dns_backend());
  return 1;
}

static const luaL_Reg dns_funcs[] = {
  {"_backend", l_backend},
  {"getaddrinfo", l_getaddrinfo},
  {"gethost", l_gethost},
  {"getnameinfo", l_getnameinfo},
  {"isnumeric", l_isnumeric},
  {"_lookups", l_lookups},
  {NULL, NULL}
};

void l_dns_open(lua_State *L, l_hub *h) {
  (void)h;
  l_setfuncs(L, dns_funcs);
}
