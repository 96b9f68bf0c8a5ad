-- gevent.signal_handler: fn(...) runs in a new greenlet per delivery.
local gevent = require "gevent"
local gos = require "gevent.os"
local sp = require "gevent.subprocess"

-- Waits (cooperatively) until cond() or about 2 s.
local function wait_for(cond)
  for _ = 1, 200 do
    if cond() then return true end
    gevent.sleep(0.01)
  end
  return cond()
end

describe("gevent.signal_handler", function()
  local pid = gos.getpid()

  it("runs the handler with its arguments in a new greenlet", function()
    local calls = {}
    local h = gevent.signal_handler("SIGUSR1", function(a, b)
      calls[#calls + 1] = {a = a, b = b, g = gevent.getcurrent()}
    end, "x", 42)
    assert.is_true(os.execute("kill -USR1 " .. pid))
    assert.is_true(wait_for(function() return #calls == 1 end))
    assert.are.equal("x", calls[1].a)
    assert.are.equal(42, calls[1].b)
    assert.are_not.equal(gevent.getcurrent(), calls[1].g)
    assert.is_truthy(tostring(calls[1].g):match("^<Greenlet"))
    -- every delivery runs it again
    os.execute("kill -USR1 " .. pid)
    assert.is_true(wait_for(function() return #calls == 2 end))
    os.execute("kill -USR1 " .. pid)
    assert.is_true(wait_for(function() return #calls == 3 end))
    assert.are_not.equal(calls[2].g, calls[3].g)
    h:cancel()
  end)

  it("accepts numbers and names with or without SIG", function()
    local n = 0
    local h1 = gevent.signal_handler(12, function() n = n + 1 end)
    local h2 = gevent.signal_handler("USR2", function() n = n + 10 end)
    assert.are.equal(12, h1.signum)
    assert.are.equal(12, h2.signum)
    os.execute("kill -USR2 " .. pid)
    assert.is_true(wait_for(function() return n == 11 end))
    h1:cancel()
    h2:cancel()
  end)

  it("cancel() stops deliveries to that handler", function()
    local a, b = 0, 0
    local ha = gevent.signal_handler("SIGUSR1", function() a = a + 1 end)
    local hb = gevent.signal_handler("SIGUSR1", function() b = b + 1 end)
    os.execute("kill -USR1 " .. pid)
    assert.is_true(wait_for(function() return a == 1 and b == 1 end))
    ha:cancel()
    assert.is_false(ha.active)
    assert.is_true(hb.active)
    os.execute("kill -USR1 " .. pid)
    assert.is_true(wait_for(function() return b == 2 end))
    gevent.sleep(0.05)
    assert.are.equal(1, a)
    hb:cancel()
    hb:cancel() -- twice is fine
  end)

  it("kills a greenlet on SIGQUIT like the seed (signal_handler(SIGQUIT, gevent.kill, thread))", function()
    local thread = gevent.spawn(function() gevent.sleep(1000) end)
    local h = gevent.signal_handler("SIGQUIT", gevent.kill, thread)
    -- system() ignores SIGQUIT in its caller while it runs, so send it
    -- from a child that outlives nothing: a cooperative Popen
    gevent.spawn_later(0.05, function()
      sp.call({"kill", "-QUIT", tostring(pid)})
    end)
    assert.is_true(thread:join(5))
    assert.is_true(thread.dead)
    assert.is_true(gevent.GreenletExit:is(thread.value))
    h:cancel()
  end)

  it("does not keep the loop alive", function()
    local h = gevent.signal_handler("SIGUSR1", function() end)
    local t0 = os.time()
    gevent.wait() -- returns: the handler alone is nothing to wait for
    assert.is_true(os.time() - t0 < 2)
    local ok, err = pcall(function()
      local ev = gevent.spawn(function() gevent.sleep(0.01) end)
      ev:join()
    end)
    assert.is_true(ok, tostring(err))
    h:cancel()
  end)

  it("interrupts a main greenlet blocked in join while a signal arrives", function()
    local done = false
    local waiter = gevent.spawn(function() gevent.sleep(1000) end)
    local h = gevent.signal_handler("SIGUSR2", function()
      done = true
      waiter:kill()
    end)
    gevent.spawn_later(0.05, function() os.execute("kill -USR2 " .. pid) end)
    waiter:join()
    assert.is_true(done)
    h:cancel()
  end)

  it("rejects bad signals", function()
    assert.has_error(function() gevent.signal_handler("SIGNOPE", print) end)
    assert.has_error(function() gevent.signal_handler(9, print) end)
    assert.has_error(function() gevent.signal_handler("SIGCHLD", print) end)
    assert.has_error(function() gevent.signal_handler(0, print) end)
  end)

  it("is closable with <close>", function()
    local n = 0
    do
      local h <close> = gevent.signal_handler("SIGUSR1", function() n = n + 1 end)
      local keep = gevent.signal_handler("SIGUSR1", function() end)
      os.execute("kill -USR1 " .. pid)
      assert.is_true(wait_for(function() return n == 1 end))
      keep:cancel()
    end
    -- h is cancelled; SIGUSR1 is back to its default action (termination),
    -- so do not send it again here
    assert.are.equal(1, n)
  end)
end)
