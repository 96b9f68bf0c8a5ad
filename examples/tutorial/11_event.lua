-- Event: one greenlet wakes all the others (seeds 000, 001, 002, 003).
-- Shortened: the setter sleeps 0.3 s instead of 3 s.
local gevent = require "gevent"
local Event = require("gevent.event").Event

-- Illustrates the use of events
local evt = Event()

-- After 0.3 seconds, wake all threads waiting on the value of evt
local function setter()
  print("A: Hey wait for me, I have to do something")
  gevent.sleep(0.3)
  print("Ok, I'm done")
  evt:set()
end

-- After 0.3 seconds the wait call will unblock
local function waiter()
  print("I'll wait for you")
  evt:wait() -- blocking
  print("It's about time")
end

local function main()
  gevent.joinall({
    gevent.spawn(setter),
    gevent.spawn(waiter),
    gevent.spawn(waiter),
    gevent.spawn(waiter),
    gevent.spawn(waiter),
    gevent.spawn(waiter),
  })
end

main()
