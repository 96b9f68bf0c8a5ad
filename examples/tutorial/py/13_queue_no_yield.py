# Seed 000 queue case1. Shortened: the boss sleeps 0.1 s instead of 10 s.
# The worker never yields (its gevent.sleep(0) is commented out), so one
# worker takes every task.
import gevent
from gevent.queue import Queue
tasks = Queue()


def worker(n):
    while not tasks.empty():
        task = tasks.get()
        print('Worker %s got task %s' % (n, task))
        # gevent.sleep(0)
    print('Quitting time!')


def boss():
    for i in range(1, 25):
        if i == 10:
            gevent.sleep(0.1)
        tasks.put(i)


gevent.spawn(boss).join()
gevent.joinall([
    gevent.spawn(worker, 'steve'),
    gevent.spawn(worker, 'john'),
    gevent.spawn(worker, 'nancy'),
])
