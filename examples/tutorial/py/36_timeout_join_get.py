# Shortened: 1 s timeouts against a 2 s sleep become 0.1 s and 0.2 s.
import gevent
from gevent import Timeout


def wait():
    gevent.sleep(0.2)


timer = Timeout(0.1).start()
thread1 = gevent.spawn(wait)

try:
    thread1.join(timeout=timer)
except Timeout:
    print('Thread 1 timed out')

# --

timer = Timeout.start_new(0.1)
thread2 = gevent.spawn(wait)

try:
    thread2.get(timeout=timer)
except Timeout:
    print('Thread 2 timed out')

# --

try:
    gevent.with_timeout(0.1, wait)
except Timeout:
    print('Thread 3 timed out')
