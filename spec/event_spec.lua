-- gevent.event: Event and AsyncResult. The orders of wake-ups are the ones
-- gevent 22.10 prints for the same programs (checked against
-- /usr/bin/python3 with python3-gevent).
local gevent = require "gevent"
local event = require "gevent.event"
local Event, AsyncResult = event.Event, event.AsyncResult

-- The error a call raises (fails if it does not raise).
local function raises(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error")
  return err
end

describe("gevent.event.Event", function()
  it("starts clear; set, clear, is_set, ready", function()
    local e = Event()
    assert.is_false(e:is_set())
    assert.is_false(e:ready())
    e:set()
    assert.is_true(e:is_set())
    assert.is_true(e:isSet())
    assert.is_true(e:ready())
    e:clear()
    assert.is_false(e:is_set())
    assert.are.equal("<Event clear _links[0]>", tostring(e))
    assert.are.equal("<class Event>", tostring(Event))
  end)

  it("wait returns true at once when set", function()
    local e = Event()
    e:set()
    assert.is_true(e:wait())
    assert.is_true(e:wait(0))
  end)

  it("wakes every waiter, in FIFO order, when set (tutorial)", function()
    local e, log = Event(), {}
    local function setter()
      log[#log + 1] = "A: wait for me"
      gevent.sleep(0.02)
      log[#log + 1] = "done"
      e:set()
    end
    local function waiter(i)
      log[#log + 1] = "wait " .. i
      local r = e:wait()
      log[#log + 1] = "woke " .. i .. " " .. tostring(r)
    end
    local gs = {gevent.spawn(setter)}
    for i = 1, 5 do gs[#gs + 1] = gevent.spawn(waiter, i) end
    gevent.joinall(gs)
    assert.are.same({"A: wait for me", "wait 1", "wait 2", "wait 3", "wait 4",
      "wait 5", "done", "woke 1 true", "woke 2 true", "woke 3 true",
      "woke 4 true", "woke 5 true"}, log)
  end)

  it("runs the woken waiters before greenlets queued earlier, as gevent does", function()
    local e, log = Event(), {}
    local function say(s) log[#log + 1] = s end
    local function w(n)
      say("w" .. n .. " waits")
      local r = e:wait()
      say(("w%d woke %s %s"):format(n, r, e:is_set()))
      if n == 1 then
        e:clear(); say("w1 cleared")
        gevent.sleep(0); say("w1 after sleep")
      end
    end
    local function setter()
      e:set(); say("set")
      gevent.sleep(0); say("setter after sleep0")
      say("setter wait -> " .. tostring(e:wait(0.01)))
    end
    local function other()
      say("other runs"); gevent.sleep(0); say("other after sleep0")
    end
    gevent.joinall({gevent.spawn(w, 1), gevent.spawn(w, 2),
                    gevent.spawn(setter), gevent.spawn(other),
                    gevent.spawn(w, 3)})
    -- w2 and w3 were notified: their wait returns true although w1 cleared it
    assert.are.same({"w1 waits", "w2 waits", "set", "other runs", "w3 waits",
      "w1 woke true true", "w1 cleared", "w2 woke true false",
      "w3 woke true false", "setter after sleep0", "other after sleep0",
      "w1 after sleep", "setter wait -> false"}, log)
  end)

  it("makes a waiter on a set event wait its turn during a notification", function()
    local e, log = Event(), {}
    local function say(s) log[#log + 1] = s end
    local function cb(name) return function(obj)
      assert.are.equal(e, obj)
      say("cb " .. name)
    end end
    local c1, c2 = cb("c1"), cb("c2")
    local function w(n) say("w" .. n .. " waits"); say("w" .. n .. " woke " ..
                                                         tostring(e:wait())) end
    local function late() say("late waits"); say("late got " ..
                                                 tostring(e:wait())) end
    local function setter()
      e:rawlink(c2)
      e:set(); say("set")
      late()
      say("setter done")
    end
    e:rawlink(c1)
    local gs = {gevent.spawn(w, 1), gevent.spawn(w, 2)}
    gevent.sleep(0)
    gs[#gs + 1] = gevent.spawn(setter)
    gs[#gs + 1] = gevent.spawn(late)
    gevent.joinall(gs)
    assert.are.same({"w1 waits", "w2 waits", "set", "late waits",
      "late waits", "cb c1", "w1 woke true", "w2 woke true", "cb c2",
      "late got true", "setter done", "late got true"}, log)
    -- rawlink on a set event: called from the hub, not at once
    e:unlink(c1)
    e:rawlink(c1)
    say("linked")
    gevent.sleep(0)
    say("slept")
    assert.are.same({"linked", "cb c1", "slept"}, {table.unpack(log, 13)})
  end)

  it("times out with false (seconds, options, a Timeout)", function()
    local e = Event()
    assert.is_false(e:wait(0.01))
    assert.is_false(e:wait{timeout = 0})
    local t = gevent.Timeout(0.01)
    assert.is_false(e:wait(t)) -- it started it, caught it
    assert.is_false(t.pending)
    t = gevent.Timeout.start_new(5)
    gevent.spawn(function() e:set() end)
    assert.is_true(e:wait(t))
    assert.is_false(t.pending) -- as gevent, the wait cancels its timer
    e:clear()
    t = gevent.Timeout(0.01, "custom")
    assert.are.equal("custom", raises(e.wait, e, t))
    assert.are.equal(0, e:linkcount())
  end)

  it("forgets a waiter that timed out or was killed", function()
    local e, log = Event(), {}
    local a = gevent.spawn(function() log[#log + 1] = "a " ..
                                                      tostring(e:wait(0.01)) end)
    local b = gevent.spawn(function() e:wait(); log[#log + 1] = "b" end)
    local c = gevent.spawn(function() e:wait(); log[#log + 1] = "c" end)
    gevent.sleep(0)
    assert.are.equal(3, e:linkcount())
    b:kill()
    gevent.sleep(0.03)
    assert.are.equal(1, e:linkcount())
    e:set()
    gevent.joinall({a, b, c})
    assert.are.same({"a false", "c"}, log)
    assert.are.equal(0, e:linkcount())
  end)

  it("calls rawlinks in order with waiters; unlink removes; errors are reported", function()
    local e, log = Event(), {}
    local function bad() error("oops") end
    local function cb(obj) log[#log + 1] = "cb" end
    local function dropped() log[#log + 1] = "dropped" end
    e:rawlink(bad)
    local w = gevent.spawn(function() e:wait(); log[#log + 1] = "w" end)
    gevent.sleep(0)
    e:rawlink(cb)
    e:rawlink(dropped)
    e:unlink(dropped)
    e:unlink(function() end) -- not linked: nothing happens
    e:set()
    w:join()
    assert.are.same({"w", "cb"}, log)
    assert.matches("callable expected", raises(e.rawlink, e, 42))
  end)

  it("works with gevent.wait and gevent.iwait", function()
    local e1, e2 = Event(), Event()
    gevent.spawn_later(0.01, function() e2:set() end)
    local seen = {}
    for obj in gevent.iwait({e1, e2}, nil, 1) do seen[#seen + 1] = obj end
    assert.are.same({e2}, seen)
    assert.are.equal(0, #gevent.wait({e1}, 0.01))
    e1:set()
    assert.are.equal(2, #gevent.wait({e1, e2}))
    assert.are.equal(0, e1:linkcount())
  end)

  it("cannot be waited on from the hub", function()
    local e, trigger, err = Event(), Event(), nil
    trigger:rawlink(function() err = select(2, pcall(e.wait, e)) end)
    trigger:set()
    gevent.sleep(0)
    assert.matches("cannot block in the hub", err)
  end)

  it("fails with LoopExit when the main greenlet would wait forever", function()
    local err = raises(Event().wait, Event())
    assert.is_true(gevent.LoopExit:is(err))
    assert.matches("Event.wait", tostring(err), 1, true)
  end)

  it("checks its arguments", function()
    assert.matches("gevent.Event expected, got no value", raises(Event.set))
    assert.matches("gevent.Event expected, got gevent.AsyncResult",
                   raises(Event.wait, AsyncResult()))
    assert.matches("number or gevent.Timeout expected, got string",
                   raises(Event().wait, Event(), "soon"))
  end)
end)

describe("gevent.event.AsyncResult", function()
  it("carries a value to every getter (tutorial)", function()
    local a, log = AsyncResult(), {}
    local function setter()
      log[#log + 1] = "sleep"
      gevent.sleep(0.02)
      log[#log + 1] = "set start"
      a:set("Hello!")
      log[#log + 1] = "setted"
    end
    local function waiter(i)
      log[#log + 1] = "get " .. i
      local v = a:get()
      log[#log + 1] = i .. " " .. v
    end
    gevent.joinall({gevent.spawn(setter), gevent.spawn(waiter, 1),
                    gevent.spawn(waiter, 2)})
    assert.are.same({"sleep", "get 1", "get 2", "set start", "setted",
                     "1 Hello!", "2 Hello!"}, log)
    assert.is_true(a:ready())
    assert.is_true(a:successful())
    assert.are.equal("Hello!", a.value)
    assert.is_nil(a.exception)
    assert.are.equal("Hello!", a:get_nowait())
  end)

  it("can carry nil, and a later set replaces the value", function()
    local a = AsyncResult()
    assert.is_nil(a.value)
    assert.is_false(a:ready())
    a:set()
    assert.is_true(a:ready())
    assert.is_true(a:successful())
    assert.is_nil(a:get())
    local got = {}
    local b = AsyncResult()
    local gs = {gevent.spawn(function() got[1] = b:get() end),
                gevent.spawn(function() got[2] = b:get() end)}
    gevent.sleep(0)
    b:set(42)
    b:set(43)
    gevent.joinall(gs)
    assert.are.same({43, 43}, got)
  end)

  it("re-raises the stored error, the same value", function()
    local a = AsyncResult()
    local err = setmetatable({}, {__tostring = function() return "boom" end})
    local g = gevent.spawn(function() return pcall(a.get, a) end)
    gevent.sleep(0)
    a:set_exception(err)
    local ok, e = g:get()
    assert.is_false(ok)
    assert.are.equal(err, e)
    assert.are.equal(err, raises(a.get, a))
    assert.are.equal(err, raises(a.get_nowait, a))
    assert.is_true(a:ready())
    assert.is_false(a:successful())
    assert.are.equal(err, a.exception)
    assert.is_nil(a.value)
    assert.is_nil(a:wait()) -- wait gives the value, not the error
    assert.matches("<AsyncResult exception", tostring(a))
  end)

  it("raises Timeout when not ready: nowait, or after the timeout", function()
    local a = AsyncResult()
    local e = raises(a.get_nowait, a)
    assert.is_true(gevent.Timeout:is(e))
    assert.is_true(gevent.Timeout:is(raises(a.get, a, false)))
    e = raises(a.get, a, true, 0.01)
    assert.is_true(gevent.Timeout:is(e))
    assert.are.equal(0.01, e.seconds)
    assert.is_true(gevent.Timeout:is(raises(a.get, a, {timeout = 0.01})))
    local t = gevent.Timeout(0.01)
    assert.are.equal(t, raises(a.get, a, true, t))
    assert.are.equal(0, a:linkcount())
  end)

  it("wait returns the value, or nil on timeout", function()
    local a = AsyncResult()
    assert.is_nil(a:wait(0.01))
    assert.is_nil(a:wait{timeout = 0.01})
    gevent.spawn(function() a:set("v") end)
    assert.are.equal("v", a:wait())
    assert.are.equal("v", a:wait(0))
    assert.are.equal("v", a:result())
  end)

  it("forgets a getter killed while blocked", function()
    local a, log = AsyncResult(), {}
    local g1 = gevent.spawn(function() log[#log + 1] = "g1 " .. a:get() end)
    local g2 = gevent.spawn(function()
      local v = a:get()
      log[#log + 1] = "g2 " .. v
    end)
    gevent.sleep(0)
    g1:kill()
    a:set("x")
    gevent.joinall({g1, g2})
    assert.are.same({"g2 x"}, log)
  end)

  it("takes over a greenlet's outcome as its link", function()
    local g = gevent.spawn(function() return 7 end)
    local r = AsyncResult()
    g:link(r)
    assert.are.equal(7, r:get())
    local g2 = gevent.spawn(function() error("bad", 0) end)
    local r2 = AsyncResult()
    g2:link(r2)
    assert.are.equal("bad", raises(r2.get, r2))
  end)

  it("works with gevent.wait and rawlink", function()
    local a, seen = AsyncResult(), nil
    a:rawlink(function(obj) seen = obj end)
    gevent.spawn_later(0.01, function() a:set(1) end)
    local done = gevent.wait({a})
    assert.are.same({a}, done)
    assert.are.equal(a, seen)
  end)

  it("checks its arguments", function()
    assert.matches("gevent.AsyncResult expected, got gevent.Event",
                   raises(AsyncResult.set, Event(), 1))
    assert.matches("value expected",
                   raises(AsyncResult().set_exception, AsyncResult()))
    assert.matches("number or gevent.Timeout expected",
                   raises(AsyncResult().get, AsyncResult(), true, {}))
  end)
end)
