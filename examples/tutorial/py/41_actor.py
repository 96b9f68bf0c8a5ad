# Adapted: the seed's actors ping-pong forever; here each actor stops after
# three messages so the example ends (joinall returns).
import gevent
from gevent.queue import Queue
from gevent import Greenlet


class Actor(gevent.Greenlet):

    def __init__(self):
        self.inbox = Queue()
        Greenlet.__init__(self)

    def receive(self, message):
        """
        Define in your subclass.
        """
        raise NotImplementedError()

    def _run(self):
        self.running = True
        self.received = 0

        while self.running:
            message = self.inbox.get()
            self.receive(message)
            self.received += 1
            if self.received == 3:
                self.running = False


class Pinger(Actor):
    def receive(self, message):
        print(message)
        pong.inbox.put('ping')
        gevent.sleep(0)


class Ponger(Actor):
    def receive(self, message):
        print(message)
        ping.inbox.put('pong')
        gevent.sleep(0)


ping = Pinger()
pong = Ponger()

ping.start()
pong.start()

ping.inbox.put('start')
gevent.joinall([ping, pong])
