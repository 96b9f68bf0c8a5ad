-- 4. spawn N trivial greenlets, then joinall; total ms.
local gevent = require "gevent"
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000
local function noop() end
local gs = {}
local t0 = B.now()
for i = 1, N do gs[i] = gevent.spawn(noop) end
gevent.joinall(gs)
local t = B.now() - t0
for i = 1, N do assert(gs[i].dead, "greenlet not dead after joinall") end
B.result("total_ms", t * 1e3, "ms")
B.result("ns_per_task", t * 1e9 / N, "ns")
