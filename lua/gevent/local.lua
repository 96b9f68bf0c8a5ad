-- gevent.local: greenlet-local storage.
--
--   local stash = require("gevent.local").Local()
--   stash.x = 1        -- seen only by the greenlet that set it
--
-- Each greenlet's fields live in a table keyed by the greenlet object in a
-- weak-keyed (ephemeron) table, so they go away with the greenlet object,
-- as in gevent (which drops them when the greenlet is deallocated). Code
-- running in the hub (rawlink callbacks) has a storage of its own.
local core = require "gvlua"

local getcurrent = core.getcurrent
local next, setmetatable, type = next, setmetatable, type

local M = {}

local HUB = setmetatable({}, { __name = "hub" }) -- key for hub context

-- Per-Local state, kept out of the object so every field name is free.
local state = setmetatable({}, { __mode = "k" }) -- Local -> {store, init}

local Local = {}
Local.__name = "gevent.local"

local function dict(self, create)
  local st = state[self]
  local g = getcurrent() or HUB
  local d = st.store[g]
  if d == nil and create then
    d = {}
    st.store[g] = d
    if st.init then st.init(self) end
  end
  return d
end

Local.__index = function(self, k)
  local st = state[self]
  local d = st.store[getcurrent() or HUB]
  if d == nil then
    if not st.init then return nil end
    d = dict(self, true)
  end
  return d[k]
end

Local.__newindex = function(self, k, v)
  local d = dict(self, true)
  d[k] = v
end

-- pairs(loc): the current greenlet's fields.
Local.__pairs = function(self)
  local d = dict(self, state[self].init ~= nil) or {}
  return next, d, nil
end

-- #loc: the length of the current greenlet's array part.
Local.__len = function(self)
  local d = dict(self, state[self].init ~= nil)
  return d and #d or 0
end

Local.__tostring = function(self)
  return ("<gevent.local at %s>"):format(state[self].id)
end

--- Local(init): a new greenlet-local object. The optional init(loc)
--- runs the first time each greenlet uses it, to set defaults
--- (what gevent's local subclasses do in __init__).
function M.Local(init)
  if init ~= nil and type(init) ~= "function" then
    error(("bad argument #1 to 'gevent.local.Local' (function expected, got %s)")
      :format(type(init)), 2)
  end
  local self = {}
  state[self] = {
    store = setmetatable({}, { __mode = "k" }),
    init = init,
    id = ("%p"):format(self),
  }
  return setmetatable(self, Local)
end

--- clear(loc): drops the current greenlet's fields.
function M.clear(self)
  local st = state[self]
  if not st then
    error(("bad argument #1 to 'gevent.local.clear' (gevent.local.Local "
           .. "expected, got %s)"):format(self == nil and "no value" or type(self)), 2)
  end
  st.store[getcurrent() or HUB] = nil
end

M["local"] = M.Local -- gevent's name (a Lua keyword: M["local"])

return M
