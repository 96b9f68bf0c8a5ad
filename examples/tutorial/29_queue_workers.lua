-- Queue shared by workers that yield after each task, so they take turns
-- (seeds 001, 002, 003, 004).
local gevent = require "gevent"
local Queue = require("gevent.queue").Queue

local tasks = Queue()

local function worker(n)
  while not tasks:empty() do
    local task = tasks:get()
    print(("Worker %s got task %s"):format(n, task))
    gevent.sleep(0)
  end
  print("Quitting time!")
end

local function boss()
  for i = 1, 24 do
    tasks:put_nowait(i)
  end
end

gevent.spawn(boss):join()

gevent.joinall({
  gevent.spawn(worker, "steve"),
  gevent.spawn(worker, "john"),
  gevent.spawn(worker, "nancy"),
})
