---@meta gevent.threadpool
-- lua-language-server annotations for gevent.threadpool (reference:
-- docs/api/threadpool.md).

---@class gevent.threadpool
local M = {}

---`ThreadPool(maxsize)`: at most `maxsize` OS threads (default 10), each
---with its own Lua state; functions and arguments are copied into it.
---@class gevent.threadpool.ThreadPool
---@field maxsize integer The most threads it runs.
---@field size integer The threads running now.
---@field pending integer The jobs not finished yet.
---@overload fun(maxsize?: integer): gevent.threadpool.ThreadPool
local ThreadPool = {}

---Queues `fn(...)` (copied now) to run in a worker: a result receiving
---its first result or its error.
---@param fn function
---@param ... any
---@return gevent.event.AsyncResult
function ThreadPool:spawn(fn, ...) end

---`spawn(fn, table.unpack(args))`, then waits: the first result; raises
---the error.
---@param fn function
---@param args? table
---@return any
function ThreadPool:apply(fn, args) end

---`spawn(fn, table.unpack(args))`; `callback(value)` runs in a new
---greenlet when it succeeds.
---@param fn function
---@param args? table
---@param callback? fun(value: any)
---@return gevent.event.AsyncResult
function ThreadPool:apply_async(fn, args, callback) end

---Runs `fn(item)` for each item (an array or an iterator function) in the
---workers: the first results in item order (an array with `n`).
---@param fn fun(item: any): any
---@param items table|function
---@return table
function ThreadPool:map(fn, items) end

---`map` as an iterator of `index, result`, in item order.
---@param fn fun(item: any): any
---@param items table
---@return fun(): integer, any
function ThreadPool:imap(fn, items) end

---Waits until every job is done: `true`, or `false` on timeout.
---@param timeout? number|{timeout?: number}
---@return boolean
function ThreadPool:join(timeout) end

---Fails every queued job and interrupts running ones; the pool can be
---used again.
function ThreadPool:kill() end

M.ThreadPool = ThreadPool

---A new `gevent.event.AsyncResult`.
---@return gevent.event.AsyncResult
function M.AsyncResult() end

return M
