/*
** internal.h - what runtime/ files share among themselves and nobody else:
** the context switch, C stacks, runners, the timer heap's housekeeping and
** the hooks between wait kinds. Bindings include gv.h only.
*/
#ifndef GV_INTERNAL_H
#define GV_INTERNAL_H

#include <netdb.h>
#include "gv.h"

/* ---- context switch (ctx.c, ctx_<arch>.S) ---------------------------- */

/* Prepares 'c' so that the first switch to it calls fn(arg) on the stack
** [base, base+size). fn must never return. */
void gv_ctx_init(gv_ctx *c, void *base, size_t size,
                 void (*fn)(void *), void *arg);
/* Saves the running context in 'from' and resumes 'to'. */
void gv_ctx_switch(gv_ctx *from, gv_ctx *to);

/* ---- stacks (stack.c) ------------------------------------------------ */

/* A C stack: usable memory [base, base+size) with a guard page below. */
typedef struct gv_stack {
  char *base;
  size_t size;
  char *map;        /* whole mapping, guard included */
  size_t maplen;
  unsigned vg_id;   /* Valgrind stack id */
} gv_stack;

/* Default usable size. Lua stops C recursion at 200 levels (LUAI_MAXCCALLS,
** a catchable "C stack overflow"), and a runner must hold all 200 so that
** a greenlet gets that error, as the main greenlet does, instead of
** hitting the guard page: string.gsub callbacks, the deepest in the
** standard library, take about 2 KiB a level (measured: 200 levels need
** 420 KiB of main stack). Pages are touched only when used (MAP_NORESERVE). */
#define GV_STACK_SIZE (1024 * 1024)

/* Maps a stack of at least 'size' bytes with a guard page. 0 or -errno. */
int gv_stack_alloc(gv_stack *s, size_t size);
void gv_stack_free(gv_stack *s);

/* ---- timers (timer.c) -------------------------------------------------- */

/* Runs the callbacks of timers whose deadline has passed. */
void gv__timers_expire(gv_hub *hub);
int gv__timers_init(gv_hub *hub);
void gv__timers_free(gv_hub *hub);
/* Seconds until the earliest deadline, or -1 if no timer is active. */
double gv__timers_next(gv_hub *hub);
/* Refreshes the loop's notion of now if a coarse clock tick passed;
** whether it did (gv_now is the public face). */
int gv__update_now(gv_hub *hub);

/* ---- runners (sched.c) ------------------------------------------------- */

/* Frees the parked runners (hub closing). */
void gv__runners_free(gv_hub *hub);
/* Frees the stack a greenlet abandoned on the slow path. */
void gv__runner_abandon(gv_hub *hub, gv_runner *r);

/* ---- ending waits (sched.c calls these from gv_wake) ------------------- */

/* g's wait through a gv_fdwatch ended (sched.c, ending any wait). */
void gv__fdwatch_detach(gv_greenlet *g);

/* ---- fds closed behind libev's back (io.c) ---------------------------- */

/* The fd closed behind libev's back that gv__io_check is retiring now
** (-1: none; one hub per thread runs at a time). */
extern __thread int gv__dead_fd;
/* In an ev_io callback: its fd was found closed (stop the watcher).
** Inline, as the test on every wake-up of an fd. */
static inline int gv__fd_dead(int fd) {
  return fd == gv__dead_fd && fd >= 0;
}
/* Before each poll (sched.c), when hub->nfdcheck: the fds whose epoll
** registration changes are checked for being closed. */
void gv__io_check(gv_hub *hub);
/* In a fork's child: libev gives every watched fd to its new epoll at the
** next poll, also ones closed behind its back (which the old epoll dropped
** silently, and epoll_ctl now refuses: libev aborts); notes them all. */
void gv__io_after_fork(gv_hub *hub);
void gv__io_free(gv_hub *hub);
/* Whether fd is an eventfd (by /proc; without it, whether fd is open). */
int gv__is_eventfd(int fd);

/* ---- children (child.c) ----------------------------------------------- */

/* Frees the hub's child registry (hub closing). */
void gv__children_free(gv_hub *hub);

/* ---- the work pool after fork (work.c; the hub's fork calls it) -------- */

/* In a child after fork(): starts threads for the jobs the child inherited
** and re-sends results that were back but not dispatched. */
void gv__work_after_fork(void);

/* ---- observation and interrupts (monitor.c, interrupt.c) --------------- */

/* The scheduler's side of observation, only while hub->observe != 0. */
void gv__observe_switch(gv_hub *hub, gv_greenlet *g);
void gv__observe_callback(gv_hub *hub);
/* Hub closing: stops the monitor thread; forgets the hub's interrupts. */
void gv__monitor_close(gv_hub *hub);
void gv__irq_close(gv_hub *hub);

/* ---- the resolver's backends (dns.c: getaddrinfo on the work pool;
** dns_ares.c: c-ares driven by the hub) ------------------------------------ */

struct gv_dns_ares;
struct gv_dns {
  gv_work w;               /* first: the work pool's record */
  gv_dns_query q;          /* strings owned */
  int err;                 /* backend's code, 0 on success */
  const char *errmsg;      /* LuaSocket's words, NULL on success */
  gv_dns_addr *addrs;      /* GV_DNS_ADDRINFO */
  int naddrs;
  char *name;              /* GV_DNS_HOST: official name */
  char **aliases, **ips;   /* GV_DNS_HOST: NULL-terminated */
  char **names;            /* GV_DNS_NAMEINFO: host names */
  int nnames;
  char serv[NI_MAXSERV];   /* GV_DNS_NAMEINFO: the service name */
  int backend;             /* GV__DNS_THREAD / GV__DNS_ARES, once started */
  int done;                /* c-ares: finished (answered, failed, cancelled) */
  struct gv_dns_ares *ares;  /* c-ares: the lookup's channel, while alive */
};
enum { GV__DNS_NONE, GV__DNS_THREAD, GV__DNS_ARES };

/* dns.c, for the backends */
const char *gv__dns_family_name(int family);
/* Copies a hostent's name, aliases and addresses (as text) into d: 0 or -1
** when out of memory. */
int gv__dns_take_hostent(gv_dns *d, const struct hostent *hp);
/* dns_ares.c: starts d on a c-ares channel of its own and blocks (the
** contract of gv_dns_wait); on a cut-short wait the lookup is cancelled at
** once and d handed back failed ("timeout"). */
int gv__dns_ares_wait(gv_hub *hub, lua_State *L, gv_dns *d, double timeout,
                      lua_KContext ctx, gv_kfunction k);
void gv__dns_ares_free(gv_dns *d);

#endif
