# Adapted: fetches from a local server on 127.0.0.1 (no internet) with
# urllib instead of requests.
from gevent import monkey
monkey.patch_all()

import gevent
from gevent.server import StreamServer
import urllib.request

BODY = b'<!doctype html><title>Welcome to Python.org</title>'


def handle(sock, address):
    f = sock.makefile('rb')
    while f.readline() not in (b'\r\n', b'\n', b''):
        pass
    sock.sendall(b'HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n' % len(BODY) + BODY)
    sock.close()


server = StreamServer(('127.0.0.1', 0), handle)
server.start()
url = 'http://127.0.0.1:%d/' % server.address[1]


def fetch(pid):
    response = urllib.request.urlopen(url)
    result = response.read().decode()[:200]

    print('Process %s: %s' % (pid, result))
    return result


def synchronous():
    for i in range(1, 10):
        fetch(i)


def asynchronous():
    threads = []
    for i in range(1, 10):
        threads.append(gevent.spawn(fetch, i))
    gevent.joinall(threads)


print('Synchronous:')
synchronous()

print('Asynchronous:')
asynchronous()
server.stop()
