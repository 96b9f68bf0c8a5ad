-- A Timeout scope with no error given raises the Timeout itself (seed 001).
-- Shortened: the seed gives 1 s to a 10 s sleep; here 0.1 s and 1 s.
-- The point is the error: it escapes (stderr, exit status 1).
local gevent = require "gevent"

do
  local t <close> = gevent.Timeout(0.1):start()
  gevent.sleep(1)
end
print("never printed")
