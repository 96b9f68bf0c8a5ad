/* test_child.c - child processes: spawn with pipes, a greenlet waits for
** the exit while others run, statuses (exit code, killed by a signal),
** timeouts, a missing program, fork, and that children spawned elsewhere
** (system()) keep their own statuses: the hub reaps only its own pids. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "rt.h"

static gv_child *child;
static int waited;

static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L; (void)status; (void)ctx;
  waited = child->done ? 1 : -gv_current(rt_hub)->wake;
  return 0;
}
static int waiter(lua_State *L) {
  double t = *(double *)lua_touserdata(L, 1);
  return gv_child_wait(rt_hub, L, child, t, 0, wait_k);
}
static int ticks;
static int ticker(lua_State *L) {
  (void)lua_touserdata(L, 1);
  for (int i = 0; i < 3; i++) {
    ticks++;
    gv_sleep(rt_hub, L, 0.005, 0, NULL);
  }
  return 0;
}

static void test_spawn_wait(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  char *argv[] = {"/bin/sh", "-c", "read x; echo got $x; exit 3", NULL};
  gv_spawn o = {.argv = argv};
  o.std[0].how = GV_SPAWN_PIPE;
  o.std[1].how = GV_SPAWN_PIPE;
  o.std[2].how = GV_SPAWN_DEVNULL;
  int pipes[3];
  CHECK(gv_child_spawn(&r.hub, &o, &child, pipes) == 0);
  CHECK(child && child->pid > 0 && !child->done);
  CHECK(pipes[0] > 2 && pipes[1] > 2 && pipes[2] == -1);
  CHECK(write(pipes[0], "hi\n", 3) == 3);
  close(pipes[0]);
  static double forever = -1;
  rt_spawn(&r, waiter, &forever);
  rt_spawn(&r, ticker, NULL);
  rt_run(&r); /* the waiter keeps the loop alive until the exit */
  CHECK(waited == 1 && ticks == 3);
  CHECK(gv_child_code(child->status) == 3);
  int code;
  CHECK(gv_status_decode(child->status, &code) == GV_EXITED && code == 3);
  char buf[16] = {0};
  CHECK(read(pipes[1], buf, sizeof buf - 1) == 7 && strcmp(buf, "got hi\n") == 0);
  close(pipes[1]);
  CHECK(gv_child_find(&r.hub, child->pid) == child);
  pid_t pid = child->pid;
  gv_child_release(&r.hub, child); /* reaped: freed now */
  CHECK(gv_child_find(&r.hub, pid) == NULL);
  rt_close(&r);
}

static void test_kill_timeout(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  char *argv[] = {"sleep", "5", NULL};
  gv_spawn o = {.argv = argv};
  int pipes[3];
  CHECK(gv_child_spawn(&r.hub, &o, &child, pipes) == 0);
  static double soon = 0.01, forever = -1;
  rt_spawn(&r, waiter, &soon);
  rt_run(&r);
  CHECK(waited == -GV_WAKE_TIMEOUT && !gv_child_poll(child));
  CHECK(gv_kill(child->pid, SIGTERM) == 0);
  rt_spawn(&r, waiter, &forever);
  rt_run(&r);
  int code;
  CHECK(waited == 1);
  CHECK(gv_status_decode(child->status, &code) == GV_KILLED && code == SIGTERM);
  CHECK(gv_child_code(child->status) == -SIGTERM);
  gv_child_release(&r.hub, child);
  CHECK(gv_kill(999999, 0) == -ESRCH);
  rt_close(&r);
}

static void test_errors(void) {
  rt r;
  rt_open(&r);
  char *argv[] = {"no-such-program-here", NULL};
  gv_spawn o = {.argv = argv};
  int pipes[3];
  o.std[1].how = GV_SPAWN_PIPE;
  CHECK(gv_child_spawn(&r.hub, &o, &child, pipes) == -ENOENT);
  CHECK(child == NULL && pipes[1] == -1); /* no fd left open */
  char *argv2[] = {"true", NULL};
  gv_spawn o2 = {.argv = argv2, .cwd = "/no/such/dir"};
  CHECK(gv_child_spawn(&r.hub, &o2, &child, pipes) != 0 && o2.cwd_missing);
  rt_close(&r);
}

/* system() reaps its own child: our SIGCHLD handling must not steal it */
static void test_others_children(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  char *argv[] = {"true", NULL};
  gv_spawn o = {.argv = argv};
  int pipes[3];
  CHECK(gv_child_spawn(&r.hub, &o, &child, pipes) == 0); /* installs it */
  int st = system("exit 7");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
  static double forever = -1;
  rt_spawn(&r, waiter, &forever);
  rt_run(&r);
  CHECK(waited == 1 && gv_child_code(child->status) == 0);
  gv_child_release(&r.hub, child);
  rt_close(&r);
}

static void test_fork(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  pid_t pid = gv_child_fork(&r.hub, &child);
  if (pid == 0) _exit(child == NULL ? 5 : 6);
  CHECK(pid > 0 && child && child->pid == pid);
  static double forever = -1;
  rt_spawn(&r, waiter, &forever);
  rt_run(&r);
  CHECK(waited == 1 && gv_child_code(child->status) == 5);
  gv_child_release(&r.hub, child);
  rt_close(&r);
}

int main(void) {
  RUN(test_spawn_wait);
  RUN(test_kill_timeout);
  RUN(test_errors);
  RUN(test_others_children);
  RUN(test_fork);
  return unit_report();
}
