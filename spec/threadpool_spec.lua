-- gevent.threadpool: functions run in OS threads with their own Lua
-- states; what is copied, how results and errors come back, and that the
-- hub keeps running meanwhile.
local gevent = require "gevent"
local ThreadPool = require("gevent.threadpool").ThreadPool

local function clock() return require("socket").gettime() end

describe("gevent.threadpool.ThreadPool", function()
  local pool
  before_each(function() pool = ThreadPool(2) end)
  after_each(function() pool:kill() end)

  it("runs the seed example: 10 spawns on ThreadPool(2), then join", function()
    local results = {}
    for i = 0, 9 do results[#results + 1] = pool:spawn(function(text, num)
      return text .. " " .. num
    end, "Hello", i) end
    pool:join()
    for i = 0, 9 do
      assert.is_true(results[i + 1]:ready())
      assert.are.equal("Hello " .. i, results[i + 1].value)
    end
    assert.are.equal(0, pool.pending)
    assert.are.equal(2, pool.maxsize)
    assert.is_true(pool.size >= 1 and pool.size <= 2)
  end)

  it("returns an AsyncResult: get, value, ready, successful (first result only)", function()
    local r = pool:spawn(function(a, b) return a + b, "dropped" end, 2, 3)
    local a, b = r:get()
    assert.are.same({5, nil}, {a, b})
    assert.is_true(r:ready())
    assert.is_true(r:successful())
    assert.are.equal(5, r.value)
    assert.is_nil(r.exception)
    assert.are.equal(5, r:wait())
  end)

  it("copies numbers, strings, booleans, nil and nested tables both ways", function()
    local arg = {1, 2.5, "s", true, false, n = {deep = {deeper = {"x"}}},
                 [10] = "ten", [2.5] = "float key", [true] = "bool key"}
    local r = pool:spawn(function(t, x, y)
      t.added = "in thread"
      return {t = t, x = x, y = y, math.type(t[1]), math.type(t[2])}
    end, arg, nil, "\0bin\255")
    local res = r:get()
    local t, x, y, mt1, mt2 = res.t, res.x, res.y, res[1], res[2]
    assert.are_not.equal(arg, t)       -- a copy
    assert.is_nil(arg.added)           -- the original is untouched
    assert.are.equal("in thread", t.added)
    assert.are.equal("x", t.n.deep.deeper[1])
    assert.are.equal("ten", t[10])
    assert.are.equal("float key", t[2.5])
    assert.are.equal("bool key", t[true])
    assert.is_nil(x)
    assert.are.equal("\0bin\255", y)
    assert.are.same({"integer", "float"}, {mt1, mt2})
  end)

  it("keeps shared references and cycles", function()
    local shared = {v = 1}
    local cyc = {shared = shared, also = shared}
    cyc.self = cyc
    local r = pool:spawn(function(t)
      return {t.self == t, t.shared == t.also, t}
    end, cyc)
    local same, shared_ok, back = table.unpack(r:get())
    assert.is_true(same)
    assert.is_true(shared_ok)
    assert.are.equal(back, back.self)
    assert.are.equal(back.shared, back.also)
  end)

  it("copies metatables", function()
    local V = {}
    V.__index = V
    V.__add = function(a, b) return setmetatable({x = a.x + b.x}, getmetatable(a)) end
    function V:len() return self.x end
    local r = pool:spawn(function(a, b) return (a + b):len() end,
                         setmetatable({x = 1}, V), setmetatable({x = 2}, V))
    assert.are.equal(3, r:get())
  end)

  it("copies Lua functions with their upvalues; globals and the standard library map over", function()
    local k = 10
    local insert, fmt = table.insert, string.format
    local function helper(x) return x * k end
    local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
    local r = pool:spawn(function(n)
      local out = {}
      insert(out, fmt("%d", helper(n)))
      insert(out, tostring(fib(15)))
      insert(out, type(string.rep) .. type(_G) .. type(io.write))
      return table.concat(out, ",")
    end, 4)
    assert.are.equal("40,610,functiontablefunction", r:get())
    -- functions as arguments and as table fields
    r = pool:spawn(function(f, t) return f(2) + t.g(3) end,
                   function(x) return x * 100 end, {g = function(x) return x end})
    assert.are.equal(203, r:get())
    -- a function may be returned and called back here
    local back = pool:spawn(function() local c = 7; return function() return c end end):get()
    assert.are.equal(7, back())
  end)

  it("refuses userdata, threads and C functions with the value's path", function()
    assert.has_error(function() pool:spawn(42) end,
      "bad argument #1 to 'spawn' (function expected, got number)")
    local ok, err = pcall(pool.spawn, pool, function() end, {conn = {sock = io.tmpfile()}})
    assert.is_false(ok)
    assert.matches("cannot copy userdata at argument 1%.conn%.sock to a worker thread", err)
    ok, err = pcall(pool.spawn, pool, function() end, 1, coroutine.create(print))
    assert.is_false(ok)
    assert.matches("cannot copy a thread %(coroutine%) at argument 2 ", err)
    local f = io.tmpfile()
    ok, err = pcall(pool.spawn, pool, function() return f end)
    assert.is_false(ok)
    assert.matches("at the function %(upvalue 'f'%)", err)
    f:close()
    local cfn = require("gvlua").spawn -- a C function outside the standard library
    ok, err = pcall(pool.spawn, pool, cfn)
    assert.is_false(ok)
    assert.matches("cannot copy a C function at the function", err)
    ok, err = pcall(pool.spawn, pool, function() end, {[io.stdin] = 1, [{}] = {x = coroutine.running()}})
    assert.is_false(ok)
    assert.matches("cannot copy a thread", err)
    -- nothing was queued by the failed spawns
    assert.are.equal(0, pool.pending)
  end)

  it("refuses results that cannot be copied back, naming them", function()
    local ok, err = pcall(function()
      return pool:spawn(function() return 1, {h = io.tmpfile()} end):get()
    end)
    assert.is_false(ok)
    assert.matches("cannot copy userdata at result 2%.h from a worker thread", err)
  end)

  it("re-raises errors from the thread in the caller", function()
    local r = pool:spawn(function() error("boom") end)
    local ok, err = pcall(r.get, r)
    assert.is_false(ok)
    assert.matches("boom", err)
    assert.is_false(r:successful())
    assert.matches("boom", r.exception)
    -- error values are copied too
    r = pool:spawn(function() error({code = 7}) end)
    ok, err = pcall(r.get, r)
    assert.is_false(ok)
    assert.are.equal(7, err.code)
    -- apply raises directly
    assert.has_error(function() pool:apply(function(x) error("bad " .. x, 0) end, {"arg"}) end, "bad arg")
  end)

  it("keeps the hub running: a CPU-bound job while a ticker greenlet ticks #novalgrind", function()
    local ticks = 0
    local ticker = gevent.spawn(function()
      while true do ticks = ticks + 1; gevent.sleep(0.005) end
    end)
    local t0 = clock()
    local r = pool:spawn(function()
      local t = os.clock()
      local s = 0
      while os.clock() - t < 0.3 do for i = 1, 1000 do s = s + i end end
      return s > 0
    end)
    assert.is_true(r:get())
    local elapsed = clock() - t0
    ticker:kill()
    assert.is_true(elapsed >= 0.25)
    assert.is_true(ticks >= 10, "ticks: " .. ticks)
  end)

  it("runs jobs at the same time, up to its size #novalgrind", function()
    local function job()
      local gettime = require("socket").gettime -- loaded in the worker
      local s = gettime()
      while gettime() - s < 0.15 do end
      return {s, gettime()}
    end
    local r1, r2 = pool:spawn(job), pool:spawn(job)
    local a, b = r1:get(), r2:get()
    -- the two intervals overlap: both ran at once
    assert.is_true(a[1] < b[2] and b[1] < a[2])
    assert.are.equal(2, pool.size)
  end)

  it("map, imap and apply", function()
    local out = pool:map(function(x) return x * x end, {1, 2, 3, 4, 5})
    assert.are.same({1, 4, 9, 16, 25, n = 5}, out)
    local got = {}
    for i, v in pool:imap(function(x) return -x end, {1, 2, 3}) do got[i] = v end
    assert.are.same({-1, -2, -3}, got)
    assert.are.equal("ababab", pool:apply(string.rep, {"ab", 3}))
    assert.are.equal(3, pool:apply(function(...) return select("#", ...) end, {n = 3}))
  end)

  it("get(block, timeout) raises Timeout; get(false) too; wait(timeout) returns nil #novalgrind", function()
    local r = pool:spawn(function()
      local t = os.clock()
      while os.clock() - t < 0.3 do end
      return "late"
    end)
    local ok, err = pcall(r.get, r, true, 0.05)
    assert.is_false(ok)
    assert.is_true(gevent.Timeout:is(err))
    ok, err = pcall(r.get, r, false)
    assert.is_false(ok)
    assert.is_true(gevent.Timeout:is(err))
    assert.is_nil(r:wait(0.01))
    assert.are.equal("late", r:get())
  end)

  it("works with gevent.wait / iwait (rawlink)", function()
    local r1 = pool:spawn(function() return 1 end)
    local r2 = pool:spawn(function() return 2 end)
    local done = gevent.wait({r1, r2})
    assert.are.equal(2, #done)
  end)

  it("kill() fails queued jobs and interrupts running Lua code; the pool stays usable", function()
    local spin = pool:spawn(function() while true do end end)
    local spin2 = pool:spawn(function() while true do end end)
    local queued = pool:spawn(function() return "never" end)
    gevent.sleep(0.05)
    pool:kill()
    local ok, err = pcall(queued.get, queued)
    assert.is_false(ok)
    assert.matches("killed", err)
    ok, err = pcall(spin.get, spin, true, 2)
    assert.is_false(ok)
    assert.matches("killed", err)
    assert.is_false((pcall(spin2.get, spin2, true, 2)))
    pool:join()
    assert.are.equal(0, pool.pending)
    assert.are.equal("again", pool:spawn(function() return "again" end):get())
  end)

  it("join() waits for every job; pending jobs keep the loop alive", function()
    local rs = {}
    for i = 1, 6 do rs[i] = pool:spawn(function(x)
      local t = os.clock()
      while os.clock() - t < 0.02 do end
      return x
    end, i) end
    pool:join()
    for i = 1, 6 do assert.are.equal(i, rs[i].value) end
    -- gevent.wait() with no objects returns only when the jobs are done
    local r = pool:spawn(function() local t = os.clock() while os.clock() - t < 0.05 do end return 1 end)
    gevent.wait()
    assert.is_true(r:ready())
  end)

  it("os.execute and io.popen inside a job get their own statuses", function()
    local r = pool:spawn(function()
      local _, how, code = os.execute("exit 4")
      local f = io.popen("echo hi; exit 2")
      local out = f:read("a")
      local _, how2, code2 = f:close()
      return {how, code, out, how2, code2}
    end)
    assert.are.same({"exit", 4, "hi\n", "exit", 2}, r:get())
  end)

  it("workers keep their own globals; require works inside", function()
    local r = pool:spawn(function()
      local s = require "string"
      return {s == string, _G.gevent == nil}
    end)
    local a, b = table.unpack(r:get())
    assert.is_true(a)
    assert.is_true(b)
  end)
end)
