-- Synchronous vs asynchronous (seeds 000, 002): the same random task run one
-- after the other, then as greenlets that finish in any order.
local gevent = require "gevent"

-- Some non-deterministic task
local function task(pid)
  gevent.sleep(math.random(0, 2) * 0.001)
  print(("Task %d done"):format(pid))
end

local function synchronous()
  for i = 1, 9 do
    task(i)
  end
end

local function asynchronous()
  local threads = {}
  for i = 0, 9 do
    threads[#threads + 1] = gevent.spawn(task, i)
  end
  gevent.joinall(threads)
end

print("Synchronous:")
synchronous()

print("Asynchronous:")
asynchronous()
