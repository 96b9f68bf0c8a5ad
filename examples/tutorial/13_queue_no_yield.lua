-- Queue, case 1 (seed 000): the boss fills the queue first; the worker never
-- yields (its gevent.sleep(0) is commented out), so one worker takes every
-- task. Shortened: the boss sleeps 0.1 s instead of 10 s.
local gevent = require "gevent"
local Queue = require("gevent.queue").Queue

local tasks = Queue()

local function worker(n)
  while not tasks:empty() do
    local task = tasks:get()
    print(("Worker %s got task %s"):format(n, task))
    -- gevent.sleep(0)
  end
  print("Quitting time!")
end

local function boss()
  for i = 1, 24 do
    if i == 10 then
      gevent.sleep(0.1)
    end
    tasks:put(i)
  end
end

gevent.spawn(boss):join()
gevent.joinall({
  gevent.spawn(worker, "steve"),
  gevent.spawn(worker, "john"),
  gevent.spawn(worker, "nancy"),
})
