import gevent
from gevent.queue import Queue, Empty
tasks = Queue()


def worker(n):
    try:
        while True:
            task = tasks.get(timeout=1)  # decrements queue size by 1
            print('Worker %s got task %s' % (n, task))
            gevent.sleep(0)
    except Empty:
        print('Quitting time!')


def boss():
    """
    The queue has no maxsize: the boss never waits for a worker.
    """
    for i in range(1, 10):
        tasks.put(i)
        print(u"tasks size : " + str(tasks.qsize()))
    print('Assigned all work in iteration 1')
    for i in range(10, 20):
        tasks.put(i)
        print(u"tasks size : " + str(tasks.qsize()))
    print('Assigned all work in iteration 2')


gevent.joinall([
    gevent.spawn(boss),
    gevent.spawn(worker, 'steve'),
    gevent.spawn(worker, 'john'),
    gevent.spawn(worker, 'bob'),
])
