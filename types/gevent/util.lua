---@meta gevent.util
-- lua-language-server annotations for gevent.util (reference:
-- docs/api/util.md).

---@class gevent.util
local util = {}

---The counters (see docs/api/util.md): switches and callbacks count while
---`counting` is true.
---@alias gevent.util.counters {switches: integer, callbacks: integer, greenlets: integer, loop_iterations: integer, blocked_reports: integer, blocked_time: number, counting: boolean}

---Lines describing every live greenlet (name, state, spawn site, what it
---waits on, traceback) and the hub (run queue, callbacks, timers, loop).
---@return string[]
function util.format_run_info() end

---Writes `format_run_info()` to `file` (anything with `write`; default
---`io.stderr`), a line each.
---@param file? file*|{write: fun(self: any, ...: string)}
function util.print_run_info(file) end

---The hub's counters, for metrics.
---@return gevent.util.counters
function util.counters() end

return util
