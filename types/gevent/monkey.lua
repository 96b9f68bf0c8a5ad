---@meta gevent.monkey
-- lua-language-server annotations for gevent.monkey (reference:
-- docs/api/monkey.md).

---@class gevent.monkey
local M = {}

---Applies every patch (`socket` with `dns`, `dns`, `select`, `time`,
---`os`); `opts` leaves some out: `{os = false}`.
---@param opts? {socket?: boolean, dns?: boolean, select?: boolean, time?: boolean, os?: boolean}
---@return true
function M.patch_all(opts) end

---LuaSocket's classes and `socket.connect*` cooperate; also `patch_dns()`
---unless `opts.dns` is `false`.
---@param opts? {dns?: boolean}
---@return true
function M.patch_socket(opts) end

---`socket.dns.*` resolve on the thread pool.
---@return true
function M.patch_dns() end

---`socket.select` waits in the hub, with no `FD_SETSIZE` cap.
---@return true
function M.patch_select() end

---`socket.sleep` sleeps only the calling greenlet.
---@return true
function M.patch_time() end

---`os.execute` and `io.popen` run through `gevent.subprocess`, blocking
---only the calling greenlet.
---@return true
function M.patch_os() end

---LuaSec's connections (`require "ssl"`, `ssl.https`) wait in the hub;
---`false` when LuaSec is not installed.
---@return boolean
function M.patch_ssl() end

---Whether `patch_<name>()` has run (`"socket"`, `"dns"`, `"select"`,
---`"time"`, `"os"`, `"ssl"`).
---@param name string
---@return boolean
function M.is_patched(name) end

---Whether `name` (`"socket"`, `"os"`, `"io"`, `"socket.dns"`,
---`"tcp{client}"`, or a flag of `is_patched`) has been patched.
---@param name string
---@return boolean
function M.is_module_patched(name) end

---Whether `module_name[name]` has been replaced.
---@param module_name string
---@param name string
---@return boolean
function M.is_object_patched(module_name, name) end

---What `module[name]` was before patching (an array of values for an
---array of names).
---@param module_name string
---@param name string|string[]
---@return any
function M.get_original(module_name, name) end

---Puts every original back (gvlua's addition, for tests).
---@return true
function M.unpatch_all() end

return M
