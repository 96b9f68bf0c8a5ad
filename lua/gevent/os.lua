-- gevent.os: fork() that keeps the hub working in the child, and
-- waitpid() that waits cooperatively for children from fork() or Popen.
--   fork()             -> pid (0 in the child), or nil, message, errno
--   waitpid(pid, timeout) -> pid, "exited"|"killed", code  (or nil, "timeout")
--   getpid()           -> this process's pid
--   kill(pid, sig)     -> true, or nil, message, errno (sig: number or name)
local core = require("gvlua").os

return {
  fork = core.fork,
  fork_and_watch = core.fork,
  waitpid = core.waitpid,
  getpid = core.getpid,
  kill = core.kill,
  _exit = core._exit,
}
