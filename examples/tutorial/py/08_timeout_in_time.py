# Shortened: the seed waits up to 6 s for a 5 s sleep; here 0.6 s and 0.5 s.
import gevent
from gevent import Timeout

time_to_wait = 0.6  # seconds


class TooLong(Exception):
    pass


with Timeout(time_to_wait, TooLong):
    gevent.sleep(0.5)
print('finished in time')
