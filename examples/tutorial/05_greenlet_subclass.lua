-- Subclassing Greenlet and overriding _run (seeds 000, 002).
-- Shortened: the seed sleeps 3 s; here 0.3 s.
local gevent = require "gevent"
local Greenlet = gevent.Greenlet

local MyGreenlet = Greenlet:subclass()

function MyGreenlet:init(message, n)
  Greenlet.init(self)
  self.message = message
  self.n = n
end

function MyGreenlet:_run()
  gevent.sleep(self.n)
  print(self.message)
end

local g = MyGreenlet("Hi there!", 0.3)
g:start()
g:join()
