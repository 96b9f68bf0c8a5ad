# W7 peer: gevent's pywsgi answering GET / with "hello\n".
#   python3 w7_pywsgi.py PORT
import sys
from gevent.pywsgi import WSGIServer

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello\n"]

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
print("listening on 127.0.0.1:%d" % port, flush=True)
WSGIServer(("127.0.0.1", port), app, log=None).serve_forever()
