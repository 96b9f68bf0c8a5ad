# Adapted: each line is written with one call so lines from the two threads
# cannot interleave inside a line (the seed's output shows they do).
import sys
import time
import gevent
from gevent.threadpool import ThreadPool


def my_func(text, num):
    sys.stdout.write('%s %s\n' % (text, num))


pool = ThreadPool(2)
start = time.time()
for i in range(10):
    pool.spawn(my_func, "Hello", i)
pool.join()
delay = time.time() - start
print('Take %.3f seconds' % delay)
