/*
** websocket.c - RFC 6455 pieces without I/O: the handshake's accept key
** (SHA-1 and base64 of the client's key), frame headers parsed and built,
** payloads unmasked in place. The server connection that uses them is
** bindings/l_http.c (req:websocket()).
*/
#include <string.h>
#include "internal.h"

/* ---- SHA-1 (FIPS 180-4), for the accept key only ------------------------ */

typedef struct sha1 {
  uint32_t h[5];
  uint64_t len;
  unsigned char block[64];
  size_t n;
} sha1;

static uint32_t rol(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static void sha1_block(sha1 *s, const unsigned char *p) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 80; i++)
    w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
    else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
    else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
    else { f = b ^ c ^ d; k = 0xca62c1d6; }
    uint32_t t = rol(a, 5) + f + e + k + w[i];
    e = d; d = c; c = rol(b, 30); b = a; a = t;
  }
  s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d; s->h[4] += e;
}

static void sha1_init(sha1 *s) {
  static const uint32_t h0[5] = {0x67452301, 0xefcdab89, 0x98badcfe,
                                 0x10325476, 0xc3d2e1f0};
  memcpy(s->h, h0, sizeof h0);
  s->len = 0;
  s->n = 0;
}

static void sha1_add(sha1 *s, const void *data, size_t n) {
  const unsigned char *p = data;
  s->len += n;
  while (n--) {
    s->block[s->n++] = *p++;
    if (s->n == 64) { sha1_block(s, s->block); s->n = 0; }
  }
}

static void sha1_end(sha1 *s, unsigned char out[20]) {
  uint64_t bits = s->len * 8;
  unsigned char pad = 0x80;
  sha1_add(s, &pad, 1);
  pad = 0;
  while (s->n != 56) sha1_add(s, &pad, 1);
  unsigned char l[8];
  for (int i = 0; i < 8; i++) l[i] = (unsigned char)(bits >> (56 - 8 * i));
  sha1_add(s, l, 8);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (unsigned char)(s->h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
    out[4 * i + 3] = (unsigned char)s->h[i];
  }
}

static size_t base64(const unsigned char *in, size_t n, char *out) {
  static const char t[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n) v |= in[i + 2];
    out[o++] = t[v >> 18 & 63];
    out[o++] = t[v >> 12 & 63];
    out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? t[v & 63] : '=';
  }
  return o;
}

int gv_ws_accept(const char *key, size_t n, char out[29]) {
  /* the key: base64 of 16 bytes, 24 characters */
  if (n != 24 || key[22] != '=' || key[23] != '=') return -1;
  for (size_t i = 0; i < 22; i++) {
    char ch = key[i];
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
          (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
      return -1;
  }
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  sha1 s;
  unsigned char digest[20];
  sha1_init(&s);
  sha1_add(&s, key, n);
  sha1_add(&s, guid, sizeof guid - 1);
  sha1_end(&s, digest);
  base64(digest, 20, out);
  out[28] = 0;
  return 0;
}

/* ---- frames ------------------------------------------------------------- */

int gv_ws_parse(const unsigned char *p, size_t n, gv_ws_frame *f) {
  if (n < 2) return 0;
  f->fin = p[0] >> 7;
  if (p[0] & 0x70) return -1; /* no extensions negotiated: RSV must be 0 */
  f->opcode = p[0] & 15;
  f->masked = p[1] >> 7;
  uint64_t len = p[1] & 127;
  size_t h = 2;
  if (len == 126) {
    if (n < 4) return 0;
    len = (uint64_t)p[2] << 8 | p[3];
    if (len < 126) return -1; /* not the shortest form */
    h = 4;
  } else if (len == 127) {
    if (n < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
    if (len >> 63 || len < 65536) return -1;
    h = 10;
  }
  if (f->opcode >= 8 && (len > 125 || !f->fin)) return -1; /* control */
  if ((f->opcode > 2 && f->opcode < 8) || f->opcode > 10) return -1;
  if (f->masked) {
    if (n < h + 4) return 0;
    memcpy(f->mask, p + h, 4);
    h += 4;
  }
  f->len = len;
  return (int)h;
}

void gv_ws_unmask(unsigned char *p, size_t n, const unsigned char mask[4],
                  uint64_t offset) {
  for (size_t i = 0; i < n; i++) p[i] ^= mask[(offset + i) & 3];
}

size_t gv_ws_header(unsigned char *out, int fin, int opcode, uint64_t len,
                    const unsigned char *mask) {
  size_t h = 2;
  out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 15));
  unsigned char m = mask ? 0x80 : 0;
  if (len < 126) out[1] = (unsigned char)(m | len);
  else if (len < 65536) {
    out[1] = m | 126;
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
    h = 4;
  } else {
    out[1] = m | 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    h = 10;
  }
  if (mask) {
    memcpy(out + h, mask, 4);
    h += 4;
  }
  return h;
}

int gv_ws_utf8_ok(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t k;
    unsigned min;
    if ((c & 0xe0) == 0xc0) { k = 1; c &= 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { k = 2; c &= 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { k = 3; c &= 0x07; min = 0x10000; }
    else return 0;
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xc0) != 0x80) return 0;
      c = c << 6 | (s[i + j] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    i += k + 1;
  }
  return 1;
}
