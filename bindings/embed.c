/*
** embed.c - the embedding API of include/gvlua.h: a hub on the host's
** loop, running it, the built-in modules, and C functions that block
** their greenlet (sleep, fd waits, work on the pool, children, name
** resolution), each a thin call into runtime/.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "bindings.h"
#include "gvlua.h"
#include "modules.h"

/* Finishes a built-in module's chunk: its results are all on the stack. */
static int load_builtin_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  return lua_gettop(L);
}

/* The package.preload loader of a built-in module (upvalue: its
** gvlua_module): compiles the source and runs it with require's
** arguments, as a module file is run. With a continuation, so the body
** of a built-in module may block like any other chunk. */
static int load_builtin(lua_State *L) {
  const gvlua_module *m = lua_touserdata(L, lua_upvalueindex(1));
  int n = lua_gettop(L);
  if (luaL_loadbuffer(L, m->src, m->len, m->chunkname) != LUA_OK)
    return lua_error(L);
  lua_insert(L, 1);
  lua_callk(L, n, LUA_MULTRET, 0, load_builtin_k);
  return load_builtin_k(L, LUA_OK, 0);
}

GVLUA_API void gvlua_preload(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_gvlua);
  lua_setfield(L, -2, "gvlua");
  for (const gvlua_module *m = gvlua_modules; m->name; m++) {
    lua_pushlightuserdata(L, (void *)m);
    lua_pushcclosure(L, load_builtin, 1);
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);
}

GVLUA_API int gvlua_open(lua_State *L, struct ev_loop *loop) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, L_HUB) == LUA_TUSERDATA) {
    l_hub *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return (!loop || h->hub.loop == loop) ? 0 : -1;
  }
  lua_pop(L, 1);
  l_hub_new(L, loop);
  return 0;
}

GVLUA_API lua_State *gvlua_newstate(void) {
  lua_State *L = luaL_newstate();
  gv_alloc *a = gv_alloc_new();
  if (!L || !a) {
    if (L) lua_close(L);
    free(a);
    return NULL;
  }
  lua_setallocf(L, gv_alloc_f, a); /* earlier blocks stay with malloc */
  return L;
}

GVLUA_API void gvlua_close(lua_State *L) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  lua_close(L);
  if (f == gv_alloc_f) gv_alloc_free(ud);
}

GVLUA_API struct ev_loop *gvlua_loop(lua_State *L) {
  return l_hub_get(L)->hub.loop;
}

GVLUA_API int gvlua_run(lua_State *L) {
  return gv_run(&l_hub_get(L)->hub, L);
}

GVLUA_API int gvlua_step(lua_State *L, double timeout) {
  return gv_step(&l_hub_get(L)->hub, L, timeout);
}

GVLUA_API void gvlua_catch_sigint(lua_State *L, int on) {
  gv_interrupt_sigint(&l_hub_get(L)->hub, on);
}

GVLUA_API void gvlua_sleep(lua_State *L, double seconds) {
  gv_sleep(&l_hub_get(L)->hub, L, seconds, 0, NULL);
}

GVLUA_API int gvlua_wait_fd(lua_State *L, int fd, int events,
                            double timeout) {
  gv_hub *hub = &l_hub_get(L)->hub;
  if (gv_fd_check(hub, fd) != 0)
    return luaL_error(L, "gvlua_wait_fd: file descriptor %d is not open", fd);
  if (!(events & (GVLUA_READ | GVLUA_WRITE)))
    return luaL_error(L, "gvlua_wait_fd: no events to wait for");
  int why = gv_wait_fd(hub, L, fd, events, timeout, 0, NULL);
  if (why != GV_WAKE_NORMAL) return 0;
  int ready = gv_fd_events(gv_current(hub));
  if (ready & EV_ERROR)
    return luaL_error(L, "gvlua_wait_fd: file descriptor %d was closed "
                         "while waiting", fd);
  return ready & (GVLUA_READ | GVLUA_WRITE);
}

/* ---- blocking C work, many fds, children --------------------------------- */

typedef struct embed_job {
  gv_work w;
  void (*fn)(void *arg);
  void *arg;
  void (*abandoned)(void *arg);
} embed_job;

static void job_run(gv_work *w) {
  embed_job *j = (embed_job *)w;
  j->fn(j->arg);
}

/* An abandoned job finished: the caller's clean-up, then ours. */
static void job_done(gv_hub *hub, gv_work *w) {
  (void)hub;
  embed_job *j = (embed_job *)w;
  if (j->abandoned) j->abandoned(j->arg);
  free(j);
}

GVLUA_API int gvlua_run_work(lua_State *L, void (*fn)(void *arg), void *arg,
                             void (*abandoned)(void *arg), double timeout) {
  gv_hub *hub = &l_hub_get(L)->hub;
  gv_check_block(hub, L);
  embed_job *j = calloc(1, sizeof *j);
  if (!j) return luaL_error(L, "gvlua_run_work: not enough memory");
  j->w.run = job_run;
  j->w.done = job_done;
  j->fn = fn;
  j->arg = arg;
  j->abandoned = abandoned;
  int why = gv_work_wait(hub, L, &j->w, timeout, 0, NULL);
  if (why < 0) {
    free(j);
    return why;
  }
  int taken = gv_work_taken(&j->w);
  if (taken) free(j);
  if (why == GV_WAKE_THROW) return lua_error(L); /* kill, Timeout */
  return taken ? 0 : 1;
}

GVLUA_API int gvlua_wait_fds(lua_State *L, struct pollfd *fds, int n,
                             double timeout) {
  gv_hub *hub = &l_hub_get(L)->hub;
  if (n < 0) return luaL_error(L, "gvlua_wait_fds: negative count");
  for (int i = 0; i < n; i++) {
    fds[i].revents = 0;
    if (fds[i].fd >= 0 && gv_fd_check(hub, fds[i].fd) != 0)
      return luaL_error(L, "gvlua_wait_fds: file descriptor %d is not "
                           "open", fds[i].fd);
  }
  int ready = gv_select_poll(fds, n);
  if (ready > 0 || timeout == 0) return ready;
  gv_check_block(hub, L);
  void *set = lua_newuserdatauv(L, gv_select_size(n), 0); /* anchored */
  memset(set, 0, gv_select_size(n));
  gv_select_wait(hub, L, set, fds, n, timeout, "gvlua_wait_fds", 0, NULL);
  lua_pop(L, 1);
  ready = 0;
  for (int i = 0; i < n; i++) ready += fds[i].revents != 0;
  return ready;
}

GVLUA_API long gvlua_spawn(lua_State *L, char *const argv[],
                           const int fds[3]) {
  gv_hub *hub = &l_hub_get(L)->hub;
  gv_spawn o;
  memset(&o, 0, sizeof o);
  o.argv = argv;
  o.close_fds = 1;
  for (int i = 0; i < 3; i++) {
    if (fds && fds[i] >= 0) {
      o.std[i].how = GV_SPAWN_FD;
      o.std[i].fd = fds[i];
    }
  }
  gv_child *c;
  int pipes[3];
  int e = gv_child_spawn(hub, &o, &c, pipes);
  return e ? e : (long)c->pid;
}

GVLUA_API int gvlua_wait_child(lua_State *L, long pid, double timeout,
                               int *status) {
  gv_hub *hub = &l_hub_get(L)->hub;
  gv_child *c = gv_child_find(hub, (pid_t)pid);
  if (!c) return luaL_error(L, "gvlua_wait_child: %d is not a child of "
                               "gvlua_spawn", (int)pid);
  if (!gv_child_poll(c)) {
    gv_check_block(hub, L);
    gv_child_wait(hub, L, c, timeout, 0, NULL); /* raises a throw */
    if (!c->done) return 0;
  }
  if (status) *status = c->status;
  gv_child_release(hub, c);
  return 1;
}

GVLUA_API int gvlua_resolve(lua_State *L, const char *host, int family,
                            char (*addrs)[GVLUA_ADDRLEN], int max,
                            double timeout, char *err, size_t errlen) {
  gv_hub *hub = &l_hub_get(L)->hub;
  if (err && errlen) err[0] = '\0';
  if (!host || max < 0)
    return luaL_error(L, "gvlua_resolve: no host or a negative max");
  gv_check_block(hub, L); /* raises before d exists, not after */
  gv_dns_query q = {GV_DNS_ADDRINFO, host, NULL, family, SOCK_STREAM, 0, 0};
  gv_dns *d = gv_dns_new(&q);
  if (!d) return luaL_error(L, "gvlua_resolve: not enough memory");
  int why = gv_dns_wait(hub, L, d, timeout, 0, NULL);
  if (why < 0) { /* could not start */
    gv_dns_free(d);
    if (err && errlen) snprintf(err, errlen, "%s", strerror(-why));
    return -1;
  }
  int taken = gv_dns_taken(d);
  if (why == GV_WAKE_THROW) { /* kill, Timeout: re-raised */
    if (taken) gv_dns_free(d);
    return lua_error(L);
  }
  if (!taken) return 0; /* timed out: the runtime frees d */
  int n = 0;
  const char *e = gv_dns_error(d);
  if (e) {
    if (err && errlen) snprintf(err, errlen, "%s", e);
    n = -1;
  } else {
    int all;
    const gv_dns_addr *a = gv_dns_addrs(d, &all);
    for (int i = 0; i < all && n < max; i++) {
      int dup = 0; /* one entry per address, not per protocol */
      for (int j = 0; j < n && !dup; j++) dup = !strcmp(addrs[j], a[i].addr);
      if (!dup) snprintf(addrs[n++], GVLUA_ADDRLEN, "%s", a[i].addr);
    }
    if (n == 0 && err && errlen) snprintf(err, errlen, "host not found");
    if (n == 0) n = -1;
  }
  gv_dns_free(d);
  return n;
}
