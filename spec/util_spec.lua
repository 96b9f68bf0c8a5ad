-- gevent.util: format_run_info / print_run_info (every live greenlet: name,
-- state, spawn site, what it waits on, traceback; the hub) and counters.
local gevent = require "gevent"
local util = require "gevent.util"
local Event = require("gevent.event").Event
local Queue = require("gevent.queue").Queue
local Semaphore = require("gevent.lock").Semaphore
local socket = require "gevent.socket"

local function text() return table.concat(util.format_run_info(), "\n") end

-- The block of lines about greenlet `name`, up to the next "* ".
local function section(s, name)
  local start = s:find("\n%* " .. name .. ": ")
  assert(start, "no section for " .. name .. " in:\n" .. s)
  local stop = s:find("\n%* ", start + 1) or #s + 1
  return s:sub(start + 1, stop - 1)
end

describe("gevent.util.format_run_info", function()
  it("names three blocked greenlets, what each waits on and their functions", function()
    local ev, q, sem = Event(), Queue(), Semaphore(0)
    local function wait_for_event() ev:wait() end
    local function take_from_queue() return q:get() end
    local function nap() gevent.sleep(60) end
    local a = gevent.spawn(function() wait_for_event() end)
    local b = gevent.spawn(function() take_from_queue() end)
    local c = gevent.spawn(function() nap() end)
    local d = gevent.spawn(function() sem:acquire() end)
    a.name, b.name, c.name, d.name = "on-event", "on-queue", "napping", "on-lock"
    gevent.sleep(0)
    local s = text()
    local sa, sb, sc, sd = section(s, "on%-event"), section(s, "on%-queue"),
                           section(s, "napping"), section(s, "on%-lock")
    for _, sec in ipairs({sa, sb, sc, sd}) do
      assert.is_truthy(sec:find(": blocked, spawned at [^\n]*util_spec%.lua:%d+"))
      assert.is_truthy(sec:find("stack traceback:", 1, true))
    end
    -- which object, by the address %p shows
    assert.is_truthy(sa:find("waiting on Event.wait of <Event", 1, true))
    assert.is_truthy(sa:find(("%p"):format(ev), 1, true))
    assert.is_truthy(sa:find("in upvalue 'wait_for_event'", 1, true))
    assert.is_truthy(sb:find("waiting on Queue.get of <Queue", 1, true))
    assert.is_truthy(sb:find(("%p"):format(q), 1, true))
    assert.is_truthy(sb:find("in upvalue 'take_from_queue'", 1, true))
    assert.is_truthy(sc:find("sleeping, wakes in 59%.%d+ s") or
                     sc:find("sleeping, wakes in 60%.000 s"))
    assert.is_truthy(sc:find("in upvalue 'nap'", 1, true))
    assert.is_truthy(sd:find("of <Semaphore at", 1, true))
    gevent.killall({a, b, c, d})
  end)

  it("shows fd waits, joins, timeouts and greenlets not started yet", function()
    local srv = assert(socket.tcp())
    assert(srv:bind("127.0.0.1", 0))
    assert(srv:listen())
    local fd = srv:getfd()
    local acceptor = gevent.spawn(function() srv:accept() end)
    acceptor.name = "acceptor"
    local ev = Event()
    local waiter = gevent.spawn(function() ev:wait(30) end)
    waiter.name = "waiter"
    local joiner = gevent.spawn(function() acceptor:join() end)
    joiner.name = "joiner"
    gevent.sleep(0)
    local later = gevent.spawn(function() return 1 end)
    later.name = "later"
    local s = text()
    assert.is_truthy(section(s, "acceptor"):find(
      ("waiting for fd %d to be ready for read"):format(fd), 1, true))
    assert.is_truthy(section(s, "waiter"):find("timeout in 29%.%d+ s") or
                     section(s, "waiter"):find("timeout in 30%.000 s"))
    assert.is_truthy(section(s, "joiner"):find(
      'waiting on join of <Greenlet "acceptor"', 1, true))
    assert.is_truthy(section(s, "later"):find("later: scheduled", 1, true))
    assert.is_truthy(section(s, "later"):find(
      "runs function <[^>]*util_spec%.lua:%d+>, not started yet"))
    -- the caller: running, with its own traceback
    assert.is_truthy(section(s, "MainGreenlet"):find(": running", 1, true))
    gevent.killall({acceptor, waiter, joiner, later})
    srv:close()
  end)

  it("describes the hub: ready greenlets, callbacks, timers", function()
    local g = gevent.spawn(function() error("x", 0) end)
    g:link(function() end)
    local ev = Event()
    ev:rawlink(function() end)
    local sleeper = gevent.spawn(gevent.sleep, 5)
    gevent.sleep(0) -- g dies (its links are now pending), sleeper sleeps
    ev:set()        -- the Event's wake-ups are pending
    local r = gevent.spawn(function() end)
    local s = text()
    local hub = s:match("\n(%* hub: .*)$")
    assert.is_truthy(hub, s)
    assert.is_truthy(hub:find("greenlets? ready"), hub)
    assert.is_truthy(hub:find("callback: links and joiners of a dead greenlet "
                              .. "of <Greenlet", 1, true), hub)
    assert.is_truthy(hub:find("callback: wake-ups of an Event or AsyncResult",
                              1, true), hub)
    assert.is_truthy(hub:find("%d+ timers? %(next in %d"), hub)
    assert.is_truthy(hub:find("loop iteration %d+"), hub)
    gevent.killall({sleeper, r})
  end)

  it("works from any greenlet, and print_run_info writes the lines", function()
    local lines
    local g = gevent.spawn(function() lines = util.format_run_info() end)
    g.name = "asker"
    g:join()
    local s = table.concat(lines, "\n")
    assert.is_truthy(section(s, "asker"):find(": running", 1, true))
    assert.is_truthy(section(s, "MainGreenlet"):find(": blocked", 1, true))
    local out = {}
    local sink = {write = function(_, ...) for _, v in ipairs({...}) do out[#out + 1] = v end end}
    util.print_run_info(sink)
    assert.is_truthy(table.concat(out):find("^gvlua run info: "))
    assert.has_error(function() util.print_run_info(42) end,
      "bad argument #1 to 'gevent.util.print_run_info' (file expected, got number)")
  end)
end)

describe("gevent.util.counters", function()
  after_each(function() gevent.config.counters = false end)

  it("counts switches and callbacks while counting is on", function()
    local c0 = util.counters()
    assert.is_false(c0.counting)
    gevent.spawn(function() end):join()
    assert.are.equal(c0.switches, util.counters().switches) -- off: nothing
    gevent.config.counters = true
    local c1 = util.counters()
    assert.is_true(c1.counting)
    local gs = {}
    for i = 1, 10 do gs[i] = gevent.spawn(function() gevent.sleep(0) end) end
    assert.are.equal(10, util.counters().greenlets)
    gevent.joinall(gs)
    local c2 = util.counters()
    assert.is_true(c2.switches - c1.switches >= 20)
    assert.is_true(c2.callbacks - c1.callbacks >= 10) -- links of the dead
    assert.are.equal(0, c2.greenlets)
    assert.is_true(c2.loop_iterations >= c1.loop_iterations)
    assert.are.equal("number", math.type(c2.blocked_time) and "number")
    assert.are.equal("integer", math.type(c2.blocked_reports))
  end)
end)
