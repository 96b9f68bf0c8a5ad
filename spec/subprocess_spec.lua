-- gevent.subprocess: Popen with cooperative pipes, communicate, wait,
-- signals, run/call/check_*; reaping that leaves io.popen and os.execute
-- alone.
local gevent = require "gevent"
local sp = require "gevent.subprocess"
local Popen, PIPE, STDOUT, DEVNULL = sp.Popen, sp.PIPE, sp.STDOUT, sp.DEVNULL

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local ticker = dofile(here .. "/support/ticker.lua")

local MB = 1024 * 1024

describe("gevent.subprocess.Popen", function()
  it("runs the seed's cron + communicate example cooperatively", function()
    local t = ticker(0.05)
    local sub = Popen({"sleep 0.3; uname"}, {stdout = PIPE, shell = true})
    local out, err = sub:communicate()
    t.g:kill()
    assert.are.equal("Linux", (out:gsub("%s+$", "")))
    assert.is_nil(err)
    assert.are.equal(0, sub.returncode)
    assert.is_true(t.n >= 4, "the cron greenlet ran " .. t.n .. " times")
  end)

  it("exposes pid, returncode and the PIPE/STDOUT/DEVNULL constants", function()
    assert.are.equal("number", type(PIPE))
    assert.are_not.equal(PIPE, STDOUT)
    assert.are_not.equal(PIPE, DEVNULL)
    local p = Popen({"sh", "-c", "exit 3"})
    assert.is_true(p.pid > 0)
    assert.is_nil(p.returncode == 3 and nil or nil)
    assert.are.equal(3, p:wait())
    assert.are.equal(3, p.returncode)
    assert.are.equal(3, p:poll())
  end)

  it("moves 1 MB through stdin and stdout with communicate", function()
    local data = {}
    for i = 1, MB / 16 do data[i] = ("%015d\n"):format(i) end
    data = table.concat(data)
    assert.are.equal(MB, #data)
    local p = Popen({"cat"}, {stdin = PIPE, stdout = PIPE})
    local out, err = p:communicate(data)
    assert.are.equal(MB, #out)
    assert.is_true(out == data)
    assert.is_nil(err)
    assert.are.equal(0, p.returncode)
  end)

  it("reads stdout and stderr together without deadlock (1 MB each)", function()
    local p = Popen({"sh", "-c",
      "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; echo end >&2"},
      {stdout = PIPE, stderr = PIPE})
    local out, err = p:communicate()
    assert.are.equal(MB, #out)
    assert.are.equal(MB + 4, #err)
    assert.are.equal("end\n", err:sub(-4))
  end)

  it("streams 1 MB each way through the pipe file objects from two greenlets", function()
    local t = ticker(0.001)
    local p = Popen({"cat"}, {stdin = PIPE, stdout = PIPE})
    local chunk = ("0123456789abcdef"):rep(4096) -- 64 KiB
    local writer = gevent.spawn(function()
      for _ = 1, 16 do assert(p.stdin:write(chunk)) end
      p.stdin:close()
    end)
    local got = p.stdout:read("a")
    writer:join()
    assert.is_true(writer:successful())
    assert.are.equal(MB, #got)
    assert.are.equal(chunk, got:sub(1, #chunk))
    assert.are.equal(0, p:wait())
    t.g:kill()
    assert.is_true(t.n > 0)
  end)

  it("reads like a Lua file: n, 'l', 'L', 'a', readline, lines", function()
    local p = Popen({"printf", "abcdef\\nline2\\nline3\\nx\\ny\\nrest"},
                    {stdout = PIPE})
    local f = p.stdout
    assert.are.equal("abc", f:read(3))
    assert.are.equal("def", f:read("l"))
    assert.are.equal("line2\n", f:read("L"))
    assert.are.equal("line3", f:readline())
    local lines = {}
    for l in f:lines() do lines[#lines + 1] = l end
    assert.are.same({"x", "y", "rest"}, lines)
    assert.is_nil(f:read("l"))
    assert.are.equal("", f:read("a"))
    assert.is_nil(f:read(1))
    assert.is_true(f:close())
    assert.has_error(function() f:read() end, "attempt to use a closed file")
    p:wait()
  end)

  it("supports several formats in one read", function()
    local p = Popen({"printf", "12\\nab\\n"}, {stdout = PIPE})
    local a, b, c = p.stdout:read("l", 2, "a")
    assert.are.same({"12", "ab", "\n"}, {a, b, c})
    p:wait()
  end)

  it("merges stderr into stdout with STDOUT and discards with DEVNULL", function()
    local out = Popen({"sh", "-c", "echo out; echo err >&2"},
                      {stdout = PIPE, stderr = STDOUT}):communicate()
    assert.are.equal("out\nerr\n", out)
    local p = Popen({"sh", "-c", "echo out; echo err >&2; cat"},
                    {stdin = DEVNULL, stdout = DEVNULL, stderr = PIPE})
    assert.has_error(function() p:communicate("x") end,
      "bad argument #1 to 'communicate' (input given but stdin is not a PIPE)")
    local o, e = p:communicate()
    assert.is_nil(o)
    assert.are.equal("err\n", e)
    assert.is_nil(p.stdout)
  end)

  it("honours env, cwd and shell", function()
    local out = Popen("echo $GV_TEST_VAR:$HOME; pwd",
      {shell = true, stdout = PIPE, env = {GV_TEST_VAR = "yes", PATH = "/usr/bin:/bin"},
       cwd = "/tmp"}):communicate()
    assert.are.equal("yes:\n/tmp\n", out)
    -- a list with shell: the first element is the command, the rest $0...
    out = Popen({"echo $0 $1", "zero", "one"}, {shell = true, stdout = PIPE}):communicate()
    assert.are.equal("zero one\n", out)
    -- no shell: the arguments are not interpreted
    out = Popen({"echo", "$HOME", "a b"}, {stdout = PIPE}):communicate()
    assert.are.equal("$HOME a b\n", out)
  end)

  it("builds pipelines: a pipe object as another child's stdin", function()
    local p1 = Popen({"printf", "b\\na\\nc\\n"}, {stdout = PIPE})
    local p2 = Popen({"sort"}, {stdin = p1.stdout, stdout = PIPE})
    p1.stdout:close()
    assert.are.equal("a\nb\nc\n", p2:communicate())
    assert.are.equal(0, p1:wait())
    -- inheriting io.stderr / an fd number works too
    assert.are.equal(0, Popen({"true"}, {stdout = io.stderr, stderr = 2}):wait())
  end)

  it("communicate accepts a started Timeout as its timeout", function()
    local p = Popen({"sleep", "5"}, {stdout = PIPE})
    local t = gevent.Timeout(0.1):start()
    local ok, err = pcall(p.communicate, p, nil, t)
    assert.is_false(ok)
    assert.are.equal(t, err)
    p:kill()
    p:communicate()
    assert.are.equal(-9, p.returncode)
  end)

  it("closes its pipes and waits at the end of a <close> scope", function()
    local pr
    do
      local p <close> = Popen({"sh", "-c", "cat >/dev/null"}, {stdin = PIPE, stdout = PIPE})
      pr = p
      p.stdin:write("x")
      assert.matches("running", tostring(p))
    end
    assert.are.equal(0, pr.returncode)
    assert.is_true(pr.stdout:closed())
    assert.are.same({"sh", "-c", "cat >/dev/null"}, pr.args)
  end)

  it("raises a clear error for a missing program or directory #novalgrind", function()
    assert.has_error(function() Popen({"/nonexistent/prog"}) end)
    local ok, err = pcall(Popen, {"/nonexistent/prog"})
    assert.is_false(ok)
    assert.matches("No such file or directory", err)
    ok, err = pcall(Popen, {"true"}, {cwd = "/nonexistent-dir"})
    assert.is_false(ok)
    assert.matches("nonexistent%-dir", err)
    assert.has_error(function() Popen({"true"}, {stdout = "bogus"}) end,
      "bad argument #2 to 'gevent.subprocess.Popen' (option 'stdout': PIPE, "
      .. "DEVNULL, STDOUT, an fd or an open file expected)")
    assert.has_error(function() Popen({}) end,
      "bad argument #1 to 'gevent.subprocess.Popen' (empty argument list)")
    assert.has_error(function() Popen({"true", {}}) end,
      "bad argument #1 to 'gevent.subprocess.Popen' (element 2 is a table, "
      .. "string expected)")
    assert.has_error(function() Popen({"true"}, {stdin = sp.STDOUT}) end,
      "bad argument #2 to 'gevent.subprocess.Popen' (option 'stdin'/'stdout': "
      .. "STDOUT is only valid for stderr)")
  end)

  it("communicate(input, timeout) raises TimeoutExpired and keeps the data", function()
    -- exec: killing the shell must also close the pipe (no grandchild)
    local p = Popen({"sh", "-c", "echo first; exec sleep 5"}, {stdout = PIPE})
    local t0 = os.time()
    local ok, err = pcall(p.communicate, p, nil, 0.3)
    assert.is_false(ok)
    assert.is_true(sp.TimeoutExpired:is(err))
    assert.is_true(sp.SubprocessError:is(err))
    assert.are.equal(0.3, err.timeout)
    assert.are.equal("first\n", err.output)
    assert.matches("timed out after", tostring(err))
    p:kill()
    local out = p:communicate()
    assert.are.equal("first\n", out)
    assert.are.equal(-9, p.returncode)
    assert.is_true(os.time() - t0 < 3)
  end)

  it("wait(timeout) raises TimeoutExpired; a started Timeout works too", function()
    local p = Popen({"sleep", "5"})
    local ok, err = pcall(p.wait, p, 0.1)
    assert.is_false(ok)
    assert.is_true(sp.TimeoutExpired:is(err))
    assert.is_nil(p:poll())
    local t = gevent.Timeout(0.1):start()
    ok, err = pcall(p.wait, p)
    t:cancel()
    assert.is_false(ok)
    assert.are.equal(t, err)
    p:terminate()
    assert.are.equal(-15, p:wait(2))
  end)

  it("kill(), terminate() and send_signal() deliver signals", function()
    local p = Popen({"sleep", "5"})
    p:kill()
    assert.are.equal(-9, p:wait())
    p = Popen({"sleep", "5"})
    p:send_signal("SIGUSR1")
    assert.are.equal(-10, p:wait())
    p = Popen({"sleep", "5"})
    p:send_signal(15)
    assert.are.equal(-15, p:wait())
    -- after reaping, signalling is a no-op (the pid may be reused)
    assert.is_nil(p:kill())
  end)

  it("blocks only the calling greenlet while waiting for a child", function()
    local t = ticker(0.02)
    local p = Popen({"sleep", "0.3"})
    assert.are.equal(0, p:wait())
    t.g:kill()
    assert.is_true(t.n >= 8, "ticks: " .. t.n)
  end)

  it("waiting for a child keeps the loop alive (no LoopExit)", function()
    local p = Popen({"sleep", "0.2"})
    assert.are.equal(0, p:wait())
    -- and from a greenlet, while the main greenlet waits for everything
    local g = gevent.spawn(function() return Popen({"sh", "-c", "sleep 0.1; exit 4"}):wait() end)
    gevent.wait()
    assert.are.equal(4, g.value)
  end)

  it("a greenlet blocked in communicate can be killed", function()
    local p = Popen({"sleep", "5"}, {stdout = PIPE})
    local g = gevent.spawn(function() return p:communicate() end)
    gevent.sleep(0.05)
    g:kill()
    assert.is_true(g.dead)
    p:kill()
    assert.are.equal(-9, p:wait())
  end)

  it("many children at once are each reaped with their own status", function()
    local ps = {}
    for i = 1, 20 do ps[i] = Popen({"sh", "-c", "sleep 0.0" .. (i % 5) .. "; exit " .. i}) end
    local gs = {}
    for i = 1, 20 do gs[i] = gevent.spawn(function() return ps[i]:wait() end) end
    gevent.joinall(gs)
    for i = 1, 20 do assert.are.equal(i, gs[i].value) end
  end)

  it("does not close unrelated descriptors' ends into the child (close_fds)", function()
    local f = io.open("/dev/null")
    local out = Popen({"sh", "-c", "ls /proc/self/fd | wc -l"}, {stdout = PIPE}):communicate()
    f:close()
    -- 0, 1, 2 and the fd ls uses for the directory
    assert.is_true(tonumber(out) <= 4, out)
  end)
end)

describe("io.popen and os.execute while the hub runs", function()
  it("io.popen():close() still gets its child's status", function()
    local f = io.popen("exit 3")
    gevent.sleep(0.2) -- the child exits (SIGCHLD) while the hub polls
    local ok, how, code = f:close()
    assert.is_nil(ok)
    assert.are.equal("exit", how)
    assert.are.equal(3, code)
    f = io.popen("echo hi")
    local p = Popen({"sh", "-c", "exit 2"})
    gevent.sleep(0.2)
    assert.are.equal("hi\n", f:read("a"))
    assert.is_true(f:close())
    assert.are.equal(2, p:wait())
  end)

  it("os.execute returns the right status next to running children", function()
    local p = Popen({"sh", "-c", "sleep 0.1; exit 6"})
    local t = ticker(0.01)
    local ok, how, code = os.execute("exit 5")
    assert.is_nil(ok)
    assert.are.same({"exit", 5}, {how, code})
    assert.is_true(os.execute("sleep 0.2"))
    assert.are.equal(6, p:wait())
    local f = io.popen("sleep 0.1; exit 7")
    assert.are.equal(0, Popen({"sleep", "0.2"}):wait())
    assert.are.same({nil, "exit", 7}, {f:close()})
    t.g:kill()
  end)
end)

describe("run, call, check_call, check_output", function()
  it("run returns a CompletedProcess", function()
    local r = sp.run({"sh", "-c", "cat; echo e >&2; exit 1"},
                     {input = "in", capture_output = true})
    assert.are.equal(1, r.returncode)
    assert.are.equal("in", r.stdout)
    assert.are.equal("e\n", r.stderr)
    local ok, err = pcall(r.check_returncode, r)
    assert.is_false(ok)
    assert.is_true(sp.CalledProcessError:is(err))
    r = sp.run({"true"})
    assert.are.equal(0, r.returncode)
    assert.is_nil(r.stdout)
  end)

  it("run with check raises CalledProcessError with output", function()
    local ok, err = pcall(sp.run, {"sh", "-c", "echo out; exit 2"},
                          {stdout = PIPE, check = true})
    assert.is_false(ok)
    assert.is_true(sp.CalledProcessError:is(err))
    assert.are.equal(2, err.returncode)
    assert.are.equal("out\n", err.output)
    assert.are.equal("CalledProcessError: Command 'sh -c echo out; exit 2' returned non-zero exit status 2",
                     tostring(err))
    assert.has_error(function() sp.run({"true"}, {input = "x", stdin = PIPE}) end,
      "bad argument #2 to 'gevent.subprocess.run' (stdin and input may not "
      .. "both be given)")
    assert.has_error(function()
      sp.run({"true"}, {capture_output = true, stdout = PIPE})
    end, "bad argument #2 to 'gevent.subprocess.run' (stdout and stderr may "
         .. "not be given with capture_output)")
    assert.has_error(function() sp.check_output({"true"}, {stdout = PIPE}) end,
      "bad argument #2 to 'gevent.subprocess.check_output' (stdout may not be "
      .. "given: check_output captures it)")
  end)

  it("run with timeout kills the child and raises TimeoutExpired", function()
    local ok, err = pcall(sp.run, {"sleep", "5"}, {timeout = 0.2})
    assert.is_false(ok)
    assert.is_true(sp.TimeoutExpired:is(err))
  end)

  it("call and check_call", function()
    assert.are.equal(0, sp.call({"true"}))
    assert.are.equal(1, sp.call("false"))
    assert.are.equal(4, sp.call("exit 4", {shell = true}))
    assert.are.equal(0, sp.check_call({"true"}))
    local ok, err = pcall(sp.check_call, {"false"})
    assert.is_false(ok)
    assert.is_true(sp.CalledProcessError:is(err))
    assert.are.equal(1, err.returncode)
    assert.are.same({"false"}, err.cmd)
    ok, err = pcall(sp.call, {"sleep", "5"}, {timeout = 0.1})
    assert.is_false(ok)
    assert.is_true(sp.TimeoutExpired:is(err))
  end)

  it("check_output returns stdout or raises", function()
    assert.are.equal("hi\n", sp.check_output({"echo", "hi"}))
    assert.are.equal("a\nb\n", sp.check_output("echo a; echo b >&2", {shell = true, stderr = STDOUT}))
    local ok, err = pcall(sp.check_output, "echo partial; exit 9", {shell = true})
    assert.is_false(ok)
    assert.are.equal(9, err.returncode)
    assert.are.equal("partial\n", err.output)
  end)
end)

-- Issue 9, a mutation-run gap: closing a pipe wakes the greenlet blocked
-- on it (reading or writing), at once, not when the child ends.
describe("closing a Popen pipe", function()
  it("wakes a greenlet blocked reading it", function()
    local p = Popen({"sleep", "5"}, {stdout = PIPE})
    local r = gevent.spawn(function() return pcall(p.stdout.read, p.stdout, "a") end)
    gevent.sleep(0.02)
    assert.is_false(r.dead)
    p.stdout:close()
    assert.is_true(r:join(1), "the reader was not woken")
    p:kill(); p:wait()
  end)

  it("wakes a greenlet blocked writing it", function()
    local p = Popen({"sleep", "5"}, {stdin = PIPE})
    local big = string.rep("x", 4 * MB) -- more than the pipe holds
    local w = gevent.spawn(function() return pcall(p.stdin.write, p.stdin, big) end)
    gevent.sleep(0.02)
    assert.is_false(w.dead)
    p.stdin:close()
    assert.is_true(w:join(1), "the writer was not woken")
    p:kill(); p:wait()
  end)
end)

-- Issue 9, seen under ASan: communicate and the pipes' read and write in
-- a greenlet on the slow path (the main one, or one blocked inside a C
-- call, here 150 gsub callbacks deep in its 1 MiB stack) kept a C frame
-- per wait, and a child writing (or reading) in many small pieces
-- overflowed the stack. They loop now. (Without the loop these fail under
-- ASan, whose frames are bigger; the optimized build's tail calls hide it.
-- The suite runs them under ASan.)
describe("pipes on the slow path", function()
  local function deep(d, fn) -- d C levels down (gsub callbacks), then fn
    if d == 0 then return fn() end
    local r
    string.gsub("x", "x", function() r = deep(d - 1, fn) end)
    return r
  end
  local function on_slow_path(fn)
    return gevent.spawn(deep, 150, fn):get(true, 60)
  end
  local pieces = [[
    local s = require "socket"
    for i = 1, 3000 do io.write(i, "\n"); io.flush(); s.sleep(0.0002) end
  ]]
  local function lines(s)
    local n = 0
    for _ in s:gmatch("\n") do n = n + 1 end
    return n
  end

  it("communicate reads thousands of small pieces", function()
    local out = on_slow_path(function()
      return Popen({"lua5.4", "-e", pieces}, {stdout = PIPE}):communicate(nil, 30)
    end)
    assert.are.equal(3000, lines(out))
  end)

  it("read and lines read thousands of small pieces", function()
    local out = on_slow_path(function()
      local p = Popen({"lua5.4", "-e", pieces}, {stdout = PIPE})
      local s = p.stdout:read("a")
      p:wait()
      return s
    end)
    assert.are.equal(3000, lines(out))
    local n = on_slow_path(function()
      local p = Popen({"lua5.4", "-e", pieces}, {stdout = PIPE})
      local k = 0
      for _ in p.stdout:lines() do k = k + 1 end
      p:wait()
      return k
    end)
    assert.are.equal(3000, n)
  end)

  it("write feeds a child that reads in thousands of small pieces", function()
    local got = on_slow_path(function()
      local p = Popen({"lua5.4", "-e", [[
        local s, n = require "socket", 0
        for _ = 1, 3000 do
          local b = io.read(4096); if not b then break end
          n = n + #b; s.sleep(0.0002)
        end
        io.write(n)
      ]]}, {stdin = PIPE, stdout = PIPE})
      assert(p.stdin:write(string.rep("x", 3000 * 4096)))
      p.stdin:close()
      local n = p.stdout:read("a")
      p:wait()
      return n
    end)
    assert.are.equal(tostring(3000 * 4096), got)
  end)
end)
