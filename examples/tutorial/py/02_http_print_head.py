"""Spawn multiple workers and wait for them to complete"""
# Adapted: the three URLs are served by a local server started below on
# 127.0.0.1 (no internet); urllib2 -> urllib.request.
from gevent import monkey
# patches stdlib (including socket and ssl modules) to cooperate with other greenlets
monkey.patch_all()
import gevent
from gevent.server import StreamServer
import urllib.request

PAGES = {
    '/gevent': b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"> gevent',
    '/baidu': b'<!DOCTYPE html><!--STATUS OK--><html><head><title>baidu</title></head></html>',
    '/python': b'<!doctype html><html class="no-js" lang="en"><title>Python</title></html>',
}


def handle(sock, address):
    f = sock.makefile('rb')
    path = f.readline().split()[1].decode()
    while f.readline() not in (b'\r\n', b'\n', b''):
        pass
    body = PAGES[path]
    sock.sendall(b'HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
    sock.close()


server = StreamServer(('127.0.0.1', 0), handle)
server.start()
base = 'http://127.0.0.1:%d' % server.address[1]
urls = [base + '/gevent', base + '/baidu', base + '/python']


def print_head(url):
    print('Starting %s' % url)
    data = urllib.request.urlopen(url).read()
    print('%s: %s bytes: %r' % (url, len(data), data[:50].decode()))


jobs = [gevent.spawn(print_head, url) for url in urls]
gevent.joinall(jobs)
server.stop()
