-- A signal handler that stops the program's work (seeds 000, 002).
-- Adapted: Python's gevent.signal is signal_handler; the handler kills the
-- greenlet (gevent.kill, as seed 002 does; gevent.shutdown no longer exists).
-- Added: a greenlet sends SIGQUIT to this process so the example ends alone.
local gevent = require "gevent"

local function run_forever()
  gevent.sleep(1000)
end

-- Lua has no getpid: /proc/self is the process that opens it (Linux)
local function getpid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return pid
end

-- (not os.execute: system() ignores SIGQUIT in its caller while it runs)
local function send_sigquit()
  gevent.sleep(0.1)
  print("sending SIGQUIT")
  require("gevent.subprocess").call({"kill", "-QUIT", tostring(getpid())})
end

local thread = gevent.spawn(run_forever)
gevent.signal_handler("SIGQUIT", gevent.kill, thread)
gevent.spawn(send_sigquit)
thread:join()
print("run_forever dead: " .. tostring(thread.dead))
print("successful: " .. tostring(thread:successful()))
