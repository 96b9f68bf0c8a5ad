# Shortened: the seeds give 2 s (or 10 s) to a 10 s sleep; here 0.2 s and 1 s.
# The finally: timeout.cancel() is from seed 003.
import gevent
from gevent import Timeout

timeout = Timeout(0.2)  # 0.2 seconds
timeout.start()


def wait():
    gevent.sleep(1)


try:
    gevent.spawn(wait).join()
except Timeout:
    print('Could not complete')
finally:
    timeout.cancel()
