# 1. for gevent: two greenlets, each calling gevent.sleep(0) N/2 times.
import sys, time, gevent
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
half = N // 2
def f():
    sleep = gevent.sleep
    for _ in range(half):
        sleep(0)
t0 = time.perf_counter()
gevent.joinall([gevent.spawn(f), gevent.spawn(f)])
t = time.perf_counter() - t0
print("RESULT ns_per_switch %.6g ns" % (t * 1e9 / (2 * half)))
