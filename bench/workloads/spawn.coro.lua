-- Floor for 4.: create N bare coroutines and run each to completion.
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000
local function noop() end
local create, resume = coroutine.create, coroutine.resume
local cos = {}
local t0 = B.now()
for i = 1, N do cos[i] = create(noop) end
for i = 1, N do resume(cos[i]) end
local t = B.now() - t0
B.result("total_ms", t * 1e3, "ms")
B.result("ns_per_task", t * 1e9 / N, "ns")
