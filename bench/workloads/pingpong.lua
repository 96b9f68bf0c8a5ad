-- 1. sleep(0) ping-pong between two greenlets: N switches in all (each greenlet
-- calls sleep(0) N/2 times; every call hands the CPU to the other one via the hub).
local gevent = require "gevent"
local B = require "benchlib"
local N = tonumber(arg[1]) or 1000000
local half = N // 2
local sleep = gevent.sleep
local function f() for _ = 1, half do sleep(0) end end
local t0 = B.now()
local a, b = gevent.spawn(f), gevent.spawn(f)
gevent.joinall({a, b})
local t = B.now() - t0
B.result("ns_per_switch", t * 1e9 / (2 * half), "ns")
