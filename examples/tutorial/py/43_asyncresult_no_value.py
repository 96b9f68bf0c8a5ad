# Shortened: the setter sleeps 0.3 s instead of 3 s. Python 3 print.
import gevent
from gevent.event import AsyncResult

a = AsyncResult()


def setter():
    """
    After 0.3 seconds set wake all threads waiting on the value of
    a.
    """
    gevent.sleep(0.3)
    a.set()


def waiter():
    """
    After 0.3 seconds the get call will unblock.
    """
    a.get()  # blocking
    print('I live!')


gevent.joinall([
    gevent.spawn(setter),
    gevent.spawn(waiter),
])
