/* test_tls.c - runtime/tls.c and x509.c through their C contract: two
** greenlets handshake over a socketpair with the blocking calls (slow
** path, plain C functions), a megabyte crosses in partial writes, a read
** times out, gv_tls_close wakes a blocked reader, verification failures
** say what failed, and the step API asks for the fd it needs.
** argv[1]: spec/support/certs.sh (makes the throwaway certificates). */
#include <sys/socket.h>
#include <unistd.h>
#include "rt.h"

static char dir[64];
static char path_buf[4][128];

static const char *path(int slot, const char *name) {
  snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", dir, name);
  return path_buf[slot];
}

static gv_hub *hub_of(lua_State *L) {
  (void)L;
  return rt_hub;
}

static gv_tls_ctx *server_ctx(void) {
  gv_tls_ctx *c = gv_tls_ctx_new(1);
  CHECK(c != NULL);
  CHECK(gv_tls_ctx_certificate(c, path(0, "server.pem"),
                               path(1, "server.key"), NULL) == 0);
  return c;
}

static gv_tls_ctx *client_ctx(void) {
  gv_tls_ctx *c = gv_tls_ctx_new(0);
  CHECK(c != NULL);
  CHECK(gv_tls_ctx_trust(c, path(0, "ca.pem"), NULL) == 0);
  return c;
}

/* ---- the greenlets' bodies: C functions blocking on the slow path ------ */

static int big_len = 1 << 20;
static int sv[2];
static long server_total;
static int client_ok, ticks, done;

/* server(&fd): handshake, read big_len bytes, answer "done" */
static int c_server(lua_State *L) {
  int fd = *(int *)lua_touserdata(L, 1);
  gv_tls_ctx *c = server_ctx();
  gv_tls t;
  CHECK(gv_tls_init(&t, c, fd) == 0);
  gv_tls_ctx_unref(c);   /* t keeps its reference */
  int r = gv_tls_handshake(hub_of(L), L, &t, 5);
  CHECK(r == GV_TLS_OK);
  long total = 0;
  char buf[4096];
  while (total < big_len) {
    long n = gv_tls_read(hub_of(L), L, &t, buf, sizeof buf, 5);
    if (n <= 0) break;
    for (long i = 0; i < n; i++)
      if (buf[i] != (char)('a' + (total + i) % 26)) { total = -1; break; }
    if (total < 0) break;
    total += n;
  }
  server_total = total;
  CHECK(gv_tls_write(hub_of(L), L, &t, "done", 4, 5, NULL) == 4);
  CHECK(gv_tls_shutdown(hub_of(L), L, &t, 5) == GV_TLS_OK);
  gv_tls_close(hub_of(L), &t);
  close(fd);
  return 0;
}

static void check_field(void *ud, const char *section, const char *key,
                        const char *value, size_t len) {
  int *seen = ud;
  if (!strcmp(section, "subject") && !strcmp(key, "CN") &&
      len == 9 && !memcmp(value, "localhost", 9))
    seen[0] = 1;
  if (!strcmp(section, "san") && !strcmp(key, "iPAddress") &&
      !strcmp(value, "127.0.0.1"))
    seen[1] = 1;
}

/* client(&fd): handshake, check the peer, send big_len bytes, read reply */
static int c_client(lua_State *L) {
  int fd = *(int *)lua_touserdata(L, 1);
  gv_tls_ctx *c = client_ctx();
  gv_tls t;
  CHECK(gv_tls_init(&t, c, fd) == 0);
  gv_tls_ctx_unref(c);
  CHECK(gv_tls_set_host(&t, "localhost") == 0);
  CHECK(gv_tls_handshake(hub_of(L), L, &t, 5) == GV_TLS_OK);
  CHECK(strcmp(gv_tls_version(&t), "TLSv1.3") == 0);
  int verified;
  CHECK(gv_tls_verify_result(&t, &verified) == NULL && verified);
  gv_x509 *x = gv_tls_peer_cert(&t, 0);
  CHECK(x != NULL);
  if (x) {
    int seen[2] = {0, 0};
    gv_x509_fields(x, check_field, seen);
    CHECK(seen[0] && seen[1]);
    CHECK(gv_x509_check_host(x, "localhost"));
    CHECK(!gv_x509_check_host(x, "other.test"));
    gv_x509_free(x);
  }
  char *data = malloc((size_t)big_len);
  for (int i = 0; i < big_len; i++) data[i] = (char)('a' + i % 26);
  size_t sent = 0;
  CHECK(gv_tls_write(hub_of(L), L, &t, data, (size_t)big_len, 5, &sent) ==
        big_len);
  CHECK(sent == (size_t)big_len);
  free(data);
  char reply[8] = {0};
  CHECK(gv_tls_read(hub_of(L), L, &t, reply, sizeof reply, 5) == 4);
  CHECK(memcmp(reply, "done", 4) == 0);
  CHECK(gv_tls_read(hub_of(L), L, &t, reply, sizeof reply, 5) == GV_TLS_EOF);
  gv_tls_close(hub_of(L), &t);
  close(fd);
  client_ok = 1;
  done = 1;
  return 0;
}

/* ticks while the others talk: waits let it run */
static int c_ticker(lua_State *L) {
  while (!done) {
    ticks++;
    gv_sleep(hub_of(L), L, 0.001, 0, NULL);
  }
  return 0;
}

static void test_roundtrip(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  rt_spawn(&r, c_ticker, NULL);
  rt_spawn(&r, c_server, &sv[0]);
  rt_spawn(&r, c_client, &sv[1]);
  rt_run(&r);
  CHECK(server_total == big_len);
  CHECK(client_ok);
  CHECK(ticks > 1);
  CHECK(r.failed == 0);
  rt_close(&r);
}

/* ---- timeouts, close, verification -------------------------------------- */

static gv_tls shared;   /* a connection greenlets share */
static long reads[2];

static int c_read_timeout(lua_State *L) {
  char buf[16];
  reads[0] = gv_tls_read(hub_of(L), L, &shared, buf, sizeof buf, 0.05);
  return 0;
}

static int c_read_forever(lua_State *L) {
  char buf[16];
  reads[1] = gv_tls_read(hub_of(L), L, &shared, buf, sizeof buf, -1);
  return 0;
}

static int c_close_later(lua_State *L) {
  gv_sleep(hub_of(L), L, 0.02, 0, NULL);
  gv_tls_close(hub_of(L), &shared);
  return 0;
}

static void test_timeout_and_close(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  gv_tls_ctx *c = client_ctx();
  CHECK(gv_tls_init(&shared, c, sv[0]) == 0);
  gv_tls_ctx_unref(c);
  CHECK(gv_tls_set_host(&shared, "localhost") == 0);
  /* the peer never answers: the read (its handshake) times out */
  rt_spawn(&r, c_read_timeout, NULL);
  rt_run(&r);
  CHECK(reads[0] == GV_TLS_TIMEOUT);
  /* a reader blocked without a timeout is woken by gv_tls_close */
  rt_spawn(&r, c_read_forever, NULL);
  rt_spawn(&r, c_close_later, NULL);
  rt_run(&r);
  CHECK(reads[1] == GV_TLS_CLOSED);
  CHECK(gv_tls_read_step(&shared, NULL, 0) == GV_TLS_CLOSED);
  close(sv[0]);
  close(sv[1]);
  rt_close(&r);
}

static char mismatch_err[256];

static int c_server_handshake(lua_State *L) {
  int fd = *(int *)lua_touserdata(L, 1);
  gv_tls_ctx *c = server_ctx();
  gv_tls t;
  CHECK(gv_tls_init(&t, c, fd) == 0);
  gv_tls_ctx_unref(c);
  int r = gv_tls_handshake(hub_of(L), L, &t, 5);
  /* the client's alert: the server's name was not what it asked for */
  CHECK(r == GV_TLS_ERROR || r == GV_TLS_EOF);
  gv_tls_close(hub_of(L), &t);
  close(fd);
  return 0;
}

static int c_client_other(lua_State *L) {
  int fd = *(int *)lua_touserdata(L, 1);
  gv_tls_ctx *c = client_ctx();
  gv_tls t;
  CHECK(gv_tls_init(&t, c, fd) == 0);
  gv_tls_ctx_unref(c);
  CHECK(gv_tls_set_host(&t, "other.test") == 0);
  CHECK(gv_tls_handshake(hub_of(L), L, &t, 5) == GV_TLS_ERROR);
  snprintf(mismatch_err, sizeof mismatch_err, "%s", gv_tls_error(&t));
  gv_tls_close(hub_of(L), &t);
  close(fd);
  return 0;
}

static void test_verify_failure(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  rt_spawn(&r, c_server_handshake, &sv[0]);
  rt_spawn(&r, c_client_other, &sv[1]);
  rt_run(&r);
  CHECK(strcmp(mismatch_err,
               "certificate verify failed: hostname mismatch") == 0);
  rt_close(&r);
}

static void test_steps_and_contexts(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  gv_tls_ctx *c = client_ctx();
  gv_tls t;
  CHECK(gv_tls_init(&t, c, sv[0]) == 0);
  CHECK(gv_tls_set_host(&t, "localhost") == 0);
  /* the ClientHello goes out, then it needs the server's answer */
  CHECK(gv_tls_handshake_step(&t) == GV_TLS_WANT_READ);
  char hello[5];
  CHECK(read(sv[1], hello, sizeof hello) == 5 && hello[0] == 22);
  close(sv[1]);   /* the server goes away */
  int r;
  do r = gv_tls_handshake_step(&t); while (r == GV_TLS_WANT_READ);
  CHECK(r == GV_TLS_EOF || r == GV_TLS_ERROR);
  gv_tls_close(NULL, &t);
  gv_tls_close(NULL, &t); /* twice is fine */
  close(sv[0]);
  /* bad settings say what is wrong */
  CHECK(gv_tls_ctx_certificate(c, "/nonexistent.pem", NULL, NULL) == -1);
  CHECK(strstr(gv_tls_ctx_error(c), "/nonexistent.pem") != NULL);
  const char *bad[] = {""};
  CHECK(gv_tls_ctx_alpn(c, bad, 1) == -1);
  CHECK(gv_tls_ctx_versions(c, 0x0304, 0) == 0);
  gv_tls_ctx *s = server_ctx(), *sub = server_ctx();
  CHECK(gv_tls_ctx_sni(c, "x.test", sub) == -1); /* clients have no SNI map */
  CHECK(gv_tls_ctx_sni(s, "*.test", sub) == 0);
  gv_tls_ctx_unref(sub);                         /* s keeps it */
  gv_tls_ctx_unref(c);
  gv_tls_ctx_unref(s);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_tls CERTS_SH\n");
    return 2;
  }
  snprintf(dir, sizeof dir, "/tmp/gvlua-tls-XXXXXX");
  if (!mkdtemp(dir)) return 2;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "sh %s %s", argv[1], dir);
  if (system(cmd) != 0) return 2;
  RUN(test_roundtrip);
  RUN(test_timeout_and_close);
  RUN(test_verify_failure);
  RUN(test_steps_and_contexts);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return 2;
  return unit_report();
}
