-- gevent.lock: Semaphore, BoundedSemaphore, Lock, RLock.
local gevent = require "gevent"
local lock = require "gevent.lock"

local Semaphore, BoundedSemaphore = lock.Semaphore, lock.BoundedSemaphore
local Lock, RLock = lock.Lock, lock.RLock
local Timeout = gevent.Timeout

describe("gevent.lock", function()
  describe("Semaphore", function()
    it("starts at 1 or the given value", function()
      assert.equal(1, Semaphore().counter)
      assert.equal(3, Semaphore(3).counter)
      assert.equal(0, Semaphore(0).counter)
    end)

    it("rejects negative and non-integer values", function()
      assert.has_error(function() Semaphore(-1) end,
        "bad argument #1 to 'gevent.lock.Semaphore' (semaphore initial value must be >= 0)")
      assert.has_error(function() BoundedSemaphore(-2) end,
        "bad argument #1 to 'gevent.lock.BoundedSemaphore' (semaphore "
        .. "initial value must be >= 0)")
      assert.has_error(function() Semaphore("x") end,
        "bad argument #1 to 'gevent.lock.Semaphore' (integer expected, got string)")
      assert.has_error(function() Semaphore(1.5) end)
      assert.has_error(function() Semaphore({}) end)
    end)

    it("acquire returns the semaphore itself, release the counter", function()
      local s = Semaphore(2)
      assert.equal(s, s:acquire())
      assert.equal(1, s.counter)
      assert.is_false(s:locked())
      assert.equal(s, s:acquire())
      assert.is_true(s:locked())
      assert.equal(1, s:release())
      assert.equal(2, s:release())
      -- a plain Semaphore may be over-released
      assert.equal(3, s:release())
    end)

    it("non-blocking acquire gives up at once", function()
      local s = Semaphore(0)
      assert.is_false(s:acquire(false))
      assert.is_false(s:acquire { blocking = false })
      assert.equal(0, s.counter)
    end)

    it("times out with a number, an options table or a Timeout", function()
      local s = Semaphore(0)
      local t0 = os.clock()
      assert.is_false(s:acquire(true, 0.02))
      assert.is_false(s:acquire { timeout = 0.02 })
      local t = Timeout(0.02):start()
      assert.is_false(s:acquire(true, t))
      assert.is_false(t.pending)
      assert.equal(0, s.counter)
      assert.is_true(os.clock() - t0 < 1)
      -- a timeout given but a unit free: no waiting at all
      s:release()
      assert.equal(s, s:acquire(true, 0))
    end)

    it("an outer Timeout raises through acquire", function()
      local s = Semaphore(0)
      local t = Timeout(0.02)
      t:start()
      local ok, err = pcall(s.acquire, s)
      assert.is_false(ok)
      assert.equal(t, err)
      assert.equal(0, s.counter)
    end)

    it("checks its arguments before blocking", function()
      local s = Semaphore(0)
      assert.has_error(function() s:acquire(true, "soon") end)
      assert.has_error(function() s:acquire(true, {}) end)
      assert.has_error(function() s.acquire(42) end)
      assert.has_error(function() s.release("x") end)
      assert.has_error(function() s:wait("soon") end)
    end)

    it("is closable: <close> releases at scope exit", function()
      local s = Semaphore(1)
      do
        local held <close> = s:acquire()
        assert.equal(s, held)
        assert.equal(0, s.counter)
      end
      assert.equal(1, s.counter)
    end)

    it("<close> releases on error too", function()
      local s = BoundedSemaphore(1)
      local ok, err = pcall(function()
        local held <close> = s:acquire()
        error("boom", 0)
      end)
      assert.is_false(ok)
      assert.equal("boom", err)
      assert.equal(1, s.counter)
      -- false from a failed acquire is ignored by <close>
      s:acquire()
      do
        local held <close> = s:acquire(false)
        assert.is_false(held)
      end
      assert.equal(0, s.counter)
      s:release()
    end)

    it("wakes waiters in FIFO order", function()
      local s = Semaphore(0)
      local order = {}
      local gs = {}
      for i = 1, 5 do
        gs[i] = gevent.spawn(function()
          s:acquire()
          order[#order + 1] = i
        end)
      end
      gevent.sleep(0)
      for _ = 1, 5 do s:release() end
      gevent.joinall(gs)
      assert.same({ 1, 2, 3, 4, 5 }, order)
      assert.equal(0, s.counter)
    end)

    it("a releaser does not barge ahead of waiters", function()
      local s = Semaphore(1)
      local log = {}
      local a = gevent.spawn(function()
        s:acquire()
        gevent.sleep(0.01)
        s:release()
        log[#log + 1] = s:acquire(false) and "a-again" or "a-refused"
        s:acquire()
        log[#log + 1] = "a-got"
        s:release()
      end)
      local b = gevent.spawn(function()
        gevent.sleep(0)
        s:acquire()
        log[#log + 1] = "b-got"
        s:release()
      end)
      gevent.joinall({ a, b })
      assert.same({ "a-refused", "b-got", "a-got" }, log)
      assert.equal(1, s.counter)
    end)

    it("gevent's BoundedSemaphore example (six workers)", function()
      local sem = BoundedSemaphore(2)
      local out = {}
      local function worker(n)
        sem:acquire()
        out[#out + 1] = ("Worker %d acquired semaphore"):format(n)
        gevent.sleep(0)
        sem:release()
        out[#out + 1] = ("Worker %d released semaphore"):format(n)
      end
      local gs = {}
      for i = 0, 5 do gs[#gs + 1] = gevent.spawn(worker, i) end
      gevent.joinall(gs)
      assert.same({
        "Worker 0 acquired semaphore", "Worker 1 acquired semaphore",
        "Worker 0 released semaphore", "Worker 1 released semaphore",
        "Worker 2 acquired semaphore", "Worker 3 acquired semaphore",
        "Worker 2 released semaphore", "Worker 3 released semaphore",
        "Worker 4 acquired semaphore", "Worker 5 acquired semaphore",
        "Worker 4 released semaphore", "Worker 5 released semaphore",
      }, out)
    end)

    it("a kill while blocked in acquire leaves no trace", function()
      local s = Semaphore(0)
      local got = {}
      local g1 = gevent.spawn(function() s:acquire(); got[#got + 1] = 1 end)
      local g2 = gevent.spawn(function() s:acquire(); got[#got + 1] = 2 end)
      gevent.sleep(0)
      g1:kill()
      assert.is_true(g1.dead)
      assert.equal(0, s.counter)
      s:release()
      g2:join()
      assert.same({ 2 }, got)
      assert.equal(0, s.counter)
      assert.is_true(g1:successful()) -- GreenletExit counts as success
    end)

    it("a kill after the unit was handed over gives it back", function()
      local s = Semaphore(0)
      local got = {}
      local g1 = gevent.spawn(function() s:acquire(); got[#got + 1] = 1 end)
      local g2 = gevent.spawn(function() s:acquire(); got[#got + 1] = 2 end)
      gevent.sleep(0)
      s:release()        -- promised to g1, which has not run yet
      assert.equal(1, s.counter) -- counted, as in gevent, but reserved:
      assert.is_true(s:locked())
      assert.is_false(s:acquire(false))
      g1:kill()          -- so g2 gets it instead
      g2:join()
      assert.same({ 2 }, got)
      assert.equal(0, s.counter)
      -- with nobody waiting, the unit goes back to the counter
      local g3 = gevent.spawn(function() s:acquire(); got[#got + 1] = 3 end)
      gevent.sleep(0)
      s:release()
      g3:kill()
      assert.equal(1, s.counter)
      assert.same({ 2 }, got)
    end)

    it("a kill with a custom error while blocked propagates it", function()
      local s = Semaphore(0)
      local g = gevent.spawn(function() s:acquire() end)
      gevent.sleep(0)
      g:kill("custom", true)
      assert.equal("custom", g.exception)
      assert.equal(0, s.counter)
    end)

    it("the main greenlet gets LoopExit when nothing can release", function()
      local s = Semaphore(0)
      local ok, err = pcall(s.acquire, s)
      assert.is_false(ok)
      assert.is_true(gevent.LoopExit:is(err))
      assert.equal(0, s.counter)
    end)

    it("wait() waits for a free unit without taking it", function()
      local s = Semaphore(0)
      local seen
      local w = gevent.spawn(function() seen = s:wait() end)
      local a = gevent.spawn(function() s:acquire() end)
      gevent.sleep(0)
      s:release()
      gevent.joinall({ w, a })
      -- the waiter saw the unit; the acquirer behind it took it
      assert.equal(1, seen)
      assert.equal(0, s.counter)
      assert.equal(0, s:wait(0.01))
      assert.equal(0, s:wait { timeout = 0.01 })
      local t = Timeout(0.01):start()
      assert.equal(0, s:wait(t))
      s:release()
      assert.equal(1, s:wait())
    end)

    it("ready() and tostring", function()
      local s = Semaphore(1)
      assert.is_true(s:ready())
      assert.matches("^<Semaphore at .* counter=1 waiters=0>$", tostring(s))
      s:acquire()
      assert.is_false(s:ready())
    end)

    it("works on the main greenlet and inside nested coroutines", function()
      local s = Semaphore(0)
      gevent.spawn(function() s:release() end)
      assert.equal(1, s:wait()) -- main: the slow path
      assert.equal(s, s:acquire())
      local g = gevent.spawn(function()
        return coroutine.wrap(function()
          return s:wait(), s:acquire() == s, s:acquire(true, 0.01)
        end)()
      end)
      gevent.sleep(0)
      s:release()
      local seen, got, late = g:get()
      assert.equal(1, seen)
      assert.is_true(got)
      assert.is_false(late)
      -- a unit handed to a waiter parked in a coroutine, then a kill
      local got2 = {}
      local a = gevent.spawn(function()
        coroutine.wrap(function() s:acquire(); got2[#got2 + 1] = "a" end)()
      end)
      local b = gevent.spawn(function() s:acquire(); got2[#got2 + 1] = "b" end)
      gevent.sleep(0)
      s:release()
      a:kill()
      b:join()
      assert.same({ "b" }, got2)
      assert.equal(0, s.counter)
    end)

    it("cannot block in the hub", function()
      local s = Semaphore(0)
      local ok, err
      local g = gevent.spawn(function() end)
      g:rawlink(function()
        ok, err = pcall(s.acquire, s)
        -- but a non-blocking acquire is fine there
        assert(s:acquire(false) == false)
      end)
      g:join()
      gevent.sleep(0)
      assert.is_false(ok)
      assert.matches("cannot block in the hub", err)
    end)

    it("release may come from the hub (a rawlink callback)", function()
      local s = Semaphore(0)
      local g = gevent.spawn(function() end)
      g:rawlink(function() s:release() end)
      assert.equal(s, s:acquire())
    end)
  end)

  describe("BoundedSemaphore", function()
    it("refuses to be released past its initial value", function()
      local s = BoundedSemaphore(2)
      assert.has_error(function() s:release() end,
        "Semaphore released too many times")
      s:acquire()
      s:acquire()
      s:release()
      s:release()
      assert.has_error(function() s:release() end,
        "Semaphore released too many times")
      assert.equal(2, s.counter)
    end)

    it("counts units handed to waiters as taken", function()
      local s = BoundedSemaphore(1)
      s:acquire()
      local g = gevent.spawn(function() s:acquire(); s:release() end)
      gevent.sleep(0)
      s:release() -- promised to g
      assert.has_error(function() s:release() end,
        "Semaphore released too many times")
      g:join()
      assert.equal(1, s.counter)
    end)
  end)

  describe("Lock", function()
    it("is a mutex that cannot be released unlocked", function()
      local l = Lock()
      assert.is_false(l:locked())
      assert.has_error(function() l:release() end, "release unlocked lock")
      assert.equal(l, l:acquire())
      assert.is_true(l:locked())
      assert.is_false(l:acquire(false))
      l:release()
      assert.is_false(l:locked())
    end)

    it("serialises critical sections", function()
      local l = Lock()
      local inside, max = 0, 0
      local gs = {}
      for i = 1, 4 do
        gs[i] = gevent.spawn(function()
          local held <close> = l:acquire()
          inside = inside + 1
          if inside > max then max = inside end
          gevent.sleep(0)
          inside = inside - 1
        end)
      end
      gevent.joinall(gs)
      assert.equal(1, max)
      assert.is_false(l:locked())
    end)
  end)

  describe("RLock", function()
    it("is re-entrant for its owner", function()
      local r = RLock()
      assert.is_false(r:locked())
      assert.equal(r, r:acquire())
      assert.equal(r, r:acquire())
      assert.is_true(r:locked())
      assert.is_true(r:_is_owned())
      r:release()
      assert.is_true(r:locked())
      r:release()
      assert.is_false(r:locked())
      assert.is_false(r:_is_owned())
    end)

    it("cannot be released by a greenlet that does not hold it", function()
      local r = RLock()
      assert.has_error(function() r:release() end,
        "cannot release un-acquired lock")
      r:acquire()
      local g = gevent.spawn(function() r:release() end)
      g:join()
      assert.matches("cannot release un%-acquired lock", tostring(g.exception))
      assert.is_true(r:locked())
      r:release()
    end)

    it("blocks other greenlets until fully released", function()
      local r = RLock()
      local log = {}
      r:acquire()
      r:acquire()
      local g = gevent.spawn(function()
        log[#log + 1] = r:acquire(false) and "got" or "refused"
        local held <close> = r:acquire()
        log[#log + 1] = "acquired"
      end)
      gevent.sleep(0)
      r:release()
      gevent.sleep(0)
      log[#log + 1] = "released once"
      r:release()
      g:join()
      assert.same({ "refused", "released once", "acquired" }, log)
      assert.is_false(r:locked())
    end)

    it("times out like a semaphore", function()
      local r = RLock()
      local g = gevent.spawn(function() r:acquire(); gevent.sleep(0.2) end)
      gevent.sleep(0)
      assert.is_false(r:acquire(true, 0.01))
      assert.is_false(r:acquire { timeout = 0.01 })
      assert.is_false(r:_is_owned())
      g:kill()
    end)

    it("nested <close> scopes", function()
      local r = RLock()
      do
        local a <close> = r:acquire()
        do
          local b <close> = r:acquire()
          assert.is_true(r:locked())
        end
        assert.is_true(r:_is_owned())
      end
      assert.is_false(r:locked())
    end)
  end)

  describe("DummySemaphore", function()
    it("never blocks", function()
      local d = lock.DummySemaphore()
      assert.is_truthy(d:acquire())
      assert.is_false(d:locked())
      assert.equal(1, d:wait())
      d:release()
    end)
  end)
end)

