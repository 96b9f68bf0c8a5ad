-- gevent.select blocks only the calling greenlet (seed 002).
-- Shortened: the seed polls for 2 s and sleeps 1 s; here 0.2 s and 0.1 s.
local gevent = require "gevent"
local select = require("gevent.select").select
local gettime = require("gevent.socket").gettime

local start = gettime()
local function tic()
  return ("at %1.1f seconds"):format(gettime() - start)
end

local function gr1()
  -- Busy waits for a while, but we don't want to stick around...
  print("Started Polling: " .. tic())
  select({}, {}, {}, 0.2)
  print("Ended Polling: " .. tic())
end

local function gr2()
  -- Busy waits for a while, but we don't want to stick around...
  print("Started Polling: " .. tic())
  select({}, {}, {}, 0.2)
  print("Ended Polling: " .. tic())
end

local function gr3()
  print("Hey lets do some stuff while the greenlets poll, " .. tic())
  gevent.sleep(0.1)
end

gevent.joinall({
  gevent.spawn(gr1),
  gevent.spawn(gr2),
  gevent.spawn(gr3),
})
