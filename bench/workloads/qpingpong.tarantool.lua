-- 6b. for Tarantool: ping-pong through two fiber.channel(1); N round trips.
local fiber = require "fiber"
local B = require "benchlib"
local N = tonumber(arg[1]) or 1000000
local q1, q2 = fiber.channel(1), fiber.channel(1)
local t0 = B.now()
local a = fiber.new(function()
  for i = 1, N do q1:put(i); assert(q2:get() == i) end
end); a:set_joinable(true)
local b = fiber.new(function()
  for _ = 1, N do q2:put(q1:get()) end
end); b:set_joinable(true)
assert(a:join()); assert(b:join())
local t = B.now() - t0
B.result("ns_per_roundtrip", t * 1e9 / N, "ns")
os.exit(0)
