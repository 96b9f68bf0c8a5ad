import gevent
from gevent.pool import Group


def talk(msg):
    for i in range(3):
        print(msg)


g1 = gevent.spawn(talk, 'bar')
g2 = gevent.spawn(talk, 'foo')
g3 = gevent.spawn(talk, 'fizz')
group = Group()
group.add(g1)
group.add(g2)
print(u"g1, g2 开始join")
group.join()
group.add(g3)
print(u"g3 开始join")
group.join()
