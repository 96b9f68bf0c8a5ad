-- BoundedSemaphore(2): at most two workers hold it at once; acquire/release
-- by hand, or as a scope (Python's `with sem:`) (seeds 001, 002, 003, 004).
local gevent = require "gevent"
local sleep = gevent.sleep
local Pool = require("gevent.pool").Pool
local BoundedSemaphore = require("gevent.lock").BoundedSemaphore

local sem = BoundedSemaphore(2)

local function worker1(n)
  sem:acquire()
  print(("Worker %d acquired semaphore"):format(n))
  sleep(0)
  sem:release()
  print(("Worker %d released semaphore"):format(n))
end

local function worker2(n)
  do
    local held <close> = sem:acquire()
    print(("Worker %d acquired semaphore"):format(n))
    sleep(0)
  end
  print(("Worker %d released semaphore"):format(n))
end

local pool = Pool()
pool:map(worker1, {0, 1})
pool:map(worker2, {3, 4, 5})
