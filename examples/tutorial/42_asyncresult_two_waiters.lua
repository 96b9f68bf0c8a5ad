-- One AsyncResult:set() wakes every waiter, each gets the value (seed 003).
-- Shortened: the setter sleeps 0.3 s instead of 3 s.
local gevent = require "gevent"
local AsyncResult = require("gevent.event").AsyncResult

local a = AsyncResult()

-- After 0.3 seconds set the result of a.
local function setter()
  gevent.sleep(0.3)
  a:set("Hello!")
end

-- After 0.3 seconds the get call will unblock after the setter
-- puts a value into the AsyncResult.
local function waiter()
  print(a:get())
end

gevent.joinall({
  gevent.spawn(setter),
  gevent.spawn(waiter),
  gevent.spawn(waiter),
})
