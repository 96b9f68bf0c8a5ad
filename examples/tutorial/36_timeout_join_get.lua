-- A started Timeout passed as the timeout of join/get, and with_timeout
-- (seeds 002, 003).
-- Shortened: 1 s timeouts against a 2 s sleep become 0.1 s and 0.2 s.
local gevent = require "gevent"
local Timeout = gevent.Timeout

local function wait()
  gevent.sleep(0.2)
end

local timer = Timeout(0.1):start()
local thread1 = gevent.spawn(wait)

local ok, err = pcall(thread1.join, thread1, timer)
if not ok then
  if not Timeout:is(err) then error(err, 0) end
  print("Thread 1 timed out")
end

-- --

timer = Timeout.start_new(0.1)
local thread2 = gevent.spawn(wait)

ok, err = pcall(function() return thread2:get{timeout = timer} end)
if not ok then
  if not Timeout:is(err) then error(err, 0) end
  print("Thread 2 timed out")
end

-- --

ok, err = pcall(gevent.with_timeout, 0.1, wait)
if not ok then
  if not Timeout:is(err) then error(err, 0) end
  print("Thread 3 timed out")
end
