/*
** signal.c - signals for greenlets: a handler record whose callback runs
** in hub context each time the signal is delivered (libev's signal
** watcher, so delivery is safe whatever the hub was doing), and the
** process-wide dispositions gvlua needs (SIGPIPE ignored so writes to a
** closed pipe fail with EPIPE). A handler alone does not keep the loop
** alive, as in gevent.
*/
#include <errno.h>
#include <signal.h>
#include "internal.h"

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents) {
  (void)loop; (void)revents;
  gv_signal *s = gv_container_of(w, gv_signal, w);
  s->fn(s->hub, s);
}

int gv_signal_start(gv_hub *hub, gv_signal *s, int signum,
                    void (*fn)(gv_hub *hub, gv_signal *s)) {
  if (signum <= 0 || signum >= NSIG) return -EINVAL;
  if (signum == SIGKILL || signum == SIGSTOP) return -EINVAL;
  if (signum == SIGCHLD) return -EBUSY; /* child.c reaps through it */
  s->hub = hub;
  s->fn = fn;
  s->signum = signum;
  ev_signal_init(&s->w, signal_cb, signum);
  ev_signal_start(hub->loop, &s->w);
  ev_unref(hub->loop);
  return 0;
}

void gv_signal_stop(gv_signal *s) {
  if (!ev_is_active(&s->w) || !s->hub->loop) return;
  ev_ref(s->hub->loop); /* libev: ref before stopping an unref'd watcher */
  ev_signal_stop(s->hub->loop, &s->w);
}

int gv_signal_active(const gv_signal *s) { return ev_is_active(&s->w); }

void gv_signal_ignore_sigpipe(void) {
  struct sigaction cur;
  if (sigaction(SIGPIPE, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
}
