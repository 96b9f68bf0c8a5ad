---@meta gevent.os
-- lua-language-server annotations for gevent.os (reference:
-- docs/api/os.md).

---@class gevent.os
local M = {}

---Forks the process; the hub keeps working in the child. The child's pid
---in the parent, 0 in the child; or `nil, message, errno`.
---@return integer? pid
---@return string? err
---@return integer? errno
function M.fork() end

---The same function as `fork`.
---@return integer? pid
---@return string? err
---@return integer? errno
function M.fork_and_watch() end

---Waits for a child of `fork()` or `Popen` to end, blocking only the
---calling greenlet: `pid, how, code` (`how`: `"exited"`, `"killed"` or
---`"stopped"`), or `nil, "timeout"`.
---@param pid integer
---@param timeout? gevent.timeout
---@return integer|nil pid
---@return string how_or_err
---@return integer? code_or_errno
function M.waitpid(pid, timeout) end

---The process id of the running process.
---@return integer
function M.getpid() end

---Sends signal `sig` (a number or a name, default `SIGTERM`) to `pid`:
---`true`, or `nil, message, errno`.
---@param pid integer
---@param sig? integer|string
---@return true|nil ok
---@return string? err
---@return integer? errno
function M.kill(pid, sig) end

---`_exit(2)`: ends the process at once, without closing the Lua state.
---@param status? integer
function M._exit(status) end

return M
