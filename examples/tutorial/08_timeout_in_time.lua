-- A Timeout scope that does not fire (seed 000, first Timeout example).
-- Shortened: the seed waits up to 6 s for a 5 s sleep; here 0.6 s and 0.5 s.
local gevent = require "gevent"
local Timeout = gevent.Timeout

local time_to_wait = 0.6 -- seconds

-- our own error value, for Python's class TooLong(Exception)
local TooLong = setmetatable({}, {__tostring = function() return "TooLong" end})

do
  local t <close> = Timeout(time_to_wait, TooLong):start()
  gevent.sleep(0.5)
end
print("finished in time")
