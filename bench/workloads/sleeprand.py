# 5. for gevent: N greenlets each gevent.sleep(random in [0,1)), joinall.
import sys, time, random, gevent
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
SPAN = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
random.seed(42)
t0 = time.perf_counter()
gs = [gevent.spawn(gevent.sleep, random.random() * SPAN) for _ in range(N)]
ts = time.perf_counter() - t0
gevent.joinall(gs)
t = time.perf_counter() - t0
print("RESULT wall_s %.6g s" % t)
print("RESULT spawn_ms %.6g ms" % (ts * 1e3))
