-- Pool limits concurrency: map() runs at most 2 greenlets at a time
-- (seeds 000, 002, 004).
require "gevent"
local Pool = require("gevent.pool").Pool

local pool = Pool(2)

local function hello_from(n)
  print("Size of pool " .. #pool)
end

pool:map(hello_from, {0, 1, 2})
