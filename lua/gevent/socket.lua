-- gevent.socket: LuaSocket's API where every wait blocks only the calling
-- greenlet, plus gevent's create_connection, wait_read/wait_write,
-- getaddrinfo and gethostbyname.
--
-- Design. The sockets are LuaSocket's own (socket.core). Their real
-- LuaSocket timeout is kept at 0 (non-blocking), and each blocking method
-- loops: call LuaSocket's method; on "timeout", wait for the fd in the hub
-- (the C primitive gvlua.socket.wait, libev underneath: no FD_SETSIZE cap)
-- within the user's timeout, kept here per socket in LuaSocket's two modes
-- ("b": each wait, "t": the whole call), and retry, feeding partial receives
-- back through LuaSocket's prefix argument. Name resolution runs on the
-- OS-thread pool (runtime/work.c); numeric addresses skip it.
--
-- The cooperative methods take the raw LuaSocket object as self, so the very
-- same functions can be installed in place into LuaSocket's class tables
-- (monkey patching): see cooperative_methods. gevent.socket's own objects
-- are proxies (metatable "gevent.socket.<kind>") holding the raw object in
-- field _sock and forwarding to those functions.
local core = require "gvlua"
local C = core.socket
local sc = require "socket.core"
local okl, lsocket = pcall(require, "socket")   -- LuaSocket's Lua helpers
if not okl then lsocket = sc end
local oku, unix = pcall(require, "socket.unix")
if not oku then unix = nil end

local D = core.dns
local mono, isnumeric = C.monotonic, D.isnumeric
local cancel_wait, sockerror, connected = C.cancel_wait, C.sockerror,
  C.connected
local watcher, wait_on, unwatch, readable = C.watcher, C.wait_on, C.unwatch,
  C.readable
local receiver, sender, set_quick = C.receiver, C.sender, C.set_quick
local hubfd = C.hubfd
local type, tonumber, error, ipairs, pairs, setmetatable =
  type, tonumber, error, ipairs, pairs, setmetatable

local M = {}

-- What gevent's own modules (gevent.server, gevent.monkey) and specs share
-- with this one, kept out of the public table: the private module
-- gevent._socket. Set before anything else, so that require
-- "gevent._socket" (lua/gevent/_socket.lua) finds it in any order.
local internal = {}
package.loaded["gevent._socket"] = internal

local check = require "gevent._check"
local argerror, typename = check.argerror, check.typename

---------------------------------------------------------------------------
-- per-socket timeouts (weak: keyed by the raw LuaSocket object)
---------------------------------------------------------------------------
local states = setmetatable({}, {__mode = "k"})

-- First cooperative use of a raw socket: adopt its LuaSocket timeouts and
-- make the real socket non-blocking. Each socket gets its own watcher (w),
-- left armed between waits so that request/response traffic costs no
-- epoll_ctl per wait; close, connect, bind and setfd disarm it, and it
-- disarms itself when collected. direct: the watcher reads the fd and
-- LuaSocket's input buffer from the object (see l_socket.c), so waits
-- take the object itself instead of getfd() and dirty() calls.
local function adopt(sock, o)
  local b, t
  if o.gettimeout then b, t = o.gettimeout(sock) end
  local w, direct = watcher(sock, o.getfd and o.getfd(sock))
  local st = {b = (b and b >= 0) and b or nil, t = (t and t >= 0) and t or nil,
              w = w, direct = direct or nil}
  states[sock] = st
  o.settimeout(sock, -1, "t")
  o.settimeout(sock, 0, "b")
  return st
end

-- wait_first (see m.receive). The watcher's quick flag tells a proxy's C
-- receive (l_socket.c) that it may wait first: a direct socket without
-- timeouts.
local function set_wait_first(st, v)
  st.wait_first = v
  set_quick(st.w, v and st.direct and not (st.b or st.t))
end

-- Seconds the next wait may take (nil: no limit).
local function budget(st, start)
  local b, t = st.b, st.t
  if not t then return b end
  local left = t - (mono() - start)
  if left < 0 then left = 0 end
  if b and b < left then return b end
  return left
end

-- Resolves host to a list of numeric addresses (the thread pool unless it
-- is numeric already). Returns list or nil, err.
local function resolve(host, socktype, family)
  if host == nil or host == "*" or isnumeric(host) then return {host} end
  local res, err = D.getaddrinfo(host, nil, family or "unspec",
                                 socktype or "stream")
  if not res then return nil, err end
  local out, seen = {}, {}
  for _, r in ipairs(res) do
    if not seen[r.addr] then
      seen[r.addr] = true
      out[#out + 1] = r.addr
    end
  end
  if #out == 0 then return nil, "host or service not provided, or not known" end
  return out
end
internal.resolve = resolve

---------------------------------------------------------------------------
-- what LuaSocket's stream receive does with its arguments (buffer.c)
---------------------------------------------------------------------------
-- The length of a prefix as LuaSocket takes it (a string or a number).
local function prefix_len(prefix)
  if prefix == nil then return 0 end
  return #tostring(prefix)
end

-- Whether receive(pattern, prefix) answers without reading the socket: a
-- count the prefix already covers, or arguments it rejects.
local function answers_at_once(pattern, prefix)
  local tp = type(prefix)
  if prefix ~= nil and tp ~= "string" and tp ~= "number" then return true end
  local n = tonumber(pattern) -- LuaSocket: lua_isnumber
  if n then
    if n < 0 or n ~= n then return true end -- NaN too
    local size = prefix_len(prefix)
    return size > 0 and n <= size
  end
  if pattern == nil then return false end -- "*l"
  if type(pattern) ~= "string" then return true end
  local p = pattern:sub(1, 2)
  return p ~= "*l" and p ~= "*a"
end

-- Whether the pattern is LuaSocket's "*a" (read until closed).
local function is_all(pattern)
  return type(pattern) == "string" and pattern:sub(1, 2) == "*a"
end

---------------------------------------------------------------------------
-- cooperative methods over the raw LuaSocket methods in 'o'
---------------------------------------------------------------------------
local originals = setmetatable({}, {__mode = "k"})  -- wrapper -> original

local function orig_of(f) return originals[f] or f end

--- Builds cooperative versions of the LuaSocket methods in table o (a
-- class's __index table, e.g. debug.getregistry()["tcp{client}"].__index).
-- Returns a table with the same names: blocking methods wait cooperatively,
-- the others are the originals. The functions take the raw LuaSocket object
-- as self, so gevent.monkey can store them in place into LuaSocket's class
-- tables. wrap(sock) (optional) post-processes sockets returned by accept.
-- Calling it again on an already patched table uses the originals.
-- proxied: receive and send take a gevent.socket proxy as self instead
-- (saving a forwarding call on the per-message path), and m._install(p, st)
-- gives proxy p of a directly read stream its own C receive and send.
local function cooperative_methods(orig, wrap, proxied)
  local o = {}
  for k, v in pairs(orig) do o[k] = type(v) == "function" and orig_of(v) or v end
  local getfd, settimeout = o.getfd, o.settimeout
  local m = {}
  for k, v in pairs(o) do m[k] = v end
  if not settimeout then return m end

  local function st_of(sock) return states[sock] or adopt(sock, o) end

  -- a proxy's first use: its raw socket's state, cached in the proxy
  local install -- (proxy, st): the proxy's own receive and send, set below
  local function proxy_state(p, name)
    local raw = type(p) == "table" and rawget(p, "_sock")
    if not raw then
      local mt = getmetatable(p)
      error(("bad argument #1 to '%s' (gevent.socket object expected, got %s)")
            :format(name, type(mt) == "table" and mt.__name or type(p)), 3)
    end
    local st = states[raw] or adopt(raw, o)
    p._st = st
    if install then install(p, st) end
    return st
  end

  -- waits for fd within the budget; nil, "timeout"/"closed" when it cannot
  local function wait_for(sock, ev, st, start)
    local fd = st.direct and sock or getfd(sock)
    if not (st.b or st.t) then return wait_on(st.w, fd, ev) end
    local w = budget(st, start)
    if w == 0 then return nil, "timeout" end
    return wait_on(st.w, fd, ev, w)
  end

  -- before a receive: false when LuaSocket's buffer holds data, else waits
  -- for readability as wait_for; false too when no time is left to wait
  -- (a timeout of 0: the receive must still try, as LuaSocket's does)
  local dirty = o.dirty
  local function wait_readable(sock, st, start)
    if st.direct then
      if not (st.b or st.t) then return readable(st.w, sock) end
      return readable(st.w, sock, budget(st, start))
    end
    if dirty and dirty(sock) then return false end
    if (st.b or st.t) and budget(st, start) == 0 then return false end
    return wait_for(sock, 1, st, start)
  end

  m.settimeout = function(sock, value, mode)
    local st = st_of(sock)
    if value ~= nil then
      local given = value
      value = tonumber(value)
      if not value then
        argerror(1, "settimeout", "number expected, got " .. typename(given), 2)
      end
      if value < 0 then value = nil end
    end
    local c = type(mode) == "string" and mode:sub(1, 1) or "b"
    if c == "b" then st.b = value
    elseif c == "t" or c == "r" then st.t = value
    else argerror(2, "settimeout", "invalid timeout mode", 2) end
    set_wait_first(st, st.wait_first)
    return 1
  end

  m.gettimeout = function(sock)
    local st = st_of(sock)
    return st.b or -1, st.t or -1
  end

  local receive = o.receive
  local datagram = o.receivefrom ~= nil
  if receive then
    -- Request/response traffic: once a receive had to wait, the next one
    -- usually would too, and trying first costs a recv that fails with
    -- EAGAIN. So such a socket waits for readability first, unless
    -- LuaSocket's buffer already holds data or LuaSocket would answer
    -- without reading; only a receive that finds data without any wait
    -- switches back to trying first.
    --
    -- LuaSocket's blocking "*a" returns what it read when the peer closes
    -- and "closed" only if that is nothing: a call here that waited in
    -- between reads the data in one step and the close in another, so it
    -- counts what it read itself beyond the caller's prefix (base: that
    -- prefix's length, given by the C fast path that read some already).
    m.receive = function(sock, pattern, prefix, base)
      local st -- self: the raw socket, or a proxy
      if proxied then st = sock._st or proxy_state(sock, "receive"); sock = sock._sock
      else st = states[sock] or adopt(sock, o) end
      local start = st.t and mono()
      local waited = false
      local prefix0 = prefix
      if st.wait_first and not datagram and not answers_at_once(pattern, prefix) then
        local ok, werr = wait_readable(sock, st, start)
        if ok == nil then -- what LuaSocket returns: streams add the partial
          return nil, werr, prefix or ""
        end
        waited = ok
      end
      while true do
        local data, err, partial = receive(sock, pattern, prefix)
        if err ~= "timeout" then
          if waited ~= (st.wait_first == true) then
            set_wait_first(st, waited or nil)
          end
          if datagram then
            if data then return data end
            return nil, err
          end
          if err == "closed" and is_all(pattern)
             and #partial > (base or prefix_len(prefix0)) then
            return partial, nil, nil
          end
          return data, err, partial
        end
        waited = true
        local ok, werr = wait_for(sock, 1, st, start)
        if not ok then
          if not st.wait_first then set_wait_first(st, true) end
          if datagram then return nil, werr end
          return nil, werr, partial
        end
        prefix = partial
      end
    end
  end

  local receivefrom = o.receivefrom
  if receivefrom then
    m.receivefrom = function(sock, size)
      local st = states[sock] or adopt(sock, o)
      local start = st.t and mono()
      while true do
        local data, a, b = receivefrom(sock, size)
        if data or a ~= "timeout" then return data, a, b end
        local ok, werr = wait_for(sock, 1, st, start)
        if not ok then return nil, werr end
      end
    end
  end

  local send = o.send
  if send then
    m.send = function(sock, data, i, j)
      local st -- self: the raw socket, or a proxy
      if proxied then st = sock._st or proxy_state(sock, "send"); sock = sock._sock
      else st = states[sock] or adopt(sock, o) end
      local start = st.t and mono()
      while true do
        local sent, err, last = send(sock, data, i, j)
        if err ~= "timeout" then return sent, err, last end
        local ok, werr = wait_for(sock, 2, st, start)
        if not ok then return nil, werr, last end
        if last then i = last + 1 end
      end
    end
  end

  -- Proxies of LuaSocket streams read directly get their own receive and
  -- send: C closures (l_socket.c quick_receive, quick_send) for the
  -- per-message path, falling back to the general versions above.
  if proxied and receive and send and not datagram then
    local general_receive, general_send = m.receive, m.send
    install = function(p, st)
      if st.direct then
        p.receive = receiver(st.w, p._sock, receive, general_receive, p)
        p.send = sender(st.w, p._sock, send, general_send, p)
      end
    end
  end

  local sendto = o.sendto
  if sendto then
    m.sendto = function(sock, data, ip, port)
      local st = states[sock] or adopt(sock, o)
      local start = st.t and mono()
      if type(ip) == "string" and not isnumeric(ip) and port then
        local addrs, err = resolve(ip, "dgram")
        if not addrs then return nil, err end
        ip = addrs[1]
      end
      while true do
        local sent, err = sendto(sock, data, ip, port)
        if err ~= "timeout" then return sent, err end
        local ok, werr = wait_for(sock, 2, st, start)
        if not ok then return nil, werr end
      end
    end
  end

  local accept = o.accept
  if accept then
    m.accept = function(sock)
      local st = states[sock] or adopt(sock, o)
      local start = st.t and mono()
      while true do
        local c, err = accept(sock)
        if c then
          if wrap then return wrap(c) end
          return c
        end
        if err ~= "timeout" then return nil, err end
        local ok, werr = wait_for(sock, 1, st, start)
        if not ok then return nil, werr end
      end
    end
  end

  -- LuaSocket's connect and bind may close the fd and open another, quite
  -- likely under the same number: the watcher must register afresh
  local function disarm(sock)
    local st = states[sock]
    if st then unwatch(st.w) end
  end

  -- (named as the methods: LuaSocket's argument errors name them)
  local connect = o.connect and function(sock, ...)
    disarm(sock)
    return o.connect(sock, ...)
  end
  if connect then
    -- after LuaSocket reported "timeout" (in progress): wait until the
    -- connection is made or failed
    local function finish(sock, st, start, ...)
      while true do
        local ok, werr = wait_for(sock, 2, st, start)
        if not ok then return nil, werr end
        local fd = getfd(sock)
        if fd < 0 then return nil, "closed" end
        local e = sockerror(fd)
        if e then return nil, e end
        if connected(fd) then return 1 end
        -- not connected yet (unix sockets: backlog was full): try again
        local r, e2 = connect(sock, ...)
        if r or e2 == "already connected" then return 1 end
        if e2 ~= "timeout" and e2 ~= "Operation already in progress" then
          return nil, e2
        end
      end
    end

    m.connect = function(sock, address, port)
      local st = states[sock] or adopt(sock, o)
      local start = st.t and mono()
      if port == nil then -- unix sockets: connect(path)
        local r, err = connect(sock, address)
        if r then return r end
        if err ~= "timeout" then return nil, err end
        return finish(sock, st, start, address)
      end
      local addrs, err = resolve(address, "stream")
      if not addrs then return nil, err end
      for _, a in ipairs(addrs) do
        local r, e = connect(sock, a, port)
        if r then return r end
        if e == "timeout" then
          r, e = finish(sock, st, start, a, port)
          if r then return r end
          if e == "timeout" or e == "closed" then return nil, e end
        end
        -- once a family-less tcp() socket has tried one family, LuaSocket
        -- refuses the others: keep the error of the real attempt
        if not (err and e and e:find("family", 1, true)) then err = e end
      end
      return nil, err
    end
  end

  local bind = o.bind and function(sock, ...)
    disarm(sock)
    return o.bind(sock, ...)
  end
  if bind then
    m.bind = function(sock, address, port)
      if port == nil or type(address) ~= "string" or isnumeric(address)
         or address == "*" then
        return bind(sock, address, port)
      end
      local addrs, err = resolve(address, "stream")
      if not addrs then return nil, err end
      for _, a in ipairs(addrs) do
        local r, e = bind(sock, a, port)
        if r then return r end
        err = e
      end
      return nil, err
    end
  end

  for _, name in ipairs{"setpeername", "setsockname"} do
    local f = o[name]
    if f then
      m[name] = function(sock, address, port, ...)
        if type(address) == "string" and port ~= nil and address ~= "*"
           and not isnumeric(address) then
          local addrs, err = resolve(address, "dgram")
          if not addrs then return nil, err end
          address = addrs[1]
        end
        return f(sock, address, port, ...)
      end
    end
  end

  local close = o.close
  if close then
    m.close = function(sock)
      local fd = getfd(sock)
      if fd >= 0 then cancel_wait(fd) end
      disarm(sock)
      return close(sock)
    end
  end

  local setfd = o.setfd
  if setfd then
    m.setfd = function(sock, fd)
      local n = math.tointeger(tonumber(fd)) -- LuaSocket takes "3" too
      if n and n >= 0 and n <= 0x7fffffff and hubfd(n) then
        error(("bad argument #1 to 'setfd' (file descriptor %d is the hub's "
               .. "own)"):format(n), 2)
      end
      disarm(sock)
      return setfd(sock, fd)
    end
  end

  for k, v in pairs(m) do
    if type(v) == "function" and v ~= o[k] then originals[v] = o[k] end
  end
  if proxied then m._install = install end
  return m
end
internal.cooperative_methods = cooperative_methods

---------------------------------------------------------------------------
-- proxy objects
---------------------------------------------------------------------------
local registry = debug.getregistry()

-- The original methods of LuaSocket classes (before any patching).
local function class_methods(names)
  local o = {}
  for _, n in ipairs(names) do
    local mt = registry[n]
    if mt and type(mt.__index) == "table" then
      for k, v in pairs(mt.__index) do
        if o[k] == nil then o[k] = type(v) == "function" and orig_of(v) or v end
      end
    end
  end
  return o
end

local proxies = {}   -- kind -> metatable

-- What a closed proxy still answers as LuaSocket does; its other methods
-- say nil, "closed" (LuaSocket's own would say "Bad file descriptor", or
-- silently make a new socket for connect).
local after_close = {close = true, getfd = true, setfd = true, dirty = true,
                     getstats = true, setstats = true, gettimeout = true,
                     settimeout = true, getfamily = true}

-- A proxy's method: checks self, then calls f on the raw socket. Made by
-- load so that the function it calls has the method's name: LuaSocket's
-- argument errors then name the method ("bad argument #1 to 'listen'").
local forwarder_src = [[
local %s, mt, closed_ok, type, error, getmetatable, rawget, rawset = ...
return function(self, ...)
  if getmetatable(self) ~= mt then
    local smt = getmetatable(self)
    error(("bad argument #1 to '%s' (%%s expected, got %%s)"):format(mt.__name,
          type(smt) == "table" and smt.__name or type(self)), 2)
  end
  if not closed_ok and rawget(self, "_closed") then return nil, "closed" end
  %s
end]]
local function forwarder(name, f, mt)
  local body = ("return %s(self._sock, ...)"):format(name)
  if name == "close" then
    body = ("rawset(self, '_closed', true) return %s(self._sock, ...)")
           :format(name)
  elseif name == "setfd" then
    body = ("rawset(self, '_closed', nil) return %s(self._sock, ...)")
           :format(name)
  end
  local src = forwarder_src:format(name, name, body)
  return assert(load(src, "=gevent.socket"))(f, mt, after_close[name] or false,
                                             type, error, getmetatable,
                                             rawget, rawset)
end

local function make_kind(kind, names)
  local o = class_methods(names)
  if next(o) == nil then return nil end
  local mt = {__name = "gevent.socket." .. kind}
  local index = {}
  mt.__index = index
  -- _st: the raw socket's state (states[raw]) once adopted, so that the
  -- per-message methods find it without a weak-table lookup
  local install
  local function wrap(raw)
    local st = states[raw]
    local p = setmetatable({_sock = raw, _st = st or false}, mt)
    if st and install then install(p, st) end
    return p
  end
  mt.wrap = wrap
  local coop = cooperative_methods(o, wrap)
  for k, f in pairs(coop) do
    if type(f) == "function" then index[k] = forwarder(k, f, mt) end
  end
  local direct = cooperative_methods(o, wrap, true)
  index.receive, index.send = direct.receive, direct.send
  install = direct._install
  mt.__tostring = function(self) return tostring(self._sock) end
  mt.__close = function(self) return self:close() end
  mt.__eq = function(a, b) return rawget(a, "_sock") == rawget(b, "_sock") end
  proxies[kind] = mt
  return mt
end

make_kind("tcp", {"tcp{client}", "tcp{master}", "tcp{server}"})
make_kind("udp", {"udp{unconnected}", "udp{connected}"})
if unix then
  make_kind("unixstream", {"unixstream{client}", "unixstream{master}",
                           "unixstream{server}"})
  make_kind("unixdgram", {"unixdgram{unconnected}", "unixdgram{connected}"})
end

local function kind_of(raw)
  local s = tostring(raw)
  if s:sub(1, 3) == "tcp" then return "tcp"
  elseif s:sub(1, 3) == "udp" then return "udp"
  elseif s:sub(1, 10) == "unixstream" then return "unixstream"
  elseif s:sub(1, 9) == "unixdgram" then return "unixdgram" end
end

--- Wraps a raw LuaSocket object in a cooperative gevent.socket object.
function M.wrap(raw)
  if type(raw) == "table" and rawget(raw, "_sock") then return raw end
  local mt = proxies[kind_of(raw) or ""]
  if not mt then
    argerror(1, "gevent.socket.wrap", "LuaSocket socket expected, got "
             .. typename(raw), 2)
  end
  return mt.wrap(raw)
end

--- The raw LuaSocket object of a gevent.socket object.
function M.unwrap(s)
  if type(s) == "table" and rawget(s, "_sock") then return s._sock end
  return s
end

local function maker(f, kind)
  if not f then return nil end
  return function(...)
    local raw, err = f(...)
    if not raw then return nil, err end
    return proxies[kind].wrap(raw)
  end
end

M.tcp = maker(sc.tcp, "tcp")
M.tcp4 = maker(sc.tcp4, "tcp")
M.tcp6 = maker(sc.tcp6, "tcp")
M.udp = maker(sc.udp, "udp")
M.udp4 = maker(sc.udp4, "udp")
M.udp6 = maker(sc.udp6, "udp")

if unix then
  local u = {}
  u.stream = maker(unix.stream, "unixstream")
  u.dgram = maker(unix.dgram, "unixdgram")
  u.tcp = u.stream
  u.udp = u.dgram
  M.unix = setmetatable(u, {__call = function(_, ...) return u.stream(...) end})
end

---------------------------------------------------------------------------
-- module functions (LuaSocket's)
---------------------------------------------------------------------------
for _, k in ipairs{"_VERSION", "_DATAGRAMSIZE", "_SOCKETINVALID",
                   "gettime", "newtry", "protect", "skip", "BLOCKSIZE"} do
  M[k] = lsocket[k]
end
-- How many sockets select takes: not LuaSocket's FD_SETSIZE (select waits
-- in libev and reads readiness with poll), but as many as the process may
-- open (RLIMIT_NOFILE when this module loaded).
M._SETSIZE = core.select.setsize()
M.try = lsocket.try or sc.newtry()
-- LTN12 sources and sinks: they call methods, so they cooperate too
for _, k in ipairs{"choose", "sink", "source", "sinkt", "sourcet"} do
  M[k] = lsocket[k]
end

function M.sleep(seconds)
  return core.sleep(seconds or 0)
end

--- connect(address, port, laddress, lport, family): a connected TCP object.
function M.connect(address, port, laddress, lport, family)
  if type(address) ~= "string" then
    argerror(1, "gevent.socket.connect", "string expected, got "
             .. typename(address), 2)
  end
  local fam = family == "inet" and "inet" or family == "inet6" and "inet6"
              or "unspec"
  local addrs, err
  if isnumeric(address) then addrs = {address}
  else
    local res
    res, err = D.getaddrinfo(address, nil, fam, "stream")
    if not res then return nil, err end
    addrs = {}
    for _, r in ipairs(res) do addrs[#addrs + 1] = r.addr end
  end
  for _, a in ipairs(addrs) do
    local f = isnumeric(a)
    if (fam == "unspec" or f == fam) then
      local s, e = (f == "inet6" and M.tcp6 or M.tcp4)()
      if not s then return nil, e end
      local ok = true
      if laddress then ok, e = s:bind(laddress, lport or 0) end
      if ok then ok, e = s:connect(a, port) end
      if ok then return s end
      s:close()
      err = e
    end
  end
  return nil, err or "host or service not provided, or not known"
end

function M.connect4(address, port, laddress, lport)
  return M.connect(address, port, laddress, lport, "inet")
end

function M.connect6(address, port, laddress, lport)
  return M.connect(address, port, laddress, lport, "inet6")
end

--- bind(host, port, backlog): a listening TCP object (as LuaSocket's).
function M.bind(host, port, backlog)
  if host == "*" then host = "0.0.0.0" end
  local addrs, err = resolve(host, "stream")
  if not addrs then return nil, err end
  err = "no info on address"
  for _, a in ipairs(addrs) do
    local s, e = (isnumeric(a) == "inet6" and M.tcp6 or M.tcp4)()
    if not s then return nil, e end
    s:setoption("reuseaddr", true)
    local ok
    ok, err = s:bind(a, port)
    if ok then
      ok, err = s:listen(backlog)
      if ok then return s end
    end
    s:close()
  end
  return nil, err
end

-- fd of a select() entry: a number or an object with getfd
local function fd_of(x)
  if type(x) == "number" then return x end
  local f = x.getfd
  if not f then return -1 end
  return f(x) or -1
end

--- select(recvt, sendt, timeout) as LuaSocket's: readable, writable, err.
function M.select(recvt, sendt, timeout)
  local rfds, wfds, robj, wobj = {}, {}, {}, {}
  local readable, writable = {}, {}
  local dirty = false
  for _, x in ipairs(recvt or {}) do
    local fd = fd_of(x)
    if fd >= 0 then
      if type(x) ~= "number" and x.dirty and x:dirty() then
        if not readable[x] then
          readable[#readable + 1] = x
          readable[x] = #readable
        end
        dirty = true
      else
        rfds[#rfds + 1] = fd
        robj[fd] = robj[fd] or {}
        robj[fd][#robj[fd] + 1] = x
      end
    end
  end
  for _, x in ipairs(sendt or {}) do
    local fd = fd_of(x)
    if fd >= 0 then
      wfds[#wfds + 1] = fd
      wobj[fd] = wobj[fd] or {}
      wobj[fd][#wobj[fd] + 1] = x
    end
  end
  if timeout and timeout < 0 then timeout = nil end
  if dirty then timeout = 0 end
  if #rfds == 0 and #wfds == 0 then
    if not dirty then
      if timeout == nil then
        argerror(3, "gevent.socket.select", "nothing to wait for and no "
                 .. "timeout: it would block forever", 2)
      end
      core.sleep(timeout)
      return readable, writable, "timeout"
    end
    return readable, writable
  end
  local rr, ww = core.select.select(rfds, wfds, timeout)
  for _, fd in ipairs(rr) do
    for _, x in ipairs(robj[fd]) do
      if not readable[x] then
        readable[#readable + 1] = x
        readable[x] = #readable
      end
    end
  end
  for _, fd in ipairs(ww) do
    for _, x in ipairs(wobj[fd]) do
      if not writable[x] then
        writable[#writable + 1] = x
        writable[x] = #writable
      end
    end
  end
  if #readable == 0 and #writable == 0 then
    return readable, writable, "timeout"
  end
  return readable, writable
end

---------------------------------------------------------------------------
-- dns
---------------------------------------------------------------------------
local dns = {}
M.dns = dns

function dns.toip(name)
  local r, err = D.gethost(name)
  if not r then return nil, err end
  return r.ip[1], r
end

function dns.tohostname(name)
  local r, err = D.gethost(name)
  if not r then return nil, err end
  return r.name, r
end

function dns.getaddrinfo(host)
  if type(host) ~= "string" then
    argerror(1, "gevent.socket.dns.getaddrinfo", "string expected, got "
             .. typename(host), 2)
  end
  return D.getaddrinfo(host, nil, "unspec", "stream")
end

function dns.getnameinfo(host, serv)
  if serv ~= nil then serv = tostring(serv) end
  return D.getnameinfo(host, serv)
end

dns.gethostname = sc.dns.gethostname

---------------------------------------------------------------------------
-- gevent's additions
---------------------------------------------------------------------------
--- wait_read(fd, timeout): true when fd (or an object with getfd) is
-- readable; nil, "timeout" after timeout seconds; nil, "closed" if the
-- socket is closed meanwhile. wait_write, wait_readwrite likewise.
M.wait_read = C.wait_read
M.wait_write = C.wait_write
M.wait_readwrite = C.wait_readwrite
--- wait(fd, events, timeout): events 1 read, 2 write, 3 both.
M.wait = C.wait
--- cancel_wait(fd): wakes the greenlets waiting on fd (they get "closed").
M.cancel_wait = C.cancel_wait

--- getaddrinfo(host, port, family, socktype, proto, flags): a list of
-- {family=, addr=, port=, socktype=, protocol=, canonname=} or nil, err.
-- family "inet"/"inet6"/"unspec", socktype "stream"/"dgram" (or numbers).
function M.getaddrinfo(host, port, family, socktype, proto, flags)
  if port ~= nil then port = tostring(port) end
  return D.getaddrinfo(host, port, family, socktype, proto, flags)
end

--- gethostbyname(name): its IPv4 address as a string, or nil, err.
function M.gethostbyname(name)
  if isnumeric(name) == "inet" then return name end
  local r, err = D.getaddrinfo(name, nil, "inet", "stream")
  if not r then return nil, err end
  return r[1].addr
end

--- gethostbyname_ex(name): hostname, aliases, addresses (or nil, err).
function M.gethostbyname_ex(name)
  local r, err = D.gethost(name)
  if not r then return nil, err end
  return r.name, r.alias, r.ip
end

-- host, port of an address, argument n of fname ({host, port} or
-- "host:port"); raises for the caller of fname otherwise.
local function split_address(address, n, fname)
  if type(address) == "table" then return address[1], address[2] end
  if type(address) == "string" then
    local h, p = address:match("^%[(.*)%]:(%d+)$")
    if not h then h, p = address:match("^(.*):(%d+)$") end
    if h then return h, tonumber(p) end
  end
  argerror(n, fname, ("{host, port} or \"host:port\" expected, got %s")
           :format(type(address) == "string" and ("'" .. address .. "'")
                   or typename(address)), 3)
end
internal.split_address = split_address

-- Happy eyeballs (RFC 8305, section 5): the addresses in the order to
-- try them: families interleaved, starting with the first one resolved.
local function interleave(addrs)
  local first = isnumeric(addrs[1])
  local a, b = {}, {}
  for _, x in ipairs(addrs) do
    if isnumeric(x) == first then a[#a + 1] = x else b[#b + 1] = x end
  end
  local out = {}
  for i = 1, math.max(#a, #b) do
    out[#out + 1] = a[i]
    out[#out + 1] = b[i]
  end
  return out
end

--- Seconds create_connection waits for an attempt before it starts the
-- next one in parallel (RFC 8305's Connection Attempt Delay).
M.happy_eyeballs_delay = 0.25

-- One connection attempt: the connected socket, or nil, err. A kill cuts
-- it short and closes the socket.
local function attempt(a, port, timeout, source_address)
  local s, e = (isnumeric(a) == "inet6" and M.tcp6 or M.tcp4)()
  if not s then return nil, e end
  if timeout then s:settimeout(timeout) end
  local ok, r, err = true, true, nil
  if source_address then
    local sh, sp = split_address(source_address, 3,
                                 "gevent.socket.create_connection")
    ok, r, err = pcall(s.bind, s, sh, sp or 0)
  end
  if ok and r then ok, r, err = pcall(s.connect, s, a, port) end
  if ok and r then return s end
  s:close()
  if not ok then error(r, 0) end   -- GreenletExit, Timeout: after closing
  return nil, err
end

-- Connects to the first of addrs that answers: one attempt at a time, the
-- next one started when the last failed or happy_eyeballs_delay passed
-- without an answer; the first connection made wins and the attempts
-- still running are stopped (their sockets closed). Returns the socket or
-- nil, the last error.
local function connect_any(addrs, port, timeout, source_address)
  if #addrs == 1 then return attempt(addrs[1], port, timeout, source_address) end
  local gevent = require "gevent"
  local Queue = require("gevent.queue").Queue
  addrs = interleave(addrs)
  local results, running, decided = Queue(), {}, false
  local _ <close> = setmetatable({}, {__close = function()
    decided = true
    for g in pairs(running) do g:kill(nil, false) end
  end})
  local next_i, active, err = 1, 0, nil
  local function launch()
    local a = addrs[next_i]
    next_i = next_i + 1
    active = active + 1
    local g
    g = gevent.spawn(function()
      local s, e = attempt(a, port, timeout, source_address)
      running[g] = nil
      if decided then
        if s then s:close() end
        return
      end
      results:put({s, e})
    end)
    running[g] = true
  end
  launch()
  while active > 0 do
    local r
    if next_i <= #addrs then
      local ok, v = pcall(results.get, results, true, M.happy_eyeballs_delay)
      if ok then r = v
      elseif require("gevent.queue").Empty:is(v) then launch()
      else error(v, 0) end
    else
      r = results:get()
    end
    if r then
      active = active - 1
      if r[1] then return r[1] end
      err = r[2]
      if next_i <= #addrs then launch() end
    end
  end
  return nil, err
end

--- create_connection(address, timeout, source_address): connects to
-- address ({host, port} or "host:port"). With several addresses (IPv6 and
-- IPv4, say) it runs happy eyeballs (RFC 8305): families interleaved, the
-- next attempt started when the last failed or happy_eyeballs_delay passed
-- without an answer, the first connection made wins. timeout bounds each
-- attempt and stays the socket's timeout. Returns the connected object or
-- nil, err.
function M.create_connection(address, timeout, source_address)
  local host, port = split_address(address, 1, "gevent.socket.create_connection")
  if source_address ~= nil then -- checked here: attempts run in greenlets
    split_address(source_address, 3, "gevent.socket.create_connection")
  end
  local addrs, err = resolve(host, "stream")
  if not addrs then return nil, err end
  return connect_any(addrs, port, timeout, source_address)
end
internal.connect_any = connect_any

---------------------------------------------------------------------------
-- in-place patching of LuaSocket (for gevent.monkey)
---------------------------------------------------------------------------
internal.luasocket_classes = {
  "tcp{master}", "tcp{client}", "tcp{server}",
  "udp{connected}", "udp{unconnected}",
  "unixstream{master}", "unixstream{client}", "unixstream{server}",
  "unixdgram{connected}", "unixdgram{unconnected}",
}

--- Makes LuaSocket itself cooperative, in place: the methods of its class
-- tables (so objects made before or after, by any module, cooperate) and
-- the socket.core functions that block (connect, select, sleep, dns.*),
-- which then return raw LuaSocket objects as LuaSocket does. Returns a
-- function that undoes it. Idempotent.
function internal.patch_luasocket()
  local undo = {}
  local function set(t, k, v)
    undo[#undo + 1] = {t, k, t[k]}
    t[k] = v
  end
  for _, name in ipairs(internal.luasocket_classes) do
    local mt = registry[name]
    if mt and type(mt.__index) == "table" then
      local index = mt.__index
      local coop = cooperative_methods(index)
      for k, f in pairs(coop) do
        if type(f) == "function" and index[k] ~= f and orig_of(index[k]) ~= f
           and originals[index[k]] == nil then
          set(index, k, f)
        end
      end
    end
  end
  if not originals[sc.connect] then
    local function raw(f)
      local w = function(...)
        local s, err = f(...)
        if not s then return nil, err end
        return M.unwrap(s)
      end
      return w
    end
    local patched = {
      connect = raw(M.connect), connect4 = raw(M.connect4),
      connect6 = raw(M.connect6), select = M.select, sleep = M.sleep,
    }
    for k, f in pairs(patched) do
      if sc[k] then
        originals[f] = sc[k]
        set(sc, k, f)
      end
    end
    set(sc, "_SETSIZE", core.select.setsize()) -- select has no FD_SETSIZE cap
    if lsocket.bind then
      local f = raw(M.bind)
      originals[f] = lsocket.bind
      set(lsocket, "bind", f)
    end
    for _, k in ipairs{"toip", "tohostname", "getaddrinfo", "getnameinfo"} do
      originals[dns[k]] = sc.dns[k]
      set(sc.dns, k, dns[k])
    end
  end
  return function()
    for i = #undo, 1, -1 do
      local u = undo[i]
      u[1][u[2]] = u[3]
    end
    undo = {}
  end
end

return M
