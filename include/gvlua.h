/*
** gvlua.h - the public C interface for embedding gvlua in an application.
**
** A lua_State family (a main state and its threads) gets one hub: a
** scheduler on a libev loop. The thread that first uses gevent becomes the
** main greenlet. C functions called from Lua may block their greenlet with
** the calls below; other greenlets keep running meanwhile.
*/
#ifndef GVLUA_H
#define GVLUA_H

#include <lua.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "gvlua_version.h"  /* GVLUA_VERSION, from meson's project version */

#if defined(__GNUC__)
#define GVLUA_API __attribute__((visibility("default")))
#else
#define GVLUA_API
#endif

struct ev_loop;

/* Events for gvlua_wait_fd, same values as libev's EV_READ / EV_WRITE. */
#define GVLUA_READ 0x01
#define GVLUA_WRITE 0x02

/* The Lua C module behind require "gvlua" (used by the gevent.* modules).
** Hosts that link gvlua statically put it in package.preload. */
GVLUA_API int luaopen_gvlua(lua_State *L);

/* A new Lua state (like luaL_newstate) whose allocator suits many
** greenlets: size classes on huge-page arenas. Close it with gvlua_close.
** Optional: gvlua works on any lua_State. NULL if out of memory. */
GVLUA_API lua_State *gvlua_newstate(void);
/* lua_close, then frees the allocator of a gvlua_newstate state. */
GVLUA_API void gvlua_close(lua_State *L);

/* Creates the hub for L's state on 'loop' (NULL: the hub makes its own
** loop). Returns 0, or -1 if the state already has a hub on another loop.
** Optional: the hub is created on first use otherwise. The application
** keeps ownership of its loop and must outlive the lua_State. */
GVLUA_API int gvlua_open(lua_State *L, struct ev_loop *loop);

/* The libev loop the hub of L runs on (creating the hub if needed). */
struct ev_loop *gvlua_loop(lua_State *L);

/* From the main greenlet: runs greenlets until none can make progress
** (gevent.wait()). Returns 0, or raises a Lua error on misuse. */
GVLUA_API int gvlua_run(lua_State *L);

/* From the main greenlet: runs the greenlets that are ready, polls I/O and
** timers once waiting at most 'timeout' seconds (0: do not wait), and runs
** what that woke. Returns the number of greenlets still alive. For
** applications that drive the hub from their own loop iteration. */
GVLUA_API int gvlua_step(lua_State *L, double timeout);

/* Blocks the current greenlet for 'seconds'. Callable from any C function
** running in a greenlet (the C stack is kept while blocked). Raises the
** greenlet's pending error (kill, Timeout) as a Lua error. */
GVLUA_API void gvlua_sleep(lua_State *L, double seconds);

/* Blocks the current greenlet until 'fd' is ready for 'events'
** (GVLUA_READ | GVLUA_WRITE) or 'timeout' seconds pass (negative: no
** limit). Returns the ready events, 0 on timeout. Raises like gvlua_sleep,
** and raises a Lua error (the hub is unharmed) when fd is not open, is the
** hub's own, or is closed while the greenlet waits. */
GVLUA_API int gvlua_wait_fd(lua_State *L, int fd, int events, double timeout);

/* With 'on', Ctrl-C (SIGINT) interrupts whatever Lua code the hub of L
** runs, in any greenlet, with the error "interrupted!" (lua.c does this
** for the main thread only); when the hub is idle, the main greenlet gets
** the error where it waits. A greenlet that dies of it hands it on to the
** main greenlet, with its traceback. The first Ctrl-C puts the default
** action back, so a second one kills a process stuck in C code. 'on' 0
** restores the default action. One hub per process takes SIGINT. */
GVLUA_API void gvlua_catch_sigint(lua_State *L, int on);

#ifdef __cplusplus
}
#endif
#endif
