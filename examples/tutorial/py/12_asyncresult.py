# Shortened: the seed's setter sleeps 3 s; here 0.3 s.
import gevent
from gevent.event import AsyncResult
a = AsyncResult()


def setter():
    """
    After 0.3 seconds set the result of a.
    """
    print("sleep 0.3 seconds")
    gevent.sleep(0.3)
    print("set hello start")
    a.set('Hello!')
    print("setted")


def waiter():
    """
    After 0.3 seconds the get call will unblock after the setter
    puts a value into the AsyncResult.
    """
    print("get hello")
    print(a.get())


gevent.joinall([
    gevent.spawn(setter),
    gevent.spawn(waiter),
])
