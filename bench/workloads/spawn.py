# 4. for gevent: spawn N trivial greenlets, then joinall.
import sys, time, gevent
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
def noop():
    pass
t0 = time.perf_counter()
gs = [gevent.spawn(noop) for _ in range(N)]
gevent.joinall(gs)
t = time.perf_counter() - t0
assert all(g.dead for g in gs)
print("RESULT total_ms %.6g ms" % (t * 1e3))
print("RESULT ns_per_task %.6g ns" % (t * 1e9 / N))
