-- A Timeout scope that fires with our own error (seeds 000, 001, 002, 003).
-- Shortened: the seed gives 2 s to a 5 s sleep; here 0.2 s and 0.5 s.
-- The point is the error: TooLong escapes and the program dies with it
-- (message on stderr, exit status 1).
local gevent = require "gevent"
local Timeout = gevent.Timeout

local time_to_wait = 0.2 -- seconds

-- our own error value, for Python's class TooLong(Exception)
local TooLong = setmetatable({}, {__tostring = function() return "TooLong" end})

do
  local t <close> = Timeout(time_to_wait, TooLong):start()
  gevent.sleep(0.5)
end
print("never printed")
