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
struct pollfd;

/* Events for gvlua_wait_fd, same values as libev's EV_READ / EV_WRITE. */
#define GVLUA_READ 0x01
#define GVLUA_WRITE 0x02

/* The Lua C module behind require "gvlua" (used by the gevent.* modules).
** Hosts that link gvlua statically put it in package.preload. */
GVLUA_API int luaopen_gvlua(lua_State *L);

/* Puts the C module gvlua and gevent's Lua modules in L's package.preload,
** so require "gevent", "gevent.socket", "gevent.ssl", ... need no module
** files: every module of gevent is built into the library, the same
** sources an install puts on package.path, so they always match the C
** code linked in (the gvlua executable runs this way). A module in
** package.preload wins over package.path. Raises only when out of memory. */
GVLUA_API void gvlua_preload(lua_State *L);

/* A new Lua state (like luaL_newstate) whose allocator suits many
** greenlets: size classes on huge-page arenas. Close it with gvlua_close.
** Optional: gvlua works on any lua_State. NULL if out of memory. */
GVLUA_API lua_State *gvlua_newstate(void);
/* lua_close, then frees the allocator of a gvlua_newstate state. */
GVLUA_API void gvlua_close(lua_State *L);

/* Creates the hub for L's state on 'loop' (NULL: the hub makes its own
** loop). Returns 0 (also when the state has a hub on this loop already),
** or -1 if the state already has a hub on another loop; raises a Lua error
** if the hub cannot be made (no memory, no libev loop). Optional: the hub
** is created on first use otherwise. The application keeps ownership of
** its loop, which must outlive the lua_State. */
GVLUA_API int gvlua_open(lua_State *L, struct ev_loop *loop);

/* The libev loop the hub of L runs on (creating the hub if needed). */
GVLUA_API struct ev_loop *gvlua_loop(lua_State *L);

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

/* Runs fn(arg) on a thread of gvlua's work pool (the one gevent.threadpool
** and the resolver use) and blocks the current greenlet until fn has
** returned; other greenlets keep running. fn must not touch Lua or the
** hub. Returns 0 when fn returned. When the wait is cut short first -
** 'timeout' seconds passed (negative: no limit; returns 1), or an error
** is thrown into the greenlet (kill, a Timeout: raised as a Lua error
** after the wait is given up) - fn still runs to its end on its thread,
** and then abandoned(arg) (if not NULL) is called on the hub's thread, so
** that whoever owns arg can free it: arg must stay valid until fn has
** returned. Returns -errno (nothing ran) if no thread could be started.
** Slow path: the C stack is kept while blocked. */
GVLUA_API int gvlua_run_work(lua_State *L, void (*fn)(void *arg), void *arg,
                             void (*abandoned)(void *arg), double timeout);

/* Blocks the current greenlet until one of the n poll(2) entries is ready
** (events POLLIN, POLLPRI, POLLOUT; negative fds ignored) or 'timeout'
** seconds pass (negative: no limit). Fills revents as poll(2) does
** (POLLERR, POLLHUP, POLLNVAL too) and returns how many entries have
** some, 0 on timeout. fds stays the caller's; waiting allocates one Lua
** userdata (collected). Raises like gvlua_sleep, and a Lua error when an
** fd is not open. No FD_SETSIZE cap. */
GVLUA_API int gvlua_wait_fds(lua_State *L, struct pollfd *fds, int n,
                             double timeout);

/* Resolves host (a name, or a literal address: no lookup) to its
** addresses for TCP, as getaddrinfo with family (AF_UNSPEC, AF_INET,
** AF_INET6), blocking the current greenlet until the answer or 'timeout'
** seconds (negative: no limit). Writes up to max numeric addresses
** ("127.0.0.1", "::1"), each once, into addrs and returns how many; 0 on
** timeout; -1 when the name does not resolve, with the reason in
** LuaSocket's words ("host not found", ...) in err (errlen bytes; err may
** be NULL). The resolver is gevent.socket's (c-ares in the hub, or the C
** library on the work pool: GVLUA_RESOLVER). Raises like gvlua_sleep.
** Slow path: the C stack is kept while blocked. */
#define GVLUA_ADDRLEN 64
GVLUA_API int gvlua_resolve(lua_State *L, const char *host, int family,
                            char (*addrs)[GVLUA_ADDRLEN], int max,
                            double timeout, char *err, size_t errlen);

/* Starts argv[0] (PATH searched) with argv, this process's environment,
** signal dispositions and mask reset and every fd above 2 closed; the
** child's stdin, stdout, stderr are fds[0..2] where those are >= 0 (the
** caller keeps its fds; NULL or -1: inherited). Returns the pid, or
** -errno (nothing started). The child is registered with the hub of L,
** which reaps it (its SIGCHLD handling never takes the status of children
** started by others, such as system() or io.popen()); its status is kept
** until gvlua_wait_child returns it, or the hub closes. Never blocks. */
GVLUA_API long gvlua_spawn(lua_State *L, char *const argv[],
                           const int fds[3]);

/* Blocks the current greenlet until the child 'pid' of gvlua_spawn exits
** or 'timeout' seconds pass (negative: no limit). Returns 1 with its wait
** status in *status (WIFEXITED, WEXITSTATUS, ... of <sys/wait.h>; status
** may be NULL), after which the pid is forgotten; 0 on timeout (wait
** again later). Raises like gvlua_sleep, and a Lua error for a pid that
** is not a waitable child of gvlua_spawn. */
GVLUA_API int gvlua_wait_child(lua_State *L, long pid, double timeout,
                               int *status);

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
