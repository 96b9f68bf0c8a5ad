/* loadgen: closed-loop TCP echo load generator (epoll, one thread).
 *
 *   loadgen [-h host] -p port [-c conns] [-d seconds] [-w warmup_s] [-s size]
 *
 * Opens `conns` connections; each sends `size` bytes (default 64), waits for the
 * same `size` bytes back (checked), records the round-trip latency, and sends again.
 * After `warmup_s` (default 0.5) it counts for `seconds` (default 3) and prints
 *   RESULT rt_per_s <round trips per second>
 *   RESULT p50_us / p99_us / max_us <latency>
 *   RESULT errors <connections lost or bad echoes>
 * It waits up to 10 s for the server to accept the first connection. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXSIZE 65536
/* latency histogram: 100 ns buckets up to 100 ms, then 100 us buckets up to 10 s */
#define FINE_N 1000000
#define COARSE_N 100000
static uint32_t fine[FINE_N], coarse[COARSE_N + 1];

typedef struct {
  int fd, dead;
  size_t got;
  uint64_t sent_at;
} conn_t;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void record(uint64_t ns) {
  uint64_t b = ns / 100;
  if (b < FINE_N) fine[b]++;
  else { b = ns / 100000; coarse[b < COARSE_N ? b : COARSE_N]++; }
}

static double percentile(uint64_t total, double p) {
  uint64_t want = (uint64_t)(p * total + 0.5), acc = 0;
  if (want == 0) want = 1;
  for (int i = 0; i < FINE_N; i++) if ((acc += fine[i]) >= want) return (i + 0.5) / 10.0;
  for (int i = 0; i <= COARSE_N; i++) if ((acc += coarse[i]) >= want) return (i + 0.5) * 100.0;
  return -1;
}

static double maxlat(void) {
  for (int i = COARSE_N; i >= 0; i--) if (coarse[i]) return (i + 1) * 100.0;
  for (int i = FINE_N - 1; i >= 0; i--) if (fine[i]) return (i + 1) / 10.0;
  return 0;
}

static int connect_to(struct sockaddr_in *sa, int wait_ms) {
  for (int waited = 0;; waited += 20) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); exit(2); }
    if (connect(fd, (struct sockaddr *)sa, sizeof *sa) == 0) return fd;
    int e = errno;
    close(fd);
    if (waited >= wait_ms) { fprintf(stderr, "loadgen: connect: %s\n", strerror(e)); exit(2); }
    usleep(20000);
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0, nconn = 100, size = 64, opt;
  double dur = 3, warm = 0.5;
  while ((opt = getopt(argc, argv, "h:p:c:d:w:s:")) != -1) {
    switch (opt) {
    case 'h': host = optarg; break;
    case 'p': port = atoi(optarg); break;
    case 'c': nconn = atoi(optarg); break;
    case 'd': dur = atof(optarg); break;
    case 'w': warm = atof(optarg); break;
    case 's': size = atoi(optarg); break;
    default: fprintf(stderr, "usage: loadgen [-h host] -p port [-c conns] [-d s] [-w s] [-s size]\n"); return 2;
    }
  }
  if (port <= 0 || nconn <= 0 || size <= 0 || size > MAXSIZE) { fprintf(stderr, "loadgen: bad arguments\n"); return 2; }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "loadgen: bad host\n"); return 2; }

  static char msg[MAXSIZE], buf[MAXSIZE];
  for (int i = 0; i < size; i++) msg[i] = (char)('a' + i % 26);
  conn_t *c = calloc(nconn, sizeof *c);
  int ep = epoll_create1(0);
  for (int i = 0; i < nconn; i++) {
    c[i].fd = connect_to(&sa, i == 0 ? 10000 : 2000);
    int one = 1;
    setsockopt(c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
  }
  uint64_t t_start = now_ns();
  uint64_t t_meas = t_start + (uint64_t)(warm * 1e9), t_end = t_meas + (uint64_t)(dur * 1e9);
  uint64_t count = 0, errors = 0, alive = nconn;
  for (int i = 0; i < nconn; i++) {
    c[i].sent_at = now_ns();
    if (write(c[i].fd, msg, size) != size) { c[i].dead = 1; errors++; alive--; }
  }
  struct epoll_event evs[1024];
  for (;;) {
    uint64_t t = now_ns();
    if (t >= t_end || alive == 0) break;
    int n = epoll_wait(ep, evs, 1024, (int)((t_end - t) / 1000000) + 1);
    if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); break; }
    for (int k = 0; k < n; k++) {
      conn_t *x = &c[evs[k].data.u32];
      if (x->dead) continue;
      ssize_t r = read(x->fd, buf + x->got, size - x->got);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) { x->dead = 1; errors++; alive--; epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL); continue; }
      x->got += r;
      if (x->got < (size_t)size) continue;
      x->got = 0;
      uint64_t done = now_ns();
      if (memcmp(buf, msg, size) != 0) errors++;
      if (x->sent_at >= t_meas && done <= t_end) { count++; record(done - x->sent_at); }
      x->sent_at = done;
      if (write(x->fd, msg, size) != size) { x->dead = 1; errors++; alive--; epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL); }
    }
  }
  uint64_t t_stop = now_ns() < t_end ? now_ns() : t_end;
  double secs = t_stop > t_meas ? (double)(t_stop - t_meas) / 1e9 : 0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  double wall = (double)(t_stop - t_start) / 1e9;
  for (int i = 0; i < nconn; i++) close(c[i].fd);
  if (count == 0) { fprintf(stderr, "loadgen: no round trips completed (errors=%llu)\n", (unsigned long long)errors); return 1; }
  printf("RESULT rt_per_s %.6g rt/s\n", count / secs);
  printf("RESULT p50_us %.6g us\n", percentile(count, 0.50));
  printf("RESULT p99_us %.6g us\n", percentile(count, 0.99));
  printf("RESULT max_us %.6g us\n", maxlat());
  /* near 100 means the load generator, not the server, may be the limit */
  printf("RESULT loadgen_cpu_pct %.3g %%\n", wall > 0 ? 100.0 * cpu / wall : 0);
  printf("RESULT errors %llu\n", (unsigned long long)errors);
  return errors ? 1 : 0;
}
