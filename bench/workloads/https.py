# https.py N CONC URL CAFILE: bench/run's https workload, gevent side: N
# HTTPS GETs with requests (a new connection each, as https.lua), CONC
# greenlets at a time, verification on.
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import requests  # noqa: E402

n, conc, url, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
left = [n]
failed = [0]


def worker():
    while left[0] > 0:
        left[0] -= 1
        try:
            r = requests.get(url, verify=cafile)
            if r.status_code != 200 or r.text != "hello\n":
                failed[0] += 1
        except Exception:
            failed[0] += 1


t0 = time.monotonic()
gevent.joinall([gevent.spawn(worker) for _ in range(conc)])
s = time.monotonic() - t0
print("RESULT fetch_per_s %.0f" % (n / s))
print("RESULT errors %d" % failed[0])
