---@meta gevent.pool
-- lua-language-server annotations for gevent.pool (reference:
-- docs/api/pool.md).

---@class gevent.pool
local pool = {}

---`Group(greenlets)`: tracks greenlets (those of the optional array);
---`#group` is the number of members.
---@class gevent.pool.Group
---@field greenlets table<gevent.Greenlet, true> The members, as a set (read only).
---@field dying table<gevent.Greenlet, true> The members being killed, as a set.
---@field greenlet_class gevent.Greenlet The class `spawn` instantiates.
---@overload fun(greenlets?: gevent.Greenlet[]): gevent.pool.Group
local Group = {}

---An array of the members, in the order they were added.
---@return gevent.Greenlet[]
function Group:list() end

---Whether `g` is a member.
---@param g gevent.Greenlet
---@return boolean
function Group:contains(g) end

---Starts tracking `g` (started or not).
---@param g gevent.Greenlet
function Group:add(g) end

---Stops tracking `g`.
---@param g gevent.Greenlet
function Group:discard(g) end

---Adds the unstarted greenlet `g`, then starts it.
---@param g gevent.Greenlet
function Group:start(g) end

---Makes a greenlet running `fn(...)`, adds it and starts it (a `Pool`
---first waits for a free slot).
---@param fn function
---@param ... any
---@return gevent.Greenlet
function Group:spawn(fn, ...) end

---Waits until the group is empty: `true`, or `false` on timeout; with
---`raise_error`, raises the error of a member that failed.
---@param timeout? gevent.timeout
---@param raise_error? boolean
---@return boolean
function Group:join(timeout, raise_error) end

---Kills every member; unless `block` is `false`, waits until they are
---gone (at most `timeout`).
---@param exception? any
---@param block? boolean
---@param timeout? gevent.timeout
function Group:kill(exception, block, timeout) end

---Kills `g` if it is a member; unless `block` is `false`, waits for it.
---@param g gevent.Greenlet
---@param exception? any
---@param block? boolean
---@param timeout? gevent.timeout
function Group:killone(g, exception, block, timeout) end

---Whether `add`/`spawn` would block (never, for a `Group`).
---@return boolean
function Group:full() end

---Waits until a greenlet can be added (at once for a `Group`): the
---number of free slots then, `nil` for a `Group`.
---@param timeout? gevent.timeout
---@return integer?
function Group:wait_available(timeout) end

---Calls `fn(table.unpack(args))` in a member greenlet and waits: its
---results; raises its error.
---@param fn function
---@param args? table
---@return any ...
function Group:apply(fn, args) end

---Starts `fn(table.unpack(args))` in a member without waiting;
---`callback(results...)` runs in a new greenlet when it succeeds.
---@param fn function
---@param args? table
---@param callback? function
---@return gevent.Greenlet
function Group:apply_async(fn, args, callback) end

---Calls `fn(item)` for each item in member greenlets and waits for all:
---the first result of each, in item order (an array with `n`).
---@param fn fun(item: any): any
---@param items table
---@return table
function Group:map(fn, items) end

---`map` in a new greenlet, which then calls `callback(results)`.
---@param fn fun(item: any): any
---@param items table
---@param callback? fun(results: table)
---@return gevent.Greenlet
function Group:map_async(fn, items, callback) end

---`map` as an iterator, in item order: `for i, result in
---group:imap(fn, items) do`.
---@param fn fun(item: any): any
---@param items table
---@return fun(): integer, any
function Group:imap(fn, items) end

---Like `imap`, in the order the results come in (`i` is the item's
---index).
---@param fn fun(item: any): any
---@param items table
---@return fun(): integer, any
function Group:imap_unordered(fn, items) end

---`Pool(size, greenlet_class)`: a `Group` of at most `size` members at
---once (`nil`: no limit).
---@class gevent.pool.Pool: gevent.pool.Group
---@field size integer? The bound given (`nil`: unbounded).
---@overload fun(size?: integer, greenlet_class?: gevent.Greenlet): gevent.pool.Pool
local Pool = {}

---Adds `g`, waiting for a free slot unless `blocking` is `false`; raises
---`PoolFull` when none was free in time.
---@param g gevent.Greenlet
---@param blocking? boolean
---@param timeout? gevent.timeout
function Pool:add(g, blocking, timeout) end

---`add(g, blocking, timeout)`, then `g:start()`.
---@param g gevent.Greenlet
---@param blocking? boolean
---@param timeout? gevent.timeout
function Pool:start(g, blocking, timeout) end

---Whether `add`/`spawn` would block.
---@return boolean
function Pool:full() end

---How many greenlets can be added without blocking.
---@return integer
function Pool:free_count() end

---Waits until a greenlet can be added: the number of free slots then.
---@param timeout? gevent.timeout
---@return integer
function Pool:wait_available(timeout) end

pool.Group = Group
pool.Pool = Pool

---Raised by `Pool:add` and `Pool:start` when no slot frees up in time (a
---subclass of `gevent.queue.Full`).
---@type gevent.ErrorClass
pool.PoolFull = nil

return pool
