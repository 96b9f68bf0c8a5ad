-- The hub: timer order, idle, LoopExit that explains itself, misuse from
-- hub context, errors printed with the spawn site.
local gevent = require "gevent"
local core = require "gvlua"

describe("the hub", function()
  it("fires timers in deadline order, equal deadlines in start order", function()
    local log = {}
    local gs = {}
    for i, d in ipairs({0.02, 0.01, 0.02, 0.01, 0.0}) do
      gs[i] = gevent.spawn(function() gevent.sleep(d); log[#log + 1] = i end)
    end
    gevent.joinall(gs)
    assert.are.same({5, 2, 4, 1, 3}, log)
  end)

  it("sleeps at least the requested time", function()
    local t0 = os.time()
    local c0 = require("socket").gettime()
    gevent.sleep(0.05)
    local elapsed = require("socket").gettime() - c0
    assert.is_true(elapsed >= 0.045, "slept " .. elapsed)
    assert.is_true(os.time() - t0 < 5)
  end)

  it("idle waits until nothing else is ready", function()
    local log = {}
    local busy = gevent.spawn(function()
      for i = 1, 3 do log[#log + 1] = "busy" .. i; gevent.sleep(0) end
    end)
    local idler = gevent.spawn(function() gevent.idle(); log[#log + 1] = "idle" end)
    gevent.joinall({busy, idler})
    assert.are.same({"busy1", "busy2", "busy3", "idle"}, log)
  end)

  it("raises LoopExit in the main greenlet when it would wait forever", function()
    local never = gevent.Greenlet(function() end) -- never started
    local waiter = gevent.spawn(function() never:join() end)
    local ok, err = pcall(never.join, never)
    assert.is_false(ok)
    assert.is_true(gevent.LoopExit:is(err))
    local msg = tostring(err)
    assert.matches("^LoopExit: This operation would block forever", msg)
    -- it names the blocked greenlets, where they came from and their waits
    assert.matches(waiter.name, msg, 1, true)
    assert.matches("hub_spec.lua", msg, 1, true)
    assert.matches("waits on join", msg, 1, true)
    waiter:kill()
  end)

  it("keeps waiting while a timer is pending, then finishes", function()
    local g = gevent.spawn(gevent.sleep, 0.01)
    assert.is_true(g:join())
  end)

  it("refuses to block from a hub callback", function()
    local msg
    local g = gevent.spawn(function() end)
    g:rawlink(function() msg = select(2, pcall(gevent.sleep, 0)) end)
    g:join()
    assert.matches("cannot block in the hub", msg)
  end)

  it("reports an error escaping a greenlet and keeps running others", function()
    local other = gevent.spawn(gevent.sleep, 0.001)
    local bad = gevent.spawn(function() local x = nil; return x.field end)
    gevent.joinall({bad, other})
    assert.is_false(bad:successful())
    assert.matches("attempt to index", tostring(bad.exception))
    assert.is_true(other:successful())
  end)

  it("gives wrong arguments clear errors", function()
    assert.has_error(function() gevent.sleep("soon") end)
    local ok, err = pcall(gevent.Greenlet.join, 42)
    assert.is_false(ok)
    assert.matches("gevent.Greenlet expected", err)
    ok, err = pcall(function() gevent.spawn(function() end):join("x") end)
    assert.is_false(ok)
    assert.matches("number or gevent.Timeout expected", err)
  end)

  it("leaves the hub empty after each test", function()
    gevent.sleep(0.001)
    local s = core._stats()
    assert.are.equal(0, s.alive)
    assert.are.equal(0, s.timers)
  end)
end)

-- Issue 9, gaps a mutation run found: each of these fails at once (bounded
-- by a deadline or a timeout) if the code it guards is broken, instead of
-- hanging the suite.
describe("the hub under mutation", function()
  local socket = require "gevent.socket"
  local mono = core._monotonic

  it("lets timers and I/O run while a greenlet loops on sleep(0)", function()
    -- the run queue is run in batches: a greenlet that requeues itself
    -- must not keep the hub from polling
    local l = assert(socket.bind("127.0.0.1", 0))
    local c = assert(socket.connect("127.0.0.1", tonumber((select(2, l:getsockname())))))
    local s = assert(l:accept())
    local timer_fired, io_seen = false, false
    gevent.spawn_later(0.01, function() timer_fired = true end)
    local reader = gevent.spawn(function() io_seen = s:receive(1) == "x" end)
    c:send("x")
    local spins, deadline = 0, mono() + 3
    local spinner = gevent.spawn(function()
      while not (timer_fired and io_seen) and mono() < deadline do
        spins = spins + 1
        gevent.sleep(0)
      end
    end)
    assert.is_true(spinner:join(5))
    assert.is_true(timer_fired, "the timer never fired")
    assert.is_true(io_seen, "the socket was never read")
    assert.is_true(reader.dead)
    assert.is_true(spins > 0)
    c:close(); s:close(); l:close()
  end)

  it("idle waits for greenlets a timer made ready in the same iteration", function()
    local log = {}
    local b = gevent.spawn(function()
      gevent.sleep(0.005)
      gevent.sleep(0) -- ready again at once: the hub is not idle yet
      gevent.sleep(0)
      log[#log + 1] = "b"
    end)
    gevent.sleep(0)                  -- b waits on its timer
    local t = mono() + 0.02          -- which expires meanwhile, unpolled
    while mono() < t do end
    gevent.idle()
    log[#log + 1] = "idle"
    assert.is_true(b:join(1))
    assert.are.same({"b", "idle"}, log)
  end)

  it("idle waits for greenlets I/O made ready in the same iteration", function()
    local r, w = socket.udp4(), socket.udp4()
    r:setsockname("127.0.0.1", 0)
    local ip, port = r:getsockname()
    local log = {}
    local b = gevent.spawn(function()
      r:receive()
      gevent.sleep(0)
      gevent.sleep(0)
      log[#log + 1] = "b"
    end)
    gevent.sleep(0)                  -- b waits on the socket
    w:sendto("x", ip, port)          -- readable now, unpolled
    gevent.idle()
    log[#log + 1] = "idle"
    assert.is_true(b:join(1))
    assert.are.same({"b", "idle"}, log)
    r:close(); w:close()
  end)

  it("killing a spawn_later greenlet before it starts leaves no timer", function()
    local ran = false
    local g = gevent.spawn_later(3, function() ran = true end)
    assert.are.equal(1, core._stats().timers)
    g:kill()
    assert.are.equal(0, core._stats().timers)
    if core._stats().alive == 0 then -- (no greenlet left by other specs)
      local t0 = mono()
      gevent.wait() -- returns at once: nothing left (broken: after 3 s)
      assert.is_true(mono() - t0 < 1, "wait() took " .. (mono() - t0))
    end
    assert.is_false(ran)
    -- start_later likewise
    local h = gevent.Greenlet(function() ran = true end)
    h:start_later(30)
    h:kill()
    assert.are.equal(0, core._stats().timers)
    assert.is_false(ran)
  end)
end)

-- Wake-ups that used to be checked only by the whole suite hanging: each
-- waiter must be woken by the matching call, within a bounded wait.
describe("wake-ups", function()
  local event = require "gevent.event"
  local queue = require "gevent.queue"
  local lock = require "gevent.lock"
  local pool = require "gevent.pool"

  local function woken(setup, wake)
    local got = {}
    local waiter = gevent.spawn(function() got.v = setup() end)
    gevent.sleep(0)                       -- it blocks
    assert.is_false(waiter.dead, "did not block")
    wake()
    assert.is_true(waiter:join(1), "not woken")
    assert.is_true(waiter:successful(), tostring(waiter.exception))
    return got.v
  end

  it("by Event.set and AsyncResult.set/set_exception", function()
    local e = event.Event()
    assert.is_true(woken(function() return e:wait() end, function() e:set() end))
    local a = event.AsyncResult()
    assert.are.equal(7, woken(function() return a:get() end,
                              function() a:set(7) end))
    local b = event.AsyncResult()
    assert.are.equal("x", woken(function() return select(2, pcall(b.get, b)) end,
                                function() b:set_exception("x") end))
  end)

  it("by Queue put and get, Channel hand-off, JoinableQueue task_done", function()
    local q = queue.Queue()
    assert.are.equal(1, woken(function() return q:get() end,
                              function() q:put(1) end))
    local full = queue.Queue(1)
    full:put("a")
    woken(function() return full:put("b") end, function() full:get() end)
    assert.are.equal("b", full:get())
    local ch = queue.Channel()
    assert.are.equal(2, woken(function() return ch:get() end,
                              function() gevent.spawn(ch.put, ch, 2) end))
    local jq = queue.JoinableQueue()
    jq:put(1)
    jq:get()
    woken(function() return jq:join() end, function() jq:task_done() end)
  end)

  it("by lock releases and greenlet deaths", function()
    local s = lock.Semaphore(1)
    s:acquire()
    woken(function() return s:acquire() end, function() s:release() end)
    s:release()
    local rl = lock.RLock()
    rl:acquire()
    woken(function() return rl:acquire() end, function() rl:release() end)
    local g = gevent.spawn(gevent.sleep, 30)
    woken(function() return g:join() end, function() g:kill() end)
    local p = pool.Pool(1)
    local busy = p:spawn(gevent.sleep, 30)
    woken(function() return p:wait_available() end, function() busy:kill() end)
  end)
end)
