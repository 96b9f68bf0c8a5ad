-- 5. N greenlets each sleeping a random duration in [0,1) s; wall time until
-- all are joined. Ideal: just over 1 s (the longest sleep).
local gevent = require "gevent"
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000
local SPAN = tonumber(arg[2]) or 1.0
math.randomseed(42)
local random, sleep = math.random, gevent.sleep
local gs = {}
local t0 = B.now()
for i = 1, N do gs[i] = gevent.spawn(sleep, random() * SPAN) end
local ts = B.now() - t0
gevent.joinall(gs)
local t = B.now() - t0
B.result("wall_s", t, "s")
B.result("spawn_ms", ts * 1e3, "ms")   -- time to spawn them all (part of wall_s)
