-- Greenlet state: started, ready(), successful(), value, exception
-- (seeds 000, 001, 002, 003).
local gevent = require "gevent"

local function win()
  return "You win!"
end

local function fail()
  error("You fail at failing.")
end

local winner = gevent.spawn(win)
local loser = gevent.spawn(fail)

print(winner.started) -- true
print(loser.started)  -- true

-- Errors raised in the greenlet stay inside the greenlet.
local ok = pcall(gevent.joinall, {winner, loser})
if not ok then
  print("This will never be reached")
end

print(winner.value) -- You win!
print(loser.value)  -- nil

print(winner:ready()) -- true
print(loser:ready())  -- true

print(winner:successful()) -- true
print(loser:successful())  -- false

-- The error raised in fail does not propagate outside the greenlet. A
-- traceback is printed to stderr, but it does not unwind the main chunk.
print(loser.exception)

-- It can be raised again outside with error(loser.exception, 0), or with
-- loser:get().
