-- The actor model: a Greenlet subclass with an inbox Queue (seed 002).
-- Adapted: the seed's actors ping-pong forever; here each actor stops after
-- three messages so the example ends (joinall returns).
local gevent = require "gevent"
local Queue = require("gevent.queue").Queue
local Greenlet = gevent.Greenlet

local Actor = Greenlet:subclass()

function Actor:init()
  self.inbox = Queue()
  Greenlet.init(self)
end

-- Define in your subclass.
function Actor:receive(message)
  error("not implemented")
end

function Actor:_run()
  self.running = true
  self.received = 0

  while self.running do
    local message = self.inbox:get()
    self:receive(message)
    self.received = self.received + 1
    if self.received == 3 then
      self.running = false
    end
  end
end

local ping, pong

local Pinger = Actor:subclass()
function Pinger:receive(message)
  print(message)
  pong.inbox:put("ping")
  gevent.sleep(0)
end

local Ponger = Actor:subclass()
function Ponger:receive(message)
  print(message)
  ping.inbox:put("pong")
  gevent.sleep(0)
end

ping = Pinger()
pong = Ponger()

ping:start()
pong:start()

ping.inbox:put("start")
gevent.joinall({ping, pong})
