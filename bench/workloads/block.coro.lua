-- Floor for 2./3.: N bare Lua 5.4 coroutines suspended in coroutine.yield()
-- (kept in a table), then each resumed to completion.
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000
local cos = {}
local started, woke = 0, 0
local function waiter()
  started = started + 1
  coroutine.yield()
  woke = woke + 1
end
B.gc()
local rss0 = B.rss_kib()
local t0 = B.now()
local create, resume = coroutine.create, coroutine.resume
for i = 1, N do local co = create(waiter); cos[i] = co; resume(co) end
local t1 = B.now()
B.gc()
local rss1 = B.rss_kib()
for i = 1, N do resume(cos[i]) end
local t2 = B.now()
assert(woke == N)
B.result("kib_per_task", (rss1 - rss0) / N, "KiB")
B.result("spawn_block_ms", (t1 - t0) * 1e3, "ms")
B.result("release_ms", (t2 - t1) * 1e3, "ms")
B.result("total_ms", (t2 - t0) * 1e3, "ms")
B.result("peak_rss_kib", B.hwm_kib(), "KiB")
B.result("ok", 1, "")
