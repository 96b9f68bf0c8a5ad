-- gevent.queue: Queue, LifoQueue, PriorityQueue, JoinableQueue, Channel and
-- the errors Empty and Full (bindings/l_queue.c).
--   Queue(maxsize, items) (nil or 0: unbounded), LifoQueue(maxsize, items),
--   PriorityQueue(maxsize, items, cmp) (cmp(a, b) true when a comes first;
--   default '<'), JoinableQueue(maxsize, items, unfinished_tasks), Channel()
--   q:put(item, block, timeout), q:get(block, timeout), put_nowait, get_nowait,
--   peek, peek_nowait, empty(), full(), qsize(), #q; JoinableQueue: task_done(),
--   join(timeout), unfinished_tasks. Channel: put/get (block false: wait
--   for no time, as gevent), balance. A started or unstarted Timeout works
--   as a timeout; like gevent, a wait that used it cancels it when it ends.
-- Hand-offs between putters and getters happen in gevent 22.10's order.
-- Differences from gevent: called from the hub (a rawlink callback), a
-- put/get that gevent completes by switching into a blocked greenlet
-- synchronously lets that greenlet run right after the callback instead.
local core = require("gvlua").queue

local queue = {
  Queue = core.Queue,
  LifoQueue = core.LifoQueue,
  PriorityQueue = core.PriorityQueue,
  JoinableQueue = core.JoinableQueue,
  Channel = core.Channel,
  Empty = core.Empty,
  Full = core.Full,
}

return queue
