-- A Timeout started by hand limits everything the main greenlet waits for
-- (seeds 001, 002, 003; the cancel at the end is seed 003's finally:).
-- Shortened: the seeds give 2 s (or 10 s) to a 10 s sleep; here 0.2 s and 1 s.
local gevent = require "gevent"
local Timeout = gevent.Timeout

local timeout = Timeout(0.2) -- 0.2 seconds
timeout:start()

local function wait()
  gevent.sleep(1)
end

local ok, err = pcall(function()
  gevent.spawn(wait):join()
end)
timeout:cancel()
if not ok then
  if not Timeout:is(err) then error(err, 0) end
  print("Could not complete")
end
