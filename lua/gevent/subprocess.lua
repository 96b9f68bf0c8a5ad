-- gevent.subprocess: child processes whose pipes and exit block only the
-- calling greenlet. Popen, pipes and reaping are in C (bindings/
-- l_subprocess.c); run, call, check_call and check_output are sugar.
local core = require("gvlua").subprocess

local M = {
  PIPE = core.PIPE,
  STDOUT = core.STDOUT,
  DEVNULL = core.DEVNULL,
  SubprocessError = core.SubprocessError,
  CalledProcessError = core.CalledProcessError,
  TimeoutExpired = core.TimeoutExpired,
}

local popen = core._popen
local CalledProcessError = core.CalledProcessError

--- Popen(args, opts): a running child process.
M.Popen = setmetatable({}, {
  __call = core._popen_call,
  __tostring = function() return "<class Popen>" end,
})

local function cmdstr(args)
  if type(args) == "table" then return table.concat(args, " ") end
  return tostring(args)
end

local function called_process_error(rc, args, out, err)
  local e = CalledProcessError(("Command '%s' returned non-zero exit status %d")
                               :format(cmdstr(args), rc))
  e.returncode, e.cmd, e.output, e.stdout, e.stderr = rc, args, out, out, err
  return e
end

-- Popen options without the ones run() and friends consume.
local function check_opts(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to '%s' (table expected, got %s)")
          :format(fname, type(opts)), 3)
  end
end

local function popen_opts(opts)
  local o = {}
  for k, v in pairs(opts or {}) do
    if k ~= "input" and k ~= "timeout" and k ~= "check"
       and k ~= "capture_output" then
      o[k] = v
    end
  end
  return o
end

local CompletedProcess = {}
CompletedProcess.__index = CompletedProcess
CompletedProcess.__name = "CompletedProcess"
function CompletedProcess:check_returncode()
  if self.returncode ~= 0 then
    error(called_process_error(self.returncode, self.args, self.stdout,
                               self.stderr), 2)
  end
end
function CompletedProcess:__tostring()
  return ("CompletedProcess(args=%s, returncode=%d)")
         :format(cmdstr(self.args), self.returncode)
end
M.CompletedProcess = CompletedProcess

-- Kills and reaps p after an error, then re-raises it.
local function cleanup(p, err)
  pcall(p.kill, p)
  pcall(p.wait, p)
  error(err, 0)
end

--- run(args, opts): opts are Popen's plus input, capture_output, timeout,
--- check. Returns a CompletedProcess {args, returncode, stdout, stderr}.
function M.run(args, opts)
  check_opts(opts, "gevent.subprocess.run")
  opts = opts or {}
  local o = popen_opts(opts)
  if opts.input ~= nil then
    if o.stdin ~= nil then
      error("bad argument #2 to 'gevent.subprocess.run' (stdin and input may "
            .. "not both be given)", 2)
    end
    o.stdin = M.PIPE
  end
  if opts.capture_output then
    if o.stdout ~= nil or o.stderr ~= nil then
      error("bad argument #2 to 'gevent.subprocess.run' (stdout and stderr "
            .. "may not be given with capture_output)", 2)
    end
    o.stdout, o.stderr = M.PIPE, M.PIPE
  end
  local p = popen(args, o)
  local ok, out, err = pcall(p.communicate, p, opts.input, opts.timeout)
  if not ok then cleanup(p, out) end
  local rc = p:wait()
  if opts.check and rc ~= 0 then
    error(called_process_error(rc, args, out, err), 2)
  end
  return setmetatable({args = args, returncode = rc, stdout = out,
                       stderr = err}, CompletedProcess)
end

--- call(args, opts): runs the command, returns its exit code.
function M.call(args, opts)
  check_opts(opts, "gevent.subprocess.call")
  local o = popen_opts(opts)
  local p = popen(args, o)
  local ok, rc = pcall(p.wait, p, opts and opts.timeout)
  if not ok then cleanup(p, rc) end
  return rc
end

--- check_call(args, opts): 0, or raises CalledProcessError.
function M.check_call(args, opts)
  check_opts(opts, "gevent.subprocess.check_call")
  local rc = M.call(args, opts)
  if rc ~= 0 then error(called_process_error(rc, args), 2) end
  return 0
end

--- check_output(args, opts): the command's stdout, or raises
--- CalledProcessError (with output) if it fails.
function M.check_output(args, opts)
  check_opts(opts, "gevent.subprocess.check_output")
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.stdout ~= nil then
    error("bad argument #2 to 'gevent.subprocess.check_output' (stdout may "
          .. "not be given: check_output captures it)", 2)
  end
  o.stdout = M.PIPE
  o.check = true
  local ok, r = pcall(M.run, args, o)
  if not ok then error(r, 2) end
  return r.stdout
end

--- getoutput / getstatusoutput (shell commands, stderr merged, trailing
--- newline removed).
function M.getstatusoutput(cmd)
  local r = M.run(cmd, {shell = true, stdout = M.PIPE, stderr = M.STDOUT})
  local out = r.stdout:gsub("\n$", "")
  return r.returncode, out
end

function M.getoutput(cmd)
  local _, out = M.getstatusoutput(cmd)
  return out
end

return M
