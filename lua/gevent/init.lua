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
gevent.version = core.version

local Timeout = core.Timeout

-- Options table in place of the first optional argument (API.md).
local function opts(t)
  if type(t) == "table" and getmetatable(t) == nil then return t end
  return nil
end

--- Waits for the greenlets; returns the list of those that finished.
function gevent.joinall(greenlets, timeout, raise_error, count)
  local o = opts(timeout)
  if o then timeout, raise_error, count = o.timeout, o.raise_error, o.count end
  local t = timeout and Timeout.start_new(timeout) or nil
  local done = {}
  local ok, err = pcall(function()
    for _, g in ipairs(greenlets) do
      if count and #done >= count then break end
      g:join()
      done[#done + 1] = g
      if raise_error and not g:successful() then error(g.exception, 0) end
    end
  end)
  if t then t:cancel() end
  if not ok then
    if err == t then return done end
    error(err, 0)
  end
  return done
end

--- Kills the greenlets; with block (default true) waits for them.
function gevent.killall(greenlets, exception, block, timeout)
  local o = opts(exception)
  if o then exception, block, timeout = o.exception, o.block, o.timeout end
  for _, g in ipairs(greenlets) do g:kill(exception, false) end
  if block == nil or block then
    gevent.joinall(greenlets, timeout)
  end
end

--- Kills one greenlet (gevent.kill(g, exception)).
function gevent.kill(g, exception, block, timeout)
  return g:kill(exception, block, timeout)
end

--- Calls fn(...) and raises Timeout if it takes longer than seconds.
function gevent.with_timeout(seconds, fn, ...)
  local t = Timeout.start_new(seconds)
  local res = table.pack(pcall(fn, ...))
  t:cancel()
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- Iterates over the objects as they become ready.
function gevent.iwait(objects, timeout, count)
  local o = opts(timeout)
  if o then timeout, count = o.timeout, o.count end
  local n = #objects
  count = count and math.min(count, n) or n
  local waiter = core._waiter()
  local function cb(obj) waiter:put(obj) end
  for _, obj in ipairs(objects) do obj:rawlink(cb) end
  local t = timeout and Timeout.start_new(timeout) or nil
  local got = 0
  return function()
    if got >= count then
      if t then t:cancel() end
      for _, obj in ipairs(objects) do obj:unlink(cb) end
      return nil
    end
    local ok, obj = pcall(waiter.get, waiter, t)
    if not ok then
      if obj ~= t then error(obj, 0) end
      obj = nil
    end
    if obj == nil then
      for _, o2 in ipairs(objects) do o2:unlink(cb) end
      got = count
      return nil
    end
    got = got + 1
    return obj
  end
end

--- Waits for objects (or, with none, until nothing is left to run).
function gevent.wait(objects, timeout, count)
  if objects == nil then
    core._run_until_done()
    return true
  end
  local done = {}
  for obj in gevent.iwait(objects, timeout, count) do done[#done + 1] = obj end
  return done
end

return gevent
