/*
** tls.c - TLS connections over non-blocking fds on OpenSSL: contexts
** (trust, certificates, versions, ALPN, SNI, a client session cache) and
** connections whose handshake, reads, writes and shutdown wait on the fd
** in the hub, so a slow peer blocks only its own greenlet. See the contract
** in gv.h.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <lua.h>
#include "gv.h"

#define NSESSIONS 32   /* client sessions kept per context */

typedef struct gv_tls_sni {
  char *name;
  gv_tls_ctx *sub;
} sni_entry;

struct gv_tls_ctx {
  SSL_CTX *ctx;
  int refs;
  unsigned char server, verify, check_hostname, trust_loaded;
  unsigned char session_cache, sni_strict;
  unsigned char *alpn;        /* wire format: length-prefixed names */
  unsigned alpn_len;
  sni_entry *sni;
  int nsni;
  struct { char *host; SSL_SESSION *s; } sessions[NSESSIONS];
  int next_session;
  char err[256];
};

static const char *sni_add(sni_entry **list, int *n, int server,
                           const char *name, gv_tls_ctx *sub) {
  if (!server || !sub->server) return "SNI contexts are for servers";
  sni_entry *l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
  char *copy = strdup(name);
  if (l) *list = l;
  if (!l || !copy) {
    free(copy);
    return "not enough memory";
  }
  gv_tls_ctx_ref(sub);
  l[*n].name = copy;
  l[*n].sub = sub;
  (*n)++;
  return NULL;
}

static void sni_free(sni_entry *list, int n) {
  for (int i = 0; i < n; i++) {
    free(list[i].name);
    gv_tls_ctx_unref(list[i].sub);
  }
  free(list);
}

static int ssl_index = -1;   /* SSL ex_data slot: its gv_tls */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void) {
  ssl_index = SSL_get_ex_new_index(0, "gvlua", NULL, NULL, NULL);
  /* LuaSocket does the same: a write to a closed peer must fail with
  ** EPIPE, not kill the process */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
}

/* The reason of the first queued OpenSSL error ("wrong version number"),
** or fallback; clears the queue. */
static void openssl_reason(char *buf, size_t size, const char *fallback) {
  unsigned long e = ERR_peek_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
#ifdef ERR_SYSTEM_ERROR
  if (e && ERR_SYSTEM_ERROR(e)) r = strerror(ERR_GET_REASON(e));
#endif
  if (r) snprintf(buf, size, "%s", r);
  else if (e) snprintf(buf, size, "error:%08lX", e);
  else snprintf(buf, size, "%s", fallback);
  ERR_clear_error();
}

static int ctx_fail(gv_tls_ctx *c, const char *what) {
  char reason[120];
  openssl_reason(reason, sizeof reason, "failed");
  snprintf(c->err, sizeof c->err, "%s: %s", what, reason);
  return -1;
}

/* ---- contexts ------------------------------------------------------------ */

static gv_tls *tls_of(const SSL *ssl) {
  return SSL_get_ex_data(ssl, ssl_index);
}

static int name_matches(const char *pattern, const char *name) {
  if (pattern[0] == '*' && pattern[1] == '.') {
    const char *dot = strchr(name, '.');
    return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
  }
  return strcasecmp(pattern, name) == 0;
}

/* Servers: picks the context for the name the client asked for. */
static int servername_cb(SSL *ssl, int *alert, void *arg) {
  gv_tls_ctx *c = arg;
  gv_tls *t = tls_of(ssl);
  sni_entry *list = c->sni;
  int n = c->nsni, strict = c->sni_strict;
  if (t && (t->nsni || t->sni_strict)) {
    list = t->sni;
    n = t->nsni;
    strict = t->sni_strict;
  }
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name) {
    for (int i = 0; i < n; i++)
      if (name_matches(list[i].name, name)) {
        SSL_set_SSL_CTX(ssl, list[i].sub->ctx);
        return SSL_TLSEXT_ERR_OK;
      }
  }
  if (!strict) return SSL_TLSEXT_ERR_OK;
  *alert = SSL_AD_UNRECOGNIZED_NAME;
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Servers: the first of our protocols the client offers. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out,
                          unsigned char *outlen, const unsigned char *in,
                          unsigned inlen, void *arg) {
  (void)ssl;
  gv_tls_ctx *c = arg;
  unsigned char *o;
  if (c->alpn && SSL_select_next_proto(&o, outlen, c->alpn, c->alpn_len, in,
                                       inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = o;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

static void session_drop(gv_tls_ctx *c, int i) {
  free(c->sessions[i].host);
  if (c->sessions[i].s) SSL_SESSION_free(c->sessions[i].s);
  c->sessions[i].host = NULL;
  c->sessions[i].s = NULL;
}

/* Clients: keeps the newest verified session per host name. */
static int new_session_cb(SSL *ssl, SSL_SESSION *s) {
  gv_tls *t = tls_of(ssl);
  if (!t || !t->host) return 0;
  gv_tls_ctx *c = t->ctx;
  if (!c->session_cache || SSL_get_verify_result(ssl) != X509_V_OK) return 0;
  int slot = -1;
  for (int i = 0; i < NSESSIONS; i++)
    if (c->sessions[i].host && strcmp(c->sessions[i].host, t->host) == 0)
      slot = i;
  if (slot < 0) {
    slot = c->next_session;
    c->next_session = (slot + 1) % NSESSIONS;
  }
  char *host = strdup(t->host);
  if (!host) return 0;
  session_drop(c, slot);
  c->sessions[slot].host = host;
  c->sessions[slot].s = s;
  return 1; /* the reference is ours */
}

gv_tls_ctx *gv_tls_ctx_new(int server) {
  pthread_once(&once, init_once);
  if (ssl_index < 0) return NULL;
  gv_tls_ctx *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!c->ctx) {
    free(c);
    ERR_clear_error();
    return NULL;
  }
  c->refs = 1;
  c->server = (unsigned char)(server != 0);
  SSL_CTX *x = c->ctx;
  SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
  SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF
                         | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE
                      | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                      | SSL_MODE_RELEASE_BUFFERS);
  if (server) {
    SSL_CTX_set_session_id_context(x, (const unsigned char *)"gvlua", 5);
    SSL_CTX_set_tlsext_servername_callback(x, servername_cb);
    SSL_CTX_set_tlsext_servername_arg(x, c);
    SSL_CTX_set_alpn_select_cb(x, alpn_select_cb, c);
    SSL_CTX_set_verify(x, SSL_VERIFY_NONE, NULL);
  } else {
    c->verify = GV_TLS_VERIFY_PEER;
    c->check_hostname = 1;
    c->session_cache = 1;
    SSL_CTX_set_verify(x, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_CLIENT
                                      | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(x, new_session_cb);
  }
  return c;
}

void gv_tls_ctx_ref(gv_tls_ctx *c) {
  __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

void gv_tls_ctx_unref(gv_tls_ctx *c) {
  if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  sni_free(c->sni, c->nsni);
  for (int i = 0; i < NSESSIONS; i++) session_drop(c, i);
  free(c->alpn);
  SSL_CTX_free(c->ctx);
  free(c);
}

const char *gv_tls_ctx_error(gv_tls_ctx *c) { return c->err; }
int gv_tls_ctx_is_server(const gv_tls_ctx *c) { return c->server; }

int gv_tls_ctx_versions(gv_tls_ctx *c, int min, int max) {
  if (min && !SSL_CTX_set_min_proto_version(c->ctx, min))
    return ctx_fail(c, "unsupported protocol version");
  if (max && !SSL_CTX_set_max_proto_version(c->ctx, max))
    return ctx_fail(c, "unsupported protocol version");
  return 0;
}

typedef struct { const char *pw; } pw_arg;
static int password_cb(char *buf, int size, int rw, void *u) {
  (void)rw;
  const char *pw = ((pw_arg *)u)->pw;
  if (!pw) return 0;
  int n = (int)strlen(pw);
  if (n > size) n = size;
  memcpy(buf, pw, (size_t)n);
  return n;
}

int gv_tls_ctx_certificate(gv_tls_ctx *c, const char *certfile,
                           const char *keyfile, const char *password) {
  char what[120];
  ERR_clear_error();
  if (certfile && SSL_CTX_use_certificate_chain_file(c->ctx, certfile) != 1) {
    snprintf(what, sizeof what, "error loading certificate '%s'", certfile);
    return ctx_fail(c, what);
  }
  if (keyfile) {
    pw_arg a = {password};
    SSL_CTX_set_default_passwd_cb(c->ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(c->ctx, &a);
    int ok = SSL_CTX_use_PrivateKey_file(c->ctx, keyfile, SSL_FILETYPE_PEM);
    SSL_CTX_set_default_passwd_cb(c->ctx, NULL);
    SSL_CTX_set_default_passwd_cb_userdata(c->ctx, NULL);
    if (ok != 1) {
      snprintf(what, sizeof what, "error loading private key '%s'", keyfile);
      return ctx_fail(c, what);
    }
  }
  if (certfile && keyfile && SSL_CTX_check_private_key(c->ctx) != 1)
    return ctx_fail(c, "private key does not match the certificate");
  return 0;
}

int gv_tls_ctx_trust(gv_tls_ctx *c, const char *cafile, const char *capath) {
  ERR_clear_error();
  if (!cafile && !capath) {
    if (SSL_CTX_set_default_verify_paths(c->ctx) != 1)
      return ctx_fail(c, "error loading the default trust store");
  } else if (SSL_CTX_load_verify_locations(c->ctx, cafile, capath) != 1) {
    char what[120];
    snprintf(what, sizeof what, "error loading CA locations '%s'",
             cafile ? cafile : capath);
    return ctx_fail(c, what);
  }
  if (c->server && cafile) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cafile);
    if (names) SSL_CTX_set_client_CA_list(c->ctx, names);
    ERR_clear_error();
  }
  c->trust_loaded = 1;
  return 0;
}

void gv_tls_ctx_verify(gv_tls_ctx *c, int mode, int depth) {
  int m = SSL_VERIFY_NONE;
  if (mode & GV_TLS_VERIFY_PEER) {
    m = SSL_VERIFY_PEER;
    if (c->server && (mode & GV_TLS_VERIFY_REQUIRE))
      m |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  c->verify = (unsigned char)mode;
  SSL_CTX_set_verify(c->ctx, m, NULL);
  if (depth >= 0) SSL_CTX_set_verify_depth(c->ctx, depth);
}

void gv_tls_ctx_check_hostname(gv_tls_ctx *c, int on) {
  c->check_hostname = (unsigned char)(on != 0);
}

void gv_tls_ctx_session_cache(gv_tls_ctx *c, int on) {
  c->session_cache = (unsigned char)(on != 0);
}

void gv_tls_ctx_sni_strict(gv_tls_ctx *c, int on) {
  c->sni_strict = (unsigned char)(on != 0);
}

int gv_tls_ctx_ciphers(gv_tls_ctx *c, const char *list, const char *suites) {
  ERR_clear_error();
  if (list && SSL_CTX_set_cipher_list(c->ctx, list) != 1)
    return ctx_fail(c, "invalid cipher list");
  if (suites && SSL_CTX_set_ciphersuites(c->ctx, suites) != 1)
    return ctx_fail(c, "invalid TLS 1.3 cipher suites");
  return 0;
}

int gv_tls_ctx_alpn(gv_tls_ctx *c, const char *const *protos, int n) {
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    size_t l = strlen(protos[i]);
    if (l == 0 || l > 255) {
      snprintf(c->err, sizeof c->err, "invalid ALPN protocol name '%s'",
               protos[i]);
      return -1;
    }
    len += l + 1;
  }
  unsigned char *w = len ? malloc(len) : NULL;
  if (len && !w) {
    snprintf(c->err, sizeof c->err, "not enough memory");
    return -1;
  }
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    size_t l = strlen(protos[i]);
    w[at++] = (unsigned char)l;
    memcpy(w + at, protos[i], l);
    at += l;
  }
  free(c->alpn);
  c->alpn = w;
  c->alpn_len = (unsigned)len;
  if (!c->server && SSL_CTX_set_alpn_protos(c->ctx, w, (unsigned)len) != 0)
    return ctx_fail(c, "cannot set ALPN protocols");
  return 0;
}

int gv_tls_ctx_sni(gv_tls_ctx *c, const char *name, gv_tls_ctx *sub) {
  const char *e = sni_add(&c->sni, &c->nsni, c->server, name, sub);
  if (e) snprintf(c->err, sizeof c->err, "%s", e);
  return e ? -1 : 0;
}

/* ---- connections -------------------------------------------------------- */

const char *gv_tls_error(const gv_tls *t) { return t->err; }

static int gone(gv_tls *t) {
  snprintf(t->err, sizeof t->err, "closed");
  return t->closed ? GV_TLS_CLOSED : GV_TLS_ERROR;
}

int gv_tls_init(gv_tls *t, gv_tls_ctx *ctx, int fd) {
  memset(t, 0, sizeof *t);
  t->fd = fd;
  gv_fdwatch_init(&t->w);
  t->ctx = ctx;
  gv_tls_ctx_ref(ctx);
  ERR_clear_error();
  if (!ctx->server && ctx->verify && !ctx->trust_loaded &&
      gv_tls_ctx_trust(ctx, NULL, NULL) != 0) {
    snprintf(t->err, sizeof t->err, "%s", ctx->err);
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK))) {
    snprintf(t->err, sizeof t->err, "%s", strerror(errno));
    return -1;
  }
  t->ssl = SSL_new(ctx->ctx);
  if (!t->ssl || !SSL_set_fd(t->ssl, fd)) {
    openssl_reason(t->err, sizeof t->err, "not enough memory");
    return -1;
  }
  SSL_set_ex_data(t->ssl, ssl_index, t);
  if (ctx->server) SSL_set_accept_state(t->ssl);
  else SSL_set_connect_state(t->ssl);
  return 0;
}

static int is_ip(const char *s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int gv_tls_set_host(gv_tls *t, const char *name) {
  if (!t->ssl || t->ctx->server) return 0;
  char *copy = strdup(name);
  if (!copy) {
    snprintf(t->err, sizeof t->err, "not enough memory");
    return -1;
  }
  free(t->host);
  t->host = copy;
  int ip = is_ip(name);
  ERR_clear_error();
  if (!ip && !SSL_set_tlsext_host_name(t->ssl, name)) {
    openssl_reason(t->err, sizeof t->err, "invalid server name");
    return -1;
  }
  gv_tls_ctx *c = t->ctx;
  if (c->verify && c->check_hostname) {
    X509_VERIFY_PARAM *p = SSL_get0_param(t->ssl);
    int ok;
    if (ip) ok = X509_VERIFY_PARAM_set1_ip_asc(p, name);
    else {
      X509_VERIFY_PARAM_set_hostflags(p,
                                      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set1_host(t->ssl, name);
    }
    if (!ok) {
      openssl_reason(t->err, sizeof t->err, "invalid host name");
      return -1;
    }
  }
  if (c->session_cache)
    for (int i = 0; i < NSESSIONS; i++)
      if (c->sessions[i].host && strcmp(c->sessions[i].host, name) == 0) {
        if (SSL_SESSION_is_resumable(c->sessions[i].s))
          SSL_set_session(t->ssl, c->sessions[i].s);
        break;
      }
  return 0;
}

int gv_tls_sni(gv_tls *t, const char *name, gv_tls_ctx *sub) {
  if (!t->ctx) return gone(t);
  const char *e = sni_add(&t->sni, &t->nsni, t->ctx->server, name, sub);
  if (e) snprintf(t->err, sizeof t->err, "%s", e);
  return e ? -1 : 0;
}

void gv_tls_sni_strict(gv_tls *t, int on) {
  t->sni_strict = (unsigned char)(on != 0);
}

void gv_tls_close(gv_hub *hub, gv_tls *t) {
  t->closed = 1;
  for (int i = 0; i < 2; i++)
    if (t->op[i]) gv_wake(t->op[i], GV_WAKE_NORMAL); /* clears t->op[i] */
  if (hub && hub->loop) gv_fdwatch_stop(hub, &t->w);
  if (t->ssl) SSL_free(t->ssl);
  t->ssl = NULL;
  if (t->ctx) gv_tls_ctx_unref(t->ctx);
  t->ctx = NULL;
  free(t->host);
  t->host = NULL;
  sni_free(t->sni, t->nsni);
  t->sni = NULL;
  t->nsni = 0;
}

/* What a failed SSL call (return value r) means; sets t->err on errors. */
static int failed(gv_tls *t, int r) {
  int e = SSL_get_error(t->ssl, r);
  switch (e) {
    case SSL_ERROR_WANT_READ: return GV_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return GV_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
      t->eof = 1;
      snprintf(t->err, sizeof t->err, "closed");
      return GV_TLS_EOF;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        t->failed = 1;
        if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
          t->eof = 1;
          snprintf(t->err, sizeof t->err, "closed");
          return GV_TLS_EOF;
        }
        snprintf(t->err, sizeof t->err, "%s", strerror(errno));
        return GV_TLS_ERROR;
      }
      break;
    default:
      break;
  }
  t->failed = 1;
  unsigned long err = ERR_peek_error();
  long v = SSL_get_verify_result(t->ssl);
  if (ERR_GET_LIB(err) == ERR_LIB_SSL &&
      ERR_GET_REASON(err) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
      v != X509_V_OK) {
    snprintf(t->err, sizeof t->err, "certificate verify failed: %s",
             X509_verify_cert_error_string(v));
    ERR_clear_error();
  } else {
    openssl_reason(t->err, sizeof t->err, "closed");
  }
  return GV_TLS_ERROR;
}

int gv_tls_handshake_step(gv_tls *t) {
  if (!t->ssl) return gone(t);
  if (t->handshaken) return GV_TLS_OK;
  if (t->failed) return GV_TLS_ERROR;
  gv_tls_ctx *c = t->ctx;
  if (!c->server && c->verify && c->check_hostname && !t->host) {
    t->failed = 1;
    snprintf(t->err, sizeof t->err, "certificate verify failed: no host "
             "name to check (give it with sni(name) or server_hostname)");
    return GV_TLS_ERROR;
  }
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    t->handshaken = 1;
    return GV_TLS_OK;
  }
  return failed(t, r);
}

long gv_tls_read_step(gv_tls *t, void *buf, size_t n) {
  if (!t->ssl) return gone(t);
  if (t->eof) return GV_TLS_EOF;
  if (t->failed) return GV_TLS_ERROR;
  if (n > INT32_MAX) n = INT32_MAX;
  ERR_clear_error();
  errno = 0;
  int r = SSL_read(t->ssl, buf, (int)n);
  if (r > 0) {
    t->handshaken = 1;
    return r;
  }
  return failed(t, r);
}

long gv_tls_write_step(gv_tls *t, const void *buf, size_t n) {
  if (!t->ssl) return gone(t);
  if (t->failed) return GV_TLS_ERROR;
  if (n == 0) return 0;
  if (n > INT32_MAX) n = INT32_MAX;
  ERR_clear_error();
  errno = 0;
  int r = SSL_write(t->ssl, buf, (int)n);
  if (r > 0) {
    t->handshaken = 1;
    return r;
  }
  return failed(t, r);
}

int gv_tls_shutdown_step(gv_tls *t) {
  if (!t->ssl) return gone(t);
  /* after a fatal error or before any handshake there is nothing to send
  ** (and OpenSSL forbids SSL_shutdown after SSL_ERROR_SSL/SYSCALL) */
  if (t->failed || !SSL_is_init_finished(t->ssl)) return GV_TLS_OK;
  ERR_clear_error();
  errno = 0;
  int r = SSL_shutdown(t->ssl);
  if (r >= 0) return GV_TLS_OK;
  r = failed(t, r);
  return r == GV_TLS_EOF ? GV_TLS_OK : r;
}

int gv_tls_pending(const gv_tls *t) {
  return t->ssl ? SSL_pending(t->ssl) : 0;
}

/* ---- waiting ------------------------------------------------------------ */

/* A wait on t ended (any wake): t's slot no longer names g. The wait's
** context is t (gv_tls_wait). */
static void wait_ended(gv_greenlet *g) {
  gv_tls *t = (gv_tls *)g->kctx;
  if (t->op[0] == g) t->op[0] = NULL;
  if (t->op[1] == g) t->op[1] = NULL;
}

int gv_tls_wait(gv_hub *hub, lua_State *L, gv_tls *t, int op, int want,
                double timeout, gv_kfunction k) {
  op = op != 0;
  gv_greenlet *g = gv_check_block(hub, L);
  if (t->op[op] && t->op[op] != g) {
    lua_pushstring(L, op ? "TLS connection already used by another "
                           "greenlet for writing"
                         : "TLS connection already used by another "
                           "greenlet for reading");
    lua_error(L);
  }
  if (t->closed || t->fd < 0) {
    lua_pushliteral(L, "TLS connection is closed");
    lua_error(L);
  }
  int ev = want == GV_TLS_WANT_WRITE ? EV_WRITE : EV_READ;
  t->op[op] = g;
  g->cancel = wait_ended;
  return gv_fdwatch_wait(hub, L, &t->w, t->fd, ev, timeout, (lua_KContext)t,
                         k);
}

/* ---- blocking calls for C callers --------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Waits for a step's WANT within the deadline (< 0: none). */
static int wait_until(gv_hub *hub, lua_State *L, gv_tls *t, int op, int want,
                      double deadline) {
  double left = -1;
  if (deadline >= 0) {
    left = deadline - now();
    if (left <= 0) return GV_TLS_TIMEOUT;
  }
  int why = gv_tls_wait(hub, L, t, op, want, left, NULL);
  if (t->closed) return GV_TLS_CLOSED;
  if (why == GV_WAKE_TIMEOUT) return GV_TLS_TIMEOUT;
  return GV_TLS_OK;
}

static double deadline_of(double timeout) {
  return timeout < 0 ? -1 : now() + timeout;
}

int gv_tls_handshake(gv_hub *hub, lua_State *L, gv_tls *t, double timeout) {
  double d = deadline_of(timeout);
  for (;;) {
    int r = gv_tls_handshake_step(t);
    if (r != GV_TLS_WANT_READ && r != GV_TLS_WANT_WRITE) return r;
    if ((r = wait_until(hub, L, t, 0, r, d)) != GV_TLS_OK) return r;
  }
}

long gv_tls_read(gv_hub *hub, lua_State *L, gv_tls *t, void *buf, size_t n,
                 double timeout) {
  double d = deadline_of(timeout);
  for (;;) {
    long r = gv_tls_read_step(t, buf, n);
    if (r != GV_TLS_WANT_READ && r != GV_TLS_WANT_WRITE) return r;
    if ((r = wait_until(hub, L, t, 0, (int)r, d)) != GV_TLS_OK) return r;
  }
}

long gv_tls_write(gv_hub *hub, lua_State *L, gv_tls *t, const void *buf,
                  size_t n, double timeout, size_t *sent) {
  double d = deadline_of(timeout);
  size_t done = 0;
  long r = 0;
  while (done < n) {
    r = gv_tls_write_step(t, (const char *)buf + done, n - done);
    if (r > 0) {
      done += (size_t)r;
      continue;
    }
    if (r != GV_TLS_WANT_READ && r != GV_TLS_WANT_WRITE) break;
    if ((r = wait_until(hub, L, t, 1, (int)r, d)) != GV_TLS_OK) break;
  }
  if (sent) *sent = done;
  return done == n ? (long)n : r;
}

int gv_tls_shutdown(gv_hub *hub, lua_State *L, gv_tls *t, double timeout) {
  double d = deadline_of(timeout);
  for (;;) {
    int r = gv_tls_shutdown_step(t);
    if (r != GV_TLS_WANT_READ && r != GV_TLS_WANT_WRITE) return r;
    if ((r = wait_until(hub, L, t, 1, r, d)) != GV_TLS_OK) return r;
  }
}

/* ---- what was negotiated ------------------------------------------------ */

const char *gv_tls_version(const gv_tls *t) {
  return t->ssl && t->handshaken ? SSL_get_version(t->ssl) : NULL;
}

const char *gv_tls_cipher(const gv_tls *t, int *bits) {
  const SSL_CIPHER *c = t->ssl ? SSL_get_current_cipher(t->ssl) : NULL;
  if (bits) *bits = c ? SSL_CIPHER_get_bits(c, NULL) : 0;
  return c ? SSL_CIPHER_get_name(c) : NULL;
}

const char *gv_tls_alpn(const gv_tls *t, size_t *len) {
  const unsigned char *p = NULL;
  unsigned n = 0;
  if (t->ssl) SSL_get0_alpn_selected(t->ssl, &p, &n);
  *len = n;
  return n ? (const char *)p : NULL;
}

const char *gv_tls_servername(const gv_tls *t) {
  return t->ssl ? SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name)
                : NULL;
}

int gv_tls_resumed(const gv_tls *t) {
  return t->ssl ? SSL_session_reused(t->ssl) : 0;
}

const char *gv_tls_verify_result(const gv_tls *t, int *done) {
  *done = 0;
  if (!t->ssl || !t->handshaken) return NULL;
  if (!(SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER)) return NULL;
  X509 *peer = SSL_get0_peer_certificate(t->ssl);
  if (!peer) return t->ctx->server ? NULL : "no peer certificate";
  *done = 1;
  long v = SSL_get_verify_result(t->ssl);
  return v == X509_V_OK ? NULL : X509_verify_cert_error_string(v);
}

gv_x509 *gv_tls_peer_cert(const gv_tls *t, int n) {
  if (!t->ssl) return NULL;
  if (n == 0) return SSL_get1_peer_certificate(t->ssl);
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(t->ssl);
  /* servers' chains lack the client's own certificate: index from 1 */
  int i = t->ctx && t->ctx->server ? n - 1 : n;
  if (!chain || i < 0 || i >= sk_X509_num(chain)) return NULL;
  X509 *x = sk_X509_value(chain, i);
  X509_up_ref(x);
  return x;
}

int gv_tls_peer_chain_len(const gv_tls *t) {
  if (!t->ssl) return 0;
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(t->ssl);
  int n = chain ? sk_X509_num(chain) : 0;
  if (t->ctx && t->ctx->server && SSL_get0_peer_certificate(t->ssl)) n++;
  return n;
}
