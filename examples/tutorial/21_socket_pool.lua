-- A class that polls sockets with a Pool (seeds 000, 002).
-- The seeds only define the class. Added so it runs: a local server on
-- 127.0.0.1 greets each client, two client sockets are handed to the pool,
-- then the pool is shut down. (The seed's self.pool.start() is dropped:
-- Pool.start takes a greenlet.) listen() prints what it receives.
local gevent = require "gevent"
local socket = require "gevent.socket"
local Pool = require("gevent.pool").Pool
local StreamServer = require("gevent.server").StreamServer

local SocketPool = {}
SocketPool.__index = SocketPool

function SocketPool.new()
  return setmetatable({pool = Pool(1000)}, SocketPool)
end

function SocketPool:listen(sock)
  while true do
    local line = assert(sock:receive("*l"))
    print("received " .. line)
  end
end

function SocketPool:add_handler(sock)
  if self.pool:full() then
    error("At maximum pool size")
  else
    self.pool:spawn(self.listen, self, sock)
  end
end

function SocketPool:shutdown()
  self.pool:kill()
end

local function greet(sock, address)
  sock:send("hello\n")
  gevent.sleep(10)
end

local server = StreamServer({"127.0.0.1", 0}, greet)
server:start()

local sp = SocketPool.new()
for _ = 1, 2 do
  sp:add_handler(assert(socket.connect("127.0.0.1", server.address[2])))
end
gevent.sleep(0.1)
print("listening: " .. #sp.pool)
sp:shutdown()
print("after shutdown: " .. #sp.pool)
server:stop(0)
