-- gevent.config: the settings of the monitor thread (gevent's names) and
-- gvlua's additions, max_slice and counters. Reading a setting returns its
-- value; assigning one checks it and applies it at once (the monitor
-- thread starts or stops as needed). Each can also come from the
-- environment, read when gevent is first loaded (not under `gvlua -E`):
--   GVLUA_MONITOR_THREAD=1  GVLUA_MAX_BLOCKING_TIME=0.1
--   GVLUA_MAX_MEMORY_USAGE=512MB  GVLUA_MEMORY_MONITOR_PERIOD=5
--   GVLUA_MAX_SLICE=0.5  GVLUA_COUNTERS=1
local core = require "gvlua"
local M = core.monitor

-- Parsers: a value (from Lua or the environment) -> the setting, or
-- nil, what was expected.
local function boolean(v)
  if type(v) == "boolean" then return v end
  if type(v) == "string" then
    local s = v:lower()
    if s == "1" or s == "true" or s == "yes" or s == "on" then return true end
    if s == "0" or s == "false" or s == "no" or s == "off" or s == ""
    then return false end
  end
  if type(v) == "number" then return v ~= 0 end
  return nil, "boolean expected"
end

local function seconds(v)
  local n = math.type(v) and v or (type(v) == "string" and tonumber(v))
  if n and n > 0 and n < math.huge then return n + 0.0 end
  return nil, "positive number of seconds expected"
end

local UNITS = {[""] = 1, b = 1, k = 1024, kb = 1024, m = 1024^2, mb = 1024^2,
               g = 1024^3, gb = 1024^3}
local function bytes(v)
  if math.type(v) and v > 0 and v < math.huge then return math.floor(v) end
  if type(v) == "string" then
    local num, unit = v:lower():match("^%s*([%d%.]+)%s*(%a*)%s*$")
    local n, mul = tonumber(num or ""), UNITS[unit or ""]
    if n and mul and n > 0 then return math.floor(n * mul) end
  end
  return nil, "positive number of bytes expected (or a string such as '512MB')"
end

-- name -> {parse, default, nilable (nil switches it off)}
local SETTINGS = {
  monitor_thread = {boolean, false},
  max_blocking_time = {seconds, 0.1},
  max_memory_usage = {bytes, nil, true},
  memory_monitor_period = {seconds, 5.0},
  max_slice = {seconds, nil, true},
  counters = {boolean, false},
}
local ORDER = {"monitor_thread", "max_blocking_time", "max_memory_usage",
               "memory_monitor_period", "max_slice", "counters"}

-- The values live in the registry: a module loaded again (busted's
-- insulation does that) sees the settings the monitor runs with.
local reg = debug.getregistry()
local fresh = reg["gvlua.config"] == nil
local values = reg["gvlua.config"] or {}
reg["gvlua.config"] = values
if fresh then
  for name, s in pairs(SETTINGS) do values[name] = s[2] end
end

local function apply()
  M.configure(values)
  M.observe("counters", values.counters)
end

local function check(name, v)
  local s = SETTINGS[name]
  if v == nil then
    if s[3] then return nil end
    return s[2]
  end
  local parsed, expected = s[1](v)
  if parsed == nil then
    error(("bad value for 'gevent.config.%s' (%s, got %s)"):format(
      name, expected, type(v) == "string" and ("'" .. v .. "'") or type(v)), 3)
  end
  return parsed
end

local config = setmetatable({}, {
  __index = function(_, k)
    if SETTINGS[k] == nil then
      error(("'gevent.config' has no setting '%s'"):format(tostring(k)), 2)
    end
    return values[k]
  end,
  __newindex = function(_, k, v)
    if SETTINGS[k] == nil then
      error(("'gevent.config' has no setting '%s'"):format(tostring(k)), 2)
    end
    local old = values[k]
    values[k] = check(k, v)
    local ok, err = pcall(apply)
    if not ok then
      values[k] = old
      error(err, 2)
    end
  end,
  __pairs = function()
    local i = 0
    return function()
      i = i + 1
      local k = ORDER[i]
      if k then return k, values[k] end
    end
  end,
  __tostring = function() return "gevent.config" end,
})

-- The environment, once, when gevent is first loaded.
if fresh and not reg.LUA_NOENV then
  local changed = false
  for _, name in ipairs(ORDER) do
    local env = os.getenv("GVLUA_" .. name:upper())
    if env then
      local v, expected = SETTINGS[name][1](env)
      if v == nil then
        io.stderr:write(("gvlua: ignoring GVLUA_%s=%s (%s)\n"):format(
          name:upper(), env, expected))
      else
        values[name] = v
        changed = true
      end
    end
  end
  if changed then apply() end
end

return config
