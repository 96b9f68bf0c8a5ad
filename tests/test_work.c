/* test_work.c - the work pool: jobs run on other threads while greenlets
** keep running, done callbacks in hub context, waits with timeouts that
** abandon the job, per-thread state, the thread limit and reservations,
** and a fork: the child's pool starts over and runs what it inherited,
** with per-thread states of its own. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "rt.h"

typedef struct job {
  gv_work w;
  double sleep_s;
  pthread_t ran_on;
  int done_calls;
  int *state_seen;
} job;

static void nap(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) < 0) {}
}

static void job_run(gv_work *w) {
  job *j = (job *)w;
  j->ran_on = pthread_self();
  if (j->sleep_s > 0) nap(j->sleep_s);
}
static void job_done(gv_hub *hub, gv_work *w) {
  (void)hub;
  ((job *)w)->done_calls++;
}

static int ticks;
static int ticker(lua_State *L) {
  (void)lua_touserdata(L, 1);
  for (int i = 0; i < 5; i++) {
    ticks++;
    gv_sleep(rt_hub, L, 0.002, 0, NULL);
  }
  return 0;
}

static void test_submit(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  job j = {.w = {.run = job_run, .done = job_done}, .sleep_s = 0.03};
  ticks = 0;
  CHECK(gv_work_submit(&r.hub, &j.w) == 0);
  rt_spawn(&r, ticker, NULL);
  rt_run(&r); /* the pending job keeps the loop alive */
  CHECK(j.done_calls == 1);
  CHECK(!pthread_equal(j.ran_on, pthread_self()));
  CHECK(ticks == 5);
  gv_work_counts c = gv_work_counts_now();
  CHECK(c.threads >= 1 && c.threads <= c.limit && c.queued == 0);
  rt_close(&r);
}

/* gv_work_wait: finished (taken) or timed out (abandoned, done frees). */
static int outcome[2];
static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L; (void)status;
  job *j = (job *)ctx;
  int taken = gv_work_taken(&j->w);
  outcome[j->sleep_s > 0.01] = taken ? 1 : -gv_current(rt_hub)->wake;
  return 0;
}
static int waiter(lua_State *L) {
  job *j = lua_touserdata(L, 1);
  return gv_work_wait(rt_hub, L, &j->w, 0.02, (lua_KContext)j, wait_k);
}

static void test_wait(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  job fast = {.w = {.run = job_run, .done = job_done}, .sleep_s = 0};
  job slow = {.w = {.run = job_run, .done = job_done}, .sleep_s = 0.2};
  rt_spawn(&r, waiter, &fast);
  rt_spawn(&r, waiter, &slow);
  rt_run(&r);
  CHECK(outcome[0] == 1 && fast.done_calls == 0); /* taken: no done */
  CHECK(outcome[1] == -GV_WAKE_TIMEOUT);
  CHECK(slow.done_calls == 1); /* abandoned: done ran when it finished */
  rt_close(&r);
}

/* per-thread state: made once per thread by init, dropped on request */
static int inits, finis;
static void *st_init(gv_work_key *k) {
  (void)k;
  __atomic_add_fetch(&inits, 1, __ATOMIC_SEQ_CST);
  return malloc(1);
}
static void st_fini(gv_work_key *k, void *s) {
  (void)k;
  __atomic_add_fetch(&finis, 1, __ATOMIC_SEQ_CST);
  free(s);
}
static gv_work_key key = {st_init, st_fini, 0};
static void *seen[16];
static void state_run(gv_work *w) {
  job *j = (job *)w;
  seen[j->done_calls] = gv_work_state(&key);
  if (j->sleep_s < 0) gv_work_state_drop(&key);
}

static void test_state(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  job j = {.w = {.run = state_run, .done = job_done}};
  for (int i = 0; i < 3; i++) {  /* one after another */
    CHECK(gv_work_submit(&r.hub, &j.w) == 0);
    rt_run(&r);
  }
  CHECK(j.done_calls == 3);
  CHECK(seen[0] && seen[1] && seen[2]);
  CHECK(inits <= gv_work_counts_now().threads); /* at most one per thread */
  j.sleep_s = -1; /* drop it */
  CHECK(gv_work_submit(&r.hub, &j.w) == 0);
  rt_run(&r);
  CHECK(finis == 1);
  rt_close(&r);
}

static void test_reserve(void) {
  int before = gv_work_counts_now().limit;
  gv_work_reserve(5);
  CHECK(gv_work_counts_now().limit == before + 5);
  gv_work_reserve(-5);
  CHECK(gv_work_counts_now().limit == before);
}

/* fork while a job runs: the child runs it again on a thread of its own
** and its greenlet gets the result. */
static void test_fork(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  job j = {.w = {.run = job_run, .done = job_done}, .sleep_s = 0.05};
  CHECK(gv_work_submit(&r.hub, &j.w) == 0);
  nap(0.01); /* it is running on a pool thread now */
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    ev_loop_fork(r.hub.loop);
    gv__work_after_fork();
    rt_run(&r);
    _exit(j.done_calls == 1 && gv_work_counts_now().threads >= 1 ? 0 : 1);
  }
  int st = -1;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  rt_run(&r);
  CHECK(j.done_calls == 1);
  rt_close(&r);
}

/* a fork's child never runs its parent's per-thread states (a job may
** have been midway in one): its threads make their own; off the pool
** there is no state */
static void test_fork_state(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  CHECK(gv_work_state(&key) == NULL);
  job j = {.w = {.run = state_run, .done = job_done}};
  CHECK(gv_work_submit(&r.hub, &j.w) == 0);
  rt_run(&r);
  /* the parent's state, held only as a number: a leak checker in the
  ** child (ASan builds) must still find it reachable through the pool */
  uintptr_t parents = (uintptr_t)seen[0] ^ 1;
  CHECK(parents != 1);
  memset(seen, 0, sizeof seen);
  int inits_before = inits;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    ev_loop_fork(r.hub.loop);
    gv__work_after_fork();
    CHECK(gv_work_submit(&r.hub, &j.w) == 0);
    rt_run(&r);
    int ok = j.done_calls == 2 && seen[1] &&
             (uintptr_t)seen[1] != (parents ^ 1) && inits == inits_before + 1;
    exit(ok ? 0 : 1); /* exit, not _exit: LeakSanitizer checks here */
  }
  int st = -1;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  rt_close(&r);
}

int main(void) {
  RUN(test_submit);
  RUN(test_wait);
  RUN(test_state);
  RUN(test_reserve);
  RUN(test_fork);
  RUN(test_fork_state);
  return unit_report();
}
