# Shortened: the seed gives 2 s to a 5 s sleep; here 0.2 s and 0.5 s.
# The point is the error: TooLong escapes, the program dies with it.
import gevent
from gevent import Timeout

time_to_wait = 0.2  # seconds


class TooLong(Exception):
    pass


with Timeout(time_to_wait, TooLong):
    gevent.sleep(0.5)
print('never printed')
