-- Queue, case 3 (seed 000): the boss fills the queue before any worker
-- exists, then the workers wait forever: LoopExit.
-- The point is the error: it escapes (stderr, exit status 1).
-- Shortened: the boss sleeps 0.1 s instead of 10 s.
local gevent = require "gevent"
local Queue = require("gevent.queue").Queue

local tasks = Queue()

local function worker(n)
  while true do
    local task = tasks:get()
    print(("Worker %s got task %s"):format(n, task))
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

boss()

local task_list = {
  gevent.spawn(worker, "steve"),
  gevent.spawn(worker, "john"),
  gevent.spawn(worker, "nancy"),
}
gevent.joinall(task_list)
