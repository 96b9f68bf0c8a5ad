# Seed 000 queue case3: the boss fills the queue before any worker exists.
# Shortened: 0.1 s, not 10 s. The point is the error: LoopExit.
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


boss()

task_list = [
    gevent.spawn(worker, 'steve'),
    gevent.spawn(worker, 'john'),
    gevent.spawn(worker, 'nancy'),
]
gevent.joinall(task_list)
