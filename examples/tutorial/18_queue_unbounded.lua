-- A queue with no maxsize (seed 000): the boss puts everything without ever
-- waiting; the workers quit when get() times out with Empty.
local gevent = require "gevent"
local queue = require "gevent.queue"
local Queue, Empty = queue.Queue, queue.Empty

local tasks = Queue()

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

-- The queue has no maxsize: the boss never waits for a worker.
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
