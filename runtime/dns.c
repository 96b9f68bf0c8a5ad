/*
** dns.c - the resolver: lookups (getaddrinfo, gethostbyname/addr,
** getnameinfo) that block only their greenlet, with results already
** formatted (addresses as text, LuaSocket's error words), so callers need
** no resolver call of their own. Two backends behind the one contract
** (gv.h): c-ares driven by the hub (dns_ares.c), the default, and this
** file's, the C library's functions run as jobs on the work pool. The
** environment variable GVLUA_RESOLVER picks one: "ares" or "thread"
** (gevent's GEVENT_RESOLVER is read when it is not set). Lookups that need
** no DNS (a literal address, a bind address) and getnameinfo always take
** the pool. A pool lookup whose waiter gives up (a timeout, a kill) is
** abandoned: it finishes on its thread and is freed then; a c-ares one is
** cancelled at once.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "internal.h"


static unsigned long lookups;  /* sent to the backend, for tests */

static const char *gai_words(int err) {
  switch (err) {
  case 0: return NULL;
  case EAI_AGAIN: return "temporary failure in name resolution";
  case EAI_BADFLAGS: return "invalid value for ai_flags";
  case EAI_FAIL: return "non-recoverable failure in name resolution";
  case EAI_FAMILY: return "ai_family not supported";
  case EAI_MEMORY: return "memory allocation failure";
  case EAI_NONAME: return "host or service not provided, or not known";
  case EAI_OVERFLOW: return "argument buffer overflow";
  case EAI_SERVICE: return "service not supported for socket type";
  case EAI_SOCKTYPE: return "ai_socktype not supported";
  case EAI_SYSTEM: return strerror(errno);
  default: return gai_strerror(err);
  }
}

static const char *host_words(int err) {
  if (err == HOST_NOT_FOUND) return "host not found";
  return hstrerror(err);
}

const char *gv__dns_family_name(int f) {
  return f == AF_INET ? "inet" : f == AF_INET6 ? "inet6"
       : f == AF_UNIX ? "unix" : "unspec";
}

static char **strv_dup(char **v) {
  int n = 0;
  while (v && v[n]) n++;
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (!out) return NULL;
  for (int i = 0; i < n; i++) out[i] = strdup(v[i]);
  return out;
}

static void strv_free(char **v) {
  for (int i = 0; v && v[i]; i++) free(v[i]);
  free(v);
}

void gv_dns_free(gv_dns *d) {
  if (!d) return;
  gv__dns_ares_free(d);
  for (int i = 0; i < d->naddrs; i++) free(d->addrs[i].canonname);
  free(d->addrs);
  free(d->name);
  strv_free(d->aliases);
  strv_free(d->ips);
  for (int i = 0; i < d->nnames; i++) free(d->names[i]);
  free(d->names);
  free((char *)d->q.host);
  free((char *)d->q.serv);
  free(d);
}

/* ---- the lookups, on a pool thread ------------------------------------- */

static void run_addrinfo(gv_dns *d) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = d->q.family;
  hints.ai_socktype = d->q.socktype;
  hints.ai_protocol = d->q.protocol;
  hints.ai_flags = d->q.flags;
  d->err = getaddrinfo(d->q.host, d->q.serv, &hints, &res);
  if (d->err == EAI_SYSTEM && errno == 0) d->err = EAI_FAIL;
  if (d->err) {
    d->errmsg = gai_words(d->err);
    return;
  }
  int n = 0;
  for (struct addrinfo *a = res; a; a = a->ai_next) n++;
  if (d->q.kind == GV_DNS_NAMEINFO) {
    d->names = calloc((size_t)n + 1, sizeof *d->names);
    for (struct addrinfo *a = res; a && d->names; a = a->ai_next) {
      char hbuf[NI_MAXHOST];
      hbuf[0] = 0;
      getnameinfo(a->ai_addr, a->ai_addrlen, hbuf,
                  d->q.host ? sizeof hbuf : 0, d->serv,
                  d->q.serv ? sizeof d->serv : 0, 0);
      d->names[d->nnames++] = strdup(hbuf);
    }
  } else {
    d->addrs = calloc((size_t)n + 1, sizeof *d->addrs);
    for (struct addrinfo *a = res; a && d->addrs; a = a->ai_next) {
      gv_dns_addr *o = &d->addrs[d->naddrs];
      char sbuf[NI_MAXSERV];
      if (getnameinfo(a->ai_addr, a->ai_addrlen, o->addr, sizeof o->addr,
                      sbuf, sizeof sbuf, NI_NUMERICHOST | NI_NUMERICSERV))
        continue;
      o->family = gv__dns_family_name(a->ai_family);
      o->port = atoi(sbuf);
      o->socktype = a->ai_socktype == SOCK_STREAM ? "stream"
                  : a->ai_socktype == SOCK_DGRAM ? "dgram" : "raw";
      o->protocol = a->ai_protocol;
      o->canonname = a->ai_canonname ? strdup(a->ai_canonname) : NULL;
      d->naddrs++;
    }
  }
  freeaddrinfo(res);
}

int gv__dns_take_hostent(gv_dns *d, const struct hostent *hp) {
  d->name = strdup(hp->h_name ? hp->h_name : "");
  d->aliases = strv_dup(hp->h_aliases);
  int n = 0;
  while (hp->h_addr_list && hp->h_addr_list[n]) n++;
  d->ips = calloc((size_t)n + 1, sizeof *d->ips);
  for (int i = 0; i < n && d->ips; i++) {
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(hp->h_addrtype, hp->h_addr_list[i], ip, sizeof ip);
    d->ips[i] = strdup(ip);
  }
  return d->name && d->aliases && d->ips ? 0 : -1;
}

/* Like LuaSocket's inet_gethost: by address for a numeric one. */
static void run_host(gv_dns *d) {
  struct in_addr addr;
  int numeric = inet_aton(d->q.host, &addr);
  size_t buflen = 1024;
  for (;;) {
    char *buf = malloc(buflen);
    if (!buf) { d->err = NO_RECOVERY; break; }
    struct hostent he, *hp = NULL;
    int herr = 0, rc;
    if (numeric)
      rc = gethostbyaddr_r(&addr, sizeof addr, AF_INET, &he, buf, buflen,
                           &hp, &herr);
    else
      rc = gethostbyname_r(d->q.host, &he, buf, buflen, &hp, &herr);
    if (rc == ERANGE && buflen < (1u << 20)) {
      free(buf);
      buflen *= 2;
      continue;
    }
    if (!hp) d->err = herr ? herr : HOST_NOT_FOUND;
    else if (gv__dns_take_hostent(d, hp) != 0) d->err = NO_RECOVERY;
    free(buf);
    break;
  }
  if (d->err) d->errmsg = host_words(d->err);
}

static void dns_run(gv_work *w) {
  gv_dns *d = (gv_dns *)w;
  /* run again after a fork: start over */
  for (int i = 0; i < d->naddrs; i++) free(d->addrs[i].canonname);
  free(d->addrs);
  d->addrs = NULL;
  d->naddrs = 0;
  d->err = 0;
  d->errmsg = NULL;
  if (d->q.kind == GV_DNS_HOST) run_host(d);
  else run_addrinfo(d);
}

/* An abandoned lookup finished: nobody wants it. */
static void dns_done(gv_hub *hub, gv_work *w) {
  (void)hub;
  gv_dns_free((gv_dns *)w);
}

/* The hub closed first (the state closing, the process exiting). */
static void dns_drop(gv_work *w) {
  gv_dns_free((gv_dns *)w);
}

/* ---- the hub side -------------------------------------------------------- */

gv_dns *gv_dns_new(const gv_dns_query *q) {
  gv_dns *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->q = *q;
  d->q.host = q->host ? strdup(q->host) : NULL;
  d->q.serv = q->serv ? strdup(q->serv) : NULL;
  if ((q->host && !d->q.host) || (q->serv && !d->q.serv)) {
    gv_dns_free(d);
    return NULL;
  }
  if (q->kind == GV_DNS_ADDRINFO && !q->host) d->q.flags |= AI_PASSIVE;
  if (q->kind == GV_DNS_NAMEINFO) d->q.socktype = SOCK_STREAM;
  d->w.run = dns_run;
  d->w.done = dns_done;
  d->w.drop = dns_drop;
  return d;
}

/* The backend the environment asks for (read once). */
static int configured_backend(void) {
  static int backend;
  if (!backend) {
    const char *v = getenv("GVLUA_RESOLVER");
    if (!v || !*v) v = getenv("GEVENT_RESOLVER");
    backend = v && strcmp(v, "thread") == 0 ? GV__DNS_THREAD : GV__DNS_ARES;
  }
  return backend;
}

const char *gv_dns_backend(void) {
  return configured_backend() == GV__DNS_ARES ? "ares" : "thread";
}

/* Whether the C library answers d without DNS (a literal address, a bind
** address) or only it can (getnameinfo's several steps). */
static int local_only(const gv_dns *d) {
  if (d->q.kind == GV_DNS_NAMEINFO || !d->q.host) return 1;
  if (d->q.kind == GV_DNS_ADDRINFO) return gv_dns_isnumeric(d->q.host) != 0;
  return 0;
}

int gv_dns_wait(gv_hub *hub, lua_State *L, gv_dns *d, double timeout,
                lua_KContext ctx, gv_kfunction k) {
  gv_check_block(hub, L);
  lookups++;
  if (configured_backend() == GV__DNS_ARES && !local_only(d)) {
    d->backend = GV__DNS_ARES;
    return gv__dns_ares_wait(hub, L, d, timeout, ctx, k);
  }
  d->backend = GV__DNS_THREAD;
  return gv_work_wait(hub, L, &d->w, timeout, ctx, k);
}

int gv_dns_taken(gv_dns *d) {
  if (d->backend == GV__DNS_ARES) return d->done;
  return gv_work_taken(&d->w);
}

const char *gv_dns_error(const gv_dns *d) {
  return d->err ? (d->errmsg ? d->errmsg : "name resolution failed") : NULL;
}

const gv_dns_addr *gv_dns_addrs(const gv_dns *d, int *n) {
  *n = d->naddrs;
  return d->addrs;
}

const char *gv_dns_host(const gv_dns *d, char *const **aliases,
                        char *const **ips) {
  static char *const none[] = {NULL};
  *aliases = d->aliases ? d->aliases : none;
  *ips = d->ips ? d->ips : none;
  return d->name ? d->name : "";
}

char *const *gv_dns_names(const gv_dns *d, int *n, const char **serv) {
  *n = d->nnames;
  *serv = d->serv;
  return d->names;
}

unsigned long gv_dns_lookups(void) { return lookups; }

int gv_dns_isnumeric(const char *host) {
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, host, buf) == 1) return 4;
  if (inet_pton(AF_INET6, host, buf) == 1) return 6;
  return 0;
}
