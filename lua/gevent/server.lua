-- gevent.server: StreamServer, a TCP server that runs handle(sock, address)
-- in a new greenlet for each connection.
--
--   local server = StreamServer({"127.0.0.1", 0}, function(sock, address)
--     sock:send(sock:receive("*l") .. "\n")
--   end)
--   server:start()              -- or server:serve_forever()
--   print(server.address[2])    -- the port picked
--   server:stop(2)
--
-- StreamServer(listener, handle, backlog, spawn) or
-- StreamServer(listener, handle, {backlog=, spawn=, reuse_addr=,
-- reuse_port=, stop_timeout=, ssl=, handshake_timeout=}) or
-- StreamServer(listener, {handle=, ...}).
-- TLS: ssl = gevent.ssl params (or a context; mode "server" implied), or
-- gevent's certfile=/keyfile= options. The handshake runs in the
-- connection's greenlet within handshake_timeout (10 s), so a slow,
-- stalled or garbage handshake never delays accept or other clients; a
-- failed one only counts in server.handshake_errors. handle then gets the
-- TLS connection (gevent.ssl), closed after it as a socket would be.
-- listener: {host, port}, "host:port", ":port", or a listening socket
-- (gevent.socket or LuaSocket object). spawn: a Pool (anything with
-- spawn(fn, ...)) to cap the connections handled at once, or a number (a
-- gevent.pool.Pool of that size). The client socket is closed when the
-- handler returns or fails; an error escaping a handler is reported (by the
-- greenlet) and the server keeps serving.
local gevent = require "gevent"
local socket = require "gevent.socket"
local socket_internal = require "gevent._socket"
local isnumeric = require("gvlua").dns.isnumeric

local M = {}

local StreamServer = {}
StreamServer.__index = StreamServer
StreamServer.__name = "gevent.server.StreamServer"
StreamServer.backlog = 128
StreamServer.reuse_addr = true
StreamServer.reuse_port = false
StreamServer.stop_timeout = 1
StreamServer.min_delay = 0.01
StreamServer.max_delay = 1
StreamServer.handshake_timeout = 10

local function isopts(t) return type(t) == "table" and getmetatable(t) == nil end

local function new(cls, listener, handle, backlog, spawn)
  local fname = cls.__name -- the public class: errors name it
  local o, oarg = {}, nil -- the options table and its argument number
  if isopts(handle) then o, oarg, handle = handle, 2, handle.handle
  elseif isopts(backlog) then o, oarg, backlog = backlog, 3, nil end
  local self = setmetatable({}, cls)
  self.handle_fn = handle or o.handle
  self.backlog = backlog or o.backlog
  if o.reuse_addr ~= nil then self.reuse_addr = o.reuse_addr end
  if o.reuse_port ~= nil then self.reuse_port = o.reuse_port end
  if o.stop_timeout ~= nil then self.stop_timeout = o.stop_timeout end
  spawn = spawn or o.spawn
  if type(spawn) == "number" then
    spawn = require("gevent.pool").Pool(spawn)
  end
  if spawn ~= nil and spawn ~= "default" then self.pool = spawn end
  if o.handshake_timeout ~= nil then
    self.handshake_timeout = o.handshake_timeout
  end
  local tls = o.ssl
  if tls == nil and (o.certfile or o.keyfile) then
    tls = {certificate = o.certfile, key = o.keyfile}
  end
  if tls ~= nil then
    local ssl = require "gevent.ssl"
    if type(tls) == "table" and getmetatable(tls) == nil then
      local p = {mode = "server"}
      for k, v in pairs(tls) do p[k] = v end
      tls = p
    end
    local ctx, err = ssl.newcontext(tls)
    if not ctx or ctx:mode() ~= "server" then
      error(("bad argument #%d to '%s' (ssl option: %s)"):format(oarg or 3,
            fname, ctx and "the context must be a server's" or tostring(err)),
            2)
    end
    self.ssl_context = ctx
    self.handshake_errors = 0
  end
  self.started = false
  self._handlers = {}
  self._nhandlers = 0
  if type(listener) == "table" and rawget(listener, "_sock") or
     type(listener) == "userdata" then
    self.socket = socket.wrap(listener)
    local h, p = self.socket:getsockname()
    self.address = {h, tonumber(p)}
  else
    local h, p
    if type(listener) == "string" and listener:match("^:%d+$") then
      h, p = "0.0.0.0", tonumber(listener:sub(2))
    else
      h, p = socket_internal.split_address(listener, 1, fname)
    end
    if h == "" or h == "*" then h = "0.0.0.0" end
    self.address = {h, p}
  end
  return self
end

setmetatable(StreamServer, {__call = new})
M.StreamServer = StreamServer

--- Subclassing: local My = StreamServer:subclass(); function My:handle(...)
function StreamServer:subclass()
  local cls = setmetatable({}, {__index = self, __call = new})
  cls.__index = cls
  cls.__tostring = self.__tostring
  cls.__len = self.__len
  return cls
end

function StreamServer:__tostring()
  return ("<StreamServer at %s:%s%s>"):format(tostring(self.address[1]),
    tostring(self.address[2]), self.started and "" or " (not started)")
end

--- The handler: the handle function given, or a subclass's method.
function StreamServer:handle(sock, address)
  local f = rawget(self, "handle_fn")
  if not f then
    error(("no handle function: give '%s' one, or define handle in a "
           .. "subclass"):format(self.__name), 2)
  end
  return f(sock, address)
end

--- Creates and binds the listening socket (called by start).
function StreamServer:init_socket()
  if self.socket then return end
  local host, port = self.address[1], self.address[2]
  local addrs, err = socket_internal.resolve(host, "stream")
  if not addrs then error(("cannot resolve %s: %s"):format(host, err), 3) end
  for _, a in ipairs(addrs) do
    local s, e = (isnumeric(a) == "inet6" and socket.tcp6 or socket.tcp4)()
    if not s then err = e break end
    if self.reuse_addr then s:setoption("reuseaddr", true) end
    if self.reuse_port then
      local ok, e2 = s:setoption("reuseport", true)
      if not ok then
        s:close()
        error("cannot set SO_REUSEPORT: " .. tostring(e2), 3)
      end
    end
    local ok
    ok, err = s:bind(a, port)
    if ok then ok, err = s:listen(self.backlog or StreamServer.backlog) end
    if ok then
      self.socket = s
      local h, p = s:getsockname()
      self.address = {h, tonumber(p)}
      return
    end
    s:close()
  end
  error(("cannot listen on %s:%s: %s"):format(tostring(host),
        tostring(port), tostring(err)), 3)
end

-- TLS: the handshake, in the connection's greenlet. The connection, or
-- nil (counted in handshake_errors).
local function handshake(self, sock)
  local conn = require("gevent.ssl").wrap(sock, self.ssl_context)
  if conn then
    conn:settimeout(self.handshake_timeout)
    if conn:dohandshake() then
      conn:settimeout(nil)
      return conn
    end
    conn:close()
  end
  self.handshake_errors = self.handshake_errors + 1
  return nil
end

local function run_handler(self, sock, address)
  local cur = gevent.getcurrent()
  self._handlers[cur] = true
  self._nhandlers = self._nhandlers + 1
  local _ <close> = setmetatable({}, {__close = function()
    if self._handlers[cur] then
      self._handlers[cur] = nil
      self._nhandlers = self._nhandlers - 1
    end
    sock:close()
  end})
  if self.ssl_context then
    local conn = handshake(self, sock)
    if not conn then return end
    sock = conn
  end
  return self:handle(sock, address)
end

-- Both servers' loop: take(self) gives the next connection or datagram
-- and its address, or nil and an error; each gets run in a greenlet of its
-- own (in the pool, if any). Failures other than "closed" (EMFILE and the
-- like) are reported, backed off from, and served through.
local function serve(self, take, run, what)
  local delay = self.min_delay
  while not self._closed do
    local item, address = take(self)
    if item then
      delay = self.min_delay
      if self.pool then
        self.pool:spawn(run, self, item, address)
      else
        gevent.spawn(run, self, item, address)
      end
    elseif address == "closed" or self._closed then
      break
    else
      io.stderr:write(("%s: %s failed: %s\n"):format(tostring(self), what, address))
      gevent.sleep(delay)
      delay = math.min(self.max_delay, delay * 2)
    end
  end
end

local function accept(self)
  local c, err = self.socket:accept()
  if not c then return nil, err end
  local h, p
  if c.getpeername then h, p = c:getpeername() end -- unix: none
  return c, {h, tonumber(p)}
end

local function accept_loop(self) serve(self, accept, run_handler, "accept") end

-- Binds if needed and runs loop in a background greenlet.
local function start(self, loop)
  if self.started then return self end
  self:init_socket()
  self._closed = false
  self.started = true
  self.server_host, self.server_port = self.address[1], self.address[2]
  self._acceptor = gevent.spawn(loop, self)
  return self
end

--- Binds if needed and starts accepting in a background greenlet.
function StreamServer:start() return start(self, accept_loop) end

--- Stops accepting and closes the listening socket (handlers go on).
function StreamServer:close()
  if self._closed then return end
  self._closed = true
  self.started = false
  if self.socket then self.socket:close() end
  local a = self._acceptor
  if a and not a.dead and a ~= gevent.getcurrent() then a:kill(nil, false) end
end

function StreamServer:closed() return self._closed == true end

--- Stops accepting, waits up to timeout seconds (default stop_timeout) for
-- the running handlers, then kills those still running.
function StreamServer:stop(timeout)
  self:close()
  if timeout == nil then timeout = self.stop_timeout end
  local list = {}
  for g in pairs(self._handlers) do list[#list + 1] = g end
  if #list > 0 then
    gevent.joinall(list, timeout)
    local left = {}
    for _, g in ipairs(list) do if not g.dead then left[#left + 1] = g end end
    if #left > 0 then gevent.killall(left, nil, true, 1) end
  end
  if self._acceptor and self._acceptor ~= gevent.getcurrent() then
    self._acceptor:join(1)
  end
end

--- Starts if needed and waits until the server is stopped; if the waiting
-- greenlet is killed, stops the server (with stop_timeout) first.
function StreamServer:serve_forever(stop_timeout)
  if not self.started then self:start() end
  local ok, err = pcall(self._acceptor.join, self._acceptor)
  if not ok or not self._closed then
    self:stop(stop_timeout)
  end
  if not ok then error(err, 0) end
end

--- How many handlers are running.
function StreamServer:__len() return self._nhandlers end
function StreamServer:handler_count() return self._nhandlers end

---------------------------------------------------------------------------
-- DatagramServer
---------------------------------------------------------------------------
local DatagramServer = setmetatable({}, {__index = StreamServer, __call = new})
DatagramServer.__index = DatagramServer
DatagramServer.__name = "gevent.server.DatagramServer"
DatagramServer.__len = StreamServer.__len
--- The largest datagram read, bytes (LuaSocket reads at most 65535).
DatagramServer.max_size = 65535
M.DatagramServer = DatagramServer

function DatagramServer:__tostring()
  return ("<DatagramServer at %s:%s%s>"):format(tostring(self.address[1]),
    tostring(self.address[2]), self.started and "" or " (not started)")
end

--- Subclassing, as StreamServer's.
function DatagramServer:subclass()
  local cls = setmetatable({}, {__index = self, __call = new})
  cls.__index = cls
  cls.__tostring = self.__tostring
  cls.__len = self.__len
  return cls
end

--- Creates and binds the UDP socket (called by start).
function DatagramServer:init_socket()
  if self.socket then return end
  local host, port = self.address[1], self.address[2]
  local addrs, err = socket_internal.resolve(host, "dgram")
  if not addrs then error(("cannot resolve %s: %s"):format(host, err), 3) end
  for _, a in ipairs(addrs) do
    local s, e = (isnumeric(a) == "inet6" and socket.udp6 or socket.udp4)()
    if not s then err = e break end
    if self.reuse_addr then s:setoption("reuseaddr", true) end
    local ok
    ok, err = s:setsockname(a, port)
    if ok then
      self.socket = s
      local h, p = s:getsockname()
      self.address = {h, tonumber(p)}
      return
    end
    s:close()
  end
  error(("cannot bind %s:%s: %s"):format(tostring(host),
        tostring(port), tostring(err)), 3)
end

local function run_datagram(self, data, address)
  local cur = gevent.getcurrent()
  self._handlers[cur] = true
  self._nhandlers = self._nhandlers + 1
  local _ <close> = setmetatable({}, {__close = function()
    if self._handlers[cur] then
      self._handlers[cur] = nil
      self._nhandlers = self._nhandlers - 1
    end
  end})
  return self:handle(data, address)
end

local function receive(self)
  local data, ip, port = self.socket:receivefrom(self.max_size)
  if not data then return nil, ip end
  return data, {ip, tonumber(port)}
end

local function read_loop(self) serve(self, receive, run_datagram, "receive") end

--- Binds if needed and starts reading in a background greenlet.
function DatagramServer:start() return start(self, read_loop) end

--- sendto(data, address): sends a datagram to address ({host, port}, or
-- host, port) from the server's socket; LuaSocket's results.
function DatagramServer:sendto(data, address, port)
  local host = address
  if type(address) == "table" then host, port = address[1], address[2] end
  return self.socket:sendto(data, host, port)
end

return M
