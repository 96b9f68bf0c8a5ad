-- Ctrl-C (runtime/interrupt.c, gvlua_catch_sigint): SIGINT interrupts
-- whatever Lua code runs, in any greenlet, as lua5.4 does for its main
-- chunk: "interrupted!", a traceback, exit status 1. Each case is a gvlua
-- child that prints "ready" once it is where the signal must find it.
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") or "./"
local child = dofile(here .. "support/child.lua")

local HOG = [[
local gevent = require "gevent"
local function spin_forever()
  print("ready"); io.stdout:flush() -- the signal comes after this
  local x = 0 while true do x = x + 1 end
end
local g = gevent.spawn(function() spin_forever() end)
g.name = "hog"
gevent.sleep(30)
print("not reached")
]]

describe("Ctrl-C", function()
  it("interrupts a greenlet spinning in a Lua loop", function()
    local r = child.run(HOG, {signal = "SIGINT", after = "ready"})
    assert.are.equal(1, r.rc)
    assert.is_nil(r.out:find("not reached", 1, true))
    assert.is_truthy(r.err:find("interrupted!", 1, true))
    -- the traceback is the hog's: its function, its name
    assert.is_truthy(r.err:find("spin_forever", 1, true))
    assert.is_truthy(r.err:find('Greenlet "hog"', 1, true))
    -- and where the main greenlet waited
    assert.is_truthy(r.err:find("while the main greenlet waited in", 1, true))
    -- no failure report of its own: one message, the program's
    assert.is_nil(r.err:find("failed with", 1, true))
  end)

  it("interrupts it with the monitor thread and max_slice on", function()
    local r = child.run(HOG, {signal = "SIGINT", after = "ready",
      env = {"GVLUA_MONITOR_THREAD=1", "GVLUA_MAX_BLOCKING_TIME=5",
             "GVLUA_MAX_SLICE=30"}})
    assert.are.equal(1, r.rc)
    assert.is_truthy(r.err:find("interrupted!", 1, true))
    assert.is_truthy(r.err:find("spin_forever", 1, true))
  end)

  it("interrupts the main chunk as lua5.4 does", function()
    local r = child.run([[
      local gevent = require "gevent"
      gevent.spawn(function() end)
      local function main_loop() print("ready"); io.stdout:flush(); while true do end end
      main_loop()
    ]], {signal = "SIGINT", after = "ready"})
    assert.are.equal(1, r.rc)
    assert.is_truthy(r.err:find("interrupted!\nstack traceback:", 1, true))
    assert.is_truthy(r.err:find("main_loop", 1, true))
  end)

  it("interrupts a main greenlet waiting in the hub at once", function()
    local r = child.run([[
      local gevent = require "gevent"
      local t0 = require("gvlua")._monotonic()
      -- runs once the main greenlet waits in the hub
      gevent.spawn(function() print("ready"); io.stdout:flush() end)
      local ok, err = pcall(gevent.sleep, 20)
      print(ok, require("gvlua")._monotonic() - t0 < 10, err)
    ]], {signal = "SIGINT", after = "ready", delay = 0.1})
    assert.are.equal(0, r.rc)
    -- (if the signal still finds the greenlet that printed "ready", the
    -- error comes from there, with its traceback)
    assert.is_truthy(r.out:find("false\ttrue\t[^\n]*interrupted!"))
  end)

  it("can be caught with pcall in the greenlet, as in lua5.4", function()
    local r = child.run([[
      local gevent = require "gevent"
      local g = gevent.spawn(function()
        local ok, err = pcall(function()
          print("ready"); io.stdout:flush()
          while true do end
        end)
        return tostring(err)
      end)
      print(g:get())
    ]], {signal = "SIGINT", after = "ready"})
    assert.are.equal(0, r.rc)
    assert.is_truthy(r.out:find("interrupted!", 1, true))
  end)

  it("kills a process stuck in C code with a second Ctrl-C", function()
    local r = child.run([[
      local gevent = require "gevent"
      local lsocket = require "socket"  -- LuaSocket's own, blocking sleep
      gevent.spawn(function()
        print("ready"); io.stdout:flush()
        lsocket.sleep(20) -- in C: the first Ctrl-C waits for Lua code
      end)
      gevent.sleep(30)
    ]], {signal = "SIGINT", after = "ready", delay = 0.5, again = 0.3})
    assert.are.equal(-2, r.rc) -- killed by the second SIGINT
  end)
end)
