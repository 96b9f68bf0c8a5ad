# Seed 000 queue case2. Shortened: the boss sleeps 0.1 s instead of 10 s.
# The point is the error: the workers wait forever on an empty queue, so
# joinall ends with LoopExit.
import gevent
from gevent.queue import Queue
tasks = Queue()


def worker(n):
    while True:
        task = tasks.get()
        print('Worker %s got task %s' % (n, task))
    print('Quitting time!')


def boss():
    for i in range(1, 25):
        if i == 10:
            gevent.sleep(0.1)
        tasks.put(i)


task_list = [
    gevent.spawn(boss),
    gevent.spawn(worker, 'steve'),
    gevent.spawn(worker, 'john'),
    gevent.spawn(worker, 'nancy'),
]
gevent.joinall(task_list)
