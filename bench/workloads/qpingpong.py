# 6b. for gevent: ping-pong through two gevent.queue.Queue(1); N round trips.
import sys, time, gevent
from gevent.queue import Queue
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
q1, q2 = Queue(1), Queue(1)
def a():
    for i in range(N):
        q1.put(i)
        assert q2.get() == i
def b():
    for _ in range(N):
        q2.put(q1.get())
t0 = time.perf_counter()
gs = [gevent.spawn(a), gevent.spawn(b)]
gevent.joinall(gs, raise_error=True)
t = time.perf_counter() - t0
print("RESULT ns_per_roundtrip %.6g ns" % (t * 1e9 / N))
