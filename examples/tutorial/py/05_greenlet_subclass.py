# Shortened: the seed sleeps 3 s; here 0.3 s.
import gevent
from gevent import Greenlet


class MyGreenlet(Greenlet):
    def __init__(self, message, n):
        Greenlet.__init__(self)
        self.message = message
        self.n = n

    def _run(self):
        gevent.sleep(self.n)
        print(self.message)


g = MyGreenlet("Hi there!", 0.3)
g.start()
g.join()
