# Shortened: the setter sleeps 0.3 s instead of 3 s.
# One set() wakes every waiter, and each gets the same value.
import gevent
from gevent.event import AsyncResult

a = AsyncResult()


def setter():
    """
    After 0.3 seconds set the result of a.
    """
    gevent.sleep(0.3)
    a.set('Hello!')


def waiter():
    """
    After 0.3 seconds the get call will unblock after the setter
    puts a value into the AsyncResult.
    """
    print(a.get())


gevent.joinall([
    gevent.spawn(setter),
    gevent.spawn(waiter),
    gevent.spawn(waiter),
])
