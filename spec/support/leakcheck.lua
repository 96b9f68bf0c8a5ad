-- After each spec file (busted --helper, see .busted): the file must leave
-- the hub as it found it: no greenlet still alive, no timer armed, no file
-- descriptor left open. What it leaves is given a moment to finish (the
-- hub runs a few short sleeps), then counted; a leak is reported as a
-- failure of that file's suite, naming what was left behind.
local busted = require "busted"
local core = require "gvlua"

-- The open fds and what they are (the readlink of /proc/PID/fd/N), but
-- the process-wide ones the runtime makes once, on first use and for good:
-- libev's eventfd and signalfd (wake-ups from other threads and signals).
local listing = os.tmpname()

local function open_fds()
  local set = {}
  -- written to a file (os.execute: no pipe of ours to count)
  os.execute("cd /proc/" .. core.os.getpid() .. "/fd 2>/dev/null && " ..
             "for f in *; do echo \"$f $(readlink $f)\"; done > " .. listing)
  local f = io.open(listing)
  if not f then return set end
  for line in f:lines() do
    local fd, what = line:match("^(%d+) (.*)$")
    if fd and what ~= "" and not what:match("^anon_inode:%[eventfd%]")
       and not what:match("^anon_inode:%[signalfd%]")
       and what ~= listing then
      set[tonumber(fd)] = what
    end
  end
  f:close()
  return set
end

local function settle()
  for _ = 1, 40 do
    local s = core._stats()
    if s.alive == 0 and s.timers == 0 then return s end
    core.sleep(0.005)
  end
  return core._stats()
end

local fds_before

busted.subscribe({"file", "start"}, function()
  fds_before = open_fds()
  return nil, true
end)

busted.subscribe({"file", "end"}, function(file)
  local s = settle()
  local what = {}
  if s.alive > 0 then what[#what + 1] = s.alive .. " greenlet(s) alive" end
  if s.timers > 0 then what[#what + 1] = s.timers .. " timer(s) armed" end
  collectgarbage()
  collectgarbage()
  local left = {}
  for fd, target in pairs(open_fds()) do
    if fds_before[fd] ~= target then
      left[#left + 1] = fd .. " (" .. target .. ")"
    end
  end
  if #left > 0 then
    table.sort(left)
    what[#what + 1] = "file descriptor(s) " .. table.concat(left, ", ")
  end
  if #what > 0 then
    file.trace = file.trace or {short_src = file.name, currentline = 0}
    busted.publish({"error", "file"}, file, nil,
                   "left behind: " .. table.concat(what, ", "), {})
  end
  return nil, true
end)
