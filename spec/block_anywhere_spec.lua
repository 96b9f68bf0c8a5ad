-- Blocking works from anywhere Lua code can run, in spawned greenlets and
-- in the main greenlet, while other greenlets keep running; user
-- coroutines keep their stock semantics.
local gevent = require "gevent"
local core = require "gvlua"

-- Runs body() while a ticker greenlet counts; returns body's results and
-- how many ticks happened meanwhile.
local function with_ticker(body)
  local ticks, stop = 0, false
  local ticker = gevent.spawn(function()
    while not stop do ticks = ticks + 1; gevent.sleep(0.001) end
  end)
  gevent.sleep(0)
  local before = ticks
  local res = table.pack(body())
  local during = ticks - before
  stop = true
  ticker:join()
  return during, table.unpack(res, 1, res.n)
end

local nap = function() gevent.sleep(0.005) end

-- Each case blocks somewhere and returns a value to check.
local cases = {
  {"plain Lua", function() nap(); return "ok" end, "ok"},
  {"pcall", function() return select(2, pcall(function() nap(); return "ok" end)) end, "ok"},
  {"xpcall error handler", function()
    return select(2, xpcall(function() error("e", 0) end,
                            function(e) nap(); return e .. "!" end))
  end, "e!"},
  {"__index metamethod", function()
    local t = setmetatable({}, {__index = function(_, k) nap(); return k end})
    return t.key
  end, "key"},
  {"__add and __lt metamethods", function()
    local mt = {}
    mt.__add = function(a, b) nap(); return a.v + b.v end
    mt.__lt = function(a, b) nap(); return a.v < b.v end
    local x, y = setmetatable({v = 1}, mt), setmetatable({v = 2}, mt)
    return (x + y) .. tostring(x < y)
  end, "3true"},
  {"__close", function()
    local closed
    do
      local _ <close> = setmetatable({}, {__close = function() nap(); closed = "closed" end})
    end
    return closed
  end, "closed"},
  {"generic-for iterator", function()
    local n = 0
    for i in function(_, i) nap(); if (i or 0) < 3 then return (i or 0) + 1 end end do n = n + i end
    return n
  end, 6},
  {"coroutine.wrap generator", function()
    local gen = coroutine.wrap(function() for i = 1, 3 do nap(); coroutine.yield(i) end end)
    return gen() + gen() + gen()
  end, 6},
  {"nested coroutine.resume", function()
    local inner = coroutine.create(function(a)
      local co2 = coroutine.create(function() nap(); return a * 2 end)
      local _, v = coroutine.resume(co2)
      local b = coroutine.yield(v)
      return b + 1
    end)
    local _, v = coroutine.resume(inner, 5)
    local _, w = coroutine.resume(inner, v)
    return w
  end, 11},
  {"table.sort comparator", function()
    local t = {4, 1, 3, 2}
    table.sort(t, function(a, b) nap(); return a < b end)
    return table.concat(t)
  end, "1234"},
  {"string.gsub callback", function()
    return (("ab"):gsub(".", function(c) nap(); return c:upper() end))
  end, "AB"},
  {"load reader", function()
    local parts = {"return ", "4", "2"}
    local i = 0
    local f = load(function() nap(); i = i + 1; return parts[i] end)
    return f()
  end, 42},
  {"require'd module body", function()
    local name = "gvlua_spec_mod_" .. tostring(math.random(1e9))
    package.preload[name] = function() nap(); return {v = "loaded"} end
    local m = require(name)
    package.loaded[name] = nil
    return m.v
  end, "loaded"},
  {"150 nested pcalls", function()
    local function nest(n)
      if n == 0 then nap(); return "deep" end
      return select(2, pcall(nest, n - 1))
    end
    return nest(150)
  end, "deep"},
}

describe("blocking anywhere", function()
  for _, case in ipairs(cases) do
    local name, body, expected = case[1], case[2], case[3]
    it(name .. " (in a spawned greenlet)", function()
      local during, value = with_ticker(function()
        return gevent.spawn(body):get()
      end)
      assert.are.equal(expected, value)
      assert.is_true(during > 0, "other greenlets did not run")
    end)
    it(name .. " (in the main greenlet)", function()
      local during, value = with_ticker(body)
      assert.are.equal(expected, value)
      assert.is_true(during > 0, "other greenlets did not run")
    end)
  end

  it("raises a clear error inside a __gc finalizer", function()
    local msg
    gevent.spawn(function()
      setmetatable({}, {__gc = function()
        local ok, err = pcall(gevent.sleep, 0)
        if not ok then msg = err end
      end})
      collectgarbage()
      collectgarbage()
    end):join()
    assert.matches("__gc finalizer", msg)
  end)

  it("a stray coroutine.yield at a greenlet's top level is an error", function()
    local g = gevent.spawn(function() coroutine.yield(1); return "unreached" end)
    g:join()
    assert.is_false(g:successful())
    assert.matches("outside a coroutine", tostring(g.exception))
  end)
end)

describe("user coroutines inside greenlets", function()
  it("keep resume/yield/status/isyieldable semantics", function()
    local log = {}
    gevent.spawn(function()
      local co = coroutine.create(function(a)
        log[#log + 1] = coroutine.isyieldable()
        gevent.sleep(0.001)
        local b = coroutine.yield(a + 1)
        log[#log + 1] = coroutine.status(coroutine.running())
        return b * 2
      end)
      local function push(_, v) log[#log + 1] = v end
      push(coroutine.resume(co, 1))
      log[#log + 1] = coroutine.status(co)
      push(coroutine.resume(co, 10))
      log[#log + 1] = coroutine.status(co)
      push(coroutine.resume(co))
    end):join()
    assert.are.same({true, 2, "suspended", "running", 20, "dead",
                     "cannot resume dead coroutine"}, log)
  end)

  it("propagate errors raised while blocked to their resumer", function()
    local g = gevent.spawn(function()
      local co = coroutine.wrap(function() gevent.sleep(10) end)
      local ok, err = pcall(co)
      return ok, gevent.GreenletExit:is(err)
    end)
    gevent.sleep(0.001)
    g:kill()
    assert.is_true(g.dead)
  end)
end)

describe("C stacks", function()
  it("greenlets blocked at yieldable points hold no runner stack", function()
    local gs = {}
    for i = 1, 2000 do gs[i] = gevent.spawn(gevent.sleep, 10) end
    gevent.sleep(0)
    local s = core._stats()
    assert.is_true(s.runners <= 4, "runners: " .. s.runners)
    gevent.killall(gs)
  end)

  it("greenlets blocked in C calls hold one, returned when they resume", function()
    local gs = {}
    for i = 1, 50 do
      gs[i] = gevent.spawn(function()
        table.sort({2, 1}, function(a, b) gevent.sleep(0.01); return a < b end)
      end)
    end
    gevent.sleep(0.001)
    assert.is_true(core._stats().runners >= 50)
    gevent.joinall(gs)
    assert.is_true(core._stats().free_runners <= 16)
  end)
end)
