-- gevent.threadpool: ThreadPool(n) runs functions in OS threads, each with
-- its own Lua state. Functions and arguments are copied into the worker
-- (see bindings/l_threadpool.c for what can be copied); results and errors
-- are copied back. spawn() returns a gevent.event.AsyncResult; like
-- gevent's, it holds one value: a function's first result. kill() fails
-- queued jobs and interrupts running Lua code (a count hook); the pool can
-- be reused. The threads are the runtime's one work pool (shared with DNS);
-- a ThreadPool limits how many of its jobs run at once.
local core = require("gvlua").threadpool
local AsyncResult = require("gevent.event").AsyncResult

local M = {}

local function new_result() return AsyncResult() end

local methods, submit = core._pool_methods, core.submit

--- pool:spawn(fn, ...): runs fn(...) in a worker; returns its result.
function methods:spawn(fn, ...)
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'spawn' (function expected, got %s)")
          :format(fn == nil and "no value" or type(fn)), 2)
  end
  local ok, r = pcall(submit, self, new_result(), fn, ...)
  if not ok then error(r, 2) end
  return r
end

--- pool:apply(fn, args): runs fn(table.unpack(args)) and waits for it.
function methods:apply(fn, args)
  args = args or {}
  return self:spawn(fn, table.unpack(args, 1, args.n or #args)):get()
end

--- pool:apply_async(fn, args, callback): the result; callback(value) runs
--- in a new greenlet when it succeeds.
function methods:apply_async(fn, args, callback)
  args = args or {}
  local r = self:spawn(fn, table.unpack(args, 1, args.n or #args))
  if callback then
    local gevent = require "gevent"
    r:rawlink(function(res)
      if res:successful() then gevent.spawn(callback, res.value) end
    end)
  end
  return r
end

--- pool:map(fn, items): fn over the items in the workers; an array of the
--- results (with n), in order. The first error is re-raised.
function methods:map(fn, items)
  local rs, n = {}, 0
  if type(items) == "function" then
    for item in items do n = n + 1; rs[n] = self:spawn(fn, item) end
  else
    n = #items
    for i = 1, n do rs[i] = self:spawn(fn, items[i]) end
  end
  local out = {n = n}
  for i = 1, n do out[i] = rs[i]:get() end
  return out
end

--- pool:imap(fn, items): iterator of index, result in order.
function methods:imap(fn, items)
  local rs = {}
  for i = 1, #items do rs[i] = self:spawn(fn, items[i]) end
  local i = 0
  return function()
    i = i + 1
    if i > #rs then return nil end
    return i, rs[i]:get()
  end
end

M.ThreadPool = setmetatable({}, {
  __call = core._new,
  __tostring = function() return "<class ThreadPool>" end,
})
M.AsyncResult = new_result

return M
