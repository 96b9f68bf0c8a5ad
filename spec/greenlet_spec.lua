-- Greenlets: spawn forms, scheduling order, results, errors, kill, links,
-- subclassing.
local gevent = require "gevent"
local Greenlet = gevent.Greenlet
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"

describe("gevent.spawn", function()
  it("only schedules; greenlets start in FIFO order when the caller blocks", function()
    local log = {}
    local a = gevent.spawn(function() log[#log + 1] = "a" end)
    local b = gevent.spawn(function() log[#log + 1] = "b" end)
    assert.are.same({}, log)
    gevent.joinall({a, b})
    assert.are.same({"a", "b"}, log)
  end)

  it("sleep(0) sends the caller to the back of the run queue", function()
    local log = {}
    local function worker(name)
      log[#log + 1] = name .. "1"
      gevent.sleep(0)
      log[#log + 1] = name .. "2"
    end
    gevent.joinall({gevent.spawn(worker, "a"), gevent.spawn(worker, "b")})
    assert.are.same({"a1", "b1", "a2", "b2"}, log)
  end)

  it("passes arguments and returns every result through get", function()
    local g = gevent.spawn(function(x, y) return x + y, nil, "z" end, 2, 3)
    local a, b, c = g:get()
    assert.are.equal(5, a)
    assert.is_nil(b)
    assert.are.equal("z", c)
    assert.are.equal(5, g.value)
  end)

  it("accepts Greenlet.spawn and Greenlet(fn):start()", function()
    local g1 = Greenlet.spawn(function() return 1 end)
    local g2 = Greenlet(function(v) return v end, 2)
    assert.is_false(g2.started)
    g2:start()
    assert.is_true(g2.started)
    assert.are.same({1, 2}, {g1:get(), g2:get()})
  end)

  it("keeps arguments intact when links are added before it runs", function()
    local seen, linked = {}, nil
    local g = gevent.Greenlet(function(x) seen[#seen + 1] = x; return x end, "arg")
    g:link(function(src) linked = src.value end)
    g:start()
    local h = gevent.spawn(function(a, b, c) return select("#", a, b, c), c end, nil, nil, 3)
    local k = gevent.spawn(function(...) return select("#", ...) end, nil)
    assert.are.equal("arg", g:get())
    assert.are.same({3, 3}, {h:get()})
    assert.are.equal(1, k:get())
    gevent.sleep(0)
    assert.are.equal("arg", linked)
    local never = gevent.Greenlet(function(x) seen[#seen + 1] = "ran" end, "y")
    never:start()
    never:kill()
    assert.is_true(never.dead)
    assert.are.same({"arg"}, seen)
  end)

  it("spawn_later starts after the delay, in deadline order", function()
    local log = {}
    local late = gevent.spawn_later(0.03, function() log[#log + 1] = "late" end)
    local soon = gevent.spawn_later(0.01, function() log[#log + 1] = "soon" end)
    gevent.joinall({late, soon})
    assert.are.same({"soon", "late"}, log)
  end)
end)

describe("Greenlet state", function()
  it("reports started, ready, successful, value and exception", function()
    local winner = gevent.spawn(function() return "You win!" end)
    local loser = gevent.spawn(function() error("You fail at failing.", 0) end)
    assert.is_true(winner.started)
    assert.is_false(winner:ready())
    gevent.joinall({winner, loser})
    assert.is_true(winner:ready())
    assert.is_true(winner:successful())
    assert.are.equal("You win!", winner.value)
    assert.is_nil(winner.exception)
    assert.is_true(loser:ready())
    assert.is_false(loser:successful())
    assert.are.equal("You fail at failing.", loser.exception)
    assert.is_nil(loser.value)
  end)

  it("re-raises the greenlet's error from get", function()
    local g = gevent.spawn(function() error({code = 7}) end)
    local ok, err = pcall(g.get, g)
    assert.is_false(ok)
    assert.are.equal(7, err.code)
  end)

  it("get(false) on an unfinished greenlet raises Timeout", function()
    local g = gevent.spawn(function() gevent.sleep(0.01) end)
    local ok, err = pcall(g.get, g, false)
    assert.is_false(ok)
    assert.is_true(gevent.Timeout:is(err))
    g:join()
  end)

  it("join with a timeout returns false while still running", function()
    local g = gevent.spawn(function() gevent.sleep(0.05) end)
    assert.is_false(g:join(0.001))
    assert.is_true(g:join())
  end)

  it("join starts a Timeout given unstarted, and cancels it when done", function()
    local g = gevent.spawn(gevent.sleep, 0.05)
    local t = gevent.Timeout(0.005)
    local ok, err = pcall(g.join, g, t)
    assert.is_false(ok)
    assert.are.equal(t, err)
    local quick = gevent.spawn(function() end)
    local t2 = gevent.Timeout(0.01)
    assert.is_true(quick:join(t2))
    assert.is_false(t2.pending) -- cancelled: it will not fire later
    gevent.sleep(0.02)
    g:join()
  end)

  it("join accepts an options table and a started Timeout (which raises)", function()
    local g = gevent.spawn(function() gevent.sleep(0.05) end)
    assert.is_false(g:join{timeout = 0.001})
    local t = gevent.Timeout(0.001):start()
    local ok, err = pcall(g.join, g, t)
    assert.is_false(ok)
    assert.are.equal(t, err)
    g:join()
  end)

  it("numbers greenlets when first asked, reusing collected ones' idents", function()
    collectgarbage(); collectgarbage()
    local a, b = gevent.spawn(function() end), gevent.spawn(function() end)
    local ib = b.minimal_ident
    local ia = a.minimal_ident
    assert.are.equal(ib + 1, ia)
    assert.are.equal("Greenlet-" .. ia, a.name)
    gevent.joinall({a, b})
    a, b = nil, nil -- luacheck: ignore 311 (dropped for the collector)
    collectgarbage(); collectgarbage()
    local c = gevent.spawn(function() end)
    assert.are.equal(ib, c.minimal_ident)
    c:join()
  end)

  it("has a name, a minimal ident and a readable tostring", function()
    local g = gevent.spawn(function() end)
    assert.matches("^Greenlet%-%d+$", g.name)
    assert.are.equal("number", type(g.minimal_ident))
    assert.matches('<Greenlet "Greenlet%-%d+" at', tostring(g))
    g:join()
  end)

  it("getcurrent returns the running greenlet, and the main one outside", function()
    local main = gevent.getcurrent()
    assert.are.equal("MainGreenlet", main.name)
    local seen
    local g = gevent.spawn(function() seen = gevent.getcurrent() end)
    g:join()
    assert.are.equal(g, seen)
  end)
end)

describe("kill", function()
  it("gevent.kill does not wait for the greenlet to die", function()
    local g = gevent.spawn(function()
      pcall(gevent.sleep, 10)
      gevent.sleep(0.01) -- still busy after the GreenletExit
    end)
    gevent.sleep(0)
    gevent.kill(g)
    assert.is_false(g.dead)
    g:join()
    assert.is_true(g.dead)
  end)

  it("spawn refuses what cannot be called, at once", function()
    local ok, err = pcall(gevent.spawn, 42)
    assert.is_false(ok)
    assert.matches("function expected, got number", err)
    assert.is_false(pcall(gevent.spawn_later, 0.1, nil))
    assert.is_false(pcall(gevent.Greenlet, "nope"))
    local callable = setmetatable({}, {__call = function() return "called" end})
    assert.are.equal("called", gevent.spawn(callable):get())
  end)

  it("raises GreenletExit at the blocking point, counted as success", function()
    local cleaned = false
    local g = gevent.spawn(function()
      local _ <close> = setmetatable({}, {__close = function() cleaned = true end})
      gevent.sleep(10)
    end)
    gevent.sleep(0)
    g:kill()
    assert.is_true(g.dead)
    assert.is_true(g:successful())
    assert.is_true(gevent.GreenletExit:is(g.value))
    assert.is_true(cleaned)
  end)

  it("kills a greenlet that never started: it never runs", function()
    local ran = false
    local g = gevent.spawn(function() ran = true end)
    g:kill()
    gevent.sleep(0)
    assert.is_false(ran)
    assert.is_true(g.dead)
  end)

  it("raises a custom error, which is then the greenlet's exception", function()
    local g = gevent.spawn(function() gevent.sleep(10) end)
    gevent.sleep(0)
    g:kill("stop!")
    assert.is_false(g:successful())
    assert.are.equal("stop!", g.exception)
  end)

  it("with block=false returns at once; killall waits for all", function()
    local gs = {}
    for i = 1, 3 do gs[i] = gevent.spawn(gevent.sleep, 10) end
    gevent.sleep(0)
    gs[1]:kill(nil, false)
    assert.is_false(gs[1].dead)
    gevent.killall(gs)
    for i = 1, 3 do assert.is_true(gs[i].dead) end
  end)

  it("lets the greenlet catch GreenletExit with pcall", function()
    local caught
    local g = gevent.spawn(function()
      local _, err = pcall(gevent.sleep, 10)
      caught = gevent.GreenletExit:is(err)
      return "after"
    end)
    gevent.sleep(0)
    g:kill()
    assert.is_true(caught)
    assert.are.equal("after", g.value)
  end)
end)

describe("links", function()
  it("link runs the callback in a new greenlet with the dead greenlet", function()
    local got, where
    local g = gevent.spawn(function() return 42 end)
    g:link(function(src) got = src.value; where = gevent.getcurrent() end)
    g:join()
    gevent.sleep(0)
    assert.are.equal(42, got)
    assert.are_not.equal(g, where)
  end)

  it("link_value and link_exception pick by outcome; unlink removes", function()
    local log = {}
    local ok_g = gevent.spawn(function() return 1 end)
    local bad_g = gevent.spawn(function() error("x", 0) end)
    local function on_value(g) log[#log + 1] = "value " .. tostring(g.value) end
    local function on_exc(g) log[#log + 1] = "exception " .. tostring(g.exception) end
    local function removed() log[#log + 1] = "removed" end
    ok_g:link_value(on_value); ok_g:link_exception(on_exc)
    bad_g:link_value(on_value); bad_g:link_exception(on_exc)
    ok_g:link(removed); ok_g:unlink(removed)
    gevent.joinall({ok_g, bad_g})
    gevent.sleep(0)
    table.sort(log)
    assert.are.same({"exception x", "value 1"}, log)
  end)
end)

describe("subclassing", function()
  it("runs _run with instance fields set in init", function()
    local My = Greenlet:subclass()
    function My:init(message, n)
      Greenlet.init(self)
      self.message = message
      self.n = n
    end
    function My:_run()
      gevent.sleep(0)
      return self.message .. self.n
    end
    local g = My("Hi there!", 3)
    g:start()
    assert.are.equal("Hi there!3", g:get())
    assert.are.equal(3, g.n)
  end)

  it("supports a subclass of a subclass and Class:spawn", function()
    local A = Greenlet:subclass()
    function A:_run() return self:who() end
    function A:who() return "A" end
    local B = A:subclass()
    function B:who() return "B" .. A.who(self) end
    assert.are.equal("BA", B:spawn():get())
    assert.are.equal("A", A:spawn():get())
  end)

  -- issue 9, item 2: misuse raises and leaves every metatable alone
  it("refuses a self that is not a Greenlet class, touching nothing", function()
    local string_mt = getmetatable("")
    for _, self in ipairs{{}, "x", 1, setmetatable({}, {__index = {}}),
                          gevent.spawn(function() end)} do
      local ok, err = pcall(Greenlet.subclass, self, "x")
      assert.is_false(ok)
      assert.matches("bad argument #1 .*Greenlet class expected", err)
    end
    assert.has_error(function() Greenlet:subclass("name") end)
    assert.are.equal(string_mt, getmetatable(""))
    assert.are.equal("x1", ("x%d"):format(1))
    local C = Greenlet:subclass({who = function() return "C" end})
    assert.are.equal("C", C:who())
  end)
end)

-- Issue 9, item 3: a runner stack holds Lua's whole C-call limit, so deep C
-- recursion in a greenlet is the same catchable error as in the main one.
describe("C stack overflow in a greenlet", function()
  local function gs(n)
    if n == 0 then return "" end
    return (("x"):gsub("x", function() return gs(n - 1) end))
  end
  local function fmt(n)
    if n == 0 then return "" end
    return string.format("%s", setmetatable({}, {
      __tostring = function() return fmt(n - 1) end}))
  end

  it("is Lua's catchable 'C stack overflow', on both paths", function()
    local main = {pcall(gs, 1000)}
    assert.is_false(main[1])
    assert.matches("C stack overflow", main[2])
    for _, f in ipairs{gs, fmt} do
      local g = gevent.spawn(function() return pcall(f, 1000) end)
      local ok, err = g:get(true, 5)
      assert.is_false(ok)
      assert.matches("C stack overflow", err)
      -- a greenlet that keeps its runner (blocked where it cannot yield)
      g = gevent.spawn(function()
        local r
        table.sort({2, 1}, function(a, b)
          gevent.sleep(0)
          r = r or {pcall(f, 1000)}
          return a < b
        end)
        return table.unpack(r)
      end)
      ok, err = g:get(true, 5)
      assert.is_false(ok)
      assert.matches("C stack overflow", err)
    end
  end)
end)

-- Issue 9, item 5: the failure report (and naming, which it does) costs
-- O(1) per greenlet. CPU time of 8x the greenlets must stay near 8x (it
-- was 64x: naming a greenlet searched Lua's list of all objects).
describe("failure reports at scale", function()
  local child = dofile(here .. "/support/child.lua").run

  local function ratio(body)
    local code = [[
      local gevent = require "gevent"
      local function run(n)
        local gs = {}
        local t0 = os.clock()
        ]] .. body .. [[
        return os.clock() - t0
      end
      run(500)
      local small = math.min(run(2000), run(2000))
      io.write(run(16000) / small)
    ]]
    local r = child(code, {stderr_file = true}) -- ~20,000 reports
    local out, err, status = r.out, r.err, r.rc
    assert.are.equal(0, status, err:sub(-500))
    return tonumber(out)
  end

  it("failing greenlets: linear", function()
    local r = ratio([[
        for i = 1, n do gs[i] = gevent.spawn(error, "boom") end
        gevent.joinall(gs) ]])
    assert.is_true(r < 24, "16000 cost " .. r .. " x 2000")
  end)

  it("killed with a custom exception: linear", function()
    local r = ratio([[
        for i = 1, n do gs[i] = gevent.spawn(gevent.sleep, 10) end
        gevent.sleep(0)
        for i = 1, n do gs[i]:kill("custom", false) end
        gevent.joinall(gs) ]])
    assert.is_true(r < 24, "16000 cost " .. r .. " x 2000")
  end)
end)

-- Issue 9, item 4: running out of memory while spawning raises "not enough
-- memory" in the spawning code promptly, the hub keeps running, and all is
-- usable again once memory is free.
describe("out of memory while spawning", function()
  local child = dofile(here .. "/support/child.lua").run

  it("raises in the caller, and recovers", function()
    local r = child([[
      local gevent = require "gevent"
      local ev = require("gevent.event").Event()
      local gs = {}
      local t0 = os.clock()
      local ok, e = pcall(function()
        for i = 1, 1e7 do
          gs[i] = gevent.spawn(function() ev:wait() end)
          if i % 10000 == 0 then gevent.sleep(0) end
        end
      end)
      print(ok, e, #gs > 10000, os.clock() - t0 < 10)
      ev:set()
      gevent.sleep(0.01)
      local alive = 0
      for _, g in ipairs(gs) do if not g.dead then alive = alive + 1 end end
      gs = nil
      collectgarbage()
      print(alive, gevent.spawn(function() return "usable" end):get())
    ]], {limit_kb = 150000, timeout = 60})
    local out, err, status = r.out, r.err, r.rc
    if err:find("AddressSanitizer", 1, true) then
      pending("ulimit -v does not go with AddressSanitizer")
      return
    end
    assert.are.equal(0, status, err:sub(-300))
    assert.are.equal("false\tnot enough memory\ttrue\ttrue\n0\tusable\n", out)
    assert.is_nil(err:find("error in the hub", 1, true))
  end)
end)

-- Issue 9, item 6 and the report's last line: an error object is stored
-- as it is, even when its __tostring raises, and the report ends with the
-- error itself.
describe("a greenlet's error", function()
  local child = dofile(here .. "/support/child.lua").run

  it("is kept intact when its __tostring raises", function()
    local obj = setmetatable({}, {__tostring = function() error("nope") end})
    local g = gevent.spawn(function() error(obj) end)
    assert.is_true(g:join(2))
    assert.are.equal(obj, g.exception)
    assert.is_false(g:successful())
    local ok, e = pcall(g.get, g)
    assert.is_false(ok)
    assert.are.equal(obj, e)
  end)

  it("is reported with a fallback text, on a last line that ends with it", function()
    local r = child([[
      local gevent = require "gevent"
      local obj = setmetatable({}, {__tostring = function() error("nope") end})
      gevent.spawn(function() error(obj) end):join()
      gevent.spawn(function() error("plain boom", 0) end):join()
      gevent.spawn(function() error(setmetatable({}, {
        __tostring = function() return "custom text" end})) end):join()
    ]])
    local err, status = r.err, r.rc
    assert.are.equal(0, status, err)
    local lines = {}
    for l in err:gmatch("[^\n]+") do
      if l:find("^<Greenlet") then lines[#lines + 1] = l end
    end
    assert.are.equal(3, #lines, err)
    assert.matches("> failed: %(error object is a table value; its "
                   .. "__tostring failed%)$", lines[1])
    assert.matches("> failed: plain boom$", lines[2])
    assert.matches("> failed: custom text$", lines[3])
  end)
end)

-- Issue 9, error messages: argument errors name the public function, also
-- when Lua has no call site to name it from (pcall(f, ...)): never the
-- internal module ('gvlua.sleep'), never '?', never an internal helper.
describe("argument errors", function()
  local function err_of(f, ...)
    local ok, e = pcall(f, ...)
    assert.is_false(ok)
    return e
  end

  it("name the gevent function", function()
    for _ = 1, 20 do -- Lua finds names in package.loaded in hash order
      assert.matches("^bad argument #1 to 'gevent.sleep' %(number expected",
                     err_of(gevent.sleep, "x"))
      assert.matches("^bad argument #1 to 'gevent.spawn' ",
                     err_of(gevent.spawn, 1))
    end
    assert.matches("^bad argument #1 to 'gevent.Timeout' %(number expected, "
                   .. "got string%)", err_of(gevent.Timeout, "x"))
    assert.matches("^bad argument #1 to 'gevent.Greenlet' %(function "
                   .. "expected, got number%)", err_of(Greenlet, 5))
    assert.matches("^bad argument #1 to 'gevent.threadpool.ThreadPool' ",
                   err_of(require("gevent.threadpool").ThreadPool, "x"))
    assert.matches("^bad argument #1 to 'gevent.subprocess.Popen' ",
                   err_of(require("gevent.subprocess").Popen, 5))
  end)

  it("in joinall, killall, wait and iwait name them, not a helper", function()
    for _, name in ipairs{"joinall", "killall", "wait", "iwait"} do
      local e = err_of(gevent[name], "x")
      assert.matches("bad argument #1 to 'gevent." .. name .. "' %(table "
                     .. "expected, got string%)", e)
    end
    local g = gevent.spawn(function() end)
    local e = err_of(gevent.joinall, {g, 42})
    assert.matches("'gevent.joinall' %(entry 2 is a number", e)
    assert.matches("'gevent.joinall' %(number expected, got string%)",
                   err_of(gevent.joinall, {g}, "soon"))
    assert.matches("'gevent.kill' %(gevent.Greenlet expected, got table%)",
                   err_of(gevent.kill, {}))
    g:join()
  end)
end)
