# tls.py MODE CERT KEY PORT: the gevent side of bench/run's tlshs and
# tlsecho (see tls.lua): gevent's StreamServer with an ssl_context.
import ssl
import sys

from gevent.server import StreamServer

mode, cert, key, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)


def greet(sock, address):
    sock.sendall(b"hi\n")


def echo(sock, address):
    while True:
        data = sock.recv(65536)
        if not data:
            return
        sock.sendall(data)


StreamServer(("127.0.0.1", port), greet if mode == "hs" else echo,
             ssl_context=ctx, backlog=1024).serve_forever()
