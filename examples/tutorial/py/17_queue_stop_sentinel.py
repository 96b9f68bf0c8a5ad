# Seed 000 queue case4: the right way to stop the workers, a "stop" item each.
import gevent
from gevent.queue import Queue
tasks = Queue(maxsize=5)
Thread_SIZE = 3


def worker():
    while True:
        try:
            task = tasks.get()
            if task == "stop":
                break
            print('Worker got task %s' % (task))
        except Exception as e:
            print(u"error : " + str(e))
    print('Quitting time!')


def boss():
    for i in range(1, 10):
        tasks.put(i)
    for i in range(Thread_SIZE):
        tasks.put("stop")


task_list = list()
task_list.append(gevent.spawn(boss))
for i in range(Thread_SIZE):
    task_list.append(gevent.spawn(worker))

gevent.joinall(task_list)
