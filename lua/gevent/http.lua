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
local gevent = require "gevent"
local StreamServer = require("gevent.server").StreamServer
local C = require("gvlua").http

local M = {}

local HTTPServer = StreamServer:subclass()
HTTPServer.__name = "gevent.http.HTTPServer"
M.HTTPServer = HTTPServer

local base_new = getmetatable(StreamServer).__call
local server_opts = {"backlog", "spawn", "reuse_addr", "reuse_port",
                     "stop_timeout", "ssl", "handshake_timeout"}

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
    error("bad argument #3 to 'gevent.http.HTTPServer' (table expected, got " ..
          type(opts) .. ")", 2)
  end
  if type(handler) ~= "function" and
     not (getmetatable(handler) or {}).__call then
    error("bad argument #2 to 'gevent.http.HTTPServer' (function expected, got " ..
          type(handler) .. ")", 2)
  end
  local sopts = {}
  for _, k in ipairs(server_opts) do sopts[k] = opts[k] end
  local self = base_new(cls, listener, nil, sopts)
  self.application = opts.access_log and logged(handler, opts.access_log)
                     or handler
  self._state = C.state(opts)
  if opts.workers ~= nil then
    local n = math.tointeger(opts.workers)
    if not n or n < 1 then
      error("bad argument #3 to 'gevent.http.HTTPServer' (workers must be a "
            .. "positive integer)", 2)
    end
    self.workers = n
  end
  self.on_ready, self.on_reload = opts.on_ready, opts.on_reload
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
  if rawget(self, "ssl_context") then -- a handshaken gevent.ssl connection
    return C.serve(self._state, self.application, sock, address)
  end
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

---------------------------------------------------------------------------
-- workers = N: preforked processes on one port (SO_REUSEPORT)
---------------------------------------------------------------------------

local function log(self, fmt, ...)
  io.stderr:write(("%s: "):format(tostring(self)), fmt:format(...), "\n")
end

-- The body of a worker process (after the fork): serve on a socket of its
-- own bound to the shared port until SIGTERM/SIGINT, then stop gracefully.
local function worker_main(self, index)
  local gos = require "gevent.os"
  self.worker = index
  self.reuse_port = true
  self.socket = nil
  self._workers = nil
  self.started = false
  StreamServer.start(self)
  local stopped = require("gevent.event").Event()
  local function stop()
    self:stop()          -- requests in progress finish first
    stopped:set()
  end
  gevent.signal_handler("SIGTERM", stop)
  gevent.signal_handler("SIGINT", stop)
  gevent.signal_handler("SIGHUP", function() end) -- the supervisor's business
  stopped:wait()
  io.stdout:flush()
  io.stderr:flush()
  gos._exit(0)
end

-- The supervisor: forks the workers, restarts one that dies, replaces them
-- all on SIGHUP (the old ones finish their requests), stops them on
-- SIGTERM/SIGINT. Runs in the calling greenlet until stopped.
local function supervise(self, n)
  local gos = require "gevent.os"
  local Queue = require("gevent.queue").Queue
  local socket = require "gevent.socket"
  -- hold the port (bound, not listening: it takes no connections) so that
  -- port 0 picks one port for all workers
  local host, port = self.address[1], self.address[2]
  local hold, err = socket.tcp4()
  if not hold then error("cannot make a socket: " .. tostring(err), 3) end
  hold:setoption("reuseaddr", true)
  local ok
  ok, err = hold:setoption("reuseport", true)
  if ok then ok, err = hold:bind(host, port) end
  if not ok then
    hold:close()
    error(("cannot bind %s:%s: %s"):format(host, port, err), 3)
  end
  local h, p = hold:getsockname()
  self.address = {h, tonumber(p)}
  self.server_host, self.server_port = h, tonumber(p)
  self.started = true
  local actions = Queue()
  local handlers = {
    gevent.signal_handler("SIGTERM", function() actions:put("stop") end),
    gevent.signal_handler("SIGINT", function() actions:put("stop") end),
    gevent.signal_handler("SIGHUP", function() actions:put("reload") end),
  }
  local workers = {}           -- pid -> {index=, retiring=}
  self._workers = workers
  local function fork(index)
    local pid, ferr = gos.fork()
    if not pid then
      log(self, "fork failed: %s", tostring(ferr))
      return
    end
    if pid == 0 then
      for _, sh in ipairs(handlers) do sh:cancel() end
      hold:close()
      worker_main(self, index)
    end
    workers[pid] = {index = index}
  end
  for i = 1, n do fork(i) end
  if self.on_ready then -- once a worker takes connections
    for _ = 1, 200 do
      local c = socket.connect(self.address[1] == "0.0.0.0" and "127.0.0.1"
                               or self.address[1], self.address[2])
      if c then c:close() break end
      gevent.sleep(0.025)
    end
    self.on_ready(self)
  end
  while true do
    local got, action = pcall(actions.get, actions, true, 0.2)
    if got and action == "stop" then break end
    if got and action == "reload" then
      if self.on_reload then self.on_reload(self) end
      local old = {}
      for pid, w in pairs(workers) do
        if not w.retiring then w.retiring = true old[#old + 1] = pid end
      end
      for i = 1, n do fork(i) end
      for _, pid in ipairs(old) do gos.kill(pid, "SIGTERM") end
    end
    local dead = {}
    for pid, w in pairs(workers) do
      local r, how, code = gos.waitpid(pid, 0)
      if r then dead[#dead + 1] = {pid, w, how, code} end
    end
    for _, d in ipairs(dead) do
      local pid, w, how, code = d[1], d[2], d[3], d[4]
      workers[pid] = nil
      if not w.retiring then
        log(self, "worker %d (pid %d) %s %s; starting another", w.index, pid,
            tostring(how), tostring(code))
        fork(w.index)
      end
    end
  end
  -- graceful stop: TERM, wait for them, KILL what is left
  for pid in pairs(workers) do gos.kill(pid, "SIGTERM") end
  local deadline = socket.gettime() + (self.stop_timeout or 1) + 2
  while next(workers) and socket.gettime() < deadline do
    for pid in pairs(workers) do
      if gos.waitpid(pid, 0.05) then workers[pid] = nil end
    end
  end
  for pid in pairs(workers) do
    gos.kill(pid, "SIGKILL")
    gos.waitpid(pid)
    workers[pid] = nil
  end
  for _, sh in ipairs(handlers) do sh:cancel() end
  hold:close()
  self.started = false
  self._closed = true
end

--- Starts if needed and waits until the server is stopped. With workers
-- = N (N >= 1), this process supervises N worker processes instead.
function HTTPServer:serve_forever(stop_timeout)
  local n = rawget(self, "workers")
  if n then return supervise(self, n) end
  return StreamServer.serve_forever(self, stop_timeout)
end

--- The pids of the running workers (the supervisor's view).
function HTTPServer:worker_pids()
  local pids = {}
  for pid, w in pairs(rawget(self, "_workers") or {}) do
    if not w.retiring then pids[#pids + 1] = pid end
  end
  table.sort(pids)
  return pids
end

--- With workers, the server runs in the worker processes only.
function HTTPServer:start()
  if rawget(self, "workers") then
    error("a server with workers runs with serve_forever, not start", 2)
  end
  return StreamServer.start(self)
end

M.reason = C.reason

return M
