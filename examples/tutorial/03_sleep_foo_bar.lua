-- Context switching with gevent.sleep(0) (seeds 000, 001, 002): each
-- greenlet runs until it sleeps, then the other one runs.
local gevent = require "gevent"

local function foo()
  print("Running in foo")
  gevent.sleep(0)
  print("Explicit context switch to foo again")
end

local function bar()
  print("Explicit context to bar")
  gevent.sleep(0)
  print("Implicit context switch back to bar")
end

gevent.joinall({
  gevent.spawn(foo),
  gevent.spawn(bar),
})
