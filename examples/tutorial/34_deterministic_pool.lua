-- Greenlets are deterministic (seed 002): the same input gives the same
-- order every run, unlike OS threads.
-- Adapted: the non-deterministic half uses gevent's ThreadPool (OS threads)
-- instead of multiprocessing, collecting results in completion order with
-- gevent.iwait. echo busy-waits 1 ms of CPU time, so it works the same in a
-- thread and in a greenlet.
local gevent = require "gevent"
local ThreadPool = require("gevent.threadpool").ThreadPool
local Pool = require("gevent.pool").Pool

local function echo(i)
  local t0 = os.clock()
  while os.clock() - t0 < 0.001 do end
  return i
end

local function same(first, ...)
  for _, run in ipairs({...}) do
    if #run ~= #first then return false end
    for i = 1, #first do
      if run[i] ~= first[i] then return false end
    end
  end
  return true
end

local items = {}
for i = 0, 9 do items[#items + 1] = i end

-- Non Deterministic Thread Pool

local function thread_run()
  local p = ThreadPool(10)
  local results = {}
  for _, i in ipairs(items) do
    results[#results + 1] = p:spawn(echo, i)
  end
  local run = {}
  for r in gevent.iwait(results) do
    run[#run + 1] = r:get()
  end
  p:kill()
  return run
end

local run1 = thread_run()
local run2 = thread_run()
local run3 = thread_run()
local run4 = thread_run()

print("thread pool runs equal: " .. tostring(same(run1, run2, run3, run4)))

-- Deterministic Gevent Pool

local p = Pool(10)
local function pool_run()
  local run = {}
  for _, a in p:imap_unordered(echo, items) do
    run[#run + 1] = a
  end
  return run
end
run1 = pool_run()
run2 = pool_run()
run3 = pool_run()
run4 = pool_run()

print(same(run1, run2, run3, run4))
