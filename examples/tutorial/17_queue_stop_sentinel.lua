-- Queue, case 4 (seed 000): the right way to stop the workers is to send
-- each one a "stop" item.
local gevent = require "gevent"
local Queue = require("gevent.queue").Queue

local tasks = Queue(5)
local THREAD_SIZE = 3

local function worker()
  while true do
    local ok, task = pcall(tasks.get, tasks)
    if not ok then
      print("error : " .. tostring(task))
    elseif task == "stop" then
      break
    else
      print(("Worker got task %s"):format(task))
    end
  end
  print("Quitting time!")
end

local function boss()
  for i = 1, 9 do
    tasks:put(i)
  end
  for _ = 1, THREAD_SIZE do
    tasks:put("stop")
  end
end

local task_list = {}
task_list[#task_list + 1] = gevent.spawn(boss)
for _ = 1, THREAD_SIZE do
  task_list[#task_list + 1] = gevent.spawn(worker)
end

gevent.joinall(task_list)
