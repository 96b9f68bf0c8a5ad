-- 6c. for Tarantool: N fibers on one fiber.cond; broadcast; the last one
-- signals a second cond the main fiber waits on.
local fiber = require "fiber"
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000
local cond, done = fiber.cond(), fiber.cond()
local started, woke, released = 0, 0, false
local function waiter()
  started = started + 1
  while not released do cond:wait() end
  woke = woke + 1
  if woke == N then done:signal() end
end
for _ = 1, N do fiber.new(waiter) end
while started < N do fiber.yield() end
local t0 = B.now()
released = true
cond:broadcast()
while woke < N do done:wait() end
local t = B.now() - t0
B.result("ns_per_wakeup", t * 1e9 / N, "ns")
B.result("total_ms", t * 1e3, "ms")
os.exit(0)
