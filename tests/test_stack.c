/* test_stack.c - C stacks: usable size, the guard page below the stack
** (a write there kills the process with SIGSEGV, or with the overflow
** handler installed, a report and SIGABRT), and many stacks at once. */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "internal.h"
#include "unit.h"

static void test_alloc(void) {
  gv_stack s;
  CHECK(gv_stack_alloc(&s, 10000) == 0);
  CHECK(s.size >= 10000 && s.size % (size_t)sysconf(_SC_PAGESIZE) == 0);
  s.base[0] = 1;                       /* bottom and top are usable */
  s.base[s.size - 1] = 1;
  CHECK(s.map <= s.base - sysconf(_SC_PAGESIZE));
  gv_stack_free(&s);
}

static void describe(void *arg, int fd) {
  (void)arg;
  CHECK(write(fd, "test stack", 10) == 10);
}

/* Child: touches the page below the stack. */
static int hit_guard(int with_handler) {
  pid_t pid = fork();
  if (pid == 0) {
    gv_stack s;
    if (gv_stack_alloc(&s, 65536) != 0) _exit(2);
    if (with_handler) gv_stack_overflow_handler(describe, NULL);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2); /* the report goes to stderr */
    volatile char *below = s.base - 1;
    *below = 1;
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
}

static void test_guard(void) {
#if defined(__SANITIZE_ADDRESS__)
  /* AddressSanitizer owns SIGSEGV: it reports the hit and exits */
  CHECK(hit_guard(0) != 0);
#else
  CHECK(hit_guard(0) == SIGSEGV);
  CHECK(hit_guard(1) == SIGABRT);
#endif
}

static void test_many(void) {
  enum { N = 200 };
  static gv_stack s[N];
  int ok = 1;
  for (int i = 0; i < N; i++) ok &= gv_stack_alloc(&s[i], 32768) == 0;
  CHECK(ok);
  for (int i = 0; i < N; i++) s[i].base[s[i].size - 1] = (char)i;
  for (int i = 0; i < N; i++) ok &= s[i].base[s[i].size - 1] == (char)i;
  CHECK(ok);
  for (int i = 0; i < N; i++) gv_stack_free(&s[i]);
}

int main(void) {
  RUN(test_alloc);
  RUN(test_guard);
  RUN(test_many);
  return unit_report();
}
