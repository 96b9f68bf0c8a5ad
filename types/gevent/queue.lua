---@meta gevent.queue
-- lua-language-server annotations for gevent.queue (reference:
-- docs/api/queue.md).

---@class gevent.queue
local queue = {}

---Options a queue constructor takes in place of its arguments.
---@alias gevent.queue.options {maxsize?: integer, items?: table, cmp?: fun(a: any, b: any): boolean}

---`Queue(maxsize, items)`: a FIFO queue (`maxsize` `nil` or 0: unbounded;
---`items`: initial items). `#q` is `q:qsize()`.
---@class gevent.queue.Queue
---@field maxsize integer? The bound, or `nil` when unbounded; settable (not on a `Channel`).
---@field unfinished_tasks integer `JoinableQueue` only: the tasks not yet marked done.
---@field balance integer `Channel` only: blocked putters minus blocked getters.
---@overload fun(maxsize?: integer|gevent.queue.options, items?: table): gevent.queue.Queue
local Queue = {}

---Adds `item` (any value, `nil` included); when the queue is full, waits
---for room unless `block` is `false`. Raises `Full` when there is none in
---time.
---@param item any
---@param block? boolean|{block?: boolean, timeout?: gevent.timeout}
---@param timeout? gevent.timeout
function Queue:put(item, block, timeout) end

---Removes and returns the next item, waiting for one unless `block` is
---`false`. Raises `Empty` when there is none in time.
---@param block? boolean|{block?: boolean, timeout?: gevent.timeout}
---@param timeout? gevent.timeout
---@return any item
function Queue:get(block, timeout) end

---`put(item, false)`.
---@param item any
function Queue:put_nowait(item) end

---`get(false)`.
---@return any item
function Queue:get_nowait() end

---The next item, not removed, waiting for one unless `block` is `false`.
---@param block? boolean|{block?: boolean, timeout?: gevent.timeout}
---@param timeout? gevent.timeout
---@return any item
function Queue:peek(block, timeout) end

---`peek(false)`.
---@return any item
function Queue:peek_nowait() end

---The number of items (0 for a `Channel`).
---@return integer
function Queue:qsize() end

---Whether there is no item.
---@return boolean
function Queue:empty() end

---Whether a `put` would block.
---@return boolean
function Queue:full() end

---`JoinableQueue` only: one task taken from the queue is finished.
function Queue:task_done() end

---`JoinableQueue` only: waits until every task is done: `true`, or
---`false` on timeout.
---@param timeout? gevent.timeout
---@return boolean
function Queue:join(timeout) end

---`LifoQueue(maxsize, items)`: the last item put is the first got.
---@class gevent.queue.LifoQueue: gevent.queue.Queue
---@overload fun(maxsize?: integer|gevent.queue.options, items?: table): gevent.queue.LifoQueue
local LifoQueue = {}

---`PriorityQueue(maxsize, items, cmp)` (also `PriorityQueue(cmp)`,
---`PriorityQueue(maxsize, cmp)`): the smallest item first, by `<` or
---`cmp(a, b)`.
---@class gevent.queue.PriorityQueue: gevent.queue.Queue
---@overload fun(maxsize?: integer|gevent.queue.options|fun(a: any, b: any): boolean, items?: table|fun(a: any, b: any): boolean, cmp?: fun(a: any, b: any): boolean): gevent.queue.PriorityQueue
local PriorityQueue = {}

---`JoinableQueue(maxsize, items, unfinished_tasks)`: a `Queue` counting
---unfinished tasks (`task_done`, `join`).
---@class gevent.queue.JoinableQueue: gevent.queue.Queue
---@overload fun(maxsize?: integer|gevent.queue.options, items?: table, unfinished_tasks?: integer): gevent.queue.JoinableQueue
local JoinableQueue = {}

---`Channel()`: no buffer; `put` waits until a getter takes the item.
---@class gevent.queue.Channel: gevent.queue.Queue
---@overload fun(): gevent.queue.Channel
local Channel = {}

queue.Queue = Queue
queue.LifoQueue = LifoQueue
queue.PriorityQueue = PriorityQueue
queue.JoinableQueue = JoinableQueue
queue.Channel = Channel

---Raised by `get`, `get_nowait`, `peek`, `peek_nowait` when there is no
---item.
---@type gevent.ErrorClass
queue.Empty = nil

---Raised by `put`, `put_nowait` when there is no room.
---@type gevent.ErrorClass
queue.Full = nil

return queue
