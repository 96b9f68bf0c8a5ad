-- gevent: the top-level module. Scheduling lives in the C module "gvlua";
-- this file re-exports it and adds the helpers that are loops over it.
local core = require "gvlua"

local gevent = {}
for k, v in pairs(core) do
  if type(k) == "string" and k:sub(1, 1) ~= "_" and type(v) ~= "table" then
    gevent[k] = v
  end
end
gevent.Greenlet = core.Greenlet
gevent.Timeout = core.Timeout
gevent.GreenletExit = core.GreenletExit
gevent.LoopExit = core.LoopExit
gevent.SliceExceeded = core.monitor.SliceExceeded
gevent.version = core.version
-- the settings (and those from the environment) apply from the start
gevent.config = require "gevent.config"

local Timeout = core.Timeout

-- Options table in place of the first optional argument (API.md).
local function opts(t)
  if type(t) == "table" and getmetatable(t) == nil then return t end
  return nil
end

local greenlet_mt = debug.getregistry()["gevent.Greenlet"]

local check = require "gevent._check"
local argerror, typename = check.argerror, check.typename

-- A list of objects that can be waited on (a method rawlink, as
-- greenlets, events and results have): checked whole before any is
-- linked, so that a bad entry leaves no link behind.
local function check_waitables(objects, fname)
  if type(objects) ~= "table" then
    argerror(1, fname, "table expected, got " .. typename(objects))
  end
  for i, obj in ipairs(objects) do
    if getmetatable(obj) ~= greenlet_mt then
      local t = type(obj)
      local ok, f = false, nil
      if t == "table" or t == "userdata" then
        ok, f = pcall(function() return obj.rawlink end)
      end
      if not (ok and f) then
        argerror(1, fname, ("entry %d is a %s, which cannot be waited on")
                           :format(i, typename(obj)))
      end
    end
  end
end

local function check_timeout(timeout, arg, fname)
  if timeout ~= nil and type(timeout) ~= "number" then
    argerror(arg, fname, "number expected, got " .. typename(timeout))
  end
end

local function check_greenlet(g, fname)
  if getmetatable(g) ~= greenlet_mt then
    argerror(1, fname, "gevent.Greenlet expected, got " .. typename(g))
  end
end

--- Waits for the greenlets; returns those that finished, in the order
-- they finished (at most count, within timeout). With raise_error, the
-- first failure is raised as it happens.
function gevent.joinall(greenlets, timeout, raise_error, count)
  local o = opts(timeout)
  if o then timeout, raise_error, count = o.timeout, o.raise_error, o.count end
  if not raise_error and timeout == nil and count == nil
     and type(greenlets) == "table" then
    -- all of them and all greenlets: joined one after the other in C (no
    -- link to allocate), returned in death order; false if not all are
    local done = core._join_all(greenlets)
    if done then return done end
  end
  check_waitables(greenlets, "gevent.joinall")
  check_timeout(timeout, 2, "gevent.joinall")
  if not raise_error then return gevent.wait(greenlets, timeout, count) end
  local done = {}
  for g in gevent.iwait(greenlets, timeout, count) do
    done[#done + 1] = g
    if not g:successful() then error(g.exception, 0) end
  end
  return done
end

--- Kills the greenlets; with block (default true) waits for them.
function gevent.killall(greenlets, exception, block, timeout)
  local o = opts(exception)
  if o then exception, block, timeout = o.exception, o.block, o.timeout end
  if type(greenlets) ~= "table" then
    argerror(1, "gevent.killall", "table expected, got " .. typename(greenlets))
  end
  for i, g in ipairs(greenlets) do
    if getmetatable(g) ~= greenlet_mt then
      argerror(1, "gevent.killall", ("entry %d is a %s, not a greenlet")
                                   :format(i, typename(g)))
    end
  end
  check_timeout(timeout, 4, "gevent.killall")
  for _, g in ipairs(greenlets) do g:kill(exception, false) end
  if block == nil or block then
    gevent.joinall(greenlets, timeout)
  end
end

--- Kills one greenlet without waiting for it (gevent.kill(g, exception)).
function gevent.kill(g, exception)
  check_greenlet(g, "gevent.kill")
  return g:kill(exception, false)
end

--- Calls fn(...) and raises Timeout if it takes longer than seconds.
function gevent.with_timeout(seconds, fn, ...)
  local t = Timeout.start_new(seconds)
  local res = table.pack(pcall(fn, ...))
  t:cancel()
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- Iterates over the objects as they become ready (at most count, within
-- timeout: a deadline that ends the iteration, never raised in the loop
-- body). Leaving the loop early (break, error) unlinks from the rest: the
-- iterator's closing value does it.
function gevent.iwait(objects, timeout, count)
  local o = opts(timeout)
  if o then timeout, count = o.timeout, o.count end
  check_waitables(objects, "gevent.iwait")
  check_timeout(timeout, 2, "gevent.iwait")
  if count ~= nil and math.type(count) ~= "integer" then
    argerror(3, "gevent.iwait", "integer expected, got " .. typename(count))
  end
  local n = #objects
  count = count and math.min(count, n) or n
  local waiter = core.waiter.new()
  local function cb(obj) waiter:put(obj) end
  for _, obj in ipairs(objects) do obj:rawlink(cb) end
  local deadline = timeout and core._monotonic() + timeout
  local closer = setmetatable({}, {__close = function()
    for _, obj in ipairs(objects) do obj:unlink(cb) end
  end})
  local got = 0
  local function next_ready()
    if got >= count then return nil end
    local left
    if deadline then
      left = deadline - core._monotonic()
      if left < 0 then left = 0 end
    end
    local obj = waiter:get(left)
    if obj == nil then return nil end
    got = got + 1
    return obj
  end
  return next_ready, nil, nil, closer
end

--- Waits for objects (or, with none, until nothing is left to run).
function gevent.wait(objects, timeout, count)
  if objects == nil then
    core._run_until_done()
    return true
  end
  check_waitables(objects, "gevent.wait")
  local done = {}
  for obj in gevent.iwait(objects, timeout, count) do done[#done + 1] = obj end
  return done
end

return gevent
