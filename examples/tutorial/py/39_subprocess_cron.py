# Shortened: the child sleeps 0.5 s instead of 1 s, so cron prints 3 times
# (2 to 4 on a slow or busy machine).
import gevent
from gevent.subprocess import Popen, PIPE


def cron():
    while True:
        print("cron")
        gevent.sleep(0.2)


g = gevent.spawn(cron)
sub = Popen(['sleep 0.5; uname'], stdout=PIPE, shell=True)
out, err = sub.communicate()
g.kill()
print(out.rstrip().decode())
