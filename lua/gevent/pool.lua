-- gevent.pool: Group (a set of running greenlets, waited on and killed
-- together) and Pool (a Group with a bound on how many run at once).
--
-- Lua sugar over the C primitives: greenlet links, the Semaphore of
-- gevent.lock and the core's waiter. A member that dies leaves the group
-- by itself: its rawlink defers the discard to a hub callback (run_callback),
-- which is where gevent runs link notifications, so `#group` seen by the
-- greenlets and the order in which a full Pool admits newcomers match
-- gevent's.
local core = require "gvlua"
local lockmod = require "gevent.lock"

local Greenlet = core.Greenlet
local Timeout = core.Timeout
local getcurrent = core.getcurrent
local defer = core.callback.run_callback
local new_waiter = core.waiter.new
local unpack, pack = table.unpack, table.pack
local type, error, pcall, setmetatable, getmetatable, ipairs =
  type, error, pcall, setmetatable, getmetatable, ipairs

local M = {}

-- ---- helpers ---------------------------------------------------------------

-- An options table in place of the first optional argument (API.md).
local function opts(t)
  if type(t) == "table" and getmetatable(t) == nil then return t end
  return nil
end

local function callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and mt.__call ~= nil
end

local TIMEOUT_MT = getmetatable(Timeout(1))

-- Greenlet objects: userdata whose metatable is named gevent.Greenlet*
-- (the core may switch an instance to a variant metatable).
local greenlet_mts = setmetatable({}, { __mode = "k" })
local function is_greenlet(g)
  if type(g) ~= "userdata" then return false end
  local mt = getmetatable(g)
  if greenlet_mts[mt] then return true end
  if type(mt) == "table" and type(mt.__name) == "string" and
     mt.__name:sub(1, 15) == "gevent.Greenlet" then
    greenlet_mts[mt] = true
    return true
  end
  return false
end

local argerror = require("gevent._check").argerror

local function check_greenlet(g, n, fname)
  if not is_greenlet(g) then
    argerror(n, fname, "gevent.Greenlet expected, got " .. type(g), 3)
  end
end

local function check_fn(fn, n, fname)
  if not callable(fn) then
    argerror(n, fname, "function expected, got " .. type(fn), 3)
  end
end

local function check_items(items, n, fname)
  local t = type(items)
  if t ~= "table" and t ~= "function" then
    argerror(n, fname, "table or iterator function expected, got " .. t, 3)
  end
end

-- Iterates over items (an array, with an optional n, or a function called
-- until it returns nil) as index, item.
local function each(items)
  if type(items) == "function" then
    local i = 0
    return function()
      local v = items()
      if v == nil then return nil end
      i = i + 1
      return i, v
    end
  end
  local n = items.n or #items
  local i = 0
  return function()
    if i >= n then return nil end
    i = i + 1
    return i, items[i]
  end
end

local function unpack_args(args)
  if args == nil then return end
  if type(args) ~= "table" then
    error("bad argument #2 to 'apply' (table expected, got " .. type(args)
      .. ")", 3)
  end
  return unpack(args, 1, args.n or #args)
end

-- Timer for a timeout argument: a number starts a new one (ours to cancel),
-- a Timeout object is used as is.
local function timer_for(timeout, fname)
  if timeout == nil then return nil, false end
  if type(timeout) == "number" then return Timeout.start_new(timeout), true end
  if getmetatable(timeout) ~= TIMEOUT_MT then
    argerror(3, fname, "number or gevent.Timeout expected, got "
      .. type(timeout), 3)
  end
  return timeout, false
end

-- ---- PoolFull ----------------------------------------------------------------

local PoolFull
do
  local ok, queue = pcall(require, "gevent.queue")
  local Full = ok and type(queue) == "table" and queue.Full or nil
  if Full and Full.subclass then
    PoolFull = Full:subclass("PoolFull")
  else -- a standalone error class
    PoolFull = core.GreenletExit.subclass({}, "PoolFull")
  end
end
M.PoolFull = PoolFull

-- ---- Group -----------------------------------------------------------------

local Group = {}
Group.__index = Group
Group.__name = "gevent.Group"
M.Group = Group

function Group.__len(self) return self._n end

function Group.__tostring(self)
  return ("<%s at %s: %d greenlets>"):format(self._class_name, self._id,
    self._n)
end

-- Membership: the public set `greenlets` plus an insertion-ordered list
-- (prev/next maps) so that kill() and friends go in a stable order. An
-- error can stop these between any two statements (max_slice's
-- SliceExceeded, Ctrl-C): one store links g into the forward chain and one
-- unlinks it, so a walk from self always ends at self (a chain broken in
-- the middle made list() loop for ever; the API fuzz found it).
local function link_in(self, g)
  self.greenlets[g] = true
  self._n = self._n + 1
  local tail = self._prev[self]
  self._next[g] = self
  self._prev[g] = tail
  self._next[tail] = g -- g is in the chain from here
  self._prev[self] = g
end

local function link_out(self, g)
  local p, n = self._prev[g], self._next[g]
  self._next[p] = n -- g is out of the chain from here
  self._prev[n] = p
  self._prev[g], self._next[g] = nil, nil
  self.greenlets[g] = nil
  self._n = self._n - 1
end

-- Removes g if it is a member (idempotent): wakes join() when the group is
-- empty, then frees g's slot in a Pool.
local function discard(self, g)
  if not self.greenlets[g] then return false end
  link_out(self, g)
  self.dying[g] = nil
  if self._n == 0 and #self._joiners > 0 then
    local js = self._joiners
    self._joiners = {}
    for _, w in ipairs(js) do w:put(true) end
  end
  if self._semaphore then self._semaphore:release() end
  return true
end

local function init_group(self, name)
  self.greenlets = {}
  self.dying = {}
  self._n = 0
  self._next, self._prev = {}, {}
  self._next[self], self._prev[self] = self, self
  self._joiners = {}
  self._class_name = name
  self._id = ("%p"):format(self)
  self.greenlet_class = self.greenlet_class or Greenlet
  -- the rawlink every member carries; the hub runs links a little after
  -- the death (as gevent's _notify_links), so the discard is already late
  local weak = setmetatable({ self }, { __mode = "v" })
  self._on_death = function(g)
    local grp = weak[1]
    if grp then discard(grp, g) end
  end
end

--- The members in the order they were added.
function Group:list()
  local out, n = {}, 0
  local g = self._next[self]
  while g ~= self and g ~= nil do
    n = n + 1
    out[n] = g
    g = self._next[g]
  end
  return out
end

--- Whether g is a member.
function Group:contains(g)
  return self.greenlets[g] == true
end

--- Starts tracking g (a greenlet); it leaves the group when it dies.
function Group:add(g)
  check_greenlet(g, 1, "add")
  if self.greenlets[g] then return end
  g:rawlink(self._on_death)
  link_in(self, g)
end

--- Stops tracking g.
function Group:discard(g)
  check_greenlet(g, 1, "discard")
  discard(self, g)
  g:unlink(self._on_death)
end

--- Adds the unstarted greenlet g, then starts it.
function Group:start(g, ...)
  self:add(g, ...)
  g:start()
end

--- Creates a greenlet running fn(...) (self.greenlet_class(...)), adds it
--- and starts it.
function Group:spawn(fn, ...)
  if self.greenlet_class == Greenlet then check_fn(fn, 1, "spawn") end
  local g = self.greenlet_class(fn, ...)
  self:start(g)
  return g
end

-- Blocks until the group is empty; false on timeout.
local function wait_empty(self, timeout)
  local w = new_waiter()
  local js = self._joiners
  js[#js + 1] = w
  local ok, v = pcall(w.get, w, timeout)
  if ok and v ~= nil then return true end
  js = self._joiners
  for i = #js, 1, -1 do
    if js[i] == w then table.remove(js, i) break end
  end
  if not ok then
    if timeout ~= nil and v == timeout then return false end
    error(v, 0)
  end
  return false
end

--- Waits until the group is empty (at least once). Returns false if the
--- timeout expired first. With raise_error, re-raises the error of a member
--- (present when join was called) that failed.
function Group:join(timeout, raise_error)
  local o = opts(timeout)
  if o then timeout, raise_error = o.timeout, o.raise_error end
  if timeout ~= nil and type(timeout) ~= "number" and
     getmetatable(timeout) ~= TIMEOUT_MT then
    argerror(1, "join", "number or gevent.Timeout expected, got "
      .. type(timeout), 2)
  end
  local list = raise_error and self:list() or nil
  local result = true
  if self._n > 0 then result = wait_empty(self, timeout) end
  if list then
    for _, g in ipairs(list) do
      local e = g.exception
      if e ~= nil then error(e, 0) end
    end
  end
  return result
end

--- Kills every member (GreenletExit, or the given error); with block
--- (default true) waits until they are gone, at most timeout seconds.
function Group:kill(exception, block, timeout)
  local o = opts(exception)
  if o then exception, block, timeout = o.exception, o.block, o.timeout end
  local t, own = timer_for(timeout, "kill")
  local me = getcurrent()
  local ok, err = pcall(function()
    while self._n - (self.greenlets[me] and 1 or 0) > 0 do
      local list = self:list()
      for _, g in ipairs(list) do
        if not self.dying[g] and g ~= me then
          self.dying[g] = true
          g:kill(exception, false)
        end
      end
      if block == false then break end
      for _, g in ipairs(list) do
        if g ~= me then g:join() end
      end
      -- they are dead; their deferred discards may not have run yet
      for _, g in ipairs(list) do
        if g.dead then discard(self, g) end
      end
    end
  end)
  if own then t:cancel() end
  if not ok then
    if t ~= nil and err == t then return end
    error(err, 0)
  end
  -- called from a member: the others are gone, now it goes (as in gevent,
  -- where its own kill arrives last)
  if self.greenlets[me] and not self.dying[me] then
    self.dying[me] = true
    me:kill(exception, false)
  end
end

--- Kills g if it is a member and not already being killed.
function Group:killone(g, exception, block, timeout)
  local o = opts(exception)
  if o then exception, block, timeout = o.exception, o.block, o.timeout end
  check_greenlet(g, 1, "killone")
  if not self.dying[g] and self.greenlets[g] then
    g:kill(exception, false)
    self.dying[g] = true
    if block == nil or block then
      g:join(timeout)
      -- in gevent the group's link runs before the joiner resumes
      if g.dead then discard(self, g) end
    end
  end
end

--- A Group is never full.
function Group:full() return false end

--- Returns at once for a Group (nothing limits it).
function Group:wait_available(timeout) return nil end

-- ---- mapping -----------------------------------------------------------------

--- Calls fn(unpack(args)) in a member greenlet and returns its results
--- (or raises its error). Called from a member, runs fn directly.
function Group:apply(fn, args)
  check_fn(fn, 1, "apply")
  if self.greenlets[getcurrent()] then return fn(unpack_args(args)) end
  return self:spawn(fn, unpack_args(args)):get()
end

-- apply, then callback(results...) in a new greenlet.
local function apply_cb(self, fn, args, callback)
  local res = pack(self:apply(fn, args))
  if callback ~= nil then Greenlet.spawn(callback, unpack(res, 1, res.n)) end
  return unpack(res, 1, res.n)
end

--- Starts fn(unpack(args)) without blocking; returns the greenlet. If
--- callback is given it is called with the results when fn succeeds.
function Group:apply_async(fn, args, callback)
  check_fn(fn, 1, "apply_async")
  if args ~= nil and type(args) ~= "table" then
    argerror(2, "apply_async", "table expected, got " .. type(args), 2)
  end
  if callback ~= nil then check_fn(callback, 3, "apply_async") end
  if self:full() then
    -- spawn() would block: a fresh, untracked greenlet does it later
    return Greenlet.spawn(apply_cb, self, fn, args, callback)
  end
  local g = self:spawn(fn, unpack_args(args))
  if callback ~= nil then
    g:link(function(src)
      if src:successful() then callback(src:get()) end
    end)
  end
  return g
end

local function map_body(self, fn, items)
  local gs, n = {}, 0
  for i, item in each(items) do
    n = i
    gs[i] = self:spawn(fn, item)
  end
  local res = { n = n }
  for i = 1, n do res[i] = (gs[i]:get()) end
  return res
end

--- Applies fn to each item in member greenlets (a Pool runs at most its
--- size at once); returns the results in item order as an array with n
--- (nil results are kept). Raises the first error in item order.
function Group:map(fn, items)
  check_fn(fn, 1, "map")
  check_items(items, 2, "map")
  return Greenlet.spawn(map_body, self, fn, items):get()
end

--- map() in a new greenlet (returned); then callback(results) there.
function Group:map_async(fn, items, callback)
  check_fn(fn, 1, "map_async")
  check_items(items, 2, "map_async")
  if callback ~= nil then check_fn(callback, 3, "map_async") end
  return Greenlet.spawn(function()
    local res = self:map(fn, items)
    if callback ~= nil then callback(res) end
    return res
  end)
end

-- The iterator of imap/imap_unordered. A mapper greenlet spawns the
-- members; each member's death is reported (deferred, after the group's
-- own discard) to a waiter the iterator reads.
local function imap(self, fn, items, ordered)
  local q = new_waiter()
  local index_of = {}
  local outstanding, spawned, spawning = 0, 0, true
  local function on_result(g)
    outstanding = outstanding - 1
    q:put(g)
    if not spawning and outstanding == 0 then
      q:put({ done = true, index = spawned + 1 })
    end
  end
  local function on_death(g) defer(on_result, g) end
  Greenlet.spawn(function()
    local ok, err = pcall(function()
      for i, item in each(items) do
        spawned = i
        outstanding = outstanding + 1
        local g = self:spawn(fn, item)
        index_of[g] = i
        g:rawlink(on_death)
      end
    end)
    spawning = false
    if not ok then
      q:put({ failed = true, err = err, index = spawned + 1 })
      error(err, 0)
    end
    if outstanding == 0 then q:put({ done = true, index = spawned + 1 }) end
  end)

  local finished = false
  local function result(i, v)
    if type(v) == "table" then -- end marker
      finished = true
      if v.failed then error(v.err, 0) end
      return nil
    end
    index_of[v] = nil
    return i, v:get()
  end

  if not ordered then
    return function()
      if finished then return nil end
      local v = q:get()
      if type(v) == "table" then return result(v.index, v) end
      return result(index_of[v], v)
    end
  end
  local buffered, nexti = {}, 1
  return function()
    if finished then return nil end
    while buffered[nexti] == nil do
      local v = q:get()
      local i = type(v) == "table" and v.index or index_of[v]
      buffered[i] = v
    end
    local v = buffered[nexti]
    buffered[nexti] = nil
    nexti = nexti + 1
    return result(nexti - 1, v)
  end
end

--- An iterator over index, result (in item order) of fn applied to each
--- item in member greenlets: `for i, r in group:imap(fn, items) do`.
function Group:imap(fn, items)
  check_fn(fn, 1, "imap")
  check_items(items, 2, "imap")
  return imap(self, fn, items, true)
end

--- The same, in the order the results come in.
function Group:imap_unordered(fn, items)
  check_fn(fn, 1, "imap_unordered")
  check_items(items, 2, "imap_unordered")
  return imap(self, fn, items, false)
end

-- Group(greenlets): a group, optionally tracking the given greenlets.
setmetatable(Group, {
  __call = function(cls, greenlets)
    local self = setmetatable({}, cls)
    init_group(self, "Group")
    if greenlets ~= nil then
      if type(greenlets) ~= "table" then
        argerror(1, "gevent.pool.Group", "table expected, got " ..
                 type(greenlets), 2)
      end
      for _, g in ipairs(greenlets) do self:add(g) end
    end
    return self
  end,
  __tostring = function() return "<class Group>" end,
})

-- ---- Pool ------------------------------------------------------------------

local Pool = setmetatable({}, { __index = Group })
Pool.__index = Pool
Pool.__name = "gevent.Pool"
Pool.__len = Group.__len
Pool.__tostring = Group.__tostring
M.Pool = Pool

--- Adds g, waiting for a free slot (at most timeout seconds; not at all
--- when blocking is false). Raises PoolFull if there was none.
function Pool:add(g, blocking, timeout)
  local o = opts(blocking)
  if o then blocking, timeout = o.blocking, o.timeout end
  check_greenlet(g, 1, "add")
  if self.greenlets[g] then return end
  if not self._semaphore:acquire(blocking, timeout) then
    error(PoolFull(), 2)
  end
  if self.greenlets[g] then -- added by someone else meanwhile
    self._semaphore:release()
    return
  end
  Group.add(self, g)
end

--- Adds the unstarted g (waiting for a slot as add does), then starts it.
function Pool:start(g, blocking, timeout)
  self:add(g, blocking, timeout)
  g:start()
end

--- Whether add/spawn would block.
function Pool:full() return self:free_count() <= 0 end

--- How many more greenlets can be added without blocking.
function Pool:free_count()
  if self.size == nil then return 1 end
  local n = self.size - self._n
  return n > 0 and n or 0
end

--- Waits until a greenlet can be added; returns how many can (maybe 0
--- after a timeout).
function Pool:wait_available(timeout)
  local o = opts(timeout)
  if o then timeout = o.timeout end
  return self._semaphore:wait(timeout)
end

-- Pool(size, greenlet_class): size nil means no limit.
setmetatable(Pool, {
  __index = Group,
  __call = function(cls, size, greenlet_class)
    if size ~= nil then
      if math.type(size) ~= "integer" then
        if type(size) == "number" and size == math.floor(size) then
          size = math.tointeger(size)
        end
        if math.type(size) ~= "integer" then
          argerror(1, "gevent.pool.Pool", "integer expected, got " ..
            (type(size) == "number" and "float" or type(size)), 2)
        end
      end
      if size < 0 then
        argerror(1, "gevent.pool.Pool", "size must not be negative: " .. size,
                 2)
      end
    end
    local self = setmetatable({}, cls)
    self.size = size
    if greenlet_class ~= nil then self.greenlet_class = greenlet_class end
    init_group(self, "Pool")
    self._semaphore = size == nil and lockmod.DummySemaphore()
      or lockmod.Semaphore(size)
    return self
  end,
  __tostring = function() return "<class Pool>" end,
})

return M
