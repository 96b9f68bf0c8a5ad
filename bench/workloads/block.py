# 2./3. for gevent: N greenlets blocked on one gevent.event.Event, then set + joinall.
import sys, time, gc, gevent
from gevent.event import Event
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

ev = Event()
started = woke = 0
def waiter():
    global started, woke
    started += 1
    ev.wait()
    woke += 1

gc.collect()
rss0 = status("VmRSS")
t0 = time.perf_counter()
gs = [gevent.spawn(waiter) for _ in range(N)]
while started < N:
    gevent.sleep(0)
t1 = time.perf_counter()
gc.collect()
rss1 = status("VmRSS")
ev.set()
gevent.joinall(gs)
t2 = time.perf_counter()
assert woke == N, (woke, N)
print("RESULT kib_per_task %.6g KiB" % ((rss1 - rss0) / N))
print("RESULT spawn_block_ms %.6g ms" % ((t1 - t0) * 1e3))
print("RESULT release_ms %.6g ms" % ((t2 - t1) * 1e3))
print("RESULT total_ms %.6g ms" % ((t2 - t0) * 1e3))
print("RESULT peak_rss_kib %d KiB" % status("VmHWM"))
print("RESULT ok 1")
