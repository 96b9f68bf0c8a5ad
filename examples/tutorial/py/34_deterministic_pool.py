# Adapted: the non-deterministic half uses gevent's ThreadPool (OS threads)
# instead of multiprocessing, collecting results in completion order with
# gevent.iwait, as the Lua version must (Lua has no multiprocessing).
# echo busy-waits 1 ms so it works the same in a thread and in a greenlet.
import time
import gevent
from gevent.threadpool import ThreadPool


def echo(i):
    t0 = time.process_time()
    while time.process_time() - t0 < 0.001:
        pass
    return i


def same(*runs):
    return all(r == runs[0] for r in runs)


# Non Deterministic Thread Pool

def thread_run():
    p = ThreadPool(10)
    run = [r.get() for r in gevent.iwait([p.spawn(echo, i) for i in range(10)])]
    p.kill()
    return run


run1 = thread_run()
run2 = thread_run()
run3 = thread_run()
run4 = thread_run()

print('thread pool runs equal: %s' % same(run1, run2, run3, run4))

# Deterministic Gevent Pool

from gevent.pool import Pool

p = Pool(10)
run1 = [a for a in p.imap_unordered(echo, range(10))]
run2 = [a for a in p.imap_unordered(echo, range(10))]
run3 = [a for a in p.imap_unordered(echo, range(10))]
run4 = [a for a in p.imap_unordered(echo, range(10))]

print(run1 == run2 == run3 == run4)
