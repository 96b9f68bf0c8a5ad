-- child(code, opts): runs Lua source 'code' in a child process with the
-- interpreter running the specs (lua5.4 or gvlua, ASan build included)
-- and their environment, for what a spec cannot watch in its own process:
-- stderr reports, exit statuses, memory limits. opts.limit_kb sets
-- `ulimit -v`; opts.timeout (seconds, default 30) bounds it. Returns
-- stdout, stderr, and the shell's status (124 on timeout).
local function readlink(path)
  local p = io.popen("readlink " .. path)
  local r = p:read("l")
  p:close()
  return r
end

local function slurp(path)
  local f = io.open(path, "rb")
  local s = f and f:read("a") or ""
  if f then f:close() end
  os.remove(path)
  return s
end

-- the running interpreter (in readlink, /proc/self is readlink's own)
local exe = assert(readlink("/proc/" .. require("gevent.os").getpid() .. "/exe"))

return function(code, opts)
  opts = opts or {}
  local src, out, err = os.tmpname(), os.tmpname(), os.tmpname()
  local f = assert(io.open(src, "w"))
  f:write(code)
  f:close()
  local cmd = ("%s timeout %d %q %q >%q 2>%q; echo $?"):format(
    opts.limit_kb and ("ulimit -v " .. opts.limit_kb .. ";") or "",
    opts.timeout or 30, exe, src, out, err)
  local p = io.popen("sh -c " .. ("%q"):format(cmd))
  local status = tonumber(p:read("l"))
  p:close()
  os.remove(src)
  return slurp(out), slurp(err), status
end
