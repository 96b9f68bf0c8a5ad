-- gevent.select: select() that blocks only the calling greenlet. Entries
-- are file descriptors or objects with getfd() (LuaSocket or gevent.socket
-- objects, files wrapped by other modules); any number of them (no
-- FD_SETSIZE cap: the wait is libev watchers, the readiness check poll()).
local core = require "gvlua"
local C = core.select

local M = {}

local argerror = require("gevent._check").argerror

-- The fd of an entry (argument n of fname; entry i of a list, if given).
-- depth: calls between fname and here (1: fname calls fd_of).
local function fd_of(x, n, fname, i, depth)
  if math.type(x) == "integer" then return x end
  if type(x) == "number" then return math.tointeger(x) or -1 end
  local f = (type(x) == "table" or type(x) == "userdata") and x.getfd
  if not f then
    argerror(n, fname, ("%sfile descriptor or object with getfd expected, "
                        .. "got %s"):format(i and ("entry %d: "):format(i)
                        or "", type(x)), 2 + (depth or 1))
  end
  return math.tointeger(f(x)) or -1
end

local SELECT = "gevent.select.select"

local function add(list, n, objs, fds)
  for i, x in ipairs(list or {}) do
    local fd = fd_of(x, n, SELECT, i, 2)
    if fd < 0 then
      argerror(n, SELECT, ("entry %d is a negative file descriptor (is the "
                           .. "socket closed?)"):format(i), 3)
    end
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
  local targ = 4
  if type(xlist) == "number" and timeout == nil then
    -- select(r, w, timeout) for callers that skip xlist
    xlist, timeout, targ = nil, xlist, 3
  end
  local robjs, rfds, wobjs, wfds = {}, {}, {}, {}
  add(rlist, 1, robjs, rfds)
  add(wlist, 2, wobjs, wfds)
  for i, x in ipairs(xlist or {}) do fd_of(x, 3, SELECT, i) end
  if type(timeout) == "number" and timeout < 0 then
    argerror(targ, SELECT, "timeout must be non-negative", 2)
  end
  if #rfds == 0 and #wfds == 0 then
    if timeout == nil then
      argerror(targ, SELECT, "nothing to wait for and no timeout: it would "
               .. "block forever", 2)
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
  fd = fd_of(fd, 1, "register")
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
  local f = fd_of(fd, 1, "modify")
  if not self._index[f] then
    argerror(1, "modify", ("fd %d is not registered"):format(f), 2)
  end
  self:register(f, eventmask)
end

function Poll:unregister(fd)
  fd = fd_of(fd, 1, "unregister")
  local i = self._index[fd]
  if not i then
    argerror(1, "unregister", ("fd %d is not registered"):format(fd), 2)
  end
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
      argerror(1, "poll", "nothing registered and no timeout: it would "
               .. "block forever", 2)
    end
    if type(timeout) == "number" then core.sleep(timeout) end
    return {}
  end
  return C.poll(self._fds, self._masks, timeout)
end

return M
