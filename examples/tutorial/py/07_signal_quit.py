# Adapted: gevent.signal is gevent.signal_handler now, and gevent.shutdown is
# gone: the handler kills the greenlet instead (gevent.kill, as seed 002 does).
# Added: a greenlet sends SIGQUIT to this process so the example ends alone.
import os
import gevent
import signal


def run_forever():
    gevent.sleep(1000)


def send_sigquit():
    gevent.sleep(0.1)
    print('sending SIGQUIT')
    os.kill(os.getpid(), signal.SIGQUIT)


if __name__ == '__main__':
    thread = gevent.spawn(run_forever)
    gevent.signal_handler(signal.SIGQUIT, gevent.kill, thread)
    gevent.spawn(send_sigquit)
    thread.join()
    print('run_forever dead:', thread.dead)
    print('successful:', thread.successful())
