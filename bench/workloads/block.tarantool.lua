-- 2./3. for Tarantool: N fibers (fiber.new, joinable) blocked on one fiber.cond,
-- released with cond:broadcast() and joined.
local fiber = require "fiber"
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000
local cond = fiber.cond()
local fs = {}
local started, woke = 0, 0
local released = false
local function waiter()
  started = started + 1
  while not released do cond:wait() end
  woke = woke + 1
end
B.gc()
local rss0 = B.rss_kib()
local t0 = B.now()
for i = 1, N do
  local f = fiber.new(waiter); f:set_joinable(true); fs[i] = f
end
while started < N do fiber.yield() end
local t1 = B.now()
B.gc()
local rss1 = B.rss_kib()
released = true
cond:broadcast()
for i = 1, N do fs[i]:join() end
local t2 = B.now()
assert(woke == N)
B.result("kib_per_task", (rss1 - rss0) / N, "KiB")
B.result("spawn_block_ms", (t1 - t0) * 1e3, "ms")
B.result("release_ms", (t2 - t1) * 1e3, "ms")
B.result("total_ms", (t2 - t0) * 1e3, "ms")
B.result("peak_rss_kib", B.hwm_kib(), "KiB")
B.result("ok", 1, "")
os.exit(0)
