-- gevent.http: an HTTP/1.1 server whose per-connection loop runs in C
-- (bindings/l_http.c on runtime/http.c): read, parse, call the handler,
-- write. The name is old gevent's (gevent.http.HTTPServer, gevent 0.13);
-- pywsgi's WSGI shape has no Lua counterpart, its server API does.
--
--   local http = require "gevent.http"
--   local server = http.HTTPServer({"127.0.0.1", 8080}, function(req, res)
--     if req.path == "/" then return 200, {["Content-Type"] = "text/plain"}, "hello\n" end
--     return 404, nil, "not found\n"
--   end)
--   server:serve_forever()
--
-- HTTPServer(listener, handler, opts) is a gevent.server.StreamServer: the
-- same listener forms, start/serve_forever/stop/close, address. The
-- handler runs in the connection's greenlet, once per request; it returns
-- status, headers, body, or streams through res (see docs/api/http.md).
local StreamServer = require("gevent.server").StreamServer
local C = require("gvlua").http

local M = {}

local HTTPServer = StreamServer:subclass()
HTTPServer.__name = "gevent.http.HTTPServer"
M.HTTPServer = HTTPServer

local base_new = getmetatable(StreamServer).__call
local server_opts = {"backlog", "spawn", "reuse_addr", "reuse_port",
                     "stop_timeout"}

-- An access-log line in the common log format, for a request the handler
-- answered with status and a body of len bytes ("-": streamed).
local function log_line(req, status, len)
  local peer = req.peer
  return ('%s - - [%s] "%s %s HTTP/%s" %d %s\n'):format(
    peer and peer[1] or "-", os.date("!%d/%b/%Y:%H:%M:%S +0000"),
    req.method, req.target, req.version, status, len)
end

-- The handler wrapped to log each request to log (a file, or a function
-- taking the line).
local function logged(handler, log)
  local write = type(log) == "function" and log or function(line)
    log:write(line)
    if log.flush then log:flush() end
  end
  return function(req, res)
    local ok, status, headers, body = pcall(handler, req, res)
    if not ok then
      write(log_line(req, 500, "-"))
      error(status, 0)
    end
    if res.started or status == nil then
      write(log_line(req, res.status or 200, "-"))
    else
      write(log_line(req, tonumber(status) or 500,
                     type(body) == "string" and #body or 0))
    end
    return status, headers, body
  end
end

local function new(cls, listener, handler, opts)
  if type(handler) == "table" and getmetatable(handler) == nil then
    handler, opts = handler.handler, handler
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("bad argument #3 to 'HTTPServer' (table expected, got " ..
          type(opts) .. ")", 2)
  end
  if type(handler) ~= "function" and
     not (getmetatable(handler) or {}).__call then
    error("bad argument #2 to 'HTTPServer' (function expected, got " ..
          type(handler) .. ")", 2)
  end
  local sopts = {}
  for _, k in ipairs(server_opts) do sopts[k] = opts[k] end
  local self = base_new(cls, listener, nil, sopts)
  self.application = opts.access_log and logged(handler, opts.access_log)
                     or handler
  self._state = C.state(opts)
  return self
end
getmetatable(HTTPServer).__call = new

function HTTPServer:__tostring()
  return ("<HTTPServer at %s:%s%s>"):format(tostring(self.address[1]),
    tostring(self.address[2]), self.started and "" or " (not started)")
end

--- Serves one accepted connection (called by StreamServer per client):
-- the C loop takes over the socket's descriptor.
function HTTPServer:handle(sock, address)
  local raw = rawget(sock, "_sock") or sock
  local fd = raw:getfd()
  raw:setfd(-1)
  return C.serve(self._state, self.application, fd, address)
end

--- Stops accepting, closes idle keep-alive connections at once, lets the
-- requests in progress finish (up to timeout seconds, default
-- stop_timeout), then kills what is left.
function HTTPServer:stop(timeout)
  C.shutdown(self._state)
  return StreamServer.stop(self, timeout)
end

--- How many client connections are open.
function HTTPServer:connection_count()
  return C.connections(self._state)
end

M.reason = C.reason

return M
