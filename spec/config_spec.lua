-- gevent.config: the settings, from Lua and from the environment, applied
-- at once; what they switch on: the monitor thread's reports of a blocked
-- hub (runtime/monitor.c), the memory monitor, max_slice. Whatever prints
-- to stderr runs in a gvlua child (spec/support/child.lua).
local gevent = require "gevent"
local config = require "gevent.config"
local core = require "gvlua"
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") or "./"
local child = dofile(here .. "support/child.lua")
local ticker = dofile(here .. "support/ticker.lua")

local now = core._monotonic

describe("gevent.config", function()
  after_each(function()
    config.monitor_thread = false
    config.max_slice = nil
    config.max_blocking_time = nil
    config.max_memory_usage = nil
    config.memory_monitor_period = nil
    config.counters = false
  end)

  it("has gevent's settings with gevent's defaults", function()
    assert.are.equal(config, gevent.config)
    assert.is_false(config.monitor_thread)
    assert.are.equal(0.1, config.max_blocking_time)
    assert.is_nil(config.max_memory_usage)
    assert.are.equal(5, config.memory_monitor_period)
    assert.is_nil(config.max_slice)
    assert.is_false(config.counters)
    local names = {}
    for k in pairs(config) do names[#names + 1] = k end
    assert.are.same({"monitor_thread", "max_blocking_time", "max_memory_usage",
                     "memory_monitor_period", "max_slice", "counters"}, names)
  end)

  it("checks what is assigned", function()
    assert.has_error(function() config.max_blocking_time = -1 end,
      "bad value for 'gevent.config.max_blocking_time' (positive number of "
      .. "seconds expected, got number)")
    assert.has_error(function() config.max_slice = "soon" end,
      "bad value for 'gevent.config.max_slice' (positive number of seconds "
      .. "expected, got 'soon')")
    assert.has_error(function() config.monitor_thread = {} end,
      "bad value for 'gevent.config.monitor_thread' (boolean expected, got "
      .. "table)")
    assert.has_error(function() config.nosuch = 1 end,
      "'gevent.config' has no setting 'nosuch'")
    assert.has_error(function() return config.nosuch end,
      "'gevent.config' has no setting 'nosuch'")
    assert.are.equal(0.1, config.max_blocking_time) -- unchanged
  end)

  it("reads sizes and durations given as strings", function()
    config.max_memory_usage = "512MB"
    assert.are.equal(512 * 1024 * 1024, config.max_memory_usage)
    config.max_memory_usage = "1.5 gb"
    assert.are.equal(math.floor(1.5 * 1024 ^ 3), config.max_memory_usage)
    config.max_memory_usage = 1000
    assert.are.equal(1000, config.max_memory_usage)
    config.max_blocking_time = "0.25"
    assert.are.equal(0.25, config.max_blocking_time)
    config.max_blocking_time = nil -- back to the default
    assert.are.equal(0.1, config.max_blocking_time)
  end)

  it("starts and stops the monitor thread at once", function()
    assert.is_false(core.monitor.hub().monitor_thread)
    config.monitor_thread = true
    assert.is_true(core.monitor.hub().monitor_thread)
    assert.is_true(core.monitor.counters().counting)
    config.monitor_thread = false
    assert.is_false(core.monitor.hub().monitor_thread)
    config.max_slice = 10 -- the slice needs the thread too
    assert.is_true(core.monitor.hub().monitor_thread)
    config.max_slice = nil
    assert.is_false(core.monitor.hub().monitor_thread)
  end)

  it("takes settings from the environment (GVLUA_*), not under -E", function()
    local src = [[
      local c = require("gevent").config
      print(c.monitor_thread, c.max_blocking_time, c.max_memory_usage,
            c.memory_monitor_period, c.max_slice, c.counters)
    ]]
    local env = {"GVLUA_MONITOR_THREAD=1", "GVLUA_MAX_BLOCKING_TIME=0.25",
                 "GVLUA_MAX_MEMORY_USAGE=2GB", "GVLUA_MEMORY_MONITOR_PERIOD=1",
                 "GVLUA_MAX_SLICE=3", "GVLUA_COUNTERS=yes"}
    local r = child.run(src, {env = env})
    assert.are.equal(0, r.rc)
    assert.are.equal("true\t0.25\t2147483648\t1.0\t3.0\ttrue\n", r.out)
    r = child.run(src, {env = env, flags = {"-E", "-e", ("package.path = "
      .. "'%slua/?.lua;%slua/?/init.lua;' .. package.path"):format(
      child.root, child.root)}})
    assert.are.equal("false\t0.1\tnil\t5.0\tnil\tfalse\n", r.out)
    r = child.run(src, {env = {"GVLUA_MAX_SLICE=never"}})
    assert.are.equal("false\t0.1\tnil\t5.0\tnil\tfalse\n", r.out)
    assert.is_truthy(r.err:find("gvlua: ignoring GVLUA_MAX_SLICE=never", 1, true))
  end)
end)

describe("the monitor thread", function()
  it("reports a busy greenlet by name and function while it runs", function()
    -- The hog reads its own stderr while it spins: it sees its report
    -- before its loop ends (it spins 0.5 s, longer only if the machine is
    -- too loaded for the report to come sooner).
    local r = child.run([[
      local gevent = require "gevent"
      local now = require("gvlua")._monotonic
      local errfile = arg[1]
      local function reported()
        local f = io.open(errfile) local s = f:read("a") f:close()
        return s:find('greenlet "hog"', 1, true) ~= nil
      end
      gevent.config.monitor_thread = true
      local function busy_hog()
        local start, seen, n = now(), nil, 0
        while now() - start < 0.5 or (not seen and now() - start < 10) do
          n = n + 1
          if not seen and n % 2000 == 0 and reported() then
            seen = now() - start
          end
        end
        return seen
      end
      local g = gevent.spawn(function() local seen = busy_hog() return seen end)
      g.name = "hog"
      print("seen while running:", g:get() ~= nil)
    ]], {stderr_file = true})
    assert.are.equal(0, r.rc)
    assert.are.equal("seen while running:\ttrue\n", r.out)
    assert.is_truthy(r.err:find('gvlua: greenlet "hog" %(spawned at [^)]+%) '
                                .. "has blocked the hub for %d"))
    assert.is_truthy(r.err:find("in upvalue 'busy_hog'", 1, true), r.err)
    -- once per block
    local _, n = r.err:gsub("has blocked the hub", "")
    assert.are.equal(1, n)
  end)

  it("reports a blocking C call, with a traceback once it returns", function()
    local r = child.run([[
      local gevent = require "gevent"
      local lsocket = require "socket" -- LuaSocket's blocking sleep
      gevent.config.monitor_thread = true
      local g = gevent.spawn(function() lsocket.sleep(1) end)
      g.name = "napper"
      g:join()
      gevent.config.monitor_thread = false
    ]])
    assert.are.equal(0, r.rc)
    assert.is_truthy(r.err:find('greenlet "napper"', 1, true))
    assert.is_truthy(r.err:find("inside a C function", 1, true))
    -- (LuaSocket's sleep is both socket.sleep and socket.core.sleep)
    assert.is_truthy(r.err:find("stack traceback:\n\t%[C%]: in function "
                                .. "'socket[.%w]*%.sleep'"), r.err)
  end)

  it("says nothing about a hub that only waits", function()
    local r = child.run([[
      local gevent = require "gevent"
      gevent.config.monitor_thread = true
      -- (0.2 s: a loaded machine may hold the process that long anyway)
      gevent.config.max_blocking_time = 0.2
      gevent.sleep(0.5)
      local g = gevent.spawn(function() for _ = 1, 30 do gevent.sleep(0.01) end end)
      g:join()
    ]])
    assert.are.equal(0, r.rc)
    assert.are.equal("", r.err)
  end)

  it("reports memory use above max_memory_usage", function()
    local r = child.run([[
      local gevent = require "gevent"
      local events = require "gevent.events"
      local got
      events.subscribe("memory_exceeded", function(e) got = e end)
      local rss = require("gvlua").monitor.rss()
      gevent.config.memory_monitor_period = 0.02
      gevent.config.max_memory_usage = rss + 20 * 1024 * 1024
      gevent.config.monitor_thread = true
      local hold = {}
      for i = 1, 64 do hold[i] = string.rep(string.char(i), 1024 * 1024) end
      for _ = 1, 500 do
        if got then break end
        gevent.sleep(0.01)
      end
      print(got and got.type, got and got.mem_usage > rss,
            got and got.max_allowed == gevent.config.max_memory_usage)
    ]])
    assert.are.equal(0, r.rc)
    assert.are.equal("memory_exceeded\ttrue\ttrue\n", r.out)
    assert.is_truthy(r.err:find("passed max_memory_usage", 1, true))
  end)
end)

describe("gevent.config.max_slice", function()
  after_each(function() config.max_slice = nil end)

  it("stops a runaway loop with SliceExceeded while others keep going", function()
    config.max_slice = 0.1
    local t = ticker(0.01)
    gevent.sleep(0.02)
    local before = t.n
    local t0 = now()
    local g = gevent.spawn(function()
      local ok, err = pcall(function() while true do end end)
      return ok, err
    end)
    local ok, err = g:get()
    local took = now() - t0
    assert.is_false(ok)
    assert.is_true(gevent.SliceExceeded:is(err))
    assert.is_truthy(tostring(err):find("max_slice", 1, true))
    -- about the slice (0.1 s of CPU): generous, the machine is shared
    assert.is_true(took >= 0.1)
    assert.is_true(took < 5)
    gevent.sleep(0.05)
    assert.is_true(t.n > before) -- the ticker ticked again
    t.g:kill()
  end)

  it("leaves greenlets that yield alone", function()
    config.max_slice = 0.05
    local g = gevent.spawn(function()
      local t0 = now()
      while now() - t0 < 0.3 do
        for _ = 1, 1000 do end
        gevent.sleep(0)
      end
      return "done"
    end)
    assert.are.equal("done", g:get())
  end)

  it("names the greenlet in its failure report", function()
    local r = child.run([[
      local gevent = require "gevent"
      gevent.config.max_slice = 0.05
      local g = gevent.spawn(function() while true do end end)
      g.name = "runaway"
      g:join()
      print(gevent.SliceExceeded:is(g.exception))
    ]])
    assert.are.equal(0, r.rc)
    assert.are.equal("true\n", r.out)
    assert.is_truthy(r.err:find("SliceExceeded", 1, true))
    assert.is_truthy(r.err:find('"runaway"', 1, true))
  end)
end)
