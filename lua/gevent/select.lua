-- gevent.select: select() that blocks only the calling greenlet. Entries
-- are file descriptors or objects with getfd() (LuaSocket or gevent.socket
-- objects, files wrapped by other modules); any number of them (no
-- FD_SETSIZE cap: the wait is libev watchers, the readiness check poll()).
local core = require "gvlua"
local C = core.select

local M = {}

local function fd_of(x)
  if math.type(x) == "integer" then return x end
  if type(x) == "number" then return math.tointeger(x) or -1 end
  local f = (type(x) == "table" or type(x) == "userdata") and x.getfd
  if not f then
    error("select: expected a file descriptor or an object with getfd, got "
          .. type(x), 3)
  end
  return math.tointeger(f(x)) or -1
end

local function add(list, objs, fds)
  for _, x in ipairs(list or {}) do
    local fd = fd_of(x)
    if fd < 0 then error("select: file descriptor cannot be a negative "
                         .. "number (is the socket closed?)", 3) end
    if not objs[fd] then
      objs[fd] = {}
      fds[#fds + 1] = fd
    end
    local o = objs[fd]
    o[#o + 1] = x
  end
end

local function collect(ready, objs)
  local out = {}
  for _, fd in ipairs(ready) do
    for _, x in ipairs(objs[fd]) do out[#out + 1] = x end
  end
  return out
end

--- select(rlist, wlist, xlist, timeout) -> rready, wready, xready.
-- Waits until some entry of rlist is readable or of wlist writable, or
-- timeout seconds (nil: no limit; a started Timeout is accepted too).
-- Returns the ready entries as given (three lists; all empty on timeout).
-- As in gevent, xlist is accepted but never reported ready.
function M.select(rlist, wlist, xlist, timeout)
  if type(xlist) == "number" and timeout == nil then
    -- select(r, w, timeout) for callers that skip xlist
    xlist, timeout = nil, xlist
  end
  local robjs, rfds, wobjs, wfds = {}, {}, {}, {}
  add(rlist, robjs, rfds)
  add(wlist, wobjs, wfds)
  for _, x in ipairs(xlist or {}) do fd_of(x) end
  if type(timeout) == "number" and timeout < 0 then
    error("select: timeout must be non-negative", 2)
  end
  if #rfds == 0 and #wfds == 0 then
    if timeout == nil then
      error("select: nothing to wait for and no timeout (would block "
            .. "forever)", 2)
    end
    if type(timeout) == "number" then core.sleep(timeout) end
    return {}, {}, {}
  end
  local rr, ww = C.select(rfds, wfds, timeout)
  return collect(rr, robjs), collect(ww, wobjs), {}
end

for _, k in ipairs{"POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP",
                   "POLLNVAL", "POLLRDNORM", "POLLWRNORM", "POLLRDHUP"} do
  M[k] = C[k]
end

--- poll(): like Python's select.poll, cooperative. Methods:
-- register(fd, eventmask) (default POLLIN|POLLPRI|POLLOUT; fd may be an
-- object with getfd), modify(fd, eventmask), unregister(fd),
-- poll(timeout_ms) -> {{fd, revents}, ...} (nil or negative: no limit;
-- milliseconds, as Python's). Closed fds are reported with POLLNVAL.
local Poll = {}
Poll.__index = Poll
Poll.__name = "gevent.select.poll"

function M.poll()
  return setmetatable({_fds = {}, _masks = {}, _index = {}}, Poll)
end

function Poll:register(fd, eventmask)
  fd = fd_of(fd)
  eventmask = eventmask or (C.POLLIN | C.POLLPRI | C.POLLOUT)
  local i = self._index[fd]
  if not i then
    i = #self._fds + 1
    self._fds[i] = fd
    self._index[fd] = i
  end
  self._masks[i] = eventmask
end

function Poll:modify(fd, eventmask)
  local f = fd_of(fd)
  if not self._index[f] then error("poll.modify: fd " .. f .. " is not registered", 2) end
  self:register(f, eventmask)
end

function Poll:unregister(fd)
  fd = fd_of(fd)
  local i = self._index[fd]
  if not i then error("poll.unregister: fd " .. fd .. " is not registered", 2) end
  local last = #self._fds
  local lfd = self._fds[last]
  self._fds[i], self._masks[i] = lfd, self._masks[last]
  self._index[lfd] = i
  self._fds[last], self._masks[last] = nil, nil
  self._index[fd] = nil
end

function Poll:poll(timeout)
  if type(timeout) == "number" then
    timeout = timeout >= 0 and timeout / 1000 or nil
  end
  if #self._fds == 0 then
    if timeout == nil then
      error("poll: nothing registered and no timeout (would block forever)", 2)
    end
    if type(timeout) == "number" then core.sleep(timeout) end
    return {}
  end
  return C.poll(self._fds, self._masks, timeout)
end

return M
