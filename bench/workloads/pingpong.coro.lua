-- Floor for 1.: bare Lua 5.4 coroutine, N resume+yield pairs via coroutine.wrap.
local B = require "benchlib"
local N = tonumber(arg[1]) or 1000000
local yield = coroutine.yield
local co = coroutine.wrap(function() while true do yield() end end)
local t0 = B.now()
for _ = 1, N do co() end
local t = B.now() - t0
B.result("ns_per_switch", t * 1e9 / N, "ns")
