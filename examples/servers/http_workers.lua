-- http_workers.lua: gevent.http on all cores: a supervisor and N worker
-- processes sharing one port (SO_REUSEPORT), as gunicorn runs gevent
-- workers.
--
--   gvlua examples/servers/http_workers.lua [PORT [WORKERS]]   (default 0, 2)
--   curl http://127.0.0.1:PORT/          "worker PID\n" (which one answered)
--   kill -HUP SUPERVISOR_PID             fresh workers; the old ones finish
--                                        their requests first
--   kill -KILL WORKER_PID                the supervisor starts another
--   kill -TERM SUPERVISOR_PID            graceful stop, then exit 0
--
-- GET /sleep?s=S answers after S seconds (to watch a graceful stop).
local gevent = require "gevent"
local gos = require "gevent.os"
local http = require "gevent.http"

local port = tonumber(arg[1] or 0)
local workers = math.tointeger(tonumber(arg[2] or 2)) or 2

local server = http.HTTPServer({"127.0.0.1", port}, function(req)
  if req.path == "/sleep" then
    gevent.sleep(tonumber((req.query or ""):match("s=([%d.]+)")) or 0)
  end
  return 200, {["Content-Type"] = "text/plain"},
         ("worker %d\n"):format(gos.getpid())
end, {workers = workers, stop_timeout = 5,
      on_ready = function(s)
        print(("listening on %s:%d"):format(s.address[1], s.address[2]))
        io.stdout:flush()
      end})
server:serve_forever()
