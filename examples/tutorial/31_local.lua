-- Greenlet-local data (seeds 001, 002, 004): a field set by one greenlet is
-- nil for the others (Python raises AttributeError).
local gevent = require "gevent"
local Local = require("gevent.local").Local

local stash = Local()

local function f1()
  stash.x = 1
  print(stash.x)
end

local function f2()
  stash.y = 2
  print(stash.y)

  if stash.x == nil then
    print("x is not local to f2")
  end
end

local g1 = gevent.spawn(f1)
local g2 = gevent.spawn(f2)

gevent.joinall({g1, g2})
