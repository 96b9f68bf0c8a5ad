---@meta gevent.select
-- lua-language-server annotations for gevent.select (reference:
-- docs/api/select.md).

---@class gevent.select
local M = {}

---A file descriptor, or an object with `getfd` (a socket).
---@alias gevent.select.fd integer|{getfd: fun(self): integer}

---Python's `select.poll()` object.
---@class gevent.select.poll
local poll = {}

---Watches `fd` for `eventmask` (default `POLLIN | POLLPRI | POLLOUT`);
---registering again changes the mask.
---@param fd gevent.select.fd
---@param eventmask? integer
function poll:register(fd, eventmask) end

---Changes the mask of a registered `fd`.
---@param fd gevent.select.fd
---@param eventmask integer
function poll:modify(fd, eventmask) end

---Stops watching `fd`.
---@param fd gevent.select.fd
function poll:unregister(fd) end

---Waits until a registered fd has an event, at most `timeout`
---**milliseconds**: an array of `{fd, revents}`.
---@param timeout? number|gevent.Timeout
---@return {[1]: integer, [2]: integer}[]
function poll:poll(timeout) end

---Waits until an entry of `rlist` is readable or of `wlist` writable:
---the ready entries of each, and an empty array (`xlist` is never
---reported). `select(r, w, timeout)` works too.
---@param rlist gevent.select.fd[]
---@param wlist? gevent.select.fd[]
---@param xlist? gevent.select.fd[]|number
---@param timeout? gevent.timeout
---@return gevent.select.fd[] readable
---@return gevent.select.fd[] writable
---@return gevent.select.fd[] exceptional
function M.select(rlist, wlist, xlist, timeout) end

---A new `poll` object.
---@return gevent.select.poll
function M.poll() end

---@type integer
M.POLLIN = nil
---@type integer
M.POLLPRI = nil
---@type integer
M.POLLOUT = nil
---@type integer
M.POLLERR = nil
---@type integer
M.POLLHUP = nil
---Reported for a registered fd that is closed.
---@type integer
M.POLLNVAL = nil
---@type integer
M.POLLRDNORM = nil
---@type integer
M.POLLWRNORM = nil
---@type integer
M.POLLRDHUP = nil

return M
