-- fuzz_api.lua SECONDS SEED LOG - the API fuzz (issue 9): calls every
-- public function and method of gvlua's modules with wrong types, closed
-- and dead objects, objects of other classes, huge integers, NaN, negative
-- timeouts and missing arguments, from the main greenlet, from a spawned
-- greenlet and from a hub callback. Every call must return or raise a Lua
-- error: a crash, a sanitizer report or a hang fails the run (run.sh runs
-- it under ASan+UBSan, in its own network and pid namespaces).
--
-- The API is found the way tests/docs_sync.lua finds it, with nothing to
-- list by hand: every module under lua/gevent/, its functions and classes
-- (and their functions), one level of namespaces (socket.dns), and the
-- methods of every object a call returns (their metatables' __index and
-- __methods tables). New modules and methods are fuzzed as they appear.
-- Each call is written to LOG before it is made, so the last line names
-- the call that crashed or hung. GVLUA_FUZZ_UNSAFE=1 means there are no
-- namespaces around it: then nothing that signals processes or forks.
-- Signal numbers the values hold are ones the namespace's init (this
-- process) ignores: AddressSanitizer handles the fault signals (SEGV,
-- BUS, FPE, ILL, ABRT), so sending one of those to itself would end the
-- run as a crash.
local gevent = require "gevent"
local core = require "gvlua"

local SECONDS = tonumber(arg[1]) or 10
local SEED = tonumber(arg[2]) or os.time()
local LOGFILE = arg[3] or "/dev/null"
local UNSAFE = os.getenv("GVLUA_FUZZ_UNSAFE") == "1"
local mono = core._monotonic
local log = assert(io.open(LOGFILE, "w"))
log:setvbuf("line")
math.randomseed(SEED)
io.stdout:write(("fuzz_api: seed %d, %g s%s\n"):format(SEED, SECONDS,
                UNSAFE and ", not isolated: no signals, no fork" or ""))
io.stdout:flush()

---------------------------------------------------------------------------
-- the modules
---------------------------------------------------------------------------
local here = (arg[0] or ""):match("^(.*)/tests/fuzz/[^/]*$") or "."
local modnames = {"gevent"}
do
  local p = io.popen("ls " .. here .. "/lua/gevent 2>/dev/null")
  for f in p:lines() do
    local m = f:match("^([%a][%w_]*)%.lua$")
    if m and m ~= "init" then modnames[#modnames + 1] = "gevent." .. m end
  end
  p:close()
end
table.sort(modnames)

-- Never called: they end or replace the process, or wait for input.
local SKIP = {
  ["gevent.os.fork"] = UNSAFE, ["gevent.fork"] = UNSAFE,
  ["gevent.os.kill"] = UNSAFE,
  ["gevent.backdoor.BackdoorServer.serve_forever"] = true,
  ["gevent.server.StreamServer.serve_forever"] = true,
  ["gevent.http.HTTPServer.serve_forever"] = true,
  ["gevent.server.DatagramServer.serve_forever"] = true,
}
local SKIP_METHOD = {serve_forever = true}
if UNSAFE then SKIP_METHOD.send_signal = true end

local targets, seen_fn = {}, {}
local function add_target(name, f)
  if SKIP[name] or seen_fn[f] then return end
  seen_fn[f] = true
  targets[#targets + 1] = {name = name, f = f}
end

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

local function public(k) return type(k) == "string" and k:sub(1, 1) ~= "_" end

local function scan(prefix, t, depth)
  for k, v in pairs(t) do
    if public(k) then
      local name = prefix .. "." .. k
      if callable(v) then add_target(name, v) end
      if type(v) == "table" and depth > 0 then scan(name, v, depth - 1) end
    end
  end
end

for _, m in ipairs(modnames) do
  local ok, mod = pcall(require, m)
  if ok and type(mod) == "table" then
    scan(m, mod, 2)
  else
    io.stdout:write(("fuzz_api: %s does not load: %s\n"):format(m, tostring(mod)))
  end
end

-- Methods of objects as they come up (by metatable, once each): gvlua's,
-- not those of the libraries it hands out objects of (LuaSocket's raw
-- sockets, LuaSec's, Lua's files and strings), whose own calls block the
-- process by design.
local seen_mt = {[getmetatable("")] = true, [getmetatable(io.stderr)] = true}
local function foreign(name)
  return name:find("{", 1, true) or name:find("^SSL") or name == "FILE*"
end
local function scan_object(v)
  local mt = getmetatable(v)
  if type(mt) ~= "table" or seen_mt[mt] then return end
  seen_mt[mt] = true
  local cls = type(mt.__name) == "string" and mt.__name or "object"
  if foreign(cls) then return end
  for _, t in ipairs{rawget(mt, "__index"), rawget(mt, "__methods")} do
    if type(t) == "table" then
      for k, f in pairs(t) do
        if public(k) and type(f) == "function" and not SKIP_METHOD[k] then
          add_target(cls .. ":" .. k, f)
        end
      end
    end
  end
end

---------------------------------------------------------------------------
-- the values
---------------------------------------------------------------------------
local noop = function() end
local VALUES = {
  0, 1, -1, 2, 0.5, -0.5, 1e-9, 3, 4, 9, 1024, 65535, 65536,
  2^31 - 1, 2^31, 2^32 + 5, 2^53, -2^53, 2^63, math.maxinteger,
  math.mininteger, math.huge, -math.huge, 0 / 0,
  "", "x", "*l", "*a", "l", "a", "127.0.0.1", "localhost", "::1",
  "SIGUSR1", "SIGTERM", "TERM", "r", "w", "\0", ("y"):rep(70000),
  "inet", "stream", "dgram", "unix", "GET", "/", "http://127.0.0.1:1/",
  true, false,
  {}, {1, 2, 3}, {timeout = 0.01}, {timeout = -1}, {block = false},
  {"true"}, {"x", n = 1}, setmetatable({}, {__index = function() error("idx") end}),
  setmetatable({}, {__tostring = function() error("ts") end}),
  noop,
  function() error("raised on purpose") end,
  function() error(setmetatable({}, {__tostring = function() error("no") end})) end,
  function(...) return ... end,
  function() gevent.sleep(0.001) end,
  function() return coroutine.yield() end,
  function() while true do gevent.sleep(0.001) end end,
  coroutine.create(noop),
  io.stderr,
}
local pool = {}
for i, v in ipairs(VALUES) do pool[i] = v end
local POOL_MAX = 400

local function remember(v)
  if v == nil or type(v) == "number" or type(v) == "boolean" then return end
  scan_object(v)
  if #pool < POOL_MAX then pool[#pool + 1] = v
  else pool[math.random(#VALUES + 1, POOL_MAX)] = v end
end

local function pick()
  local r = math.random()
  if r < 0.08 then return nil end
  return pool[math.random(#pool)]
end

local function describe(v)
  local t = type(v)
  if t == "string" then
    return #v > 20 and ("string(%d)"):format(#v) or ("%q"):format(v)
  elseif t == "number" or t == "boolean" or t == "nil" then
    return tostring(v)
  end
  local mt = getmetatable(v)
  return type(mt) == "table" and type(mt.__name) == "string" and mt.__name
         or t
end

---------------------------------------------------------------------------
-- calling
---------------------------------------------------------------------------
local stats = {calls = 0, errors = 0, main = 0, spawned = 0, hub = 0,
               killed = 0}
local stuck = {}          -- greenlets a kill did not end

local function args_for(target)
  local n = math.random(0, 4)
  local a = {n = n}
  -- methods: a self of the right class more often than not
  if target.name:find(":", 1, true) and math.random() < 0.7 then
    local cls = target.name:match("^(.-):")
    for _ = 1, 8 do
      local v = pool[math.random(#pool)]
      if describe(v) == cls then a[1] = v; if n < 1 then a.n = 1 end; break end
    end
  end
  for i = 1, a.n do if a[i] == nil then a[i] = pick() end end
  return a
end

-- A hang: run.sh's watchdog writes gdb's stacks, then sends SIGINT (the
-- fuzz itself sends none: see above), whose "interrupted!" lands in the
-- Lua code that hung. Its traceback goes to the log, and the run ends.
local function on_error(e)
  if type(e) == "string" and e:find("interrupted!", 1, true) then
    log:write("hung here: ", debug.traceback(e, 2), "\n")
    log:flush()
    os.exit(3)
  end
  return e
end

local function record(ok, ...)
  stats.calls = stats.calls + 1
  if not ok then
    stats.errors = stats.errors + 1
    return
  end
  for i = 1, select("#", ...) do remember((select(i, ...))) end
end

local function call_in_main(t, a)
  stats.main = stats.main + 1
  local tmo = gevent.Timeout(0.2):start()
  record(xpcall(t.f, on_error, table.unpack(a, 1, a.n)))
  tmo:cancel()
end

local function call_in_greenlet(t, a)
  stats.spawned = stats.spawned + 1
  local res
  local g = gevent.spawn(function()
    res = table.pack(xpcall(t.f, on_error, table.unpack(a, 1, a.n)))
  end)
  if not g:join(0.2) then
    stats.killed = stats.killed + 1
    g:kill(nil, true, 2)
    if not g.dead then stuck[#stuck + 1] = t.name end
  end
  if res then record(table.unpack(res, 1, res.n)) end
end

local function call_in_hub(t, a)
  stats.hub = stats.hub + 1
  local res
  core.callback.run_callback(function()
    res = table.pack(xpcall(t.f, on_error, table.unpack(a, 1, a.n)))
  end)
  gevent.sleep(0)
  if res then record(table.unpack(res, 1, res.n)) end
end

local contexts = {call_in_main, call_in_greenlet, call_in_hub}
local context_names = {"main", "greenlet", "hub"}

-- a listener of our own, so that connects have somewhere to go
do
  local socket = require "gevent.socket"
  local l = socket.bind("127.0.0.1", 0)
  if l then
    remember(l)
    remember(select(2, l:getsockname()))
    pool[#pool + 1] = tonumber((select(2, l:getsockname())))
    gevent.spawn(function()
      while true do
        local c = l:accept()
        if not c then gevent.sleep(0.01) else remember(c) end
      end
    end)
  end
end

local deadline = mono() + SECONDS
local gos = require "gevent.os"
local mypid = gos.getpid()

-- One call. Errors reaching this loop are ones the API throws into the
-- main greenlet later, as designed: a Timeout a call started there, a
-- kill of the main greenlet, LoopExit.
local function step()
  local t = targets[math.random(#targets)]
  local a = args_for(t)
  local ci = math.random(3)
  local parts = {}
  for i = 1, a.n do parts[i] = describe(a[i]) end
  log:write(("%d %s %s(%s)\n"):format(stats.calls + 1, context_names[ci],
                                      t.name, table.concat(parts, ", ")))
  contexts[ci](t, a)
end

local hard_stop = os.time() + SECONDS + 5 -- another clock, in case
local function running()
  return mono() < deadline and os.time() < hard_stop
end

-- The loop, in protected mode as a whole: what the fuzzed calls arrange
-- may interrupt any Lua code (Ctrl-C sent to itself, gevent.config's
-- max_slice), not only the calls.
local function loop()
  while running() do
    if not xpcall(step, on_error) then stats.thrown = (stats.thrown or 0) + 1 end
    if gos.getpid() ~= mypid then -- a fork's child: gone at once, unchecked
      gos.kill(gos.getpid(), "SIGKILL")
    end
    if #targets < 2000 and stats.calls % 50 == 0 then
      for _, v in ipairs(pool) do scan_object(v) end
    end
  end
end
while not xpcall(loop, on_error) and running() do
  stats.thrown = (stats.thrown or 0) + 1
end

log:write(("done (%g s by the monotonic clock)\n"):format(mono() - deadline + SECONDS))
io.stdout:write(("fuzz_api: %d calls (%d raised), %d in main, %d in "
                 .. "greenlets (%d killed), %d in the hub; %d functions; %d "
                 .. "errors thrown into the loop\n")
                :format(stats.calls, stats.errors, stats.main, stats.spawned,
                        stats.killed, stats.hub, #targets, stats.thrown or 0))
if #stuck > 0 then
  io.stdout:write("FAIL greenlets a kill did not end: "
                  .. table.concat(stuck, ", ") .. "\n")
  os.exit(1)
end
io.stdout:write("fuzz_api: ok\n")
io.stdout:flush()
log:write("fuzz_api: ok\n") -- (a fuzzed call may have closed stdout)
log:close()
os.exit(0, true)
