-- Queue, case 2 again (seed 000, "等同于上面的效果"): the boss runs in the
-- main greenlet after the workers are spawned; same output, same LoopExit.
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

local task_list = {
  gevent.spawn(worker, "steve"),
  gevent.spawn(worker, "john"),
  gevent.spawn(worker, "nancy"),
}

boss()
gevent.joinall(task_list)
