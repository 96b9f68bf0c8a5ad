-- 6b. ping-pong through two Queue(1): A puts i on q1 and gets the reply from q2,
-- B gets from q1 and puts it on q2; N round trips, ns per round trip.
local gevent = require "gevent"
local Queue = require("gevent.queue").Queue
local B = require "benchlib"
local N = tonumber(arg[1]) or 1000000
local q1, q2 = Queue(1), Queue(1)
local t0 = B.now()
local a = gevent.spawn(function()
  for i = 1, N do q1:put(i); assert(q2:get() == i) end
end)
local b = gevent.spawn(function()
  for _ = 1, N do q2:put(q1:get()) end
end)
gevent.joinall({a, b})
local t = B.now() - t0
assert(a.dead and b.dead and a.exception == nil, "ping-pong failed")
B.result("ns_per_roundtrip", t * 1e9 / N, "ns")
