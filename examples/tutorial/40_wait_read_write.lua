-- wait_read/wait_write make blocking file descriptors cooperative (seed 002).
-- Adapted: Lua has no fork or multiprocessing, so the relay runs in an OS
-- thread of gevent's ThreadPool (a Lua state of its own, as the seed's
-- process has its own memory), and the two Pipes are TCP connections on
-- 127.0.0.1 made with plain, blocking LuaSocket: wait_read and wait_write
-- are what keep the greenlets from blocking the hub on them.
local gevent = require "gevent"
local ThreadPool = require("gevent.threadpool").ThreadPool
local gsocket = require "gevent.socket"
local wait_read, wait_write = gsocket.wait_read, gsocket.wait_write
local socket = require "socket" -- LuaSocket, not patched: its calls block

-- runs in the thread: connects the far ends of both pipes, relays 10 messages
local function relay(port)
  local socket = require "socket"
  local b = assert(socket.connect("127.0.0.1", port)) -- To Process
  local c = assert(socket.connect("127.0.0.1", port)) -- From Process
  for i = 0, 9 do
    local msg = assert(b:receive("*l"))
    assert(c:send(msg .. " in " .. i .. "\n"))
  end
  b:close()
  c:close()
end

local listener = assert(socket.bind("127.0.0.1", 0))
local _, port = listener:getsockname()
local proc = ThreadPool(1)
proc:spawn(relay, tonumber(port))

local function accept()
  wait_read(listener:getfd())
  return assert(listener:accept())
end
local a = accept() -- To Process
local d = accept() -- From Process

local function put_msg()
  for _ = 0, 9 do
    wait_write(a:getfd())
    a:send("hi\n")
  end
end

local function get_msg()
  for _ = 0, 9 do
    -- LuaSocket may hold the next line in its buffer already: wait only if not
    if not d:dirty() then
      wait_read(d:getfd())
    end
    print((d:receive("*l")))
  end
end

local g1 = gevent.spawn(get_msg)
local g2 = gevent.spawn(put_msg)
gevent.joinall({g1, g2}, 1)
