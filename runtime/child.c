/*
** child.c - child processes: spawning (posix_spawn with pipes, close-on-
** exec, signal dispositions and mask reset), fork, SIGCHLD, reaping by pid
** and exit statuses; waiting for a child blocks only its greenlet.
**
** Exits are noticed through SIGCHLD and reaped with waitpid(pid) for the
** pids registered here only: reaping with waitpid(-1), as libev's child
** watchers do on its default loop, would steal the status of children
** started by io.popen() and others (their close() then fails with
** ECHILD). So the hub never uses libev's default loop, and the SIGCHLD
** handler only pokes an ev_async in each hub; the hub then reaps its own.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "internal.h"

extern char **environ;

/* A hub's children. */
typedef struct gv_children gv_children;
struct gv_children {
  gv_hub *hub;
  struct ev_loop *loop;  /* the hub's, for the signal handler: the hub may
                         ** sit in memory unmapped at exit (alloc.c frees a
                         ** state's arenas then), libev's loop does not */
  ev_async async;
  gv_child *list;
  int nwaiting;        /* greenlets waiting for a child: keep loop alive */
  int slot;
};

#define SLOTS 64
static _Atomic(gv_children *) slots[SLOTS];

static void sigchld_handler(int sig) {
  (void)sig;
  int e = errno;
  for (int i = 0; i < SLOTS; i++) {
    gv_children *s = atomic_load(&slots[i]);
    if (s) ev_async_send(s->loop, &s->async);
  }
  errno = e;
}

/* Takes SIGCHLD over from libev (see the top of this file). */
static void install_sigchld(void) {
  struct sigaction cur;
  if (sigaction(SIGCHLD, NULL, &cur) == 0 &&
      !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == sigchld_handler)
    return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = sigchld_handler;
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
}

int gv_child_poll(gv_child *c) {
  if (c->done) return 1;
  int st;
  pid_t r;
  do r = waitpid(c->pid, &st, WNOHANG); while (r < 0 && errno == EINTR);
  if (r == c->pid) {
    c->done = 1;
    c->status = st;
  } else if (r < 0 && errno == ECHILD) { /* reaped by someone else */
    c->done = 1;
    c->status = 0;
  } else {
    return 0;
  }
  gv_waitq_wake_all(&c->waiters);
  return 1;
}

static void reap_all(gv_children *s) {
  gv_child **pp = &s->list;
  while (*pp) {
    gv_child *c = *pp;
    gv_child_poll(c);
    if (c->done && c->released && gv_waitq_empty(&c->waiters)) {
      *pp = c->next;
      free(c);
      continue;
    }
    pp = &c->next;
  }
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop; (void)revents;
  reap_all(gv_container_of(w, gv_children, async));
}

/* The hub's registry, made on first use; NULL when out of memory or when
** more than SLOTS hubs have children. */
static gv_children *children_of(gv_hub *hub) {
  if (hub->children) return hub->children;
  gv_children *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->hub = hub;
  s->loop = hub->loop;
  s->slot = -1;
  for (int i = 0; i < SLOTS; i++) {
    gv_children *expect = NULL;
    if (atomic_compare_exchange_strong(&slots[i], &expect, s)) {
      s->slot = i;
      break;
    }
  }
  if (s->slot < 0) {
    free(s);
    return NULL;
  }
  ev_async_init(&s->async, async_cb);
  ev_async_start(hub->loop, &s->async);
  ev_unref(hub->loop);
  hub->children = s;
  install_sigchld();
  return s;
}

void gv__children_free(gv_hub *hub) {
  gv_children *s = hub->children;
  if (!s) return;
  hub->children = NULL;
  atomic_store(&slots[s->slot], NULL);
  if (s->nwaiting == 0) ev_ref(hub->loop);
  ev_async_stop(hub->loop, &s->async);
  while (s->list) {
    gv_child *c = s->list;
    s->list = c->next;
    free(c);
  }
  free(s);
}

static gv_child *child_add(gv_children *s, pid_t pid) {
  gv_child *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->pid = pid;
  gv_waitq_init(&c->waiters);
  c->next = s->list;
  s->list = c;
  return c;
}

gv_child *gv_child_find(gv_hub *hub, pid_t pid) {
  if (!hub->children || pid <= 0) return NULL;
  for (gv_child *c = hub->children->list; c; c = c->next)
    if (c->pid == pid) return c;
  return NULL;
}

void gv_child_release(gv_hub *hub, gv_child *c) {
  gv_children *s = hub->children;
  if (!s) return; /* the registry, and c with it, is already gone */
  if (c->done && gv_waitq_empty(&c->waiters)) {
    for (gv_child **pp = &s->list; *pp; pp = &(*pp)->next)
      if (*pp == c) { *pp = c->next; free(c); return; }
  }
  c->released = 1;
}

/* ---- waiting ----------------------------------------------------------- */

/* g->cancel for child waits: the loop no longer needs to stay alive. */
static void wait_done(gv_greenlet *g) {
  gv_children *s = g->hub->children;
  if (s && --s->nwaiting == 0) ev_unref(g->hub->loop);
}

int gv_child_wait(gv_hub *hub, lua_State *L, gv_child *c, double timeout,
                  lua_KContext ctx, gv_kfunction k) {
  gv_children *s = hub->children;
  gv_greenlet *g = gv_check_block(hub, L);
  if (s->nwaiting++ == 0) ev_ref(hub->loop);
  g->cancel = wait_done;
  return gv_waitq_wait(hub, &c->waiters, L, timeout, "a child process",
                       ctx, k);
}

/* ---- statuses and signals ---------------------------------------------- */

int gv_child_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return status;
}

int gv_status_decode(int status, int *code) {
  if (WIFEXITED(status)) { *code = WEXITSTATUS(status); return GV_EXITED; }
  if (WIFSIGNALED(status)) { *code = WTERMSIG(status); return GV_KILLED; }
  *code = WSTOPSIG(status);
  return GV_STOPPED;
}

int gv_kill(pid_t pid, int sig) {
  return kill(pid, sig) == 0 ? 0 : -errno;
}

pid_t gv_waitpid(pid_t pid, int *status, int nohang) {
  pid_t r;
  do r = waitpid(pid, status, nohang ? WNOHANG : 0);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

/* ---- fork ---------------------------------------------------------------- */

pid_t gv_child_fork(gv_hub *hub, gv_child **out) {
  *out = NULL;
  gv_children *s = children_of(hub);
  if (!s) return -ENOMEM;
  pid_t pid = gv_hub_fork(hub);
  if (pid < 0) return -errno;
  if (pid == 0) {
    /* the parent's children are not ours: their waiters are released */
    for (gv_child *c = s->list; c; c = c->next) {
      if (!c->done) {
        c->done = 1;
        c->status = 0;
        gv_waitq_wake_all(&c->waiters);
      }
    }
    return 0;
  }
  *out = child_add(s, pid);
  return pid;
}

/* ---- spawn ---------------------------------------------------------------- */

/* A close-on-exec pipe whose fds are above 2. */
static int pipe_hi(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
  for (int i = 0; i < 2; i++) {
    if (fds[i] <= 2) {
      int nfd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      if (nfd < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
      }
      close(fds[i]);
      fds[i] = nfd;
    }
  }
  return 0;
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* An fd of ours given to the child: a fresh open file description of the
** same pipe or file when 'reopen' (our pipe ends are non-blocking, a flag
** of the description, which the child must not get), else fd itself.
** *fresh is set to the new fd to close after the spawn, or -1. */
static int child_fd(int fd, int writable, int reopen, int *fresh) {
  *fresh = -1;
  if (!reopen) return fd;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int nfd = open(path, (writable ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
  if (nfd < 0) return fd;
  *fresh = nfd;
  return nfd;
}

int gv_child_spawn(gv_hub *hub, gv_spawn *o, gv_child **out, int pipes[3]) {
  *out = NULL;
  o->cwd_missing = 0;
  pipes[0] = pipes[1] = pipes[2] = -1;
  gv_children *s = children_of(hub);
  if (!s) return -ENOMEM;
  install_sigchld(); /* in case a host replaced it since */
  int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  int src[3], fresh[3] = {-1, -1, -1};
  int devnull = -1, e = 0;
  for (int i = 0; i < 3 && !e; i++) {
    const gv_spawn_fd *f = &o->std[i];
    src[i] = -1;
    switch (f->how) {
    case GV_SPAWN_INHERIT: break;
    case GV_SPAWN_PIPE: e = pipe_hi(p[i]); break;
    case GV_SPAWN_DEVNULL:
      if (devnull < 0) devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
      if (devnull < 0) e = -errno;
      src[i] = devnull;
      break;
    case GV_SPAWN_STDOUT: src[i] = 1; break;
    case GV_SPAWN_FD:
      src[i] = child_fd(f->fd, i > 0, f->reopen, &fresh[i]);
      break;
    }
    if (f->how == GV_SPAWN_PIPE && !e) src[i] = i == 0 ? p[i][0] : p[i][1];
  }
  pid_t pid = -1;
  if (!e) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t all, none;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (o->setsid) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&at, flags);
    for (int i = 0; i < 3; i++)
      if (src[i] >= 0 && src[i] != i)
        posix_spawn_file_actions_adddup2(&fa, src[i], i);
    if (o->cwd) posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    if (o->close_fds) posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    e = -posix_spawnp(&pid, o->file ? o->file : o->argv[0], &fa, &at,
                      o->argv, o->envp ? o->envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
  }
  if (devnull >= 0) close(devnull);
  for (int i = 0; i < 3; i++) {
    if (fresh[i] >= 0) close(fresh[i]);
    int child_end = i == 0 ? p[i][0] : p[i][1];
    int our_end = i == 0 ? p[i][1] : p[i][0];
    if (child_end >= 0) close(child_end);
    if (our_end < 0) continue;
    if (e) close(our_end);
    else {
      set_nonblock(our_end);
      pipes[i] = our_end;
    }
  }
  if (e) {
    if (e == -ENOENT && o->cwd && access(o->cwd, X_OK) != 0)
      o->cwd_missing = 1;
    return e;
  }
  *out = child_add(s, pid);
  if (!*out) return -ENOMEM; /* the child runs; its status is lost */
  return 0;
}
