-- AsyncResult:set() with no value, used as a plain wake-up (seed 004).
-- Shortened: the setter sleeps 0.3 s instead of 3 s.
local gevent = require "gevent"
local AsyncResult = require("gevent.event").AsyncResult

local a = AsyncResult()

-- After 0.3 seconds wake all threads waiting on the value of a.
local function setter()
  gevent.sleep(0.3)
  a:set()
end

-- After 0.3 seconds the get call will unblock.
local function waiter()
  a:get() -- blocking
  print("I live!")
end

gevent.joinall({
  gevent.spawn(setter),
  gevent.spawn(waiter),
})
