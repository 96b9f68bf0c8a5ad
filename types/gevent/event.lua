---@meta gevent.event
-- lua-language-server annotations for gevent.event (reference:
-- docs/api/event.md).

---@class gevent.event
local event = {}

---A flag greenlets wait on: `Event()`, cleared.
---@class gevent.event.Event
---@overload fun(): gevent.event.Event
local Event = {}

---Sets the flag and wakes every waiter (from the hub, in order).
function Event:set() end

---Clears the flag.
function Event:clear() end

---Waits until the flag is set: `true`, or `false` when a number
---`timeout` expired first.
---@param timeout? gevent.timeout
---@return boolean
function Event:wait(timeout) end

---Whether the flag is set.
---@return boolean
function Event:is_set() end

---The same as `is_set()`.
---@return boolean
function Event:isSet() end

---The same as `is_set()`.
---@return boolean
function Event:ready() end

---Calls `callback(event)` from the hub when the flag is set; it must not
---block.
---@param callback fun(e: gevent.event.Event)
function Event:rawlink(callback) end

---Removes the links to `callback`.
---@param callback function
function Event:unlink(callback) end

---The number of waiters and callbacks linked.
---@return integer
function Event:linkcount() end

---A future holding one value or one error: `AsyncResult()`.
---@class gevent.event.AsyncResult
---@field value any The value, once set.
---@field exception any The error, once set with `set_exception`.
---@overload fun(): gevent.event.AsyncResult
local AsyncResult = {}

---Stores `value` and wakes the waiters.
---@param value? any
function AsyncResult:set(value) end

---The same as `set(value)`.
---@param value? any
function AsyncResult:set_result(value) end

---Stores the error `err`: `get` raises it.
---@param err any
function AsyncResult:set_exception(err) end

---The value: waits unless `block` is `false`; raises the stored error,
---`Timeout` when not ready in time.
---@param block? boolean|{block?: boolean, timeout?: gevent.timeout}
---@param timeout? gevent.timeout
---@return any
function AsyncResult:get(block, timeout) end

---`get(false)`.
---@return any
function AsyncResult:get_nowait() end

---The same as `get(true, timeout)`.
---@param timeout? gevent.timeout
---@return any
function AsyncResult:result(timeout) end

---Waits until it holds a value or an error: the value; `nil` on timeout
---or when it holds an error.
---@param timeout? gevent.timeout
---@return any
function AsyncResult:wait(timeout) end

---Whether it holds a value or an error.
---@return boolean
function AsyncResult:ready() end

---The same as `ready()`.
---@return boolean
function AsyncResult:done() end

---Whether it holds a value (`set` was called).
---@return boolean
function AsyncResult:successful() end

---`false`: an `AsyncResult` cannot be cancelled.
---@return false
function AsyncResult:cancel() end

---`false`.
---@return false
function AsyncResult:cancelled() end

---Calls `callback(result)` from the hub once it is ready; it must not
---block.
---@param callback fun(r: gevent.event.AsyncResult)
function AsyncResult:rawlink(callback) end

---Removes the links to `callback`.
---@param callback function
function AsyncResult:unlink(callback) end

---The number of waiters and callbacks linked.
---@return integer
function AsyncResult:linkcount() end

event.Event = Event
event.AsyncResult = AsyncResult

return event
