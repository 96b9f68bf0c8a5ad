-- A Flask-style global `request` that is really greenlet-local, as web
-- frameworks do it (seeds 002, 004).
-- Adapted: werkzeug's LocalProxy and Request are replaced by the few lines
-- they do here; a small WSGI-like server on gevent.server stands for
-- gevent.pywsgi; it listens on 127.0.0.1 with a free port, two requests are
-- made to it, and it stops (the seed serves forever on port 8000).
require "gevent"
require("gevent.monkey").patch_all()
local http = require "socket.http"
local Local = require("gevent.local").Local
local StreamServer = require("gevent.server").StreamServer

-- werkzeug's LocalProxy: field reads go to whatever get() returns now
local function LocalProxy(get)
  return setmetatable({}, {__index = function(_, key) return get()[key] end})
end

local function Request(environ)
  return {remote_addr = environ.REMOTE_ADDR}
end

local _requests = Local()
local request = LocalProxy(function() return _requests.request end)

-- Python's @contextmanager: the returned value ends the scope when closed
local function sessionmanager(environ)
  _requests.request = Request(environ)
  return setmetatable({}, {__close = function() _requests.request = nil end})
end

local function logic()
  return "Hello " .. request.remote_addr
end

local function application(environ, start_response)
  local status = "200 OK"

  local body
  do
    local session <close> = sessionmanager(environ)
    body = logic()
  end

  local headers = {
    {"Content-Type", "text/html"},
  }

  start_response(status, headers)
  return {body}
end

-- the part of gevent.pywsgi this example needs
local function WSGIServer(listener, app)
  return StreamServer(listener, function(sock)
    local method, path = sock:receive("*l"):match("^(%S+)%s+(%S+)")
    repeat local line = sock:receive("*l") until not line or line == ""
    local environ = {REQUEST_METHOD = method, PATH_INFO = path,
                     REMOTE_ADDR = (sock:getpeername())}
    local head
    local function start_response(status, headers)
      local lines = {"HTTP/1.0 " .. status}
      for _, h in ipairs(headers) do
        lines[#lines + 1] = h[1] .. ": " .. h[2]
      end
      head = table.concat(lines, "\r\n") .. "\r\n\r\n"
    end
    local body = table.concat(app(environ, start_response))
    sock:send(head .. body)
    sock:close()
  end)
end

local server = WSGIServer({"127.0.0.1", 0}, application)
server:start()
for _ = 1, 2 do
  local url = ("http://127.0.0.1:%d/"):format(server.address[2])
  print((assert(http.request(url))))
end
server:stop()
