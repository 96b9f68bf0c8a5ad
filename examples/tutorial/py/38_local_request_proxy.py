# Adapted: werkzeug's LocalProxy and Request are replaced by the few lines
# they do here (Lua has no werkzeug); gevent.wsgi is gevent.pywsgi now; the
# server listens on 127.0.0.1 with a free port, two requests are made to it,
# and it stops (the seed serves forever on port 8000).
from gevent import monkey; monkey.patch_all()
from gevent.local import local
from contextlib import contextmanager
import urllib.request

from gevent.pywsgi import WSGIServer


class LocalProxy(object):
    """Forwards attribute reads to whatever get() returns now."""
    def __init__(self, get):
        self.__dict__['_get'] = get

    def __getattr__(self, name):
        return getattr(self._get(), name)


class Request(object):
    def __init__(self, environ):
        self.remote_addr = environ['REMOTE_ADDR']


_requests = local()
request = LocalProxy(lambda: _requests.request)


@contextmanager
def sessionmanager(environ):
    _requests.request = Request(environ)
    yield
    _requests.request = None


def logic():
    return "Hello " + request.remote_addr


def application(environ, start_response):
    status = '200 OK'

    with sessionmanager(environ):
        body = logic()

    headers = [
        ('Content-Type', 'text/html')
    ]

    start_response(status, headers)
    return [body.encode()]


server = WSGIServer(('127.0.0.1', 0), application, log=None)
server.start()
for i in range(2):
    url = 'http://127.0.0.1:%d/' % server.address[1]
    print(urllib.request.urlopen(url).read().decode())
server.stop()
