/*
** dns_ares.c - the c-ares backend of the resolver (dns.c): lookups driven
** from the hub's own loop, no thread. Each lookup gets its own c-ares
** channel (read from /etc/resolv.conf at that moment: nameservers, search,
** ndots, timeout, attempts; /etc/hosts first), whose sockets are fd
** watchers of the hub and whose retry timeouts are a hub timer. So a
** nameserver that never answers one name delays no other lookup, and a
** lookup whose greenlet is killed or times out is cancelled at once: its
** channel destroyed, its sockets closed, everything it held freed.
**
** Why c-ares: it is gevent's default resolver too, the one DNS client
** library every distribution ships (Debian's libc-ares), and it is built to
** be driven by someone else's event loop, which getaddrinfo is not.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <ares.h>
#include "internal.h"

/* A c-ares socket, watched by the hub for the lookup that owns it. Slots
** never move (libev keeps pointers to started watchers). */
typedef struct ares_fd {
  ev_io io;
  gv_dns *d;
  int used;
} ares_fd;

#define MAX_FDS 8   /* c-ares opens one UDP (or TCP) socket per server */

struct gv_dns_ares {
  ares_channel ch;
  gv_dns *d;
  gv_hub *hub;
  gv_greenlet *waiter;
  gv_link active;           /* in this thread's lookups in flight */
  gv_timer timer;           /* c-ares' next retry */
  ares_fd fds[MAX_FDS];
};

static __thread gv_link active;   /* lookups in flight (made on use) */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_status;

static void library_init(void) { init_status = ares_library_init(ARES_LIB_INIT_ALL); }

/* ---- errors in LuaSocket's words ------------------------------------------ */

static const char *ares_words(int status, int kind) {
  switch (status) {
  case ARES_ENOTFOUND:
  case ARES_ENODATA:
  case ARES_ENONAME:
    return kind == GV_DNS_HOST ? "host not found"
                               : "host or service not provided, or not known";
  case ARES_ENOMEM: return "memory allocation failure";
  case ARES_EBADFAMILY: return "ai_family not supported";
  case ARES_ESERVICE: return "service not supported for socket type";
  case ARES_EBADFLAGS: return "invalid value for ai_flags";
  case ARES_ETIMEOUT:
  case ARES_ECONNREFUSED:
  case ARES_ESERVFAIL:
  case ARES_EREFUSED:
    return "temporary failure in name resolution";
  case ARES_ECANCELLED:
  case ARES_EDESTRUCTION:
    return "timeout";
  default: return "non-recoverable failure in name resolution";
  }
}

static void fail(gv_dns *d, int status) {
  d->err = status ? status : ARES_EBADRESP;
  d->errmsg = ares_words(status, d->q.kind);
}

/* ---- driving a channel from the hub ------------------------------------------ */

static void rearm(gv_dns *d);

static void fd_ready(struct ev_loop *loop, ev_io *io, int revents) {
  (void)loop;
  ares_fd *f = (ares_fd *)io;
  gv_dns *d = f->d;
  struct gv_dns_ares *a = d->ares;
  int fd = io->fd;
  if (gv__fd_dead(fd)) {           /* closed behind c-ares' back */
    gv_io_stop(a->hub, io);
    revents = EV_READ;             /* let c-ares find out */
  }
  ares_process_fd(a->ch, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
                  (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
  if (d->ares) rearm(d);
}

static void timed_out(gv_hub *hub, gv_timer *t) {
  (void)hub;
  struct gv_dns_ares *a = gv_container_of(t, struct gv_dns_ares, timer);
  gv_dns *d = a->d;
  ares_process_fd(a->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  if (d->ares) rearm(d);
}

/* The hub timer follows c-ares' next deadline. */
static void rearm(gv_dns *d) {
  struct gv_dns_ares *a = d->ares;
  if (!a->ch || d->done) return;
  struct timeval tv, *tvp = ares_timeout(a->ch, NULL, &tv);
  if (gv_timer_active(&a->timer)) gv_timer_stop(a->hub, &a->timer);
  if (tvp) {
    gv__update_now(a->hub);
    gv_timer_start(a->hub, &a->timer,
                   (double)tvp->tv_sec + (double)tvp->tv_usec * 1e-6,
                   timed_out);
  }
}

/* c-ares opens, closes and changes interest in its sockets. */
static void sock_state(void *data, ares_socket_t fd, int readable,
                       int writable) {
  gv_dns *d = data;
  struct gv_dns_ares *a = d->ares;
  if (!a) return;
  ares_fd *f = NULL, *free_slot = NULL;
  for (int i = 0; i < MAX_FDS; i++) {
    if (a->fds[i].used && a->fds[i].io.fd == fd) f = &a->fds[i];
    else if (!a->fds[i].used && !free_slot) free_slot = &a->fds[i];
  }
  int events = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
  if (f) {
    if (ev_is_active(&f->io)) gv_io_stop(a->hub, &f->io);
    if (!events) {
      f->used = 0;
      return;
    }
  } else {
    if (!events || !free_slot) return;
    f = free_slot;
    f->used = 1;
    ev_init(&f->io, fd_ready);
    f->d = d;
  }
  ev_io_set(&f->io, fd, events);
  gv_io_start(a->hub, &f->io);
}

/* Stops watching, destroys the channel (pending callbacks see
** ARES_EDESTRUCTION), unlinks the lookup. */
static void teardown(gv_dns *d) {
  struct gv_dns_ares *a = d->ares;
  if (!a) return;
  if (gv_timer_active(&a->timer)) gv_timer_stop(a->hub, &a->timer);
  for (int i = 0; i < MAX_FDS; i++) {
    if (a->fds[i].used && ev_is_active(&a->fds[i].io))
      gv_io_stop(a->hub, &a->fds[i].io);
    a->fds[i].used = 0;
  }
  if (!gv_link_empty(&a->active)) gv_link_remove(&a->active);
  if (a->ch) {
    ares_channel ch = a->ch;
    a->ch = NULL;
    ares_destroy(ch);
  }
  d->ares = NULL;
  free(a);
}

void gv__dns_ares_free(gv_dns *d) { teardown(d); }

/* ---- results -------------------------------------------------------------- */

static void finished(gv_dns *d) {
  d->done = 1;
  struct gv_dns_ares *a = d->ares;
  if (a && a->waiter) gv_wake(a->waiter, GV_WAKE_NORMAL);
}

static void addrinfo_done(void *arg, int status, int timeouts,
                          struct ares_addrinfo *res) {
  (void)timeouts;
  gv_dns *d = arg;
  if (status == ARES_EDESTRUCTION || d->done) {
    if (res) ares_freeaddrinfo(res);
    return;
  }
  if (status != ARES_SUCCESS) {
    fail(d, status);
  } else {
    int n = 0;
    for (struct ares_addrinfo_node *p = res->nodes; p; p = p->ai_next) n++;
    d->addrs = calloc((size_t)n + 1, sizeof *d->addrs);
    if (!d->addrs) fail(d, ARES_ENOMEM);
    for (struct ares_addrinfo_node *p = res->nodes; p && d->addrs;
         p = p->ai_next) {
      gv_dns_addr *o = &d->addrs[d->naddrs];
      int port;
      if (p->ai_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)p->ai_addr;
        inet_ntop(AF_INET, &s->sin_addr, o->addr, sizeof o->addr);
        port = ntohs(s->sin_port);
      } else if (p->ai_family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)p->ai_addr;
        inet_ntop(AF_INET6, &s->sin6_addr, o->addr, sizeof o->addr);
        port = ntohs(s->sin6_port);
      } else {
        continue;
      }
      o->family = gv__dns_family_name(p->ai_family);
      o->port = port;
      int st = p->ai_socktype ? p->ai_socktype : d->q.socktype;
      o->socktype = st == SOCK_DGRAM ? "dgram"
                  : st == SOCK_STREAM || st == 0 ? "stream" : "raw";
      o->protocol = p->ai_protocol;
      if (d->naddrs == 0 && (d->q.flags & AI_CANONNAME) && res->name)
        o->canonname = strdup(res->name);
      d->naddrs++;
    }
    if (d->addrs && d->naddrs == 0) fail(d, ARES_ENODATA);
  }
  if (res) ares_freeaddrinfo(res);
  finished(d);
}

static void host_done(void *arg, int status, int timeouts,
                      struct hostent *hp) {
  (void)timeouts;
  gv_dns *d = arg;
  if (status == ARES_EDESTRUCTION || d->done) return;
  if (status != ARES_SUCCESS || !hp) {
    fail(d, status);
  } else if (gv__dns_take_hostent(d, hp) != 0) {
    fail(d, ARES_ENOMEM);
  }
  finished(d);
}

/* ---- resolv.conf's timeout and attempts ---------------------------------------- */

/* c-ares before 1.19 reads nameserver, search, domain and ndots from
** /etc/resolv.conf but not glibc's "options timeout:N attempts:N" (it
** knows only its own "retrans:" and "retry:"): read those here, from the
** file and then RES_OPTIONS, as the C library does. */
static void glibc_options(const char *line, int *timeout_ms, int *tries) {
  for (const char *p = line; (p = strpbrk(p, "ta")) != NULL; p++) {
    if ((p == line || p[-1] == ' ' || p[-1] == '\t')) {
      if (strncmp(p, "timeout:", 8) == 0) {
        int v = atoi(p + 8);
        if (v > 0) *timeout_ms = (v > 30 ? 30 : v) * 1000;
      } else if (strncmp(p, "attempts:", 9) == 0) {
        int v = atoi(p + 9);
        if (v > 0) *tries = v > 5 ? 5 : v;
      }
    }
  }
}

static void resolv_options(int *timeout_ms, int *tries) {
  FILE *f = fopen("/etc/resolv.conf", "re");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "options", 7) == 0 && (line[7] == ' ' ||
                                               line[7] == '\t'))
        glibc_options(line + 8, timeout_ms, tries);
    fclose(f);
  }
  const char *env = getenv("RES_OPTIONS");
  if (env) glibc_options(env, timeout_ms, tries);
}

/* ---- a lookup's wait ---------------------------------------------------------- */

/* The wait ended, however: a lookup still running is cancelled at once
** (its channel destroyed) and handed back to the caller as failed. */
static void wait_ended(gv_greenlet *g) {
  if (!active.next) return;
  for (gv_link *l = active.next; l != &active; l = l->next) {
    struct gv_dns_ares *a = gv_container_of(l, struct gv_dns_ares, active);
    if (a->waiter != g) continue;
    gv_dns *d = a->d;
    a->waiter = NULL;
    if (!d->done) {
      fail(d, ARES_ECANCELLED);
      d->done = 1;
      teardown(d);
    }
    return;
  }
}

static void release_lookup(void *d) { gv_dns_free(d); }

int gv__dns_ares_wait(gv_hub *hub, lua_State *L, gv_dns *d, double timeout,
                      lua_KContext ctx, gv_kfunction k) {
  pthread_once(&once, library_init);
  if (init_status != ARES_SUCCESS) return -ENOMEM;
  struct gv_dns_ares *a = calloc(1, sizeof *a);
  if (!a) return -ENOMEM;
  d->ares = a;
  a->d = d;
  a->hub = hub;
  gv_link_init(&a->active);
  struct ares_options o;
  memset(&o, 0, sizeof o);
  o.sock_state_cb = sock_state;
  o.sock_state_cb_data = d;
  int mask = ARES_OPT_SOCK_STATE_CB;
  o.timeout = -1;
  o.tries = -1;
  resolv_options(&o.timeout, &o.tries);
  if (o.timeout > 0) mask |= ARES_OPT_TIMEOUTMS;
  if (o.tries > 0) mask |= ARES_OPT_TRIES;
  int rc = ares_init_options(&a->ch, &o, mask);
  if (rc != ARES_SUCCESS) {
    a->ch = NULL;
    teardown(d);
    return rc == ARES_ENOMEM ? -ENOMEM : -EINVAL;
  }
  if (!active.next) gv_link_init(&active);
  gv_link_append(&active, &a->active);
  if (d->q.kind == GV_DNS_HOST) {
    struct in_addr in;
    if (inet_aton(d->q.host, &in))
      ares_gethostbyaddr(a->ch, &in, sizeof in, AF_INET, host_done, d);
    else
      ares_gethostbyname(a->ch, d->q.host, AF_INET, host_done, d);
  } else {
    struct ares_addrinfo_hints h;
    memset(&h, 0, sizeof h);
    h.ai_family = d->q.family;
    h.ai_socktype = d->q.socktype;
    h.ai_protocol = d->q.protocol;
    h.ai_flags = d->q.flags;
    ares_getaddrinfo(a->ch, d->q.host, d->q.serv, &h, addrinfo_done, d);
  }
  gv_greenlet *g = gv_prepare_block(hub, L, "name resolution");
  g->flags |= GV_F_CATCH;  /* k runs on a throw too, to free the lookup */
  a->waiter = g;
  g->cancel = wait_ended;
  g->owned = d;            /* the hub closing first frees it */
  g->release = release_lookup;
  if (d->done) {            /* answered at once (/etc/hosts): no timer */
    gv_wake(g, GV_WAKE_NORMAL);
    return gv_block(hub, L, ctx, k);
  }
  rearm(d);
  return gv_block_timeout(hub, L, timeout, ctx, k);
}
