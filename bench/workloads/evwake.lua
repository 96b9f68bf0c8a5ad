-- 6c. Event wake-ups: N greenlets blocked on one Event; time from ev:set() until
-- the last one has run (it sets a second Event the main greenlet waits on).
local gevent = require "gevent"
local Event = require("gevent.event").Event
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000
local ev, done = Event(), Event()
local started, woke = 0, 0
local function waiter()
  started = started + 1
  ev:wait()
  woke = woke + 1
  if woke == N then done:set() end
end
for _ = 1, N do gevent.spawn(waiter) end
while started < N do gevent.sleep(0) end
local t0 = B.now()
ev:set()
done:wait()
local t = B.now() - t0
B.result("ns_per_wakeup", t * 1e9 / N, "ns")
B.result("total_ms", t * 1e3, "ms")
