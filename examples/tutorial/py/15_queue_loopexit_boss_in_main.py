# Seed 000 queue case2, second program ("等同于上面的效果"): the boss runs in
# the main greenlet after the workers are spawned. Shortened: 0.1 s, not 10 s.
# The point is the error: joinall ends with LoopExit.
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
    gevent.spawn(worker, 'steve'),
    gevent.spawn(worker, 'john'),
    gevent.spawn(worker, 'nancy'),
]

boss()
gevent.joinall(task_list)
