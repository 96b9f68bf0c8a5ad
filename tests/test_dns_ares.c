/* test_dns_ares.c - the resolver through its contract with the c-ares
** backend (runtime/dns_ares.c): names from /etc/hosts answered without DNS,
** results formatted (addresses as text), a lookup that needs no DNS sent
** to the C library, and the backend named by GVLUA_RESOLVER. Lookups that
** need a nameserver are tested in a private network namespace by
** spec/dns_spec.lua (no traffic leaves the machine). */
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include "rt.h"

static char got[4][160];
static int ngot, taken_all = 1;

static int lookup_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L; (void)status;
  gv_dns *d = (gv_dns *)ctx;
  if (!gv_dns_taken(d)) { taken_all = 0; return 0; }
  const char *err = gv_dns_error(d);
  if (err) snprintf(got[ngot++], sizeof got[0], "error: %s", err);
  else if (d->q.kind == GV_DNS_HOST) {
    char *const *aliases, *const *ips;
    gv_dns_host(d, &aliases, &ips);
    snprintf(got[ngot++], sizeof got[0], "%s", ips[0] ? ips[0] : "?");
  } else {
    int n;
    const gv_dns_addr *a = gv_dns_addrs(d, &n);
    snprintf(got[ngot++], sizeof got[0], "%s %s %d %s", n ? a[0].addr : "?",
             n ? a[0].family : "?", n ? a[0].port : 0,
             n ? a[0].socktype : "?");
  }
  gv_dns_free(d);
  return 0;
}

static int resolve(lua_State *L) {
  const gv_dns_query *q = lua_touserdata(L, 1);
  gv_dns *d = gv_dns_new(q);
  CHECK(d != NULL);
  return gv_dns_wait(rt_hub, L, d, 5, (lua_KContext)d, lookup_k);
}

static void test_hosts_and_literals(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  CHECK(strcmp(gv_dns_backend(), "ares") == 0);
  static gv_dns_query q1 = {GV_DNS_ADDRINFO, "localhost", "80", AF_INET,
                            SOCK_STREAM, 0, 0};
  static gv_dns_query q2 = {GV_DNS_HOST, "localhost", NULL, 0, 0, 0, 0};
  static gv_dns_query q3 = {GV_DNS_ADDRINFO, "127.0.0.1", "443", AF_UNSPEC,
                            SOCK_STREAM, 0, 0};
  rt_spawn(&r, resolve, &q1);
  rt_spawn(&r, resolve, &q2);
  rt_spawn(&r, resolve, &q3);
  rt_run(&r);
  CHECK(taken_all);
  CHECK(ngot == 3);
  CHECK(strcmp(got[0], "127.0.0.1 inet 80 stream") == 0);
  CHECK(strcmp(got[1], "127.0.0.1") == 0);
  CHECK(strcmp(got[2], "127.0.0.1 inet 443 stream") == 0);
  CHECK(gv_dns_isnumeric("::1") == 6 && gv_dns_isnumeric("x.test") == 0);
  CHECK(r.failed == 0);
  rt_close(&r);
}

int main(void) {
  setenv("GVLUA_RESOLVER", "ares", 1);
  RUN(test_hosts_and_literals);
  return unit_report();
}
