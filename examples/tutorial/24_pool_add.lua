-- Pool:add waits for a free slot before adding a greenlet spawned outside
-- the pool (seed 000); the sizes printed show when slots free up.
local gevent = require "gevent"
local Pool = require("gevent.pool").Pool

local pool = Pool(2)

local function func(n)
  print("Size of pool " .. #pool)
  print(n)
end

for i = 0, 9 do
  pool:add(gevent.spawn(func, i))
end

pool:join()
