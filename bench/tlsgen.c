/* tlsgen: closed-loop TLS load generator (OpenSSL, one thread per
 * connection, blocking sockets).
 *
 *   tlsgen [-h host] -p port -m hs|echo [-c conns] [-d seconds] [-w warmup_s]
 *          [-s size]
 *
 * hs:   each thread loops: connect, a full handshake (no session resumption),
 *       read the server's first line, close. Prints RESULT hs_per_s.
 * echo: each thread connects and handshakes once, then loops: write `size`
 *       bytes (default 16384), read them back (checked). Prints RESULT
 *       mb_per_s and rt_per_s.
 * After `warmup_s` (default 0.5) it counts for `seconds` (default 3); also
 * prints RESULT errors. Certificates are not verified (the server's cost is
 * what is measured). Waits up to 10 s for the server to accept. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static const char *host = "127.0.0.1";
static int port, conns = 16, size = 16384, echo_mode;
static double dur = 3, warm = 0.5;
static SSL_CTX *ctx;
static atomic_long done, bytes, errors;
static atomic_int stop;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int dial(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  double until = now() + 10;
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
    close(fd);
    if (now() > until || stop) return -1;
    usleep(20000);
  }
}

static SSL *shake(int fd) {
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (SSL_connect(ssl) != 1) {
    SSL_free(ssl);
    ERR_clear_error();
    return NULL;
  }
  return ssl;
}

static void *hs_loop(void *arg) {
  (void)arg;
  char buf[256];
  while (!stop) {
    int fd = dial();
    if (fd < 0) { errors++; usleep(10000); continue; }
    SSL *ssl = shake(fd);
    int ok = 0;
    if (ssl) {
      int n = SSL_read(ssl, buf, sizeof buf);
      ok = n > 0 && buf[n - 1] == '\n';
      SSL_free(ssl);
    }
    close(fd);
    if (ok) done++;
    else errors++;
  }
  return NULL;
}

static void *echo_loop(void *arg) {
  (void)arg;
  char *out = malloc(size), *in = malloc(size);
  for (int i = 0; i < size; i++) out[i] = (char)('a' + i % 26);
  int fd = dial();
  SSL *ssl = fd >= 0 ? shake(fd) : NULL;
  if (!ssl) { errors++; return NULL; }
  while (!stop) {
    if (SSL_write(ssl, out, size) != size) { errors++; break; }
    int got = 0;
    while (got < size) {
      int n = SSL_read(ssl, in + got, size - got);
      if (n <= 0) break;
      got += n;
    }
    if (got < size || memcmp(in, out, size) != 0) { errors++; break; }
    done++;
    bytes += size;
  }
  SSL_free(ssl);
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  int o;
  while ((o = getopt(argc, argv, "h:p:m:c:d:w:s:")) != -1) {
    switch (o) {
      case 'h': host = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'm': echo_mode = strcmp(optarg, "echo") == 0; break;
      case 'c': conns = atoi(optarg); break;
      case 'd': dur = atof(optarg); break;
      case 'w': warm = atof(optarg); break;
      case 's': size = atoi(optarg); break;
      default: fprintf(stderr, "usage: tlsgen -p port -m hs|echo ...\n"); return 2;
    }
  }
  if (!port || conns < 1 || size < 1) return 2;
  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  /* TLS 1.3 only, so every server is measured on the same protocol */
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  /* full handshakes every time: no session kept, no ticket asked for */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  pthread_t t;
  for (int i = 0; i < conns; i++)
    if (pthread_create(&t, NULL, echo_mode ? echo_loop : hs_loop, NULL) == 0)
      pthread_detach(t);
  usleep((useconds_t)(warm * 1e6));
  long d0 = done, b0 = bytes;
  double t0 = now();
  usleep((useconds_t)(dur * 1e6));
  long d1 = done, b1 = bytes;
  double t1 = now();
  stop = 1;
  double s = t1 - t0;
  if (d1 == d0) {
    fprintf(stderr, "tlsgen: nothing completed (errors %ld)\n", (long)errors);
    return 1;
  }
  if (echo_mode) {
    printf("RESULT mb_per_s %.1f\n", (b1 - b0) / s / 1e6);
    printf("RESULT rt_per_s %.0f\n", (d1 - d0) / s);
  } else {
    printf("RESULT hs_per_s %.0f\n", (d1 - d0) / s);
  }
  printf("RESULT errors %ld\n", (long)errors);
  fflush(stdout);
  _exit(0);
}
