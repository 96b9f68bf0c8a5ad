-- 6a. N items through an unbounded gevent.queue.Queue(): a producer greenlet
-- puts 1..N, a consumer greenlet gets N (spawned in that order); ns per item.
local gevent = require "gevent"
local Queue = require("gevent.queue").Queue
local B = require "benchlib"
local N = tonumber(arg[1]) or 1000000
local q = Queue()
local sum = 0
local t0 = B.now()
local p = gevent.spawn(function() for i = 1, N do q:put(i) end end)
local c = gevent.spawn(function() for _ = 1, N do sum = sum + q:get() end end)
gevent.joinall({p, c})
local t = B.now() - t0
assert(sum == N * (N + 1) // 2, "bad sum")
B.result("ns_per_item", t * 1e9 / N, "ns")
