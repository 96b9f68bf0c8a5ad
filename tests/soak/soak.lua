-- soak.lua SCALE [ROUND...] - the soak (issue 9): rounds of heavy use,
-- each run four times, after which the process must be back where it was:
-- open fds and zombies exactly, Lua memory and RSS within a small margin.
-- SCALE 1 is the full size (100,000 greenlets, 5,000 connections, 500
-- subprocesses); ./dev test runs a short round. Rounds:
--   greenlets    greenlets blocked in every primitive, killed in random
--                order (plain, custom exceptions, killall with block and
--                timeout)
--   connections  hostile clients against a StreamServer: resets, half
--                closes, clients that never read, slowloris, normal ones
--   emfile       accept under `ulimit -n 256` (a child): a clear error,
--                then recovery once fds are free
--   subprocesses Popen with pipes, some killed on the way
--   fork         fork while timers, sockets and thread-pool jobs are live
-- "Back where it was": the baseline is taken after a round's third run
-- (pools, free lists and the allocator's arenas are warm then: gvlua keeps
-- memory it mapped, by design; 100,000 greenlets take RSS from 108 to
-- 142 MiB over the first two or three runs, then it stays), and its last
-- run must end there. Prints
-- "ok ROUND: ..." or "FAIL ROUND: ...", then "N passed, N failed".
local gevent = require "gevent"
local socket = require "gevent.socket"
local event = require "gevent.event"
local queue = require "gevent.queue"
local lock = require "gevent.lock"
local gselect = require "gevent.select"
local sp = require "gevent.subprocess"
local gos = require "gevent.os"
local StreamServer = require("gevent.server").StreamServer
local mono = require("gvlua")._monotonic

local SCALE = tonumber(arg[1]) or 1
local RUNS = 4 -- the baseline is taken before the last
local pid = gos.getpid()
local here = arg[0]

local function scaled(n, min) return math.max(min or 1, math.floor(n * SCALE)) end

---------------------------------------------------------------------------
-- what is measured
---------------------------------------------------------------------------
-- The open fds: their count, and what they are (for the report). Listed
-- into a file by os.execute: through a pipe, the listing could catch the
-- pipe's other end before this process has closed its copy.
local fdfile = os.tmpname()
local function list_fds()
  local n, what = 0, {}
  os.execute(("ls -l /proc/%d/fd > %s"):format(pid, fdfile))
  for line in io.lines(fdfile) do
    local fd, target = line:match("(%d+) %-> (.*)$")
    if fd then n = n + 1; what[#what + 1] = fd .. ":" .. target end
  end
  return n, table.concat(what, " ")
end

local function rss_kb()
  local f = io.open("/proc/" .. pid .. "/statm")
  local pages = tonumber(f:read("l"):match("^%d+ (%d+)"))
  f:close()
  return pages * 4
end

local function zombies()
  local n = 0
  local p = io.popen("ls /proc") -- read all and reap it first: ls exits
  local list = p:read("a")        -- while its output is read, a zombie
  p:close()                       -- until then
  for d in list:gmatch("[^\n]+") do
    if d:match("^%d+$") then
      local f = io.open("/proc/" .. d .. "/stat")
      local s = f and f:read("l")
      if f then f:close() end
      local state, ppid -- (not 's and s:match()': 'and' keeps one value)
      if s then state, ppid = s:match("^%d+ %b() (%S) (%d+)") end
      if state == "Z" and tonumber(ppid) == pid then n = n + 1 end
    end
  end
  return n
end

local function settle()
  for _ = 1, 3 do
    gevent.sleep(0.05)
    collectgarbage()
    collectgarbage()
  end
end

local function measure()
  settle()
  local nfds, fdlist = list_fds()
  return {fds = nfds, fdlist = fdlist, lua = collectgarbage("count"), rss = rss_kb(),
          zombies = zombies(), alive = require("gvlua")._stats().alive}
end

local passed, failed = 0, 0
local function run(name, body)
  local t0 = mono()
  local ok, err = true, nil
  for _ = 1, RUNS - 1 do
    if ok then ok, err = pcall(body) end
  end
  local first = measure()
  if ok then ok, err = pcall(body) end
  local second = measure()
  local why
  if not ok then why = tostring(err)
  elseif second.fds ~= first.fds then
    why = ("fds %d before the last run (%s), %d after it (%s)")
          :format(first.fds, first.fdlist, second.fds, second.fdlist)
  elseif second.zombies > 0 then
    why = ("%d zombies"):format(second.zombies)
  elseif second.alive > first.alive then
    why = ("%d greenlets left alive"):format(second.alive - first.alive)
  elseif second.lua > first.lua * 1.05 + 256 then
    why = ("Lua memory %.0f KiB before the last run, %.0f KiB after")
          :format(first.lua, second.lua)
  elseif second.rss > first.rss * 1.10 + 8192 then
    why = ("RSS %d KiB before the last run, %d KiB after")
          :format(first.rss, second.rss)
  end
  if why then
    failed = failed + 1
    print(("FAIL %s: %s"):format(name, why))
  else
    passed = passed + 1
    print(("ok %s: %.1f s for %d runs; %d fds, %d zombies, Lua %.0f KiB, RSS "
           .. "%d MiB (as before the last run)"):format(name, mono() - t0, RUNS,
           second.fds,
           second.zombies, second.lua, second.rss // 1024))
  end
  io.stdout:flush()
end

local function shuffle(t)
  for i = #t, 2, -1 do
    local j = math.random(i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

---------------------------------------------------------------------------
-- greenlets blocked in every primitive, killed in random order
---------------------------------------------------------------------------
local Custom = gevent.GreenletExit:subclass("Custom")

local function greenlets()
  local n = scaled(100000, 600)
  local l = assert(socket.bind("127.0.0.1", 0))
  local c = assert(socket.connect("127.0.0.1", tonumber((select(2, l:getsockname())))))
  local s = assert(l:accept())
  local child = sp.Popen({"sleep", "3600"})
  local tp = require("gevent.threadpool").ThreadPool(1)
  local job = tp:spawn(function() require("socket").sleep(0.3) end)
  local full = queue.Queue(1)
  full:put(0)
  local held_lock, held_sem = lock.Lock(), lock.Semaphore(1)
  held_lock:acquire(); held_sem:acquire()
  local blocker = gevent.spawn(gevent.sleep, 3600)
  local ctx = {ev = event.Event(), ar = event.AsyncResult(), q = queue.Queue(),
               ch = queue.Channel()}
  local prims = {
    function() gevent.sleep(3600) end,
    function() ctx.ev:wait() end,
    function() ctx.ar:get() end,
    function() ctx.q:get() end,
    function() full:put(1) end,
    function() ctx.ch:get() end,
    function() held_lock:acquire() end,
    function() held_sem:acquire() end,
    function() blocker:join() end,
    function() s:receive() end,
    function() socket.wait_read(s, 3600) end,
    function() gselect.select({s}, {}, {}, 3600) end,
    function() child:wait() end,
    function() job:get() end,
    function() gevent.with_timeout(3600, gevent.sleep, 3600) end,
    function() table.sort({3, 2, 1}, function(a, b) gevent.sleep(3600) return a < b end) end,
  }
  local ways = {"kill", "custom", "killall"}
  for _, way in ipairs(ways) do
    local gs = {}
    for i = 1, n // #ways do gs[i] = gevent.spawn(prims[i % #prims + 1]) end
    gevent.sleep(0)              -- all of them block
    shuffle(gs)
    if way == "kill" then
      for _, g in ipairs(gs) do g:kill(nil, false) end
    elseif way == "custom" then
      for i, g in ipairs(gs) do
        g:kill(i % 1000 == 0 and "custom failure" or Custom("custom"), false)
      end
    else
      gevent.killall(gs, Custom, true, 10)
    end
    assert(#gevent.joinall(gs, 30) == #gs, way .. ": not all died")
  end
  blocker:kill()
  child:kill(); child:wait()
  tp:kill()
  c:close(); s:close(); l:close()
end

---------------------------------------------------------------------------
-- hostile connections
---------------------------------------------------------------------------
local function connections()
  local n = scaled(5000, 100)
  local big = ("x"):rep(256 * 1024)
  local server = StreamServer({"127.0.0.1", 0}, function(sock)
    while true do
      local line = sock:receive("*l")
      if not line then return end
      if line == "big" then
        if not sock:send(big) then return end
      elseif not sock:send(line .. "\n") then
        return
      end
    end
  end):start()
  local port = server.address[2]
  local kinds = {
    function(c) -- a reset
      c:send("partial")
      c:setoption("linger", {on = true, timeout = 0})
    end,
    function(c) -- a half close
      c:send("hello\n")
      c:shutdown("send")
      c:receive("*a")
    end,
    function(c) -- never reads what it asked for
      c:send("big\n")
      gevent.sleep(0.02)
    end,
    function(c) -- slowloris: a line that never ends
      for _ = 1, 5 do c:send("s"); gevent.sleep(0.005) end
    end,
    function(c) -- a normal client
      c:send("ping\n")
      assert(c:receive("*l") == "ping")
    end,
  }
  local pool = require("gevent.pool").Pool(100)
  for i = 1, n do
    pool:spawn(function()
      local c = socket.connect("127.0.0.1", port)
      if not c then return end
      c:settimeout(5)
      pcall(kinds[i % #kinds + 1], c)
      c:close()
    end)
  end
  pool:join(60)
  server:stop(0.2)
end

---------------------------------------------------------------------------
-- accept under ulimit -n 256 (in a child with that limit)
---------------------------------------------------------------------------
local function emfile_child()
  local server = StreamServer({"127.0.0.1", 0}, function(sock)
    sock:send((sock:receive("*l") or "") .. "\n")
  end)
  server.max_delay = 0.05
  server:start()
  local port = server.address[2]
  local clients = {}
  for _ = 1, 300 do -- more than the limit allows, counting both ends
    local c = socket.connect("127.0.0.1", port)
    if not c then break end -- the client side met the limit first
    clients[#clients + 1] = c
  end
  gevent.sleep(0.2)   -- the acceptor meets EMFILE, backs off
  for _, c in ipairs(clients) do c:close() end
  gevent.sleep(0.3)   -- fds are free again
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(5)
  c:send("after\n")
  local back = c:receive("*l")
  c:close()
  server:stop(1)
  print(("emfile: %d clients, %s"):format(#clients, tostring(back)))
  os.exit(back == "after" and 0 or 1)
end

local function emfile()
  local errf = os.tmpname()
  local p = sp.Popen({"sh", "-c", 'ulimit -n 256 && exec "$0" "$@"', arg[-1],
                      here, "1", "emfile-child"}, {stdout = sp.PIPE,
                      stderr = assert(io.open(errf, "w"))})
  local out = p:communicate(nil, 30)
  local f = io.open(errf)
  local err = f:read("a")
  f:close()
  os.remove(errf)
  assert(p.returncode == 0, "the child failed: " .. out .. err)
  assert(out:find("emfile: %d+ clients, after"), out)
  assert(err:find("accept failed: Too many open files", 1, true),
         "no clear error: " .. err)
end

---------------------------------------------------------------------------
-- subprocesses with pipes
---------------------------------------------------------------------------
local function subprocesses()
  local n = scaled(500, 20)
  local pool = require("gevent.pool").Pool(25)
  for i = 1, n do
    pool:spawn(function()
      local p = sp.Popen({"cat"}, {stdin = sp.PIPE, stdout = sp.PIPE})
      if i % 10 == 0 then -- killed on the way
        p.stdin:write("never read")
        p:kill()
        p:wait()
        p.stdin:close(); p.stdout:close()
        return
      end
      local out = p:communicate(("line %d\n"):format(i):rep(100), 10)
      assert(#out == #(("line %d\n"):format(i):rep(100)), "short output")
    end)
  end
  pool:join(120)
end

---------------------------------------------------------------------------
-- fork while timers, sockets and thread-pool jobs are live
---------------------------------------------------------------------------
local function fork()
  local fired = {}
  local timers = {}
  for i = 1, 10 do
    timers[i] = gevent.spawn(function() gevent.sleep(0.05 + i * 0.01); fired[i] = true end)
  end
  local l = assert(socket.bind("127.0.0.1", 0))
  local port = tonumber((select(2, l:getsockname())))
  local c = assert(socket.connect("127.0.0.1", port))
  local s = assert(l:accept())
  local reader = gevent.spawn(function() return s:receive("*l") end)
  local tp = require("gevent.threadpool").ThreadPool(2)
  local jobs = {}
  for i = 1, 4 do
    jobs[i] = tp:spawn(function(x) require("socket").sleep(0.05) return x * 2 end, i)
  end
  gevent.sleep(0)
  local child = gos.fork()
  if child == 0 then
    -- the child: its copies of everything work
    local step
    local ok, err = pcall(function()
      step = "timers"
      gevent.joinall(timers, 5)
      for i = 1, 10 do assert(fired[i], "a timer did not fire in the child") end
      step = "jobs"
      for i = 1, 4 do assert(jobs[i]:get(true, 5) == i * 2) end
      step = "a new job"
      local more = tp:spawn(function() return "new" end)
      assert(more:get(true, 5) == "new")
      -- (the socket pair is shared with the parent, whose reader may take
      -- what is sent: only the child's own connection is checked)
      step = "a new connection"
      local c2 = assert(socket.connect("127.0.0.1", port))
      local s2 = assert(l:accept())
      c2:send("in the child\n")
      assert(s2:receive("*l") == "in the child")
      s2:close(); c2:close()
    end)
    if not ok then io.stderr:write("fork child: ", step, ": ", tostring(err), "\n") end
    io.stderr:flush()
    gos._exit(ok and 0 or 1)
  end
  local _, how, code = gos.waitpid(child, 30)
  assert(how == "exited" and code == 0, "the child: " .. tostring(how) .. " " .. tostring(code))
  -- the parent's go on as well
  gevent.joinall(timers, 5)
  for i = 1, 10 do assert(fired[i], "a timer did not fire in the parent") end
  for i = 1, 4 do assert(jobs[i]:get(true, 5) == i * 2) end
  c:send("from the parent\n")
  assert(reader:get(true, 5) == "from the parent")
  tp:kill()
  c:close(); s:close(); l:close()
end

---------------------------------------------------------------------------
local ROUNDS = {
  {"greenlets", greenlets}, {"connections", connections}, {"emfile", emfile},
  {"subprocesses", subprocesses}, {"fork", fork},
}

if arg[2] == "emfile-child" then emfile_child() end

math.randomseed(1)
local only = {}
for i = 2, #arg do only[arg[i]] = true end
print(("soak: scale %g"):format(SCALE))
for _, r in ipairs(ROUNDS) do
  if next(only) == nil or only[r[1]] then run(r[1], r[2]) end
end
os.remove(fdfile)
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
