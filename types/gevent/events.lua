---@meta gevent.events
-- lua-language-server annotations for gevent.events (reference:
-- docs/api/events.md).

---@class gevent.events
local events = {}

---@alias gevent.events.type "spawned"|"switched"|"finished"|"blocked"|"memory_exceeded"|"memory_under"

---An event: `greenlet` for spawned, switched, finished and blocked (nil
---for a hub callback); `blocking_time` and `traceback` for blocked;
---`mem_usage` and `max_allowed` for the memory events.
---@alias gevent.events.event {type: gevent.events.type, greenlet?: gevent.Greenlet, blocking_time?: number, traceback?: string, mem_usage?: number, max_allowed?: integer}

---What `subscribe` returns (`<close>`-able).
---@class gevent.events.Subscription
---@field type gevent.events.type The event type it was made for.
---@field fn fun(event: gevent.events.event) The subscriber function.
local Subscription = {}

---Ends the deliveries to this subscriber; again: nothing happens.
function Subscription:unsubscribe() end

---Calls `fn(event)` for every event of `type`.
---@param type gevent.events.type
---@param fn fun(event: gevent.events.event)
---@return gevent.events.Subscription
function events.subscribe(type, fn) end

---The event types.
---@type gevent.events.type[]
events.kinds = nil

return events
