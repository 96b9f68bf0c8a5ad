-- 2./3. N greenlets blocked at once on one gevent.event.Event, then released.
-- Reports resident KiB per blocked greenlet (VmRSS after all are blocked minus
-- before spawning, over N), spawn+block time, release time (set + joinall),
-- total time and peak RSS (VmHWM).
local gevent = require "gevent"
local Event = require("gevent.event").Event
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000

local ev = Event()
local gs = {}
local started, woke = 0, 0
local function waiter()
  started = started + 1
  ev:wait()
  woke = woke + 1
end
B.gc()
local rss0 = B.rss_kib()
local t0 = B.now()
for i = 1, N do gs[i] = gevent.spawn(waiter) end
while started < N do gevent.sleep(0) end   -- all have run and are blocked
local t1 = B.now()
B.gc()
local rss1 = B.rss_kib()
ev:set()
gevent.joinall(gs)
local t2 = B.now()
assert(woke == N, "only " .. woke .. " of " .. N .. " woke")
B.result("kib_per_task", (rss1 - rss0) / N, "KiB")
B.result("spawn_block_ms", (t1 - t0) * 1e3, "ms")
B.result("release_ms", (t2 - t1) * 1e3, "ms")
B.result("total_ms", (t2 - t0) * 1e3, "ms")
B.result("peak_rss_kib", B.hwm_kib(), "KiB")
B.result("ok", 1, "")
