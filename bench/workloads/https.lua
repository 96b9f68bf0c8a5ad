-- https.lua N CONC URL CAFILE: bench/run's https workload, gvlua side: N
-- HTTPS GETs of URL, CONC at a time, with LuaSec's ssl.https made
-- cooperative by gevent.monkey (verification on). Prints RESULT lines.
local gevent = require "gevent"
require("gevent.monkey").patch_all()
local https = require "ssl.https"
local ltn12 = require "ltn12"
local mono = require("gvlua").socket.monotonic

local n, conc, url, cafile = tonumber(arg[1]), tonumber(arg[2]), arg[3], arg[4]
local left, failed = n, 0

local function worker()
  while left > 0 do
    left = left - 1
    local out = {}
    local ok, code = https.request{url = url, sink = ltn12.sink.table(out),
                                   verify = "peer", cafile = cafile}
    if not ok or code ~= 200 or table.concat(out) ~= "hello\n" then
      failed = failed + 1
    end
  end
end

local t0 = mono()
local jobs = {}
for i = 1, conc do jobs[i] = gevent.spawn(worker) end
gevent.joinall(jobs)
local s = mono() - t0
print(("RESULT fetch_per_s %.0f"):format(n / s))
print(("RESULT errors %d"):format(failed))
