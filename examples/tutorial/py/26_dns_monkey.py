# Adapted: resolves 'localhost' three times (no internet). After
# patch_socket the lookups cooperate.
from gevent import monkey; monkey.patch_socket()
import gevent
import socket

urls = ['localhost', 'localhost', 'localhost']
jobs = [gevent.spawn(socket.gethostbyname, url) for url in urls]
gevent.joinall(jobs, timeout=5)

print([job.value for job in jobs])
