# 6c. for gevent: N greenlets on one Event; set; the last waiter sets `done`.
import sys, time, gevent
from gevent.event import Event
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
ev, done = Event(), Event()
started = woke = 0
def waiter():
    global started, woke
    started += 1
    ev.wait()
    woke += 1
    if woke == N:
        done.set()
for _ in range(N):
    gevent.spawn(waiter)
while started < N:
    gevent.sleep(0)
t0 = time.perf_counter()
ev.set()
done.wait()
t = time.perf_counter() - t0
print("RESULT ns_per_wakeup %.6g ns" % (t * 1e9 / N))
print("RESULT total_ms %.6g ms" % (t * 1e3))
