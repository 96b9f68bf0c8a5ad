# 6a. for gevent: N items through gevent.queue.Queue() (unbounded), producer + consumer.
import sys, time, gevent
from gevent.queue import Queue
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
q = Queue()
total = 0
def producer():
    put = q.put
    for i in range(1, N + 1):
        put(i)
def consumer():
    global total
    get = q.get
    s = 0
    for _ in range(N):
        s += get()
    total = s
t0 = time.perf_counter()
gevent.joinall([gevent.spawn(producer), gevent.spawn(consumer)])
t = time.perf_counter() - t0
assert total == N * (N + 1) // 2
print("RESULT ns_per_item %.6g ns" % (t * 1e9 / N))
