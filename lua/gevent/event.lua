-- gevent.event: Event and AsyncResult (bindings/l_event.c).
--   Event(): set(), clear(), wait(timeout) -> whether it was set, is_set(),
--     ready(), rawlink(fn), unlink(fn)
--   AsyncResult(): set(value), set_exception(err), get(block, timeout),
--     get_nowait(), wait(timeout) -> value, ready(), successful(), fields
--     value and exception; callable as a greenlet link: g:link(result)
-- Waiters wake in FIFO order, interleaved with rawlink callbacks in link
-- order, and run before greenlets queued earlier, as in gevent 22.10. A
-- Timeout object given as timeout is started if needed and cancelled when
-- the wait ends (gevent's rule).
local core = require("gvlua").event

local event = {
  Event = core.Event,
  AsyncResult = core.AsyncResult,
}

return event
