-- AsyncResult: an event that carries a value (seeds 000, 001, 002).
-- Shortened: the setter sleeps 0.3 s instead of 3 s.
local gevent = require "gevent"
local AsyncResult = require("gevent.event").AsyncResult

local a = AsyncResult()

-- After 0.3 seconds set the result of a.
local function setter()
  print("sleep 0.3 seconds")
  gevent.sleep(0.3)
  print("set hello start")
  a:set("Hello!")
  print("setted")
end

-- After 0.3 seconds the get call will unblock after the setter
-- puts a value into the AsyncResult.
local function waiter()
  print("get hello")
  print(a:get())
end

gevent.joinall({
  gevent.spawn(setter),
  gevent.spawn(waiter),
})
