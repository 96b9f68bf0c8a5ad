---@meta gevent
-- lua-language-server annotations for `gevent`, its Greenlet and Timeout
-- classes and the error classes (reference: docs/api/gevent.md,
-- greenlet.md, timeout.md). tests/docs_sync.lua checks that every
-- documented name is annotated here and that every name annotated exists.

---A seconds count, or a started `Timeout` that raises when it fires.
---@alias gevent.timeout number|gevent.Timeout

---@class gevent
local gevent = {}

---An error class: `Class(message, ...)` makes an instance; raise it with
---`error(Class("msg"))`; `tostring(instance)` is `Name: message`.
---@class gevent.ErrorClass
---@field message any The first argument given to `Class(message, ...)`, when not `nil`.
---@field args any[]? All the arguments, when more than one was given (with `n`).
---@overload fun(message?: any, ...: any): gevent.ErrorClass
local ErrorClass = {}

---Whether `value` is an instance of the class or of a subclass (for
---`Timeout`: also a `Timeout` timer object). Any value may be tested.
---@param value any
---@return boolean
function ErrorClass:is(value) end

---A new error class deriving from this one, named `name` (default: the
---parent's name). A subclass of `Timeout` is a plain error class.
---@param name? string
---@return gevent.ErrorClass
function ErrorClass:subclass(name) end

---A greenlet: a function running in a stackful coroutine of its own,
---scheduled by the hub. `Greenlet(fn, ...)` makes one, not started;
---`Greenlet()` runs `self:_run()` (define `_run` in a subclass).
---@class gevent.Greenlet
---@field started boolean `true` once `start()`/`start_later()` was called (or the greenlet died).
---@field dead boolean Whether the greenlet has finished or was killed.
---@field value any The first value the function returned, once dead and successful.
---@field exception any The error that ended the greenlet, or `nil`.
---@field name string `"Greenlet-N"` (`N` its `minimal_ident`), `"MainGreenlet"` for the main one; settable.
---@field minimal_ident integer A small integer identifying the greenlet.
---@overload fun(fn?: function, ...: any): gevent.Greenlet
local Greenlet = {}

---Schedules the greenlet to run; does nothing if it was already started.
---@return gevent.Greenlet self
function Greenlet:start() end

---Schedules the greenlet to run after `seconds`.
---@param seconds number
---@return gevent.Greenlet self
function Greenlet:start_later(seconds) end

---Waits until the greenlet is dead: `true`, or `false` when a number
---`timeout` expired first (a started `Timeout` raises instead).
---@param timeout? gevent.timeout
---@return boolean
function Greenlet:join(timeout) end

---The greenlet's result: waits (unless `block` is `false`) until it is
---dead, returns every value the function returned, or raises its error.
---Raises `Timeout` when not ready in time.
---@param block? boolean|{block?: boolean, timeout?: gevent.timeout}
---@param timeout? gevent.timeout
---@return any ...
function Greenlet:get(block, timeout) end

---Raises `exception` (default: a `GreenletExit` instance) in the greenlet
---where it is blocked, then waits for it to die unless `block` is `false`.
---An options table `{exception=, block=, timeout=}` may stand first.
---@param exception? any
---@param block? boolean
---@param timeout? gevent.timeout
function Greenlet:kill(exception, block, timeout) end

---Whether the greenlet is dead.
---@return boolean
function Greenlet:ready() end

---`true` when the greenlet is dead without error (dying with
---`GreenletExit` counts as success).
---@return boolean
function Greenlet:successful() end

---When the greenlet dies, calls `callback(g)` in a new greenlet (an
---`AsyncResult` may stand for `callback`).
---@param callback fun(g: gevent.Greenlet)|gevent.event.AsyncResult
function Greenlet:link(callback) end

---Like `link`, only if the greenlet succeeds.
---@param callback fun(g: gevent.Greenlet)|gevent.event.AsyncResult
function Greenlet:link_value(callback) end

---Like `link`, only if the greenlet fails.
---@param callback fun(g: gevent.Greenlet)|gevent.event.AsyncResult
function Greenlet:link_exception(callback) end

---Like `link`, but `callback(g)` runs directly in the hub: it must not
---block; its errors are printed and swallowed.
---@param callback fun(g: gevent.Greenlet)
function Greenlet:rawlink(callback) end

---Removes every link (of any kind) to `callback`.
---@param callback function|gevent.event.AsyncResult
function Greenlet:unlink(callback) end

---The base initialiser, for subclasses' `init`: with `fn`, the greenlet
---will run `fn(...)`; without, `self:_run()`.
---@param self gevent.Greenlet
---@param fn? function
---@param ... any
function Greenlet.init(self, fn, ...) end

---`Greenlet(fn, ...)`, started; on a subclass, `My:spawn(...)` is
---`My(...)` started.
---@param fn function
---@param ... any
---@return gevent.Greenlet
function Greenlet.spawn(fn, ...) end

---A new class deriving from this one; `methods` are copied into it.
---Calling it calls its `init(self, ...)`.
---@param methods? table
---@return gevent.Greenlet
function Greenlet:subclass(methods) end

---A timer that raises in the greenlet that started it. `Timeout(seconds,
---exception)` makes one, not started (`seconds` `nil`: never fires); it
---raises itself, or `exception` when given. `local t <close> =
---Timeout(1):start()` cancels it at the end of the block.
---@class gevent.Timeout: gevent.ErrorClass
---@field pending boolean Whether the timer is armed and has not fired.
---@field seconds number? The seconds given, or `nil`.
---@field exception any The `exception` given to the constructor, or `nil`.
---@overload fun(seconds?: number, exception?: any): gevent.Timeout
local Timeout = {}

---Arms the timer for the calling greenlet (a pending one restarts from
---now).
---@return gevent.Timeout self
function Timeout:start() end

---Stops the timer if it is pending; idempotent. Also its `__close`.
function Timeout:cancel() end

---The same as `cancel()`.
function Timeout:close() end

---`Timeout(seconds, exception):start()`.
---@param seconds? number
---@param exception? any
---@return gevent.Timeout
function Timeout.start_new(seconds, exception) end

---What `gevent.signal_handler` returns.
---@class gevent.SignalHandler
---@field signum integer The signal number.
---@field active boolean Whether it still handles the signal.
---@field handler function The function given.
local SignalHandler = {}

---Stops handling the signal; idempotent. Also its `__close`.
function SignalHandler:cancel() end

---The same as `cancel()`.
function SignalHandler:close() end

---Creates a greenlet that will run `fn(...)` and schedules it.
---@param fn function
---@param ... any
---@return gevent.Greenlet
function gevent.spawn(fn, ...) end

---Like `spawn`, but the greenlet starts after `seconds`.
---@param seconds number
---@param fn function
---@param ... any
---@return gevent.Greenlet
function gevent.spawn_later(seconds, fn, ...) end

---Blocks the calling greenlet for `seconds` (default 0: let every ready
---greenlet run once).
---@param seconds? number
function gevent.sleep(seconds) end

---Blocks until the hub has nothing else to do, then returns.
function gevent.idle() end

---The running greenlet (the main chunk is the main greenlet).
---@return gevent.Greenlet
function gevent.getcurrent() end

---Waits for the greenlets of the array, in array order; returns those
---that finished. An options table `{timeout=, raise_error=, count=}` may
---stand second.
---@param greenlets gevent.Greenlet[]
---@param timeout? gevent.timeout|{timeout?: gevent.timeout, raise_error?: boolean, count?: integer}
---@param raise_error? boolean
---@param count? integer
---@return gevent.Greenlet[]
function gevent.joinall(greenlets, timeout, raise_error, count) end

---Waits until the objects (anything with `rawlink`, `unlink` and `ready`)
---are ready and returns those that did, in order; `gevent.wait()` runs
---the hub until nothing can make progress and returns `true`.
---@param objects? table
---@param timeout? gevent.timeout|{timeout?: gevent.timeout, count?: integer}
---@param count? integer
---@return table|true
function gevent.wait(objects, timeout, count) end

---The iterator behind `wait`: `for obj in gevent.iwait(objects) do`.
---@param objects table
---@param timeout? gevent.timeout
---@param count? integer
---@return fun(): any
function gevent.iwait(objects, timeout, count) end

---`g:kill(exception, block, timeout)`.
---@param g gevent.Greenlet
---@param exception? any
---@param block? boolean
---@param timeout? gevent.timeout
function gevent.kill(g, exception, block, timeout) end

---Kills every greenlet of the array, then waits for them unless `block`
---is `false`. An options table may stand second.
---@param greenlets gevent.Greenlet[]
---@param exception? any
---@param block? boolean
---@param timeout? gevent.timeout
function gevent.killall(greenlets, exception, block, timeout) end

---Calls `fn(...)` under a `Timeout` of `seconds`; returns what it returns.
---@param seconds number
---@param fn function
---@param ... any
---@return any ...
function gevent.with_timeout(seconds, fn, ...) end

---Runs `fn(...)` in a new greenlet each time the process receives the
---signal (a number or a name such as `"SIGUSR1"`).
---@param signum integer|string
---@param fn function
---@param ... any
---@return gevent.SignalHandler
function gevent.signal_handler(signum, fn, ...) end

---The same function as `gevent.os.fork`.
---@return integer pid 0 in the child
function gevent.fork() end

---gvlua's version, e.g. `"0.1.0"` (as `gvlua -v` prints it).
---@type string
gevent.version = nil

---The greenlet class.
gevent.Greenlet = Greenlet

---The timeout class (also an error class).
gevent.Timeout = Timeout

---What `kill()` raises by default; dying with it is a success.
---@type gevent.ErrorClass
gevent.GreenletExit = nil

---Raised in the greenlet that would wait forever because nothing else can
---run; its message lists the blocked greenlets.
---@type gevent.ErrorClass
gevent.LoopExit = nil

---Raised inside a greenlet that ran Lua code longer than
---`gevent.config.max_slice` seconds of CPU time without yielding.
---@type gevent.ErrorClass
gevent.SliceExceeded = nil

---The settings (`require "gevent.config"`).
---@type gevent.config
gevent.config = nil

return gevent
