/* test_dns.c - the resolver: lookups block only their greenlet, results
** come back formatted, errors in LuaSocket's words, a literal address
** needs no lookup, and a wait cut short abandons the lookup (freed by the
** runtime: LeakSanitizer and valgrind would tell). */
#include <netdb.h>
#include <sys/socket.h>
#include "rt.h"

static gv_dns *d;
static int taken, wake;

static int look_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L; (void)status; (void)ctx;
  taken = gv_dns_taken(d);
  wake = gv_current(rt_hub)->wake;
  if (wake == GV_WAKE_THROW) lua_pop(L, 1);
  return 0;
}
static int looker(lua_State *L) {
  double t = *(double *)lua_touserdata(L, 1);
  return gv_dns_wait(rt_hub, L, d, t, 0, look_k);
}

static void run_lookup(rt *r, const gv_dns_query *q, double timeout) {
  static double t;
  t = timeout;
  d = gv_dns_new(q);
  CHECK(d != NULL);
  rt_spawn(r, looker, &t);
  rt_run(r);
}

static void test_addrinfo(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  unsigned long before = gv_dns_lookups();
  gv_dns_query q = {GV_DNS_ADDRINFO, "localhost", "80", AF_INET,
                    SOCK_STREAM, 0, 0};
  run_lookup(&r, &q, -1);
  CHECK(taken && wake == GV_WAKE_NORMAL && gv_dns_error(d) == NULL);
  int n;
  const gv_dns_addr *a = gv_dns_addrs(d, &n);
  CHECK(n >= 1 && strcmp(a[0].addr, "127.0.0.1") == 0 && a[0].port == 80);
  CHECK(strcmp(a[0].family, "inet") == 0 && strcmp(a[0].socktype, "stream") == 0);
  gv_dns_free(d);
  CHECK(gv_dns_lookups() == before + 1);
  gv_dns_query bad = {GV_DNS_ADDRINFO, "no-such-host.invalid", NULL, 0, 0, 0, 0};
  run_lookup(&r, &bad, -1);
  CHECK(taken && gv_dns_error(d) &&
        strcmp(gv_dns_error(d), "host or service not provided, or not known") == 0);
  gv_dns_free(d);
  rt_close(&r);
}

static void test_host_and_names(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  gv_dns_query q = {GV_DNS_HOST, "localhost", NULL, 0, 0, 0, 0};
  run_lookup(&r, &q, -1);
  char *const *aliases, *const *ips;
  CHECK(taken && !gv_dns_error(d));
  const char *name = gv_dns_host(d, &aliases, &ips);
  CHECK(name && ips[0] && strcmp(ips[0], "127.0.0.1") == 0);
  gv_dns_free(d);
  gv_dns_query ni = {GV_DNS_NAMEINFO, NULL, "80", 0, 0, 0, 0};
  run_lookup(&r, &ni, -1);
  int n;
  const char *serv;
  CHECK(taken && !gv_dns_error(d));
  gv_dns_names(d, &n, &serv);
  CHECK(strcmp(serv, "http") == 0);
  gv_dns_free(d);
  rt_close(&r);
}

static void test_abandon(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  /* a zero timeout gives up before the pool answers: abandoned */
  gv_dns_query q = {GV_DNS_ADDRINFO, "localhost", NULL, 0, 0, 0, 0};
  run_lookup(&r, &q, 0);
  /* usually abandoned (the runtime's now); a fast pool may answer first */
  if (taken) gv_dns_free(d);
  else CHECK(wake == GV_WAKE_TIMEOUT);
  gv_sleep(&r.hub, r.L, 0.2, 0, NULL); /* it finishes and is freed */
  rt_close(&r);
}

static void test_numeric(void) {
  CHECK(gv_dns_isnumeric("127.0.0.1") == 4);
  CHECK(gv_dns_isnumeric("::1") == 6);
  CHECK(gv_dns_isnumeric("localhost") == 0);
}

int main(void) {
  /* this file tests the work-pool backend (abandoned lookups finish on
  ** their thread); test_dns_ares.c the c-ares one */
  setenv("GVLUA_RESOLVER", "thread", 1);
  RUN(test_addrinfo);
  RUN(test_host_and_names);
  RUN(test_abandon);
  RUN(test_numeric);
  return unit_report();
}
