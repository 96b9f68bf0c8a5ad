-- 1. for Tarantool: two fibers alternating with fiber.yield() (Tarantool's
-- equivalent of gevent.sleep(0): back of the ready queue). N switches in all.
local fiber = require "fiber"
local B = require "benchlib"
local N = tonumber(arg[1]) or 1000000
local half = math.floor(N / 2)
local yield = fiber.yield
local function f() for _ = 1, half do yield() end end
local t0 = B.now()
local a = fiber.new(f); a:set_joinable(true)
local b = fiber.new(f); b:set_joinable(true)
a:join(); b:join()
local t = B.now() - t0
B.result("ns_per_switch", t * 1e9 / (2 * half), "ns")
os.exit(0)
