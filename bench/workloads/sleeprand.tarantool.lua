-- 5. for Tarantool: N fibers each fiber.sleep(random in [0,1)), joined.
local fiber = require "fiber"
local B = require "benchlib"
local N = tonumber(arg[1]) or 100000
local SPAN = tonumber(arg[2]) or 1.0
math.randomseed(42)
local random = math.random
local fs = {}
local t0 = B.now()
for i = 1, N do
  local f = fiber.new(fiber.sleep, random() * SPAN); f:set_joinable(true); fs[i] = f
end
local ts = B.now() - t0
for i = 1, N do fs[i]:join() end
local t = B.now() - t0
B.result("wall_s", t, "s")
B.result("spawn_ms", ts * 1e3, "ms")
os.exit(0)
