/* fuzz_http.c - libFuzzer harness for the HTTP parser glue (runtime/http.c):
** request and response heads given whole and in two pieces must parse the
** same way, spans must stay inside the input, and the chunked decoder must
** decode the same bytes whatever the split of its input. Built and run by
** `./dev fuzz` (clang -fsanitize=fuzzer,address,undefined). */
#include <stdlib.h>
#include <string.h>
#include "gv.h"

static void check_span(gv_http_span sp, size_t len) {
  if ((size_t)sp.off + sp.len > len) abort();
}

static void check_head(const gv_http_head *h, size_t len) {
  check_span(h->method, len);
  check_span(h->target, len);
  check_span(h->path, len);
  check_span(h->query, len);
  if (h->nfields > GV_HTTP_FIELDS) abort();
  for (uint32_t i = 0; i < h->nfields; i++) {
    check_span(h->fields[i].name, len);
    check_span(h->fields[i].value, len);
  }
}

/* Decodes body[0, n) split at 'cut'; returns the decoded length or -1,
** leaving the data in out. */
static long dechunk(const char *body, size_t n, size_t cut, char *out,
                    int *done) {
  gv_http_chunked c;
  gv_http_chunked_init(&c, 1 << 20);
  size_t o = 0, at = 0;
  size_t pieces[2] = {cut, n - cut};
  *done = 0;
  for (int p = 0; p < 2 && !*done; p++) {
    char *tmp = malloc(pieces[p] + 1);
    memcpy(tmp, body + at, pieces[p]);
    size_t len = pieces[p];
    long used = gv_http_chunked_decode(&c, tmp, &len, done);
    if (used < 0) { free(tmp); return -1; }
    if ((size_t)used > pieces[p] || len > (size_t)used) abort();
    memcpy(out + o, tmp, len);
    o += len;
    at += pieces[p];
    free(tmp);
  }
  return (long)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t cut = data[0] % size;
  int kind = data[1] % 3;
  const char *buf = (const char *)data + 2;
  size_t len = size - 2;
  if (cut > len) cut = len;
  static gv_http_head h1, h2;
  gv_http_limits lim = {4096, 1024, 64};
  if (kind < 2) {
    gv_http_scan s1, s2;
    gv_http_scan_init(&s1);
    gv_http_scan_init(&s2);
    int r1 = kind ? gv_http_parse_response(&s1, buf, len, &lim, 0, &h1)
                  : gv_http_parse_request(&s1, buf, len, &lim, &h1);
    /* the same bytes in two reads: a prefix first, then all of them */
    int r0 = kind ? gv_http_parse_response(&s2, buf, cut, &lim, 0, &h2)
                  : gv_http_parse_request(&s2, buf, cut, &lim, &h2);
    int r2 = r0;
    if (r0 == 0)
      r2 = kind ? gv_http_parse_response(&s2, buf, len, &lim, 0, &h2)
                : gv_http_parse_request(&s2, buf, len, &lim, &h2);
    if (r1 > 0) {
      if ((size_t)r1 > len) abort();
      check_head(&h1, len);
      if (r2 != r1 && r0 <= 0) abort(); /* a complete head parses alike */
      if (r2 == r1 && (h1.nfields != h2.nfields ||
                       h1.content_length != h2.content_length ||
                       h1.flags != h2.flags))
        abort();
    }
    if (r1 > 0 && (h1.flags & GV_HTTP_CHUNKED)) {
      char *out = malloc(len + 1);
      int done;
      dechunk(buf + r1, len - (size_t)r1, 0, out, &done);
      free(out);
    }
    return 0;
  }
  /* the chunked decoder: whole vs split */
  char *a = malloc(len + 1), *b = malloc(len + 1);
  int da, db;
  long na = dechunk(buf, len, 0, a, &da);
  long nb = dechunk(buf, len, cut, b, &db);
  if (na > (long)len || nb > (long)len) abort();
  if (na >= 0 && nb >= 0 && da && db && (na != nb || memcmp(a, b, (size_t)na)))
    abort();
  if (da && db && (na < 0) != (nb < 0)) abort();
  free(a);
  free(b);
  return 0;
}
