/* test_signal.c - signal handlers: the callback runs in hub context on
** delivery, an active handler does not keep the loop alive, stopping
** works, SIGKILL/SIGSTOP/SIGCHLD are refused, SIGPIPE is ignored. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include "rt.h"

static int fired;
static void on_signal(gv_hub *hub, gv_signal *s) {
  CHECK(gv_current(hub) == NULL); /* hub context */
  CHECK(s->signum == SIGUSR1);
  fired++;
}

static int raiser(lua_State *L) {
  (void)L;
  kill(getpid(), SIGUSR1);
  gv_sleep(rt_hub, L, 0.01, 0, NULL); /* the loop polls meanwhile */
  return 0;
}

static void test_deliver(void) {
  rt r;
  rt_open(&r);
  rt_hub = &r.hub;
  gv_signal s = {0};
  CHECK(gv_signal_start(&r.hub, &s, SIGUSR1, on_signal) == 0);
  CHECK(gv_signal_active(&s));
  rt_run(&r); /* returns at once: a handler keeps nothing alive */
  CHECK(fired == 0);
  rt_spawn(&r, raiser, NULL);
  rt_run(&r);
  CHECK(fired == 1);
  gv_signal_stop(&s);
  CHECK(!gv_signal_active(&s));
  gv_signal_stop(&s); /* twice is fine */
  rt_close(&r);
}

static void test_refused(void) {
  rt r;
  rt_open(&r);
  gv_signal s = {0};
  CHECK(gv_signal_start(&r.hub, &s, SIGKILL, on_signal) == -EINVAL);
  CHECK(gv_signal_start(&r.hub, &s, SIGSTOP, on_signal) == -EINVAL);
  CHECK(gv_signal_start(&r.hub, &s, 0, on_signal) == -EINVAL);
  CHECK(gv_signal_start(&r.hub, &s, SIGCHLD, on_signal) == -EBUSY);
  CHECK(!gv_signal_active(&s));
  rt_close(&r);
}

static void test_sigpipe(void) {
  gv_signal_ignore_sigpipe();
  int p[2];
  CHECK(pipe(p) == 0);
  close(p[0]);
  CHECK(write(p[1], "x", 1) == -1 && errno == EPIPE); /* not killed */
  close(p[1]);
}

int main(void) {
  RUN(test_deliver);
  RUN(test_refused);
  RUN(test_sigpipe);
  return unit_report();
}
