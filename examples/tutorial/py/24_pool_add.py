import gevent
import gevent.pool

pool = gevent.pool.Pool(2)


def func(n):
    print('Size of pool %s' % len(pool))
    print(n)


for i in range(10):
    pool.add(gevent.spawn(func, i))

pool.join()
