/*
** http.c - HTTP/1.1 message heads and bodies, strictly: http_parser
** (Node's parser, Debian's libhttp-parser) tokenizes request and status
** lines and fields; this file enforces what http_parser 2.9 lets through
** and request smuggling feeds on (bare LF, obs-fold, spaces before the
** colon, odd bytes in names, unknown transfer codings, missing Host), and
** frames bodies itself. No Lua, no I/O, no allocation.
*/
#include <string.h>
#include <time.h>
#include <http_parser.h>
#include "internal.h"

/* ---- character classes ------------------------------------------------- */

/* RFC 9110 tchar */
static const unsigned char tchar[256] = {
  ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
  ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
  ['`'] = 1, ['|'] = 1, ['~'] = 1,
  ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
  ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
  ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
  ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
  ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
  ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
  ['Y'] = 1, ['Z'] = 1,
  ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
  ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
  ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
  ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
  ['y'] = 1, ['z'] = 1,
};

int gv_http_token_ok(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (!tchar[(unsigned char)s[i]]) return 0;
  return 1;
}

/* field-vchar, SP, HTAB, obs-text: no CTL but HTAB, no DEL */
static int vchar(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int gv_http_value_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!vchar((unsigned char)s[i])) return 0;
  return 1;
}

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

int gv_http_span_is(const char *buf, gv_http_span sp, const char *lname,
                    size_t n) {
  if (sp.len != n) return 0;
  const char *s = buf + sp.off;
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)s[i]) != lname[i]) return 0;
  return 1;
}

const gv_http_span *gv_http_find(const gv_http_head *h, const char *buf,
                                 const char *lname, size_t n) {
  for (uint32_t i = 0; i < h->nfields; i++)
    if (gv_http_span_is(buf, h->fields[i].name, lname, n))
      return &h->fields[i].value;
  return NULL;
}

/* ---- the head: line endings first ------------------------------------- */

/* Whether the start of an unfinished request line can be a method: upper
** case letters (at most 20) up to the first space. */
static int method_prefix_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == ' ') return i > 0;
    if (s[i] < 'A' || s[i] > 'Z' || i >= 20) return s[i] == '-' && i > 0;
  }
  return 1;
}

/* Finds the end of the head in buf[0, len), checking every line ending as
** it goes: CRLF only, no line but the first starting with whitespace
** (obs-fold). Returns the head length, 0 for more, or -status. *start is
** where the head begins (after empty lines a client may send before it). */
static int scan_head(gv_http_scan *s, const char *buf, size_t len,
                     const gv_http_limits *lim, uint32_t *start,
                     int request) {
  size_t i = s->pos, begin = 0;
  /* RFC 9112 2.2: ignore empty lines before the request line */
  while (begin + 1 < len && buf[begin] == '\r' && buf[begin + 1] == '\n')
    begin += 2;
  if (begin > 8) return -400;
  if (len - begin == 1 && buf[begin] == '\r') return 0; /* CR of a CRLF */
  if (i < begin) i = begin;
  *start = (uint32_t)begin;
  for (;;) {
    const char *lf = memchr(buf + i, '\n', len - i);
    if (!lf) break;
    size_t at = (size_t)(lf - buf);
    if (at == begin || buf[at - 1] != '\r') return -400; /* bare LF */
    s->lines++;
    if (s->lines == 1 && at - begin > (size_t)lim->max_uri + 32)
      return -414;
    if (s->lines == 1 && request && !method_prefix_ok(buf + begin, at - begin))
      return -400;
    if (s->lines > lim->max_fields + 1) return -431;
    if (at >= begin + 3 && buf[at - 2] == '\n') { /* an empty line */
      if (s->lines == 1) return -400;
      if (at + 1 - begin > lim->max_head) return -431;
      return (int)(at + 1);
    }
    if (at + 1 < len && (buf[at + 1] == ' ' || buf[at + 1] == '\t'))
      return -400; /* obs-fold, or whitespace after the start line */
    i = at + 1;
  }
  if (s->lines == 0 && request && !method_prefix_ok(buf + begin, len - begin))
    return -400; /* not HTTP at all (a TLS hello, say): no need to wait */
  s->pos = (uint32_t)len;
  if (s->lines == 0 && len - begin > (size_t)lim->max_uri + 32) return -414;
  if (len - begin > lim->max_head) return -431;
  return 0;
}

/* ---- the head: http_parser's tokens, our rules ------------------------- */

typedef struct pctx {
  gv_http_head *h;
  const char *base;
  const gv_http_limits *lim;
  int err;              /* status to answer, 0 so far */
  int in_value;
} pctx;

static gv_http_span span_of(pctx *c, const char *at, size_t n) {
  gv_http_span sp = {(uint32_t)(at - c->base), (uint32_t)n};
  return sp;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  pctx *c = p->data;
  if (n > c->lim->max_uri) { c->err = 414; return -1; }
  c->h->target = span_of(c, at, n);
  return 0;
}

static int on_status(http_parser *p, const char *at, size_t n) {
  pctx *c = p->data;
  c->h->reason = span_of(c, at, n);
  return 0;
}

static int on_field(http_parser *p, const char *at, size_t n) {
  pctx *c = p->data;
  gv_http_head *h = c->h;
  /* the whole head is given at once: a field comes in one piece */
  if (!gv_http_token_ok(at, n)) { c->err = 400; return -1; }
  if (h->nfields >= c->lim->max_fields || h->nfields >= GV_HTTP_FIELDS) {
    c->err = 431;
    return -1;
  }
  h->fields[h->nfields].name = span_of(c, at, n);
  h->fields[h->nfields].value = span_of(c, at + n, 0);
  h->nfields++;
  return 0;
}

static int on_value(http_parser *p, const char *at, size_t n) {
  pctx *c = p->data;
  if (!c->h->nfields) { c->err = 400; return -1; }
  while (n && (at[n - 1] == ' ' || at[n - 1] == '\t')) n--;
  if (!gv_http_value_ok(at, n)) { c->err = 400; return -1; }
  c->h->fields[c->h->nfields - 1].value = span_of(c, at, n);
  return 0;
}

static int on_headers_complete(http_parser *p) {
  (void)p;
  return 1; /* bodies are framed here, not by http_parser */
}

static const http_parser_settings settings = {
  .on_url = on_url,
  .on_status = on_status,
  .on_header_field = on_field,
  .on_header_value = on_value,
  .on_headers_complete = on_headers_complete,
};

/* A Content-Length value: 1 to 18 digits, nothing else. */
static int64_t parse_length(const char *s, size_t n) {
  if (n == 0 || n > 18) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Checks the framing fields; returns 0 or the status to answer. */
static int framing(gv_http_head *h, const char *buf, int request) {
  int nte = 0, ncl = 0, nhost = 0;
  for (uint32_t i = 0; i < h->nfields; i++) {
    gv_http_field *f = &h->fields[i];
    const char *v = buf + f->value.off;
    switch (f->name.len) {
    case 4:
      if (gv_http_span_is(buf, f->name, "host", 4)) nhost++;
      break;
    case 6:
      if (request && gv_http_span_is(buf, f->name, "expect", 6) &&
          gv_http_span_is(buf, f->value, "100-continue", 12))
        h->flags |= GV_HTTP_CONTINUE;
      break;
    case 14:
      if (gv_http_span_is(buf, f->name, "content-length", 14)) {
        if (++ncl > 1) return 400;
        h->content_length = parse_length(v, f->value.len);
        if (h->content_length < 0) return 400;
      }
      break;
    case 17:
      if (gv_http_span_is(buf, f->name, "transfer-encoding", 17)) {
        if (++nte > 1) return 400;
        if (!gv_http_span_is(buf, f->value, "chunked", 7))
          return request ? 501 : 400;
        h->flags |= GV_HTTP_CHUNKED;
      }
      break;
    }
  }
  if (nte && ncl) return 400;
  if (nte && h->major == 1 && h->minor == 0 && request) return 400;
  if (request && (nhost > 1 || (nhost == 0 && h->minor == 1))) return 400;
  return 0;
}

/* http_parser takes runs of spaces in the request line: we take
** method SP target SP "HTTP/1.x" CRLF only. */
static int request_line_ok(const gv_http_head *h, const char *buf) {
  uint32_t t = h->target.off, e = t + h->target.len;
  return t == h->method.off + h->method.len + 1 && buf[t - 1] == ' ' &&
         buf[e] == ' ' && memcmp(buf + e + 1, "HTTP/1.", 7) == 0 &&
         buf[e + 9] == '\r';
}

static void split_target(gv_http_head *h, const char *buf) {
  const char *t = buf + h->target.off;
  uint32_t n = h->target.len;
  const char *q = memchr(t, '?', n);
  uint32_t pl = q ? (uint32_t)(q - t) : n;
  h->path.off = h->target.off;
  h->path.len = pl;
  h->query.off = h->target.off + pl + (q ? 1 : 0);
  h->query.len = q ? n - pl - 1 : 0;
  if (n && t[0] != '/' && t[0] != '*') { /* absolute-form */
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(t, n, 0, &u) == 0 &&
        (u.field_set & (1 << UF_PATH))) {
      h->path.off = h->target.off + u.field_data[UF_PATH].off;
      h->path.len = u.field_data[UF_PATH].len;
    } else if (http_parser_parse_url(t, n, 0, &u) == 0) {
      h->path.off = h->target.off; /* no path: "/" is implied */
      h->path.len = 0;
    }
  }
}

static void head_init(gv_http_head *h) {
  memset(h, 0, offsetof(gv_http_head, fields));
  h->content_length = -1;
}

static int parse(gv_http_scan *s, const char *buf, size_t len,
                 const gv_http_limits *lim, gv_http_head *h, int request,
                 int head_request) {
  uint32_t start;
  int end = scan_head(s, buf, len, lim, &start, request);
  if (end <= 0) return request ? end : (end ? -1 : 0);
  head_init(h);
  http_parser p;
  http_parser_init(&p, request ? HTTP_REQUEST : HTTP_RESPONSE);
  pctx c = {h, buf, lim, 0, 0};
  p.data = &c;
  size_t n = http_parser_execute(&p, &settings, buf + start,
                                 (size_t)end - start);
  enum http_errno e = HTTP_PARSER_ERRNO(&p);
  if (c.err) return request ? -c.err : -1;
  if (e != HPE_OK || (n != (size_t)end - start && !p.upgrade))
    return request ? -400 : -1;
  h->major = (unsigned char)p.http_major;
  h->minor = (unsigned char)p.http_minor;
  if (p.http_major == 0) return request ? -400 : -1; /* no HTTP/0.9 */
  if (p.http_major != 1 || p.http_minor > 1) return request ? -505 : -1;
  int st = framing(h, buf, request);
  if (st) return request ? -st : -1;
  if (http_should_keep_alive(&p)) h->flags |= GV_HTTP_KEEPALIVE;
  if (request) {
    const char *m = http_method_str((enum http_method)p.method);
    h->method_id = (unsigned char)p.method;
    h->method.off = start;
    h->method.len = (uint32_t)strlen(m);
    if (p.method == HTTP_CONNECT) return -501;
    if (p.method == HTTP_HEAD) h->flags |= GV_HTTP_HEAD;
    if (p.upgrade) h->flags |= GV_HTTP_UPGRADE;
    if (!h->target.len || !request_line_ok(h, buf)) return -400;
    split_target(h, buf);
    if (h->flags & GV_HTTP_CHUNKED) h->content_length = -1;
    else if (h->content_length < 0) h->content_length = 0;
  } else {
    h->status = p.status_code;
    if (h->status < 100 || h->status > 999) return -1;
    if (head_request || h->status < 200 || h->status == 204 ||
        h->status == 304) {
      h->flags &= (unsigned char)~GV_HTTP_CHUNKED;
      h->content_length = 0;
    }
  }
  return end;
}

int gv_http_parse_request(gv_http_scan *s, const char *buf, size_t len,
                          const gv_http_limits *lim, gv_http_head *h) {
  return parse(s, buf, len, lim, h, 1, 0);
}

int gv_http_parse_response(gv_http_scan *s, const char *buf, size_t len,
                           const gv_http_limits *lim, int head_request,
                           gv_http_head *h) {
  return parse(s, buf, len, lim, h, 0, head_request);
}

/* ---- chunked bodies ---------------------------------------------------- */

enum {
  CK_SIZE, CK_SIZE_WS, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF,
  CK_TRAILER, CK_TRAILER_LF, CK_END_LF, CK_DONE
};

#define CK_MAX_LINE 4096

void gv_http_chunked_init(gv_http_chunked *c, uint64_t max_chunk) {
  memset(c, 0, sizeof *c);
  c->max = max_chunk;
  c->state = CK_SIZE;
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  ch = lower(ch);
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

long gv_http_chunked_decode(gv_http_chunked *c, char *buf, size_t *len,
                            int *done) {
  size_t i = 0, o = 0, n = *len;
  *done = 0;
  while (i < n) {
    unsigned char ch = (unsigned char)buf[i];
    switch (c->state) {
    case CK_SIZE: {
      int v = hexval(ch);
      if (v >= 0) {
        if (++c->digits > 15) return -400;
        c->left = c->left * 16 + (uint64_t)v;
        i++;
        continue;
      }
      if (!c->digits) return -400;
      if (c->max && c->left > c->max) return -413;
      if (ch == '\r') c->state = CK_SIZE_LF;
      else if (ch == ';') c->state = CK_EXT;
      else if (ch == ' ' || ch == '\t') c->state = CK_SIZE_WS;
      else return -400;
      c->linelen = c->digits + 1;
      i++;
      continue;
    }
    case CK_SIZE_WS: /* BWS before ';' only */
      if (ch == ';') c->state = CK_EXT;
      else if (ch != ' ' && ch != '\t') return -400;
      if (++c->linelen > CK_MAX_LINE) return -400;
      i++;
      continue;
    case CK_EXT:
      if (ch == '\r') c->state = CK_SIZE_LF;
      else if (!vchar(ch)) return -400;
      if (++c->linelen > CK_MAX_LINE) return -400;
      i++;
      continue;
    case CK_SIZE_LF:
      if (ch != '\n') return -400;
      i++;
      c->digits = 0;
      c->linelen = 0;
      c->state = c->left ? CK_DATA : CK_TRAILER;
      continue;
    case CK_DATA: {
      size_t k = n - i;
      if (k > c->left) k = (size_t)c->left;
      if (o != i) memmove(buf + o, buf + i, k);
      o += k;
      i += k;
      c->left -= k;
      if (!c->left) c->state = CK_DATA_CR;
      continue;
    }
    case CK_DATA_CR:
      if (ch != '\r') return -400;
      c->state = CK_DATA_LF;
      i++;
      continue;
    case CK_DATA_LF:
      if (ch != '\n') return -400;
      c->state = CK_SIZE;
      i++;
      continue;
    case CK_TRAILER: /* a trailer field line, or the empty line */
      if (ch == '\r') {
        c->state = c->linelen ? CK_TRAILER_LF : CK_END_LF;
      } else {
        /* name: token chars then ':'; value: field chars */
        if (c->linelen == 0 && (ch == ' ' || ch == '\t')) return -400;
        if (c->digits == 0) { /* in the name */
          if (ch == ':') { if (!c->linelen) return -400; c->digits = 1; }
          else if (!tchar[ch]) return -400;
        } else if (!vchar(ch)) return -400;
        if (++c->linelen > CK_MAX_LINE) return -400;
      }
      i++;
      continue;
    case CK_TRAILER_LF:
      if (ch != '\n' || !c->digits) return -400;
      c->linelen = 0;
      c->digits = 0;
      c->state = CK_TRAILER;
      i++;
      continue;
    case CK_END_LF:
      if (ch != '\n') return -400;
      c->state = CK_DONE;
      i++;
      *done = 1;
      *len = o;
      return (long)i;
    case CK_DONE:
      *done = 1;
      *len = o;
      return (long)i;
    }
  }
  *len = o;
  if (c->state == CK_DONE) *done = 1;
  return (long)i;
}

/* ---- responses --------------------------------------------------------- */

const char *gv_http_reason(int status, size_t *len) {
  const char *r;
  switch (status) {
  case 100: r = "Continue"; break;
  case 101: r = "Switching Protocols"; break;
  case 200: r = "OK"; break;
  case 201: r = "Created"; break;
  case 202: r = "Accepted"; break;
  case 204: r = "No Content"; break;
  case 206: r = "Partial Content"; break;
  case 301: r = "Moved Permanently"; break;
  case 302: r = "Found"; break;
  case 303: r = "See Other"; break;
  case 304: r = "Not Modified"; break;
  case 307: r = "Temporary Redirect"; break;
  case 308: r = "Permanent Redirect"; break;
  case 400: r = "Bad Request"; break;
  case 401: r = "Unauthorized"; break;
  case 403: r = "Forbidden"; break;
  case 404: r = "Not Found"; break;
  case 405: r = "Method Not Allowed"; break;
  case 408: r = "Request Timeout"; break;
  case 409: r = "Conflict"; break;
  case 411: r = "Length Required"; break;
  case 413: r = "Content Too Large"; break;
  case 414: r = "URI Too Long"; break;
  case 415: r = "Unsupported Media Type"; break;
  case 417: r = "Expectation Failed"; break;
  case 426: r = "Upgrade Required"; break;
  case 429: r = "Too Many Requests"; break;
  case 431: r = "Request Header Fields Too Large"; break;
  case 500: r = "Internal Server Error"; break;
  case 501: r = "Not Implemented"; break;
  case 502: r = "Bad Gateway"; break;
  case 503: r = "Service Unavailable"; break;
  case 504: r = "Gateway Timeout"; break;
  case 505: r = "HTTP Version Not Supported"; break;
  default: r = "Unknown"; break;
  }
  if (len) *len = strlen(r);
  return r;
}

/* The Date field of the current second, formatted once per second. */
static __thread char date_buf[40];
static __thread time_t date_sec = -1;

static const char *http_date(double now) {
  time_t t = (time_t)now;
  if (t != date_sec) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu",
                                    "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May",
                                       "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    /* not strftime: the host may have set a locale */
    char *p = date_buf;
    memcpy(p, days[tm.tm_wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    *p++ = (char)('0' + tm.tm_mday / 10);
    *p++ = (char)('0' + tm.tm_mday % 10);
    *p++ = ' ';
    memcpy(p, months[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    int y = tm.tm_year + 1900;
    *p++ = (char)('0' + y / 1000 % 10);
    *p++ = (char)('0' + y / 100 % 10);
    *p++ = (char)('0' + y / 10 % 10);
    *p++ = (char)('0' + y % 10);
    *p++ = ' ';
    int f[3] = {tm.tm_hour, tm.tm_min, tm.tm_sec};
    for (int k = 0; k < 3; k++) {
      *p++ = (char)('0' + f[k] / 10);
      *p++ = (char)('0' + f[k] % 10);
      *p++ = k < 2 ? ':' : ' ';
    }
    memcpy(p, "GMT", 4);
    date_sec = t;
  }
  return date_buf;
}

size_t gv_http_status_line(char *out, int minor, int status, double now) {
  size_t rl;
  const char *reason = gv_http_reason(status, &rl);
  char *p = out;
  memcpy(p, minor ? "HTTP/1.1 " : "HTTP/1.0 ", 9);
  p += 9;
  if (status < 100 || status > 999) status = 500;
  *p++ = (char)('0' + status / 100);
  *p++ = (char)('0' + status / 10 % 10);
  *p++ = (char)('0' + status % 10);
  *p++ = ' ';
  memcpy(p, reason, rl);
  p += rl;
  memcpy(p, "\r\nDate: ", 8);
  p += 8;
  memcpy(p, http_date(now), 29);
  p += 29;
  *p++ = '\r';
  *p++ = '\n';
  return (size_t)(p - out);
}
