# Shortened: the seed gives 1 s to a 10 s sleep; here 0.1 s and 1 s.
# The point is the error: with no exception given, the Timeout itself escapes.
import gevent
from gevent import Timeout

with Timeout(0.1):
    gevent.sleep(1)
print('never printed')
