---@meta gevent.lock
-- lua-language-server annotations for gevent.lock (reference:
-- docs/api/lock.md).

---@class gevent.lock
local lock = {}

---`Semaphore(value)`: `value` units (default 1). `local held <close> =
---sem:acquire()` releases at the end of the block.
---@class gevent.lock.Semaphore
---@field counter integer The units not taken (not on `RLock`).
---@overload fun(value?: integer): gevent.lock.Semaphore
local Semaphore = {}

---Takes one unit, waiting for one unless `blocking` is `false`: the
---object itself, or `false` when it gave up.
---@param blocking? boolean|{blocking?: boolean, timeout?: gevent.timeout}
---@param timeout? gevent.timeout
---@return gevent.lock.Semaphore|false
function Semaphore:acquire(blocking, timeout) end

---Gives one unit back (to the first waiter, if any); the new `counter`
---(an `RLock` returns nothing).
---@return integer?
function Semaphore:release() end

---Whether `acquire()` would block.
---@return boolean
function Semaphore:locked() end

---`not locked()`.
---@return boolean
function Semaphore:ready() end

---Waits until a unit is free, without taking it; the `counter` then.
---@param timeout? gevent.timeout
---@return integer
function Semaphore:wait(timeout) end

---`BoundedSemaphore(value)`: `release()` beyond the initial value raises.
---@class gevent.lock.BoundedSemaphore: gevent.lock.Semaphore
---@overload fun(value?: integer): gevent.lock.BoundedSemaphore
local BoundedSemaphore = {}

---`Lock()`: a `BoundedSemaphore(1)`, a mutex.
---@class gevent.lock.Lock: gevent.lock.Semaphore
---@overload fun(): gevent.lock.Lock
local Lock = {}

---`RLock()`: a re-entrant lock owned by the greenlet that acquired it.
---@class gevent.lock.RLock: gevent.lock.Semaphore
---@overload fun(): gevent.lock.RLock
local RLock = {}

---`DummySemaphore()`: never blocks.
---@class gevent.lock.DummySemaphore: gevent.lock.Semaphore
---@overload fun(value?: integer): gevent.lock.DummySemaphore
local DummySemaphore = {}

lock.Semaphore = Semaphore
lock.BoundedSemaphore = BoundedSemaphore
lock.Lock = Lock
lock.RLock = RLock
lock.DummySemaphore = DummySemaphore

return lock
