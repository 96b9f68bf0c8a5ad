-- gevent.util: what a running hub is doing, for a person (format_run_info,
-- print_run_info) or for a metrics exporter (counters).
local core = require "gvlua"
local M = core.monitor

local util = {}

local function secs(s)
  return ("%.3f s"):format(s)
end

-- "<Event clear _links[1]> (0x55...)": tostring plus the address, so that
-- objects whose tostring does not show one can be told apart.
local function object_name(obj)
  local s = tostring(obj)
  local addr = ("%p"):format(obj)
  if not s:find(addr:gsub("^0x", ""), 1, true) then
    s = s .. " (" .. addr .. ")"
  end
  return s
end

local function add_lines(out, text, indent)
  for line in (text .. "\n"):gmatch("(.-)\n") do
    out[#out + 1] = indent .. line
  end
end

-- What a blocked greenlet waits on, in words.
local function waits_on(info)
  local w = info.waiting
  if not w then return nil end
  local s
  if w == "sleep" then
    s = info.timer and ("sleeping, wakes in " .. secs(info.timer))
        or "sleeping"
  elseif info.fd then
    s = ("waiting for fd %d to be ready for %s"):format(info.fd, info.events)
  else
    s = "waiting on " .. w
    if info.object ~= nil then s = s .. " of " .. object_name(info.object) end
  end
  if info.timer and w ~= "sleep" then
    s = s .. ", timeout in " .. secs(info.timer)
  end
  return s
end

--- format_run_info(): a list of lines describing every live greenlet
-- (name, state, spawn site, what it waits on, its traceback) and the hub
-- (its run queue, callbacks, timers and loop).
function util.format_run_info()
  local out = {}
  local greenlets = M.greenlets()
  local hub = M.hub()
  out[1] = ("gvlua run info: %d greenlet%s alive besides the main one"):format(
    hub.alive, hub.alive == 1 and "" or "s")
  for _, info in ipairs(greenlets) do
    local g = info.greenlet
    local name = g.name
    local head = ("* %s: %s"):format(name, info.state)
    if info.spawned then head = head .. ", spawned at " .. info.spawned end
    out[#out + 1] = head
    out[#out + 1] = "    " .. tostring(g)
    local w = waits_on(info)
    if w then out[#out + 1] = "    " .. w end
    if info.fn then
      local d = debug.getinfo(info.fn, "S")
      out[#out + 1] = ("    runs function <%s:%d>, not started yet"):format(
        d.short_src, d.linedefined)
    end
    if info.traceback then add_lines(out, info.traceback, "    ") end
  end
  local cbs = hub.callbacks
  local line = ("* hub: %d greenlet%s ready, %d callback%s pending, %d timer%s"):format(
    hub.ready, hub.ready == 1 and "" or "s", #cbs, #cbs == 1 and "" or "s",
    hub.timers, hub.timers == 1 and "" or "s")
  if hub.next_timer then line = line .. " (next in " .. secs(hub.next_timer) .. ")" end
  out[#out + 1] = line
  out[#out + 1] = ("    loop iteration %d, %d watcher%s pending, %d runner stack%s, monitor thread %s"):format(
    hub.loop_iterations, hub.pending_watchers,
    hub.pending_watchers == 1 and "" or "s", hub.runners,
    hub.runners == 1 and "" or "s", hub.monitor_thread and "on" or "off")
  for _, cb in ipairs(cbs) do out[#out + 1] = "    callback: " .. cb end
  return out
end

--- print_run_info(file): writes format_run_info() to file (io.stderr).
function util.print_run_info(file)
  file = file or io.stderr
  local ok, write = pcall(function() return file.write end)
  if io.type(file) ~= "file" and not (ok and write ~= nil) then
    error("bad argument #1 to 'gevent.util.print_run_info' (file expected, got "
          .. (io.type(file) or type(file)) .. ")", 2)
  end
  for _, l in ipairs(util.format_run_info()) do file:write(l, "\n") end
  if file.flush then file:flush() end
end

--- counters(): the hub's counters, for metrics. switches, callbacks and
-- loop_iterations count while `counting` is true (gevent.config.counters,
-- the monitor thread or an event subscription turns it on); greenlets is
-- always the number alive; blocked_reports and blocked_time sum the blocks
-- the monitor reported.
function util.counters()
  return M.counters()
end

return util
