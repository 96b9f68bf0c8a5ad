-- gevent.pool: Group and Pool.
local gevent = require "gevent"
local poolmod = require "gevent.pool"
local Group, Pool, PoolFull = poolmod.Group, poolmod.Pool, poolmod.PoolFull
local Timeout = gevent.Timeout

local function collector()
  local out = {}
  return out, function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    out[#out + 1] = table.concat(parts, " ")
  end
end

describe("gevent.pool", function()
  describe("Group", function()
    it("add, #, contains, list, discard", function()
      local grp = Group()
      assert.equal(0, #grp)
      local a = gevent.spawn(gevent.sleep, 0.01)
      local b = gevent.spawn(gevent.sleep, 0.01)
      grp:add(a)
      grp:add(b)
      grp:add(a) -- twice is once
      assert.equal(2, #grp)
      assert.is_true(grp:contains(a))
      assert.same({ a, b }, grp:list())
      grp:discard(a)
      assert.equal(1, #grp)
      assert.is_false(grp:contains(a))
      grp:discard(a) -- not a member: nothing happens
      assert.equal(1, #grp)
      assert.is_true(grp:join())
      assert.equal(0, #grp)
    end)

    it("dead greenlets leave by themselves", function()
      local grp = Group()
      local g = grp:spawn(function() return 1 end)
      assert.equal(1, #grp)
      g:join()
      gevent.sleep(0)
      assert.equal(0, #grp)
      -- adding a dead greenlet: it leaves at the next turn of the loop
      grp:add(g)
      assert.equal(1, #grp)
      gevent.sleep(0)
      assert.equal(0, #grp)
    end)

    it("a discarded greenlet does not come back when it dies", function()
      local grp = Group()
      local g = grp:spawn(gevent.sleep, 0.01)
      grp:discard(g)
      g:join()
      gevent.sleep(0)
      assert.equal(0, #grp)
    end)

    it("Group(greenlets) tracks them", function()
      local a, b = gevent.spawn(gevent.sleep, 0), gevent.spawn(gevent.sleep, 0)
      local grp = Group({ a, b })
      assert.equal(2, #grp)
      grp:join()
      assert.equal(0, #grp)
    end)

    it("gevent's Group example: join, add a dead one, join", function()
      local out, say = collector()
      local function talk(msg) for _ = 1, 3 do say(msg) end end
      local g1 = gevent.spawn(talk, "bar")
      local g2 = gevent.spawn(talk, "foo")
      local g3 = gevent.spawn(talk, "fizz")
      local group = Group()
      group:add(g1)
      group:add(g2)
      say("g1, g2 join")
      group:join()
      group:add(g3)
      say("g3 join")
      say(group:join())
      assert.same({ "g1, g2 join", "bar", "bar", "bar", "foo", "foo", "foo",
        "fizz", "fizz", "fizz", "g3 join", "true" }, out)
    end)

    it("spawn passes arguments; start adds and starts", function()
      local grp = Group()
      local g = grp:spawn(function(a, b) return a + b end, 2, 3)
      assert.equal(5, g:get())
      local h = gevent.Greenlet(function() return "started" end)
      grp:start(h)
      assert.is_true(grp:contains(h))
      assert.equal("started", h:get())
    end)

    it("join times out with a number, an options table or a Timeout", function()
      local grp = Group()
      local g = grp:spawn(gevent.sleep, 10)
      assert.is_false(grp:join(0.01))
      assert.is_false(grp:join { timeout = 0.01 })
      local t = Timeout(0.01):start()
      assert.is_false(grp:join(t))
      assert.equal(1, #grp)
      -- no joiner is left behind
      assert.equal(0, #grp._joiners)
      g:kill()
      assert.is_true(grp:join(1))
    end)

    it("join rejects a bad timeout", function()
      assert.has_error(function() Group():join("soon") end)
    end)

    it("join(raise_error) re-raises a member's error", function()
      local grp = Group()
      grp:spawn(function() error("bad", 0) end)
      grp:spawn(function() return 1 end)
      local ok, err = pcall(grp.join, grp, nil, true)
      assert.is_false(ok)
      assert.equal("bad", err)
      -- without raise_error the failure does not propagate
      grp:spawn(function() error("worse", 0) end)
      assert.is_true(grp:join())
      local ok2, err2 = pcall(grp.join, grp, { raise_error = true })
      assert.is_true(ok2)  -- the group is empty: nothing to check
      assert.is_true(err2)
    end)

    it("an outer Timeout raises through join", function()
      local grp = Group()
      local g = grp:spawn(gevent.sleep, 10)
      local t = Timeout(0.01):start()
      local ok, err = pcall(grp.join, grp)
      assert.is_false(ok)
      assert.equal(t, err)
      assert.equal(0, #grp._joiners)
      g:kill()
    end)

    it("kill kills every member and waits", function()
      local grp = Group()
      local reached = 0
      for _ = 1, 3 do
        grp:spawn(function() gevent.sleep(10); reached = reached + 1 end)
      end
      local list = grp:list()
      grp:kill()
      assert.equal(0, #grp)
      assert.equal(0, reached)
      for _, g in ipairs(list) do
        assert.is_true(g.dead)
        assert.is_true(gevent.GreenletExit:is(g.value))
      end
    end)

    it("kill with an error, without blocking, and with a timeout", function()
      local grp = Group()
      local g = grp:spawn(gevent.sleep, 10)
      gevent.sleep(0) -- started (an unstarted greenlet dies at once)
      grp:kill("stop", false)
      assert.is_false(g.dead)
      assert.is_true(grp.dying[g])
      g:join()
      assert.equal("stop", g.exception)
      -- a member that ignores the kill: the timeout cuts the wait short
      local stop = false
      local stubborn = grp:spawn(function()
        while not stop do pcall(gevent.sleep, 0.005) end
      end)
      gevent.sleep(0)
      local t0 = os.time()
      grp:kill(nil, true, 0.02)
      assert.is_true(os.time() - t0 < 5)
      assert.is_false(stubborn.dead)
      stop = true
      stubborn:join()
      assert.is_true(grp:join(1))
    end)

    it("kill with an options table", function()
      local grp = Group()
      local g = grp:spawn(gevent.sleep, 10)
      grp:kill { exception = "opt", block = true }
      assert.equal("opt", g.exception)
    end)

    it("kill does not spin on dead members waiting for their discard", function()
      local grp = Group()
      for _ = 1, 3 do grp:spawn(function() end) end
      grp:kill()
      assert.equal(0, #grp)
    end)

    it("kill called from a member kills the others, then itself", function()
      local grp = Group()
      local log = {}
      for i = 1, 2 do
        grp:spawn(function()
          local ok = pcall(gevent.sleep, 10)
          log[#log + 1] = "other " .. i .. (ok and " woke" or " killed")
        end)
      end
      local boss = grp:spawn(function()
        gevent.sleep(0)
        grp:kill()
        log[#log + 1] = "not reached"
      end)
      boss:join()
      assert.same({ "other 1 killed", "other 2 killed" }, log)
      assert.is_true(boss:successful())
      assert.is_true(gevent.GreenletExit:is(boss.value))
      assert.is_true(grp:join(1))
      assert.has_error(function() grp:kill(nil, true, "soon") end)
    end)

    it("killone kills one member", function()
      local grp = Group()
      local a = grp:spawn(gevent.sleep, 10)
      local b = grp:spawn(gevent.sleep, 0.01)
      local outsider = gevent.spawn(gevent.sleep, 0.01)
      gevent.sleep(0)
      grp:killone(a)
      assert.is_true(a.dead)
      grp:killone(outsider) -- not a member: untouched
      assert.is_false(outsider.dead)
      grp:killone(b, "why", false)
      assert.is_false(b.dead)
      b:join()
      assert.equal("why", b.exception)
      assert.has_error(function() grp:killone("nope") end)
    end)

    it("full, free-ness and wait_available never block", function()
      local grp = Group()
      assert.is_false(grp:full())
      assert.is_nil(grp:wait_available())
    end)

    it("map returns the results in order with n, nil kept", function()
      local grp = Group()
      local res = grp:map(function(x)
        gevent.sleep(0.001 * (5 - x))
        if x % 2 == 0 then return nil end
        return x * 10
      end, { 1, 2, 3, 4 })
      assert.equal(4, res.n)
      assert.same({ 10, nil, 30, nil, n = 4 }, res)
    end)

    it("map takes an iterator function and arrays with n and holes", function()
      local grp = Group()
      local i = 0
      local res = grp:map(function(x) return x + 1 end, function()
        i = i + 1
        if i <= 3 then return i end
      end)
      assert.same({ 2, 3, 4, n = 3 }, res)
      res = grp:map(function(x) return x == nil and "nil" or x end,
        { n = 3, "a", nil, "c" })
      assert.same({ "a", "nil", "c", n = 3 }, res)
      res = grp:map(function(x) return x end, {})
      assert.same({ n = 0 }, res)
    end)

    it("map raises a member's error", function()
      local grp = Group()
      local ok, err = pcall(grp.map, grp, function(x)
        if x == 2 then error("two", 0) end
        return x
      end, { 1, 2, 3 })
      assert.is_false(ok)
      assert.equal("two", err)
    end)

    it("map checks its arguments", function()
      local grp = Group()
      assert.has_error(function() grp:map(42, {}) end,
        "bad argument #1 to 'map' (function expected, got number)")
      assert.has_error(function() grp:map(print, 42) end)
      assert.has_error(function() grp:imap(print, "x") end)
      assert.has_error(function() grp:imap_unordered(nil, {}) end)
      assert.has_error(function() grp:spawn(nil) end)
      assert.has_error(function() grp:add({}) end)
      assert.has_error(function() grp:discard(1) end)
    end)

    it("gevent's group.map example: members see the whole group", function()
      local group = Group()
      local out, say = collector()
      group:map(function() say("Size of group " .. #group) end, { 0, 1, 2 })
      assert.same({ "Size of group 3", "Size of group 3", "Size of group 3" },
        out)
    end)

    it("imap yields index, result in order; imap_unordered as they come", function()
      local function intensive(n)
        gevent.sleep((3 - n) / 100)
        return "task", n
      end
      local got = {}
      for i, a, b in Group():imap(intensive, { 0, 1, 2 }) do
        got[#got + 1] = { i, a, b }
      end
      assert.same({ { 1, "task", 0 }, { 2, "task", 1 }, { 3, "task", 2 } }, got)
      got = {}
      for i, a, b in Group():imap_unordered(intensive, { 0, 1, 2 }) do
        got[#got + 1] = { i, a, b }
      end
      assert.same({ { 3, "task", 2 }, { 2, "task", 1 }, { 1, "task", 0 } }, got)
    end)

    it("imap keeps nil results and handles empty input", function()
      local got = {}
      for i, r in Group():imap(function(x) if x > 1 then return x end end,
        { 1, 2, 3 }) do
        got[i] = r == nil and "nil" or r
      end
      assert.same({ "nil", 2, 3 }, got)
      for _ in Group():imap(print, {}) do error("not reached") end
      for _ in Group():imap_unordered(print, {}) do error("not reached") end
    end)

    it("imap raises a member's error when its turn comes", function()
      local seen = {}
      local ok, err = pcall(function()
        for i, r in Group():imap(function(x)
          if x == 2 then error("two", 0) end
          return x
        end, { 1, 2, 3 }) do
          seen[#seen + 1] = r
        end
      end)
      assert.is_false(ok)
      assert.equal("two", err)
      assert.same({ 1 }, seen)
    end)

    it("imap with an iterator function", function()
      local words = ("a b c"):gmatch("%a")
      local got = {}
      for i, r in Group():imap(string.upper, words) do got[i] = r end
      assert.same({ "A", "B", "C" }, got)
    end)

    it("apply runs in a member and returns or raises", function()
      local grp = Group()
      assert.equal(7, grp:apply(function(a, b) return a + b end, { 3, 4 }))
      local a, b = grp:apply(function() return 1, 2 end)
      assert.equal(1, a)
      assert.equal(2, b)
      assert.has_error(function()
        grp:apply(function() error("nope", 0) end)
      end, "nope")
      -- from a member, directly (no new greenlet)
      local inner
      local member = grp:spawn(function()
        inner = grp:apply(function() return gevent.getcurrent() end)
      end)
      member:join()
      assert.equal(member, inner)
    end)

    it("apply_async returns a greenlet and calls back with the value", function()
      local grp = Group()
      local got
      local g = grp:apply_async(function(x) return x * 2 end, { 21 },
        function(v) got = v end)
      assert.is_true(grp:contains(g))
      assert.equal(42, g:get())
      gevent.sleep(0)
      assert.equal(42, got)
      -- no callback on failure
      got = nil
      local f = grp:apply_async(function() error("x", 0) end, nil,
        function(v) got = v end)
      f:join()
      gevent.sleep(0)
      assert.is_nil(got)
    end)

    it("map_async runs map in a greenlet, then the callback", function()
      local grp = Group()
      local got
      local g = grp:map_async(function(x) return -x end, { 1, 2 },
        function(r) got = r end)
      local r = g:get()
      assert.same({ -1, -2, n = 2 }, r)
      assert.equal(r, got)
    end)

    it("accepts any greenlet: failed ones, subclasses (greenlet_class)", function()
      local grp = Group()
      local f = gevent.spawn(function() error("x", 0) end)
      f:join()
      assert.is_number(f.minimal_ident)
      grp:add(f)
      assert.equal(1, #grp)
      gevent.sleep(0)
      assert.equal(0, #grp)
      local My = gevent.Greenlet:subclass()
      function My:_run() return "mine", self.tag end
      local p = Pool(1, My)
      local g = p:spawn()
      g.tag = "t"
      local a, b = g:get()
      assert.equal("mine", a)
      assert.equal("t", b)
    end)

    it("tostring", function()
      assert.matches("^<Group at 0x%x+: 0 greenlets>$", tostring(Group()))
      local p = Pool(1)
      p:spawn(gevent.sleep, 0)
      assert.matches("^<Pool at 0x%x+: 1 greenlets>$", tostring(p))
      p:join()
    end)
  end)

  describe("Pool", function()
    it("rejects bad sizes", function()
      assert.has_error(function() Pool(-1) end,
        "bad argument #1 to 'gevent.pool.Pool' (size must not be negative: -1)")
      assert.has_error(function() Pool("big") end,
        "bad argument #1 to 'gevent.pool.Pool' (integer expected, got string)")
      assert.has_error(function() Pool(1.5) end,
        "bad argument #1 to 'gevent.pool.Pool' (integer expected, got float)")
      assert.has_error(function() Group(42) end,
        "bad argument #1 to 'gevent.pool.Group' (table expected, got number)")
      assert.equal(2, Pool(2.0).size)
    end)

    it("full, free_count, wait_available", function()
      local p = Pool(2)
      local gate = require("gevent.lock").Semaphore(0)
      assert.equal(2, p:free_count())
      assert.is_false(p:full())
      local a = p:spawn(function() gate:acquire() end)
      assert.equal(1, p:free_count())
      local b = p:spawn(function() gate:acquire() end)
      assert.is_true(p:full())
      assert.equal(0, p:free_count())
      assert.equal(0, p:wait_available(0.001))
      assert.equal(0, p:wait_available { timeout = 0.001 })
      local t = Timeout(0.001):start()
      assert.equal(0, p:wait_available(t))
      gevent.spawn(function() gate:release(); gate:release() end)
      -- both finish in the same turn: both slots are free (as in gevent)
      assert.equal(2, p:wait_available())
      assert.is_false(p:full())
      gevent.joinall({ a, b })
      p:join()
      assert.equal(2, p:free_count())
    end)

    it("spawn waits for a free slot", function()
      local p = Pool(1)
      local log = {}
      p:spawn(function() gevent.sleep(0.01); log[#log + 1] = "first" end)
      p:spawn(function() log[#log + 1] = "second" end)
      log[#log + 1] = "spawned"
      p:join()
      assert.same({ "first", "spawned", "second" }, log)
    end)

    it("add raises PoolFull when it may not wait or the wait times out", function()
      local p = Pool(1)
      p:spawn(gevent.sleep, 0.05)
      local g = gevent.Greenlet(function() end)
      local ok, err = pcall(p.add, p, g, false)
      assert.is_false(ok)
      assert.is_true(PoolFull:is(err))
      ok, err = pcall(p.add, p, g, true, 0.005)
      assert.is_false(ok)
      assert.is_true(PoolFull:is(err))
      ok, err = pcall(p.add, p, g, { timeout = 0.005 })
      assert.is_false(ok)
      assert.is_true(PoolFull:is(err))
      assert.equal(1, #p)
      p:join()
      p:add(g, false)
      assert.equal(1, #p)
      p:discard(g)
      assert.equal(1, p:free_count())
      assert.is_true(p:join())
    end)

    it("discard frees the slot exactly once", function()
      local p = Pool(1)
      local g = p:spawn(function() end)
      p:discard(g)
      g:join()
      gevent.sleep(0)
      assert.equal(1, p:free_count())
      assert.equal(1, p._semaphore.counter)
    end)

    it("Pool(0) never admits anyone", function()
      local p = Pool(0)
      assert.is_true(p:full())
      assert.equal(0, p:wait_available(0.001))
      local ok, err = pcall(p.spawn, p, print)
      assert.is_false(ok)
      assert.is_true(gevent.LoopExit:is(err))
    end)

    it("an unbounded Pool() never blocks", function()
      local p = Pool()
      assert.is_nil(p.size)
      for _ = 1, 10 do p:spawn(gevent.sleep, 0) end
      assert.equal(10, #p)
      assert.is_false(p:full())
      assert.equal(1, p:free_count())
      assert.equal(1, p:wait_available())
      p:join()
    end)

    it("a kill while waiting for a slot leaves no trace", function()
      local p = Pool(1)
      local holder = p:spawn(gevent.sleep, 0.02)
      local waiter = gevent.spawn(function() p:spawn(print, "never") end)
      gevent.sleep(0)
      waiter:kill()
      holder:join()
      p:join()
      assert.equal(1, p:free_count())
      assert.equal(1, p._semaphore.counter)
    end)

    it("gevent's Pool(2) map example", function()
      local pool = Pool(2)
      local out, say = collector()
      local res = pool:map(function() say("Size of pool " .. #pool) end,
        { 0, 1, 2 })
      assert.same({ "Size of pool 2", "Size of pool 2", "Size of pool 1" }, out)
      assert.equal(3, res.n)
    end)

    it("gevent's pool.add(gevent.spawn(...)) example", function()
      local pool = Pool(2)
      local out, say = collector()
      local function func(n)
        say("Size of pool " .. #pool)
        say(n)
      end
      for i = 0, 9 do pool:add(gevent.spawn(func, i)) end
      say(pool:join())
      assert.same({
        "Size of pool 2", "0", "Size of pool 2", "1", "Size of pool 2", "2",
        "Size of pool 1", "3", "Size of pool 1", "4", "Size of pool 0", "5",
        "Size of pool 1", "6", "Size of pool 1", "7", "Size of pool 0", "8",
        "Size of pool 1", "9", "true",
      }, out)
    end)

    it("gevent's semaphore example under Pool():map", function()
      local sem = require("gevent.lock").BoundedSemaphore(2)
      local out, say = collector()
      local function worker1(n)
        sem:acquire()
        say(("Worker %d acquired semaphore"):format(n))
        gevent.sleep(0)
        sem:release()
        say(("Worker %d released semaphore"):format(n))
      end
      local function worker2(n)
        do
          local held <close> = sem:acquire()
          say(("Worker %d acquired semaphore"):format(n))
          gevent.sleep(0)
        end
        say(("Worker %d released semaphore"):format(n))
      end
      local pool = Pool()
      pool:map(worker1, { 0, 1 })
      pool:map(worker2, { 3, 4, 5 })
      assert.same({
        "Worker 0 acquired semaphore", "Worker 1 acquired semaphore",
        "Worker 0 released semaphore", "Worker 1 released semaphore",
        "Worker 3 acquired semaphore", "Worker 4 acquired semaphore",
        "Worker 3 released semaphore", "Worker 4 released semaphore",
        "Worker 5 acquired semaphore", "Worker 5 released semaphore",
      }, out)
    end)

    it("imap on a Pool runs at most size at once", function()
      local p = Pool(2)
      local running, max = 0, 0
      local got = {}
      for i, r in p:imap(function(x)
        running = running + 1
        if running > max then max = running end
        gevent.sleep(0.001)
        running = running - 1
        return x * x
      end, { 1, 2, 3, 4, 5 }) do
        got[i] = r
      end
      assert.same({ 1, 4, 9, 16, 25 }, got)
      assert.equal(2, max)
    end)

    it("apply_async on a full pool does not block", function()
      local p = Pool(1)
      p:spawn(gevent.sleep, 0.01)
      local got
      local g = p:apply_async(function() return "later" end, nil,
        function(v) got = v end)
      assert.is_false(p:contains(g))
      assert.equal("later", g:get())
      gevent.sleep(0)
      assert.equal("later", got)
      p:join()
    end)

    it("kill empties the pool and frees every slot", function()
      local p = Pool(3)
      for _ = 1, 3 do p:spawn(gevent.sleep, 10) end
      assert.is_true(p:full())
      p:kill()
      assert.equal(0, #p)
      assert.equal(3, p:free_count())
      assert.equal(3, p._semaphore.counter)
    end)

    it("a thousand greenlets through a small pool", function()
      local p = Pool(7)
      local done = 0
      for _ = 1, 1000 do
        p:spawn(function() gevent.sleep(0); done = done + 1 end)
      end
      p:join()
      assert.equal(1000, done)
      assert.equal(7, p._semaphore.counter)
    end)
  end)
end)

-- Issue 9, found by the API fuzz: an error that stops Group's bookkeeping
-- between two statements (max_slice's SliceExceeded and Ctrl-C can strike
-- at any instruction) broke the member chain, and list() (so kill, join
-- with raise_error...) looped for ever. Here an error is raised at every
-- instruction count of add and discard in turn; list() must still end.
describe("a Group stopped midway by an error", function()
  local function stopped_at(k, fn, ...)
    local h, m, c = debug.gethook()
    local ok = pcall(function(...) -- one shot: the hook disarms itself
      debug.sethook(function() debug.sethook(h, m, c); error("stopped", 0) end,
                    "", k)
      fn(...)
      debug.sethook(h, m, c)
    end, ...)
    debug.sethook(h, m, c)
    return ok
  end
  local function finite_list(grp) -- list() under a bound: an error, not a hang
    local h, m, c = debug.gethook()
    local ok, out = pcall(function()
      debug.sethook(function()
        debug.sethook(h, m, c); error("list() does not end", 0)
      end, "", 1000000)
      local l = grp:list()
      debug.sethook(h, m, c)
      return l
    end)
    debug.sethook(h, m, c)
    assert(ok, out)
    return out
  end

  it("keeps list() finite, whatever instruction add or discard stopped at", function()
    local block = require("gevent.event").Event()
    local gs = {}
    for i = 1, 4 do gs[i] = gevent.spawn(function() block:wait() end) end
    local finished = 0
    for k = 1, 2000 do
      local grp = Group()
      grp:add(gs[1]); grp:add(gs[2])
      local done = stopped_at(k, grp.add, grp, gs[3])
      finite_list(grp)
      stopped_at(k, grp.discard, grp, gs[1])
      finite_list(grp)
      grp:add(gs[4])
      finite_list(grp)
      if done then
        finished = finished + 1
        if finished == 3 then break end -- past the end of add
      end
    end
    assert.is_true(finished > 0) -- the bound covered a whole add
    block:set()
    gevent.joinall(gs, 5)
  end)
end)
