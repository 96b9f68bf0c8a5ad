# W7 peer: gevent's pywsgi answering GET / with "hello\n".
#   python3 w7_pywsgi.py PORT
# Accepted sockets get TCP_NODELAY, as every other peer's: pywsgi writes
# the head and the body with separate sends, and with Nagle on the second
# waits for the client's delayed ACK (40 ms), which would measure the ACK
# timer, not pywsgi.
import socket
import sys
from gevent.pywsgi import WSGIServer


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello\n"]


class Server(WSGIServer):
    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle(sock, address)


port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
print("listening on 127.0.0.1:%d" % port, flush=True)
Server(("127.0.0.1", port), app, log=None).serve_forever()
