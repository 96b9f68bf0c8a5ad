# 7. gevent TCP echo server: gevent.server.StreamServer, recv(64)/sendall. Args: PORT.
import sys, socket
from gevent.server import StreamServer
port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
def handle(sock, address):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    recv, sendall = sock.recv, sock.sendall
    try:
        while True:
            data = recv(64)
            if not data:
                break
            sendall(data)
    except OSError:      # the load generator resets its connections at the end
        pass
    sock.close()
StreamServer(("127.0.0.1", port), handle, backlog=4096).serve_forever()
