# Client benchmark peer: geventhttpclient, N keep-alive GET requests over C
# concurrent connections (one greenlet each).
#   python3 client_ghc.py URL N C
import sys, time
import gevent
from geventhttpclient import HTTPClient, URL

url, n, c = URL(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
per = n // c
client = HTTPClient.from_url(url, concurrency=c)

def worker():
    for _ in range(per):
        r = client.get(url.request_uri)
        assert r.status_code == 200
        r.read()

t0 = time.monotonic()
gevent.joinall([gevent.spawn(worker) for _ in range(c)], raise_error=True)
dt = time.monotonic() - t0
print("RESULT client_rps %.0f req/s" % (per * c / dt))
