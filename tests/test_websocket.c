/* test_websocket.c - runtime/websocket.c: the accept key of RFC 6455's
** example, frame headers both ways at each length form, masks applied at
** an offset, protocol errors, UTF-8. */
#include <string.h>
#include "gv.h"
#include "unit.h"

static void test_accept(void) {
  char out[29];
  CHECK(gv_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, out) == 0);
  CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
  CHECK(gv_ws_accept("short", 5, out) == -1);
  CHECK(gv_ws_accept("dGhlIHNhbXBsZSBub25jZQ!=", 24, out) == -1);
}

static void test_frames(void) {
  static const uint64_t lens[] = {0, 5, 125, 126, 65535, 65536, 1u << 20};
  unsigned char h[14];
  const unsigned char mask[4] = {1, 2, 3, 4};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    for (int m = 0; m < 2; m++) {
      size_t n = gv_ws_header(h, 1, 2, lens[i], m ? mask : NULL);
      gv_ws_frame f;
      CHECK(gv_ws_parse(h, n, &f) == (int)n);
      CHECK(f.len == lens[i] && f.opcode == 2 && f.fin == 1 && f.masked == m);
      if (m) CHECK(memcmp(f.mask, mask, 4) == 0);
      CHECK(gv_ws_parse(h, n - 1, &f) == 0); /* incomplete */
    }
  }
  gv_ws_frame f;
  const unsigned char rsv[] = {0xc1, 0x00};
  CHECK(gv_ws_parse(rsv, 2, &f) == -1);
  const unsigned char op3[] = {0x83, 0x00};
  CHECK(gv_ws_parse(op3, 2, &f) == -1);
  const unsigned char bigping[] = {0x89, 126, 0, 126};
  CHECK(gv_ws_parse(bigping, 4, &f) == -1);
  const unsigned char fragping[] = {0x09, 0x00};
  CHECK(gv_ws_parse(fragping, 2, &f) == -1);
  const unsigned char longform[] = {0x82, 126, 0, 5};
  CHECK(gv_ws_parse(longform, 4, &f) == -1);
  unsigned char data[] = "abcdefgh";
  gv_ws_unmask(data, 3, mask, 0);
  gv_ws_unmask(data + 3, 5, mask, 3);
  gv_ws_unmask(data, 8, mask, 0);
  CHECK(memcmp(data, "abcdefgh", 8) == 0);
}

static void test_utf8(void) {
  CHECK(gv_ws_utf8_ok((const unsigned char *)"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
  CHECK(!gv_ws_utf8_ok((const unsigned char *)"\xff", 1));
  CHECK(!gv_ws_utf8_ok((const unsigned char *)"\xc3", 1));      /* truncated */
  CHECK(!gv_ws_utf8_ok((const unsigned char *)"\xc0\x80", 2));  /* overlong */
  CHECK(!gv_ws_utf8_ok((const unsigned char *)"\xed\xa0\x80", 3)); /* surrogate */
  CHECK(!gv_ws_utf8_ok((const unsigned char *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

int main(void) {
  RUN(test_accept);
  RUN(test_frames);
  RUN(test_utf8);
  return unit_report();
}
