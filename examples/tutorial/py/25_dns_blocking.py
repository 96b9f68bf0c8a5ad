# Adapted: the seed resolves three web sites; we resolve 'localhost' three
# times (no internet). The stdlib socket is not patched: the lookups run one
# after the other.
import gevent
import socket

urls = ['localhost', 'localhost', 'localhost']
jobs = [gevent.spawn(socket.gethostbyname, url) for url in urls]
gevent.joinall(jobs, timeout=5)

print([job.value for job in jobs])
