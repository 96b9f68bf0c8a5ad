/*
** stack.c - C stacks for runners: mmap'd, lazily touched, with a guard page
** below (MADV_GUARD_INSTALL where the kernel has it: no extra mapping, so
** no vm.max_map_count cost; mprotect otherwise), registered with Valgrind.
** A guard-page hit is reported by a SIGSEGV handler on its own stack.
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

#ifdef GV_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define GV_STACK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GV_STACK_ASAN 1
#endif
#endif
#ifdef GV_STACK_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static size_t page_size(void) {
  static size_t ps;
  if (!ps) ps = (size_t)sysconf(_SC_PAGESIZE);
  return ps;
}

/* Guard ranges of live stacks, for the overflow report. The hub's thread
** edits it; the signal handler only reads it. */
#define MAX_GUARDS 4096
static struct { char *lo, *hi; } guards[MAX_GUARDS];
static int nguards;

static void guard_add(char *lo, char *hi) {
  for (int i = 0; i < nguards; i++)
    if (!guards[i].lo) { guards[i].lo = lo; guards[i].hi = hi; return; }
  if (nguards < MAX_GUARDS) {
    guards[nguards].lo = lo; guards[nguards].hi = hi; nguards++;
  }
}

static void guard_remove(char *lo) {
  for (int i = 0; i < nguards; i++)
    if (guards[i].lo == lo) { guards[i].lo = guards[i].hi = NULL; return; }
}

int gv_stack_alloc(gv_stack *s, size_t size) {
  size_t ps = page_size();
  size = (size + ps - 1) & ~(ps - 1);
  /* The guard is a few pages: a large frame may skip one page. */
  size_t guard = 4 * ps;
  size_t len = size + guard;
  char *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
  if (map == MAP_FAILED) return -errno;
  if (madvise(map, guard, MADV_GUARD_INSTALL) != 0 &&
      mprotect(map, guard, PROT_NONE) != 0) {
    int e = errno;
    munmap(map, len);
    return -e;
  }
  s->map = map;
  s->maplen = len;
  s->base = map + guard;
  s->size = size;
#ifdef GV_HAVE_VALGRIND
  s->vg_id = VALGRIND_STACK_REGISTER(s->base, s->base + s->size);
#else
  s->vg_id = 0;
#endif
  guard_add(map, map + guard);
  return 0;
}

void gv_stack_free(gv_stack *s) {
  if (!s->map) return;
#ifdef GV_STACK_ASAN
  /* Frames still on it (a parked runner's) left their redzones poisoned;
  ** a later mapping at the same address would inherit them. */
  __asan_unpoison_memory_region(s->base, s->size);
#endif
#ifdef GV_HAVE_VALGRIND
  VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
  guard_remove(s->map);
  munmap(s->map, s->maplen);
  s->map = s->base = NULL;
}

static void (*overflow_describe)(void *, int);
static void *overflow_arg;

static void write_str(int fd, const char *s) {
  ssize_t r = write(fd, s, strlen(s));
  (void)r;
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
  char *addr = si->si_addr;
  for (int i = 0; i < nguards; i++) {
    if (guards[i].lo && addr >= guards[i].lo && addr < guards[i].hi) {
      write_str(2, "gvlua: C stack overflow in ");
      if (overflow_describe) overflow_describe(overflow_arg, 2);
      else write_str(2, "a greenlet");
      write_str(2, "\n");
      abort();
    }
  }
  /* Not ours: let the default action happen (core dump). */
  signal(sig, SIG_DFL);
  raise(sig);
}

void gv_stack_overflow_handler(void (*describe)(void *, int), void *arg) {
  static int installed;
  overflow_describe = describe;
  overflow_arg = arg;
  if (installed) return;
  struct sigaction old;
  /* Leave a handler the host installed alone. */
  if (sigaction(SIGSEGV, NULL, &old) == 0 && old.sa_handler != SIG_DFL &&
      !(old.sa_flags & SA_SIGINFO && old.sa_sigaction == on_segv))
    return;
  installed = 1;
  static char *altstack;
  size_t altsize = 64 * 1024;
  altstack = mmap(NULL, altsize, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (altstack == MAP_FAILED) return;
  stack_t ss = {.ss_sp = altstack, .ss_size = altsize, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
}
