/* test_http.c - the HTTP/1.1 parser glue (runtime/http.c): request and
** response heads, the strict rules on top of http_parser, incremental
** input, the chunked decoder fed byte by byte, status lines and Date. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "gv.h"
#include "unit.h"

static const gv_http_limits lim = {8192, 4096, 100};

static int parse(const char *s, gv_http_head *h) {
  gv_http_scan sc;
  gv_http_scan_init(&sc);
  return gv_http_parse_request(&sc, s, strlen(s), &lim, h);
}

static int span_eq(const char *buf, gv_http_span sp, const char *want) {
  return sp.len == strlen(want) && memcmp(buf + sp.off, want, sp.len) == 0;
}

static void test_request(void) {
  static gv_http_head h;
  const char *r = "POST /a/b?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                  "X-Y:  v w \r\n\r\nhello";
  int n = parse(r, &h);
  CHECK(n == (int)(strstr(r, "hello") - r));
  CHECK(span_eq(r, h.method, "POST"));
  CHECK(span_eq(r, h.target, "/a/b?x=1"));
  CHECK(span_eq(r, h.path, "/a/b"));
  CHECK(span_eq(r, h.query, "x=1"));
  CHECK(h.major == 1 && h.minor == 1);
  CHECK(h.content_length == 5);
  CHECK(h.nfields == 3);
  CHECK(span_eq(r, h.fields[2].value, "v w"));
  CHECK(h.flags & GV_HTTP_KEEPALIVE);
  const gv_http_span *v = gv_http_find(&h, r, "x-y", 3);
  CHECK(v && span_eq(r, *v, "v w"));
  CHECK(parse("GET / HTTP/1.0\r\n\r\n", &h) > 0);
  CHECK(!(h.flags & GV_HTTP_KEEPALIVE) && h.content_length == 0);
  CHECK(parse("HEAD / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
              "Transfer-Encoding: chunked\r\n\r\n", &h) > 0);
  CHECK((h.flags & (GV_HTTP_HEAD | GV_HTTP_CONTINUE | GV_HTTP_CHUNKED)) ==
        (GV_HTTP_HEAD | GV_HTTP_CONTINUE | GV_HTTP_CHUNKED));
  CHECK(h.content_length == -1);
}

static void test_rejects(void) {
  static gv_http_head h;
  static const struct { const char *req; int status; } cases[] = {
    {"GET / HTTP/1.1\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -501},
    {"GET / HTTP/1.3\r\nHost: h\r\n\r\n", -505},
    {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", -400},
    {"G(T / HTTP/1.1\r\n", -400},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int r = parse(cases[i].req, &h);
    if (r != cases[i].status)
      fprintf(stderr, "case %zu: got %d want %d\n", i, r, cases[i].status);
    CHECK(r == cases[i].status);
  }
  gv_http_limits small = {64, 16, 2};
  gv_http_scan sc;
  gv_http_scan_init(&sc);
  const char *longuri = "GET /0123456789012345678901234567890123456789012345678 HTTP/1.1\r\n";
  CHECK(gv_http_parse_request(&sc, longuri, strlen(longuri), &small, &h) == -414);
  gv_http_scan_init(&sc);
  const char *many = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  CHECK(gv_http_parse_request(&sc, many, strlen(many), &small, &h) == -431);
}

/* A head given a byte at a time: 0 until the last byte, then its length. */
static void test_incremental(void) {
  static gv_http_head h;
  const char *r = "GET /inc HTTP/1.1\r\nHost: h\r\n\r\n";
  size_t n = strlen(r);
  gv_http_scan sc;
  gv_http_scan_init(&sc);
  for (size_t i = 1; i < n; i++)
    CHECK(gv_http_parse_request(&sc, r, i, &lim, &h) == 0);
  CHECK(gv_http_parse_request(&sc, r, n, &lim, &h) == (int)n);
  /* after empty lines, split inside one (found by tests/fuzz) */
  r = "\r\n\r\nGET /inc HTTP/1.1\r\nHost: h\r\n\r\n";
  n = strlen(r);
  gv_http_scan_init(&sc);
  for (size_t i = 1; i < n; i++)
    CHECK(gv_http_parse_request(&sc, r, i, &lim, &h) == 0);
  CHECK(gv_http_parse_request(&sc, r, n, &lim, &h) == (int)n);
}

static void test_response(void) {
  static gv_http_head h;
  gv_http_scan sc;
  gv_http_scan_init(&sc);
  const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc";
  CHECK(gv_http_parse_response(&sc, r, strlen(r), &lim, 0, &h) ==
        (int)strlen(r) - 3);
  CHECK(h.status == 404 && h.content_length == 3);
  CHECK(span_eq(r, h.reason, "Not Found"));
  gv_http_scan_init(&sc);
  r = "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n";
  CHECK(gv_http_parse_response(&sc, r, strlen(r), &lim, 0, &h) > 0);
  CHECK(h.content_length == 0);
  gv_http_scan_init(&sc);
  r = "HTTP/1.1 200 OK\nContent-Length: 3\r\n\r\n";
  CHECK(gv_http_parse_response(&sc, r, strlen(r), &lim, 0, &h) == -1);
}

/* Decodes s fed in pieces of 'step' bytes; returns the data or NULL. */
static char *dechunk(const char *s, size_t step, size_t *used_total) {
  gv_http_chunked c;
  gv_http_chunked_init(&c, 1000);
  size_t n = strlen(s), out = 0;
  char *res = malloc(n + 1);
  *used_total = 0;
  for (size_t i = 0; i < n; i += step) {
    size_t k = n - i < step ? n - i : step;
    char piece[64];
    memcpy(piece, s + i, k);
    size_t len = k;
    int done;
    long used = gv_http_chunked_decode(&c, piece, &len, &done);
    if (used < 0) { free(res); return NULL; }
    memcpy(res + out, piece, len);
    out += len;
    *used_total += (size_t)used;
    if (done) break;
  }
  res[out] = 0;
  return res;
}

static void test_chunked(void) {
  const char *body = "3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\nNEXT";
  for (size_t step = 1; step <= 20; step++) {
    size_t used;
    char *d = dechunk(body, step, &used);
    CHECK(d && strcmp(d, "abc0123456789abcdef") == 0);
    CHECK(used == strlen(body) - 4);
    free(d);
  }
  static const char *bad[] = {
    "x\r\n", "3\rXabc\r\n0\r\n\r\n", "3\r\nabcXX", "3 \r\nabc\r\n",
    "3\nabc\r\n", "fffffffffffffffff\r\n", "0\r\nNoColon\r\n\r\n",
    "3;\1\r\n", "0\r\n x: y\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t used;
    char *d = dechunk(bad[i], 1, &used);
    if (d) fprintf(stderr, "accepted bad chunked case %zu\n", i);
    CHECK(d == NULL);
    free(d);
  }
  gv_http_chunked c;
  gv_http_chunked_init(&c, 10);
  char big[] = "b\r\n";
  size_t len = 3;
  int done;
  CHECK(gv_http_chunked_decode(&c, big, &len, &done) == -413);
}

static void test_status_line(void) {
  char out[128];
  size_t n = gv_http_status_line(out, 1, 404, 0);
  out[n] = 0;
  CHECK(strcmp(out, "HTTP/1.1 404 Not Found\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n") == 0);
  n = gv_http_status_line(out, 0, 200, 1785888000.5); /* 2026-08-05 */
  out[n] = 0;
  CHECK(strcmp(out, "HTTP/1.0 200 OK\r\nDate: Wed, 05 Aug 2026 00:00:00 GMT\r\n") == 0);
  CHECK(gv_http_token_ok("X-Y", 3) && !gv_http_token_ok("X Y", 3));
  CHECK(gv_http_value_ok("a\tb", 3) && !gv_http_value_ok("a\nb", 3));
}

/* An idle connection: nothing waiting, then bytes, then the peer's end. */
static void test_input_waiting(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(!gv_http_input_waiting(sv[0]));
  CHECK(write(sv[1], "x", 1) == 1);
  CHECK(gv_http_input_waiting(sv[0]));
  char c;
  CHECK(read(sv[0], &c, 1) == 1);
  CHECK(!gv_http_input_waiting(sv[0]));
  close(sv[1]);
  CHECK(gv_http_input_waiting(sv[0]));
  close(sv[0]);
}

int main(void) {
  RUN(test_request);
  RUN(test_input_waiting);
  RUN(test_rejects);
  RUN(test_incremental);
  RUN(test_response);
  RUN(test_chunked);
  RUN(test_status_line);
  return unit_report();
}
