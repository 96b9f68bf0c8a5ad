-- Helpers shared by the Lua workloads (gvlua, bare Lua 5.4, luv, Tarantool/LuaJIT).
-- Output protocol read by bench/run:   RESULT <metric> <value> <unit>
local M = {}

-- A wall clock in seconds with sub-microsecond resolution. Lua 5.4 has none built
-- in (os.clock is CPU time), so take the first that loads:
--   Tarantool's clock.monotonic, luv's uv.hrtime (lua-luv ships a 5.4 build; it
--   only reads CLOCK_MONOTONIC here, no uv loop is run), gevent.socket.gettime,
--   and os.clock as the last resort (equal to wall time only for CPU-bound code).
do
  local ok, c = pcall(require, "clock")
  if ok and type(c) == "table" and c.monotonic then
    M.now, M.clock_name = c.monotonic, "tarantool clock.monotonic"
  else
    local ok2, uv = pcall(require, "luv")
    if ok2 and uv.hrtime then
      local hr = uv.hrtime
      M.now, M.clock_name = function() return hr() * 1e-9 end, "luv uv.hrtime"
    else
      local ok3, gs = pcall(require, "gevent.socket")
      if ok3 and type(gs) == "table" and gs.gettime then
        M.now, M.clock_name = gs.gettime, "gevent.socket.gettime"
      else
        M.now, M.clock_name = os.clock, "os.clock (CPU time)"
      end
    end
  end
end

local function status_field(name)
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  local s = f:read("a"); f:close()
  local v = s:match(name .. ":%s*(%d+)")
  return v and tonumber(v)
end
function M.rss_kib() return status_field("VmRSS") end
function M.hwm_kib() return status_field("VmHWM") end

function M.result(metric, value, unit)
  io.write(string.format("RESULT %s %.6g %s\n", metric, value, unit or ""))
  io.flush()
end
function M.info(...)
  io.write("INFO ", table.concat({...}, " "), "\n")
end

-- full collection, twice (finalizers, then what they freed)
function M.gc() collectgarbage("collect"); collectgarbage("collect") end

return M
