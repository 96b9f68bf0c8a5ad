-- gevent.events: subscribe Lua functions to what happens in the hub.
--   local sub = events.subscribe("blocked", function(ev) ... end)
--   sub:unsubscribe()            (or: local sub <close> = ...)
-- Each event is a table with a `type` field:
--   spawned   {greenlet}                      when a greenlet is started
--   switched  {greenlet}                      just before it runs
--   finished  {greenlet}                      when its function has ended
--   blocked   {greenlet, blocking_time, traceback}
--             the monitor found the hub blocked (the greenlet is nil when a
--             hub callback blocked it)
--   memory_exceeded / memory_under {mem_usage, max_allowed}
-- Subscribers of spawned run in the spawning greenlet; the others run in
-- the hub, so they must not block. An error in a subscriber is printed and
-- does not stop the others. While nobody listens, events cost nothing.
local core = require "gvlua"
local config = require "gevent.config"
local M = core.monitor

local events = {}

-- event type -> observation it needs from the C side
local KINDS = {spawned = "events", finished = "events", blocked = "events",
               memory_exceeded = "events", memory_under = "events",
               switched = "switched"}
events.kinds = {"spawned", "switched", "finished", "blocked",
                "memory_exceeded", "memory_under"}

-- type -> array of subscriber functions; arrays are replaced, never
-- changed, so that (un)subscribing while an event is delivered is safe.
local reg = debug.getregistry()
local subs = reg["gvlua.events.subs"] or {}
reg["gvlua.events.subs"] = subs

local function dispatch(ev)
  local list = subs[ev.type]
  if not list then return end
  if ev.type == "memory_exceeded" or ev.type == "memory_under" then
    ev.max_allowed = config.max_memory_usage
  end
  for i = 1, #list do
    local ok, err = pcall(list[i], ev)
    if not ok then
      io.stderr:write(("gvlua: error in a subscriber to '%s' events: %s\n")
                      :format(ev.type, tostring(err)))
    end
  end
end
M.set_dispatch(dispatch)

local function observe()
  local want = {events = false, switched = false}
  for kind, list in pairs(subs) do
    if #list > 0 then want[KINDS[kind]] = true end
  end
  M.observe("events", want.events)
  M.observe("switched", want.switched)
end

local Subscription = {}
Subscription.__index = Subscription
Subscription.__name = "gevent.events.Subscription"

--- Stops the deliveries to this subscriber (again: nothing happens).
function Subscription:unsubscribe()
  if getmetatable(self) ~= Subscription then
    error("bad argument #1 to 'unsubscribe' (gevent.events.Subscription "
          .. "expected, got " .. type(self) .. ")", 2)
  end
  local list = subs[self.type]
  if not list then return end
  local new = {}
  for _, fn in ipairs(list) do
    if fn ~= self.fn then new[#new + 1] = fn end
  end
  subs[self.type] = new
  observe()
end
Subscription.__close = Subscription.unsubscribe
function Subscription:__tostring()
  return ("<subscription to '%s' events>"):format(self.type)
end

--- subscribe(type, fn): calls fn(event) for every event of that type.
function events.subscribe(kind, fn)
  if type(kind) ~= "string" or not KINDS[kind] then
    error(("bad argument #1 to 'gevent.events.subscribe' (one of %s "
           .. "expected, got %s)"):format(table.concat(events.kinds, ", "),
           type(kind) == "string" and ("'" .. kind .. "'") or type(kind)), 2)
  end
  if type(fn) ~= "function" and
     not (getmetatable(fn) and getmetatable(fn).__call) then
    error("bad argument #2 to 'gevent.events.subscribe' (function expected, "
          .. "got " .. type(fn) .. ")", 2)
  end
  local list = {table.unpack(subs[kind] or {})}
  list[#list + 1] = fn
  subs[kind] = list
  observe()
  return setmetatable({type = kind, fn = fn}, Subscription)
end

return events
