-- gevent.events: subscriptions to greenlet spawned/switched/finished and
-- to the monitor's blocked and memory reports.
local gevent = require "gevent"
local events = require "gevent.events"
local core = require "gvlua"
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") or "./"
local child = dofile(here .. "support/child.lua")

describe("gevent.events", function()
  it("tells about greenlets spawned, switched to and finished", function()
    local log = {}
    local function rec(ev) log[#log + 1] = ev.type .. ":" .. ev.greenlet.name end
    local s1 = events.subscribe("spawned", rec)
    local s2 = events.subscribe("switched", rec)
    local s3 = events.subscribe("finished", rec)
    local g = gevent.spawn(function() gevent.sleep(0) end)
    g.name = "w"
    g:join()
    s1:unsubscribe(); s2:unsubscribe(); s3:unsubscribe()
    -- named after spawning: the first event saw the default name
    assert.is_truthy(log[1]:match("^spawned:Greenlet%-%d+$"))
    table.remove(log, 1)
    local main = gevent.getcurrent().name
    assert.are.same({"switched:w", "switched:w", "finished:w",
                     "switched:" .. main}, log)
    -- once unsubscribed, nothing more
    gevent.spawn(function() end):join()
    assert.are.equal(4, #log)
    assert.is_false(core.monitor.counters().counting)
  end)

  it("keeps going when a subscriber fails, and closes with <close>", function()
    local n = 0
    do
      local bad <close> = events.subscribe("finished", function() error("boom") end)
      local good <close> = events.subscribe("finished", function() n = n + 1 end)
      gevent.spawn(function() end):join()
    end
    gevent.spawn(function() end):join()
    assert.are.equal(1, n)
  end)

  it("checks its arguments", function()
    assert.has_error(function() events.subscribe("nope", print) end,
      "bad argument #1 to 'gevent.events.subscribe' (one of spawned, "
      .. "switched, finished, blocked, memory_exceeded, memory_under "
      .. "expected, got 'nope')")
    assert.has_error(function() events.subscribe("spawned", 42) end,
      "bad argument #2 to 'gevent.events.subscribe' (function expected, got "
      .. "number)")
    assert.has_error(function() events.subscribe() end)
    local s = events.subscribe("spawned", print)
    s:unsubscribe()
    s:unsubscribe() -- again: nothing
    assert.has_error(function() s.unsubscribe({}) end)
    assert.is_truthy(tostring(s):find("spawned", 1, true))
  end)

  it("tells about a block the monitor found, once the hub runs again", function()
    local r = child.run([[
      local gevent = require "gevent"
      local events = require "gevent.events"
      local got = {}
      events.subscribe("blocked", function(ev) got[#got + 1] = ev end)
      gevent.config.monitor_thread = true
      local function spin(t)
        local now = require("gvlua")._monotonic
        local t0 = now() while now() - t0 < t do end
      end
      local g = gevent.spawn(function() spin(0.4) end)
      g.name = "spinner"
      g:join()
      gevent.sleep(0.01)
      local ev = got[1]
      print(#got, ev.greenlet == g, ev.blocking_time >= 0.1,
            ev.traceback:find("in upvalue 'spin'", 1, true) ~= nil)
    ]])
    assert.are.equal(0, r.rc)
    assert.are.equal("1\ttrue\ttrue\ttrue\n", r.out)
  end)
end)
