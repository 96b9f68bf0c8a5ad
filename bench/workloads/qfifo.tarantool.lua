-- 6a. for Tarantool: fiber.channel(N) (bounded, but with room for all N items
-- it never blocks the producer, like an unbounded Queue); producer, consumer fibers.
local fiber = require "fiber"
local B = require "benchlib"
local N = tonumber(arg[1]) or 1000000
local ch = fiber.channel(N)
local sum = 0
local t0 = B.now()
local p = fiber.new(function() for i = 1, N do ch:put(i) end end); p:set_joinable(true)
local c = fiber.new(function() for _ = 1, N do sum = sum + ch:get() end end); c:set_joinable(true)
p:join(); c:join()
local t = B.now() - t0
assert(sum == N * (N + 1) / 2, "bad sum")
B.result("ns_per_item", t * 1e9 / N, "ns")
os.exit(0)
