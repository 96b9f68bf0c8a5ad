-- gevent.lock: Semaphore, BoundedSemaphore, Lock, RLock (C, l_lock.c).
-- acquire() returns the lock itself (closable) or false:
--   local held <close> = sem:acquire()
local core = require "gvlua"
local C = core.lock

local lock = {
  Semaphore = C.Semaphore,
  BoundedSemaphore = C.BoundedSemaphore,
  Lock = C.Lock,
  RLock = C.RLock,
}

--- DummySemaphore(): a semaphore that never blocks (an unbounded Pool's).
local Dummy = {}
Dummy.__index = Dummy
Dummy.__name = "DummySemaphore"
function Dummy.acquire(self) return self end
function Dummy.release() end
function Dummy.locked() return false end
function Dummy.ready() return true end
function Dummy.wait() return 1 end
Dummy.__close = function() end
Dummy.__tostring = function() return "<DummySemaphore>" end
lock.DummySemaphore = setmetatable({}, {
  __index = Dummy,
  __call = function() return setmetatable({}, Dummy) end,
})

return lock
