-- Timeout: start/cancel/close, start_new, <close> scopes, nesting, custom
-- error values, and as the timeout argument of join/get; with_timeout.
local gevent = require "gevent"
local Timeout = gevent.Timeout

describe("Timeout", function()
  it("raises itself in the greenlet that started it, at its blocking point", function()
    local t = Timeout(0.01)
    assert.is_false(t.pending)
    t:start()
    assert.is_true(t.pending)
    local ok, err = pcall(gevent.sleep, 1)
    assert.is_false(ok)
    assert.are.equal(t, err)
    assert.is_true(Timeout:is(err))
    assert.is_false(t.pending)
    assert.are.equal("Timeout: 0.01 seconds", tostring(err))
    assert.are.equal(0.01, t.seconds)
  end)

  it("does nothing when cancelled in time", function()
    local t = Timeout.start_new(0.01)
    gevent.sleep(0.001)
    t:cancel()
    assert.is_false(t.pending)
    gevent.sleep(0.02) -- would have fired here
  end)

  it("cancels at <close> scope exit, also on error", function()
    local t
    do
      local scoped <close> = Timeout(0.01):start()
      t = scoped
      assert.is_true(t.pending)
    end
    assert.is_false(t.pending)
    local t2
    pcall(function()
      local scoped <close> = Timeout(0.01):start()
      t2 = scoped
      error("inside")
    end)
    assert.is_false(t2.pending)
    gevent.sleep(0.02)
  end)

  it("raises a custom error value, or an instance of an error class", function()
    local ok, err = pcall(function()
      local _ <close> = Timeout(0.005, "too slow"):start()
      gevent.sleep(1)
    end)
    assert.is_false(ok)
    assert.are.equal("too slow", err)
    local TooLong = gevent.GreenletExit:subclass("TooLong")
    ok, err = pcall(function()
      local _ <close> = Timeout(0.005, TooLong):start()
      gevent.sleep(1)
    end)
    assert.is_false(ok)
    assert.is_true(TooLong:is(err))
    assert.matches("^TooLong", tostring(err))
  end)

  it("nests: the inner one fires first and is told apart from the outer", function()
    local outer = Timeout.start_new(0.05)
    local ok, err = pcall(function()
      local inner <close> = Timeout(0.005):start()
      gevent.sleep(1)
    end)
    assert.is_false(ok)
    assert.are_not.equal(outer, err)
    assert.is_true(outer.pending)
    ok, err = pcall(gevent.sleep, 1)
    assert.is_false(ok)
    assert.are.equal(outer, err)
  end)

  it("interrupts waits of other greenlets only in its own greenlet", function()
    local other_ok
    local g = gevent.spawn(function()
      gevent.sleep(0.02)
      other_ok = true
    end)
    local ok = pcall(function()
      local _ <close> = Timeout(0.005):start()
      g:join()
    end)
    assert.is_false(ok)
    g:join()
    assert.is_true(other_ok)
  end)

  it("is accepted by join and get as their timeout", function()
    local g = gevent.spawn(gevent.sleep, 0.05)
    local t = Timeout(0.005):start()
    local ok0, err0 = pcall(g.join, g, t)
    assert.is_false(ok0)
    assert.are.equal(t, err0)
    local t2 = Timeout(0.005):start()
    local ok, err = pcall(g.get, g, true, t2)
    assert.is_false(ok)
    assert.are.equal(t2, err)
    local ok3, err3 = pcall(g.get, g, true, 0.001)
    assert.is_false(ok3)
    assert.is_true(Timeout:is(err3))
    g:kill()
  end)

  it("with_timeout returns the results or raises Timeout", function()
    assert.are.same({1, 2}, {gevent.with_timeout(0.05, function(a) return a, 2 end, 1)})
    local ok, err = pcall(gevent.with_timeout, 0.005, gevent.sleep, 1)
    assert.is_false(ok)
    assert.is_true(Timeout:is(err))
  end)

  it("cannot be started from a hub callback", function()
    local msg
    local g = gevent.spawn(function() end)
    g:rawlink(function() msg = select(2, pcall(function() Timeout(1):start() end)) end)
    g:join()
    assert.matches("greenlet", msg)
  end)
end)

-- Issue 9, a mutation-run gap: a zero timeout is a real one. It fires at
-- the next blocking point, not before it and not never.
describe("Timeout(0)", function()
  local mono = require("gvlua")._monotonic

  it("fires at the next blocking point, started or start_new", function()
    for _, start in ipairs{
      function() return Timeout(0):start() end,
      function() return Timeout.start_new(0) end,
      function() return Timeout.start_new(0, "custom") end,
    } do
      local t = start()
      local before = true -- code up to the blocking point runs
      local t0 = mono()
      local ok, err = pcall(gevent.sleep, 2)
      assert.is_true(before)
      assert.is_false(ok)
      assert.is_true(mono() - t0 < 1, "slept through it")
      assert.is_true(err == t or err == "custom", tostring(err))
      t:cancel()
    end
    -- not pending once it fired; a later block is not affected
    assert.is_nil(gevent.sleep(0.001))
  end)
end)

-- Issue 9, found by the API fuzz: a NaN duration (Timeout, spawn_later, a
-- wait's timeout) made the hub's poll wait forever; it now waits no time,
-- as a negative one does, and an infinite one waits (about) forever
-- without harm. In a child: the broken hub hangs.
describe("NaN and infinite durations", function()
  it("do not stop the hub", function()
    local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
    local r = dofile(here .. "/support/child.lua").run([[
      local gevent = require "gevent"
      local t = gevent.Timeout(0 / 0):start()
      print(pcall(gevent.sleep, 0.01))             -- fires at once
      local t2 = gevent.Timeout(math.huge):start()
      print(pcall(gevent.sleep, 0.01))             -- never fires
      t2:cancel()
      print(gevent.spawn_later(0 / 0, function() return "ran" end):get(true, 1))
      print(gevent.spawn(gevent.sleep, 0.01):join(0 / 0))
      print(select(2, pcall(gevent.sleep, 0 / 0)) == nil)
    ]], {timeout = 10})
    assert.are.equal(0, r.rc, r.err)
    assert.matches("^false\tTimeout: .-\ntrue\nran\ntrue\ntrue\n$", r.out)
  end)
end)

-- Issue 9, found by the API fuzz (under ASan: a use after free): a Timeout
-- started by a greenlet that ends without cancelling it kept a bare
-- pointer to that greenlet, which could be collected before the timer
-- fired. It holds the greenlet now until it fires or is cancelled.
describe("a Timeout whose greenlet is gone", function()
  it("fires harmlessly", function()
    do
      local g = gevent.spawn(function() Timeout(0.02):start() end)
      assert.is_true(g:join(1))
    end -- g is garbage now
    collectgarbage(); collectgarbage()
    gevent.sleep(0.05)         -- it fires now, for a dead greenlet
    collectgarbage()
    assert.is_nil(gevent.sleep(0))
  end)
end)
