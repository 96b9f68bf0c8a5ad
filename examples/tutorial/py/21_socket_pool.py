# Seeds 000/002 only define the class. Added so it runs: a local server on
# 127.0.0.1 greets each client, two client sockets are handed to the pool,
# then the pool is shut down. (The seed's self.pool.start() is dropped:
# Pool.start takes a greenlet.) listen() prints what it receives.
import gevent
from gevent import socket
from gevent.pool import Pool
from gevent.server import StreamServer


class SocketPool(object):

    def __init__(self):
        self.pool = Pool(1000)

    def listen(self, socket):
        while True:
            line = socket.recv(1024)
            print('received %s' % line.decode().strip())

    def add_handler(self, socket):
        if self.pool.full():
            raise Exception("At maximum pool size")
        else:
            self.pool.spawn(self.listen, socket)

    def shutdown(self):
        self.pool.kill()


def greet(sock, address):
    sock.sendall(b'hello\n')
    gevent.sleep(10)


server = StreamServer(('127.0.0.1', 0), greet)
server.start()

sp = SocketPool()
for i in range(2):
    sp.add_handler(socket.create_connection(('127.0.0.1', server.address[1])))
gevent.sleep(0.1)
print('listening: %s' % len(sp.pool))
sp.shutdown()
print('after shutdown: %s' % len(sp.pool))
server.stop(timeout=0)
