-- 4. for Tarantool: fiber.new (scheduled, not run yet, like gevent.spawn),
-- set_joinable(true), then join each.
local fiber = require "fiber"
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000
local function noop() end
local fs = {}
local t0 = B.now()
for i = 1, N do local f = fiber.new(noop); f:set_joinable(true); fs[i] = f end
for i = 1, N do fs[i]:join() end
local t = B.now() - t0
B.result("total_ms", t * 1e3, "ms")
B.result("ns_per_task", t * 1e9 / N, "ns")
os.exit(0)
