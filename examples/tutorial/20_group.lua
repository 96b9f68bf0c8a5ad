-- Group: greenlets managed together (seeds 000, 002, 004). g3 runs during
-- the first join too: it was spawned already, it just is not waited for.
local gevent = require "gevent"
local Group = require("gevent.pool").Group

local function talk(msg)
  for _ = 1, 3 do
    print(msg)
  end
end

local g1 = gevent.spawn(talk, "bar")
local g2 = gevent.spawn(talk, "foo")
local g3 = gevent.spawn(talk, "fizz")
local group = Group()
group:add(g1)
group:add(g2)
print("g1, g2 开始join")
group:join()
group:add(g3)
print("g3 开始join")
group:join()
