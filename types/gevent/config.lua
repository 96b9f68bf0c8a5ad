---@meta gevent.config
-- lua-language-server annotations for gevent.config (reference:
-- docs/api/config.md). Assigning a setting applies it at once; `nil` puts
-- the default back.

---@class gevent.config
---@field monitor_thread boolean Report blocks of the hub (and memory use) from a monitor thread (default `false`; `GVLUA_MONITOR_THREAD`).
---@field max_blocking_time number Seconds without a switch before a block is reported (default 0.1; `GVLUA_MAX_BLOCKING_TIME`).
---@field max_memory_usage integer? Bytes of resident memory above which the monitor reports (a number, or a string like `"512MB"` when set; default off).
---@field memory_monitor_period number Seconds between memory readings (default 5).
---@field max_slice number? CPU seconds a greenlet may run without yielding before `SliceExceeded` (default off; `GVLUA_MAX_SLICE`).
---@field counters boolean Count switches and callbacks for `gevent.util.counters()` (default `false`).
local config = {}

return config
