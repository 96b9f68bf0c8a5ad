/*
** embed.c - the embedding API of include/gvlua.h: a hub on the host's
** loop, running it, and C functions that block their greenlet (sleep, fd
** waits, work on the pool, children), each a thin call into runtime/.
*/
#include <stdlib.h>
#include <string.h>
#include "bindings.h"
#include "gvlua.h"

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
