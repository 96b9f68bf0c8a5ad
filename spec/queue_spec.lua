-- gevent.queue: Queue, LifoQueue, PriorityQueue, JoinableQueue, Channel,
-- Empty and Full. Orders of hand-offs between putters and getters are the
-- ones gevent 22.10 prints for the same programs (checked against
-- /usr/bin/python3 with python3-gevent).
local gevent = require "gevent"
local queue = require "gevent.queue"
local event = require "gevent.event"
local Queue, LifoQueue, PriorityQueue = queue.Queue, queue.LifoQueue,
  queue.PriorityQueue
local JoinableQueue, Channel = queue.JoinableQueue, queue.Channel
local Empty, Full = queue.Empty, queue.Full

-- Runs greenlets that put and get on q as spec says, logging each step in
-- the format of the Python version of the same program; returns the log.
-- spec: {kind, name, arg, yield}: 'p' puts the items in arg, 'g' gets arg
-- items, 'k' peeks arg times, 's' makes the main greenlet sleep(0).
local function scenario(q, spec)
  local log = {}
  local function say(fmt, ...) log[#log + 1] = fmt:format(...) end
  local function putter(name, items, yield)
    for _, it in ipairs(items) do
      say("%s put %s size %d", name, it, q:qsize())
      q:put(it)
      say("%s put done %s size %d", name, it, q:qsize())
      if yield then gevent.sleep(0) end
    end
  end
  local function getter(name, n, yield, peek)
    for _ = 1, n do
      say("%s get, size %d", name, q:qsize())
      local it
      if peek then it = q:peek() else it = q:get() end
      say("%s got %s size %d", name, it, q:qsize())
      if yield then gevent.sleep(0) end
    end
  end
  local gs = {}
  for _, s in ipairs(spec) do
    local kind, name, arg, yield = s[1], s[2], s[3], s[4]
    if kind == "p" then gs[#gs + 1] = gevent.spawn(putter, name, arg, yield)
    elseif kind == "k" then
      gs[#gs + 1] = gevent.spawn(getter, name, arg, yield, true)
    elseif kind == "s" then gevent.sleep(0)
    else gs[#gs + 1] = gevent.spawn(getter, name, arg, yield) end
  end
  gevent.joinall(gs)
  say("left %d", q:qsize())
  return log
end

local function range(a, b)
  local t = {}
  for i = a, b do t[#t + 1] = i end
  return t
end

-- The error a call raises (fails if it does not raise).
local function raises(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error")
  return err
end

describe("gevent.queue.Queue", function()
  it("is FIFO and reports its size", function()
    local q = Queue()
    assert.is_true(q:empty())
    assert.is_false(q:full())
    assert.is_nil(q.maxsize)
    for i = 1, 5 do q:put(i) end
    assert.are.equal(5, q:qsize())
    assert.are.equal(5, #q)
    assert.is_false(q:empty())
    local got = {}
    for i = 1, 5 do got[i] = q:get() end
    assert.are.same({1, 2, 3, 4, 5}, got)
    assert.are.equal(0, #q)
  end)

  it("keeps any Lua value intact, nil and false included", function()
    local q = Queue(10)
    local t, f = {}, function() end
    local items = {nil, false, 0, "", t, f, 0 / 0, math.huge}
    for i = 1, 8 do q:put(items[i]) end
    assert.are.equal(8, #q)
    assert.is_nil(q:get())
    assert.is_false(q:get())
    assert.are.equal(0, q:get())
    assert.are.equal("", q:get())
    assert.are.equal(t, q:get())
    assert.are.equal(f, q:get())
    local nan = q:get()
    assert.is_true(nan ~= nan)
    assert.are.equal(math.huge, q:get())
    assert.is_true(q:empty())
  end)

  it("keeps nil items intact through blocked putters and getters", function()
    local q = Queue(1)
    q:put(nil)
    local done = false
    local p = gevent.spawn(function() q:put(nil); q:put(false); done = true end)
    gevent.sleep(0)
    assert.is_false(done)
    local got = {}
    for i = 1, 3 do got[i] = {q:get()} end
    p:join()
    assert.are.same({{nil}, {nil}, {false}}, got)
    local g = gevent.spawn(function() return "got", q:get() end)
    gevent.sleep(0)
    q:put(nil)
    local tag, v = g:get()
    assert.are.equal("got", tag)
    assert.is_nil(v)
  end)

  it("grows its ring past many wraps", function()
    local q = Queue()
    local n, want = 0, 1
    for round = 1, 50 do
      for _ = 1, round * 3 do n = n + 1; q:put(n) end
      for _ = 1, round * 2 do
        assert.are.equal(want, q:get())
        want = want + 1
      end
    end
    while not q:empty() do
      assert.are.equal(want, q:get())
      want = want + 1
    end
    assert.are.equal(n + 1, want)
  end)

  it("takes items to start with", function()
    local q = Queue(nil, {"a", "b"})
    assert.are.equal(2, #q)
    assert.are.equal("a", q:get())
    q = Queue{maxsize = 2, items = {"x"}}
    assert.are.equal(2, q.maxsize)
    assert.are.equal("x", q:get())
  end)

  it("treats maxsize nil or 0 as unbounded, and can change it", function()
    local q = Queue(0)
    assert.is_nil(q.maxsize)
    for i = 1, 100 do q:put_nowait(i) end
    assert.is_false(q:full())
    q = Queue(2)
    q:put(1); q:put(2)
    assert.is_true(q:full())
    q.maxsize = 3
    assert.are.equal(3, q.maxsize)
    assert.is_false(q:full())
    q.maxsize = nil
    assert.is_nil(q.maxsize)
  end)

  it("raises Empty and Full instances from the nowait forms", function()
    local q = Queue(1)
    local e = raises(q.get_nowait, q)
    assert.is_true(Empty:is(e))
    assert.is_false(Full:is(e))
    assert.are.equal("Empty", tostring(e))
    q:put_nowait(1)
    e = raises(q.put_nowait, q, 2)
    assert.is_true(Full:is(e))
    assert.are.equal("Full", tostring(e))
    assert.are.equal(1, q:get{block = false})
    assert.is_true(Empty:is(raises(q.get, q, false)))
    assert.is_true(Empty:is(raises(q.get, q, {block = false})))
  end)

  it("times out get with Empty and put with Full, positionally or by options", function()
    local q = Queue(1)
    local late = false
    gevent.spawn(function() gevent.sleep(0.3); late = true end)
    assert.is_true(Empty:is(raises(q.get, q, true, 0.02)))
    assert.is_true(Empty:is(raises(q.get, q, {timeout = 0.02})))
    assert.is_true(Empty:is(raises(q.peek, q, true, 0)))
    q:put("x")
    assert.is_true(Full:is(raises(q.put, q, "y", true, 0.02)))
    assert.is_true(Full:is(raises(q.put, q, "y", {timeout = 0.02})))
    assert.is_false(late)
    assert.are.equal("x", q:get())
    assert.is_true(q:empty())
  end)

  it("takes a Timeout as timeout: raises it, and cancels it when done", function()
    local q = Queue(1)
    local t = gevent.Timeout(0.02)
    assert.are.equal(t, raises(q.get, q, true, t))
    t = gevent.Timeout.start_new(5)
    gevent.spawn(function() q:put(1) end)
    assert.are.equal(1, q:get(true, t))
    assert.is_false(t.pending) -- as gevent: a wait cancels its timer
    t = gevent.Timeout.start_new(5)
    q:put(2)
    assert.are.equal(2, q:get(true, t)) -- no wait: left alone
    assert.is_true(t.pending)
    t:cancel()
    t = gevent.Timeout(0.02, "custom")
    q:put(1)
    assert.are.equal("custom", raises(q.put, q, 2, {timeout = t}))
    assert.are.equal(1, #q)
  end)

  it("wakes blocked getters in FIFO order", function()
    local q, log = Queue(), {}
    local gs = {}
    for i = 1, 3 do
      gs[i] = gevent.spawn(function()
        local v = q:get()
        log[#log + 1] = i .. ":" .. v
      end)
    end
    gevent.sleep(0)
    for _, v in ipairs{"a", "b", "c"} do q:put(v) end
    gevent.joinall(gs)
    assert.are.same({"1:a", "2:b", "3:c"}, log)
  end)

  it("hands items between putters and getters in gevent's order (maxsize 1)", function()
    local log = scenario(Queue(1), {
      {"p", "P1", {1, 2, 3}, false}, {"p", "P2", {4, 5}, true},
      {"g", "G1", 3, false}, {"g", "G2", 2, true}})
    assert.are.same({
      "P1 put 1 size 0", "P1 put done 1 size 1", "P1 put 2 size 1",
      "P2 put 4 size 1", "G1 get, size 1", "G1 got 1 size 0",
      "G1 get, size 0", "G2 get, size 0", "P1 put done 2 size 1",
      "P1 put 3 size 1", "G1 got 2 size 0", "G1 get, size 0",
      "P2 put done 4 size 1", "G2 got 4 size 0", "P1 put done 3 size 1",
      "G1 got 3 size 0", "P2 put 5 size 0", "P2 put done 5 size 1",
      "G2 get, size 1", "G2 got 5 size 0", "left 0",
    }
, log)
  end)

  it("hands items in gevent's order (maxsize 3, three workers)", function()
    local log = scenario(Queue(3), {
      {"p", "P1", range(1, 9), true}, {"p", "P2", range(10, 15), false},
      {"g", "G1", 5, true}, {"g", "G2", 5, false}, {"g", "G3", 5, true}})
    assert.are.same({
      "P1 put 1 size 0", "P1 put done 1 size 1", "P2 put 10 size 1",
      "P2 put done 10 size 2", "P2 put 11 size 2", "P2 put done 11 size 3",
      "P2 put 12 size 3", "G1 get, size 3", "G1 got 1 size 2",
      "G2 get, size 2", "G2 got 10 size 1", "G2 get, size 1",
      "G2 got 11 size 0", "G2 get, size 0", "G3 get, size 0",
      "P1 put 2 size 0", "P1 put done 2 size 1", "P2 put done 12 size 2",
      "P2 put 13 size 2", "P2 put done 13 size 3", "P2 put 14 size 3",
      "G2 got 2 size 2", "G2 get, size 2", "G2 got 12 size 1",
      "G2 get, size 1", "G2 got 13 size 0", "P2 put done 14 size 1",
      "P2 put 15 size 1", "P2 put done 15 size 2", "G3 got 14 size 1",
      "G1 get, size 1", "G1 got 15 size 0", "P1 put 3 size 0",
      "P1 put done 3 size 1", "G3 get, size 1", "G3 got 3 size 0",
      "G1 get, size 0", "P1 put 4 size 0", "P1 put done 4 size 1",
      "G3 get, size 1", "G3 got 4 size 0", "P1 put 5 size 0",
      "P1 put done 5 size 1", "G3 get, size 1", "G3 got 5 size 0",
      "P1 put 6 size 0", "P1 put done 6 size 1", "G3 get, size 1",
      "G3 got 6 size 0", "P1 put 7 size 0", "P1 put done 7 size 1",
      "G1 got 7 size 0", "P1 put 8 size 0", "P1 put done 8 size 1",
      "G1 get, size 1", "G1 got 8 size 0", "P1 put 9 size 0",
      "P1 put done 9 size 1", "G1 get, size 1", "G1 got 9 size 0", "left 0",
    }
, log)
  end)

  it("runs the boss/worker tutorial with maxsize 3 as gevent does", function()
    local tasks, log = Queue(3), {}
    local function worker(n)
      local _, err = pcall(function()
        while true do
          local task = tasks:get{timeout = 0.05}
          log[#log + 1] = n .. " got " .. task
          gevent.sleep(0)
        end
      end)
      assert(Empty:is(err), tostring(err))
      log[#log + 1] = n .. " quits"
    end
    local function boss()
      for i = 1, 7 do
        tasks:put(i)
        log[#log + 1] = "size " .. tasks:qsize()
      end
      log[#log + 1] = "boss done"
    end
    gevent.joinall({gevent.spawn(boss), gevent.spawn(worker, "steve"),
                    gevent.spawn(worker, "john"), gevent.spawn(worker, "bob")})
    assert.are.same({
      "size 1", "size 2", "size 3", "steve got 1", "john got 2", "bob got 3",
      "size 1", "size 2", "size 3", "steve got 4", "john got 5", "bob got 6",
      "size 1", "boss done", "steve got 7",
      "john quits", "bob quits", "steve quits"}, log)
  end)

  it("removes a getter killed while blocked: the next put goes to the next one", function()
    local q, log = Queue(), {}
    local function getter(name)
      local v = q:get()
      log[#log + 1] = name .. " " .. v
    end
    local a = gevent.spawn(getter, "a")
    local b = gevent.spawn(getter, "b")
    local c = gevent.spawn(getter, "c")
    gevent.sleep(0)
    a:kill()
    assert.is_true(a.dead)
    q:put("x")
    gevent.sleep(0)
    assert.are.same({"b x"}, log)
    q:put("y")
    gevent.joinall({b, c})
    assert.are.same({"b x", "c y"}, log)
  end)

  it("removes a getter that timed out", function()
    local q, log = Queue(), {}
    local a = gevent.spawn(function()
      local _, err = pcall(q.get, q, true, 0.01)
      log[#log + 1] = Empty:is(err) and "a Empty" or "a ?"
    end)
    local b = gevent.spawn(function()
      local v = q:get()
      log[#log + 1] = "b " .. v
    end)
    gevent.sleep(0.05)
    q:put("x")
    gevent.joinall({a, b})
    assert.are.same({"a Empty", "b x"}, log)
  end)

  it("drops the item of a putter killed while blocked", function()
    local q = Queue(1)
    q:put("first")
    local p1 = gevent.spawn(q.put, q, "killed")
    local p2 = gevent.spawn(q.put, q, "second")
    gevent.sleep(0)
    p1:kill()
    assert.are.equal("first", q:get())
    assert.are.equal("second", q:get())
    p2:join()
    assert.is_true(p2:successful())
    assert.is_true(q:empty())
  end)

  it("peeks without removing, and blocked peekers see the first put", function()
    local log = scenario(Queue(2), {
      {"k", "K1", 1, false}, {"g", "G1", 2, false}, {"k", "K2", 2, true},
      {"p", "P1", {1, 2, 3}, false}})
    assert.are.same({
      "K1 get, size 0", "G1 get, size 0", "K2 get, size 0",
      "P1 put 1 size 0", "P1 put done 1 size 1", "P1 put 2 size 1",
      "P1 put done 2 size 2", "P1 put 3 size 2", "K1 got 1 size 2",
      "G1 got 1 size 1", "G1 get, size 1", "G1 got 2 size 0",
      "P1 put done 3 size 1", "K2 got 3 size 1", "K2 get, size 1",
      "K2 got 3 size 1", "left 1",
    }
, log)
    local q = Queue()
    assert.is_true(Empty:is(raises(q.peek_nowait, q)))
    q:put("a"); q:put("b")
    assert.are.equal("a", q:peek())
    assert.are.equal("a", q:peek_nowait())
    assert.are.equal(2, #q)
  end)

  it("fails with LoopExit when the main greenlet waits on it forever", function()
    local q = Queue()
    local err = raises(q.get, q)
    assert.is_true(gevent.LoopExit:is(err))
    assert.matches("Queue.get", tostring(err), 1, true)
  end)

  it("follows gevent's rules when used from the hub (a link callback)", function()
    local q, ev, log = Queue(1), event.Event(), {}
    q:put("a")
    local p = gevent.spawn(function() q:put("b"); log[#log + 1] = "put b" end)
    gevent.sleep(0)
    ev:rawlink(function()
      log[#log + 1] = "cb " .. q:get()
      log[#log + 1] = "cb " .. q:get() -- takes the blocked putter's item
      local _, err = pcall(q.get, q)
      log[#log + 1] = Empty:is(err) and "cb Empty" or "cb ?"
      q:put("z")
      _, err = pcall(q.put, q, "w")
      log[#log + 1] = Full:is(err) and "cb Full" or "cb ?"
    end)
    ev:set()
    p:join()
    -- gevent runs the putter inside the callback, before "cb b"; here it
    -- runs right after the callback
    assert.are.same({"cb a", "cb b", "cb Empty", "cb Full", "put b"}, log)
    assert.are.equal("z", q:get())
  end)

  it("checks its arguments", function()
    assert.matches("^bad argument #1 to 'gevent.queue.Queue' %(maxsize must "
                   .. "not be negative%)$", raises(Queue, -1))
    assert.matches("maxsize must be an integer", raises(Queue, 1.5))
    assert.matches("maxsize must be a number or nil", raises(Queue, "x"))
    assert.matches("items must be a table", raises(Queue, 3, 4))
    assert.matches("gevent.Queue expected, got nil", raises(Queue().put, nil, 1))
    assert.matches("gevent.Queue expected, got table",
                   raises(Queue().get, {}))
    local q = Queue()
    assert.matches("number or gevent.Timeout expected",
                   raises(q.get, q, true, "soon"))
    assert.matches("value expected", raises(q.put, q))
    assert.matches("cannot set field", raises(function() q.x = 1 end))
  end)

  it("cannot block from the hub", function()
    local q, ev, ok, err = Queue(1), event.Event(), nil, nil
    q:put(1)
    ev:rawlink(function() ok, err = pcall(q.peek, q, true, 1) end)
    ev:set()
    gevent.sleep(0)
    assert.are.same({true, 1}, {ok, err}) -- not empty: peek does not block
    q:get()
    local ch, errs = Channel(), {}
    local ev2 = event.Event()
    ev2:rawlink(function()
      errs[1] = select(2, pcall(q.peek, q)) -- gevent: Empty, not a wait
      errs[2] = select(2, pcall(ch.get, ch))
    end)
    ev2:set()
    gevent.sleep(0)
    assert.is_true(Empty:is(errs[1]))
    assert.matches("cannot block in the hub", errs[2])
  end)

  it("prints its state", function()
    local q = Queue(3)
    q:put(1)
    assert.are.equal("<Queue maxsize=3 qsize=1>", tostring(q))
    assert.are.equal("<class Queue>", tostring(Queue))
  end)
end)

describe("gevent.queue.LifoQueue", function()
  it("gets the most recent item first", function()
    local q = LifoQueue()
    for i = 1, 4 do q:put(i) end
    assert.are.equal(4, q:peek())
    local got = {}
    for i = 1, 4 do got[i] = q:get() end
    assert.are.same({4, 3, 2, 1}, got)
  end)

  it("blocks putters when bounded, in gevent's order", function()
    local log = scenario(LifoQueue(2), {{"p", "P1", {1, 2, 3, 4, 5}, false},
                                        {"g", "G1", 5, true}})
    assert.are.same({
      "P1 put 1 size 0", "P1 put done 1 size 1", "P1 put 2 size 1",
      "P1 put done 2 size 2", "P1 put 3 size 2", "G1 get, size 2",
      "G1 got 2 size 1", "P1 put done 3 size 2", "P1 put 4 size 2",
      "G1 get, size 2", "G1 got 3 size 1", "P1 put done 4 size 2",
      "P1 put 5 size 2", "G1 get, size 2", "G1 got 4 size 1",
      "P1 put done 5 size 2", "G1 get, size 2", "G1 got 5 size 1",
      "G1 get, size 1", "G1 got 1 size 0", "left 0"}, log)
  end)
end)

describe("gevent.queue.PriorityQueue", function()
  it("orders by < by default", function()
    local q = PriorityQueue()
    for _, v in ipairs{5, 3, 8, 1, 9, 2, 7} do q:put(v) end
    assert.are.equal(1, q:peek())
    local got = {}
    for i = 1, 7 do got[i] = q:get() end
    assert.are.same({1, 2, 3, 5, 7, 8, 9}, got)
  end)

  it("takes a comparator; equal keys come out as heapq orders them", function()
    local byprio = function(a, b) return a[1] < b[1] end
    local q = PriorityQueue(byprio)
    for _, it in ipairs{{2, "a"}, {1, "b"}, {2, "c"}, {1, "d"}, {3, "e"},
                        {2, "f"}, {1, "g"}} do
      q:put(it)
    end
    local got = {}
    for i = 1, 7 do got[i] = q:get()[2] end
    assert.are.same({"b", "g", "d", "f", "a", "c", "e"}, got)
    -- initial items are heapified as heapq.heapify does
    q = PriorityQueue{cmp = byprio, items = {{5, "a"}, {1, "b"}, {5, "c"},
      {1, "d"}, {3, "e"}, {2, "f"}, {1, "g"}, {5, "h"}, {2, "i"}}}
    got = {}
    for i = 1, 9 do got[i] = q:get()[2] end
    assert.are.same({"g", "d", "b", "f", "i", "e", "a", "h", "c"}, got)
    q = PriorityQueue(2, function(a, b) return a > b end)
    q:put(1); q:put(3)
    assert.is_true(q:full())
    assert.are.equal(3, q:get())
  end)

  it("raises the comparison's error", function()
    local q = PriorityQueue()
    q:put(1)
    assert.matches("attempt to compare", raises(q.put, q, "x"))
    assert.matches("comparator must be callable",
                   raises(PriorityQueue, nil, nil, 5))
  end)
end)

describe("gevent.queue.JoinableQueue", function()
  it("counts unfinished tasks and join waits for them", function()
    local q, log = JoinableQueue(), {}
    assert.are.equal(0, q.unfinished_tasks)
    assert.is_true(q:join())
    local function worker(n)
      while true do
        local it = q:get()
        log[#log + 1] = n .. " task " .. it
        gevent.sleep(0)
        q:task_done()
        log[#log + 1] = n .. " done " .. it .. " " .. q.unfinished_tasks
      end
    end
    local ws = {gevent.spawn(worker, 0), gevent.spawn(worker, 1)}
    for i = 0, 4 do q:put(i) end
    assert.are.equal(5, q.unfinished_tasks)
    assert.is_true(q:join())
    assert.are.same({
      "0 task 0", "1 task 1", "0 done 0 4", "0 task 2", "1 done 1 3",
      "1 task 3", "0 done 2 2", "0 task 4", "1 done 3 1", "0 done 4 0"}, log)
    gevent.killall(ws)
  end)

  it("join times out with false", function()
    local q = JoinableQueue(nil, {"a"})
    assert.are.equal(1, q.unfinished_tasks)
    assert.is_false(q:join(0.01))
    assert.is_false(q:join{timeout = 0})
    q:get()
    q:task_done()
    assert.is_true(q:join(0))
  end)

  it("rejects too many task_done calls", function()
    local q = JoinableQueue()
    assert.matches("task_done%(%) called too many times",
                   raises(q.task_done, q))
    assert.matches("gevent.JoinableQueue expected",
                   raises(q.task_done, Queue()))
  end)
end)

describe("gevent.queue.Channel", function()
  it("hands items over without buffering them", function()
    local ch = Channel()
    assert.are.equal(0, ch:qsize())
    assert.are.equal(0, #ch)
    assert.is_true(ch:empty())
    assert.is_true(ch:full())
    assert.are.equal(1, ch.maxsize)
    local done = false
    local p = gevent.spawn(function() ch:put("x"); done = true end)
    gevent.sleep(0.01)
    assert.is_false(done) -- no getter yet
    assert.are.equal(1, ch.balance)
    assert.are.equal("x", ch:get())
    p:join()
    assert.is_true(done)
    assert.are.equal(0, ch.balance)
  end)

  it("pairs putters and getters in gevent's order", function()
    local log = scenario(Channel(), {
      {"p", "P1", {1, 2}, false}, {"g", "G1", 1, false},
      {"p", "P2", {3}, true}, {"g", "G2", 2, true}})
    assert.are.same({
      "P1 put 1 size 0", "G1 get, size 0", "P2 put 3 size 0",
      "G2 get, size 0", "G1 got 1 size 0", "P1 put done 1 size 0",
      "P1 put 2 size 0", "G2 got 3 size 0", "P2 put done 3 size 0",
      "G2 get, size 0", "G2 got 2 size 0", "P1 put done 2 size 0", "left 0",
    }
, log)
  end)

  it("put_nowait needs a waiting getter, get_nowait a waiting putter", function()
    local ch = Channel()
    assert.is_true(Full:is(raises(ch.put_nowait, ch, 1)))
    assert.is_true(Empty:is(raises(ch.get_nowait, ch)))
    local g = gevent.spawn(ch.get, ch)
    gevent.sleep(0)
    assert.are.equal(-1, ch.balance)
    ch:put_nowait(nil)
    assert.is_true(g:successful())
    assert.is_nil(g.value)
    local p = gevent.spawn(ch.put, ch, "v")
    gevent.sleep(0)
    assert.are.equal("v", ch:get_nowait())
    p:join()
  end)

  it("times out, and forgets a killed getter", function()
    local ch = Channel()
    assert.is_true(Empty:is(raises(ch.get, ch, true, 0.01)))
    assert.is_true(Full:is(raises(ch.put, ch, 1, {timeout = 0.01})))
    local a = gevent.spawn(ch.get, ch)
    local b = gevent.spawn(ch.get, ch)
    gevent.sleep(0)
    a:kill()
    ch:put("x")
    assert.are.equal("x", b:get())
    assert.matches("Channels have a maxsize of 1", raises(Channel, 2))
    assert.matches("cannot peek", raises(Queue.peek, ch))
  end)
end)

-- Issue 9, a mutation-run gap: the FIFO ring wraps around, grows while
-- wrapped and drops a big empty ring; against a plain Lua list.
describe("Queue's ring", function()
  it("keeps FIFO order across wrap-around, growth and shrinking", function()
    local q = Queue()
    local model, head, tail = {}, 1, 0 -- items model[head..tail]
    local seed = 12345
    local function rnd(n) -- deterministic: the same ops every run
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    end
    local nextv = 0
    for round = 1, 4000 do
      -- phases: mostly puts (grow), mostly gets (drain), mixed (wrap)
      local phase = (round // 500) % 3
      local put = phase == 0 and rnd(4) > 0 or phase == 1 and rnd(4) == 0
                  or phase == 2 and rnd(2) == 0
      if put or head > tail then
        nextv = nextv + 1
        q:put_nowait(nextv)
        tail = tail + 1
        model[tail] = nextv
      else
        assert.are.equal(model[head], q:get_nowait())
        model[head] = nil
        head = head + 1
      end
      assert.are.equal(tail - head + 1, q:qsize())
    end
    -- a big ring drained to empty, then refilled
    for i = 1, 3000 do q:put_nowait(-i) end
    while head <= tail do
      assert.are.equal(model[head], q:get_nowait()); head = head + 1
    end
    for i = 1, 3000 do assert.are.equal(-i, q:get_nowait()) end
    assert.is_true(q:empty())
    for i = 1, 20 do q:put_nowait(i) end
    for i = 1, 20 do assert.are.equal(i, q:get_nowait()) end
  end)
end)
