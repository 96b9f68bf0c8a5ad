-- child: runs a Lua program in a gvlua child process, for specs about what
-- a whole process does (its stderr, Ctrl-C, its exit status).
--   local child = require "spec.support.child"
--   local r = child.run(src, {env = {"GVLUA_MAX_SLICE=0.1"}, args = {...},
--                             signal = "SIGINT", after = "ready",
--                             stderr_file = true, timeout = 20})
--   r.rc, r.out, r.err
-- With `signal`, the signal is sent once the child has printed the line
-- `after` on stdout (`delay` seconds later if given; with `again =
-- seconds`, once more after that long).
-- With `limit_kb`, the child runs under `ulimit -v` of that many KiB.
-- With `stderr_file`, the child's stderr goes to a file
-- whose name is the child's arg[1] (so it can read its own reports).
-- The child always runs under the gvlua executable: the one running the
-- spec if it is gvlua, else the tree's build/app/gvlua.
local gevent = require "gevent"
local sp = require "gevent.subprocess"

local M = {}

local source = debug.getinfo(1, "S").source
local root = (source:match("^@(.-)[^/]*$") or "./") .. "../../"

-- The interpreter running this spec (lua5.4 or gvlua), for children that
-- should run under the same one.
function M.interpreter()
  local f = assert(io.open("/proc/self/cmdline", "rb"))
  local argv0 = f:read("a"):match("^[^%z]+")
  f:close()
  return argv0
end

-- Whether a command (curl, python3, ...) is installed.
function M.have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

-- Runs args (a program and its arguments, no shell) to completion within
-- 20 s, input on its stdin: stdout, exit status, stderr.
function M.capture(args, input)
  local r = sp.run(args, {capture_output = true, timeout = 20, input = input})
  return r.stdout, r.returncode, r.stderr
end

local function gvlua()
  local argv0 = M.interpreter()
  if argv0:match("gvlua$") then return argv0 end
  return root .. "build/app/gvlua"
end
M.gvlua = gvlua()
M.root = root

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

function M.run(src, opts)
  opts = opts or {}
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(src)
  f:close()
  local errfile = opts.stderr_file and os.tmpname()
  local argv = {"/usr/bin/env"}
  if opts.limit_kb then
    argv = {"/bin/sh", "-c", ("ulimit -v %d && exec \"$0\" \"$@\"")
            :format(opts.limit_kb), "/usr/bin/env"}
  end
  for _, e in ipairs(opts.env or {}) do argv[#argv + 1] = e end
  argv[#argv + 1] = M.gvlua
  for _, a in ipairs(opts.flags or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = script
  if errfile then argv[#argv + 1] = errfile end
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  local errf = errfile and assert(io.open(errfile, "w"))
  local p = sp.Popen(argv, {stdout = sp.PIPE, stderr = errf or sp.PIPE})
  if errf then errf:close() end
  local timeout = opts.timeout or 20
  local r = {}
  local ok, err = pcall(function()
    if opts.signal then
      local line
      repeat
        line = gevent.with_timeout(timeout, p.stdout.readline, p.stdout)
      until line == nil or line == opts.after
      r.saw = line
      if opts.delay then gevent.sleep(opts.delay) end
      p:send_signal(opts.signal)
      if opts.again then -- the same signal once more, a little later
        gevent.sleep(opts.again)
        p:send_signal(opts.signal)
      end
    end
    r.out, r.err = p:communicate(nil, timeout)
  end)
  if not ok then
    p:kill()
    p:wait()
  end
  r.rc = p.returncode
  if errfile then
    r.err = slurp(errfile)
    os.remove(errfile)
  end
  os.remove(script)
  if not ok then
    error(("child failed: %s\nstderr: %s"):format(tostring(err),
                                                 tostring(r.err)), 2)
  end
  r.out = (r.saw and (r.saw .. "\n") or "") .. (r.out or "")
  return r
end

return M
