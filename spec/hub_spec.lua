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
