-- A queue with maxsize 3 (seeds 000, 002, 004): put() blocks the boss until
-- a worker makes room; the workers quit when get() times out with Empty.
-- Shortened: seed 000 waits get(timeout=10); here 1 s, as seeds 002/004 do.
local gevent = require "gevent"
local queue = require "gevent.queue"
local Queue, Empty = queue.Queue, queue.Empty

local tasks = Queue(3)

local function worker(n)
  local ok, err = pcall(function()
    while true do
      local task = tasks:get{timeout = 1} -- decrements queue size by 1
      print(("Worker %s got task %s"):format(n, task))
      gevent.sleep(0)
    end
  end)
  if not ok then
    if not Empty:is(err) then error(err, 0) end
    print("Quitting time!")
  end
end

-- Boss will wait to hand out work until a individual worker is
-- free since the maxsize of the task queue is 3.
local function boss()
  for i = 1, 9 do
    tasks:put(i)
    print("tasks size : " .. tasks:qsize())
  end
  print("Assigned all work in iteration 1")
  for i = 10, 19 do
    tasks:put(i)
    print("tasks size : " .. tasks:qsize())
  end
  print("Assigned all work in iteration 2")
end

gevent.joinall({
  gevent.spawn(boss),
  gevent.spawn(worker, "steve"),
  gevent.spawn(worker, "john"),
  gevent.spawn(worker, "bob"),
})
