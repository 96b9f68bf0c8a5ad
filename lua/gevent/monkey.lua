-- gevent.monkey: makes existing blocking code cooperative by patching, in
-- place, what it calls: LuaSocket (socket.core's functions and the methods
-- of its classes, which LuaSocket keeps in the registry), os.execute and
-- io.popen. Nothing here schedules: the patched functions are gevent's own
-- (gevent.socket, gevent.subprocess), which block only the calling greenlet.
--
--   patch_all(opts)      everything below; opts = {socket=, dns=, select=, ssl=,
--                        os=, time=} (each true unless false)
--   patch_socket(opts)   the methods of every LuaSocket class (tcp, udp,
--                        unix) and socket.connect/connect4/connect6; with
--                        opts.dns ~= false also patch_dns()
--   patch_dns()          socket.dns.toip/tohostname/getaddrinfo/getnameinfo
--                        (resolved on the thread pool)
--   patch_select()       socket.select
--   patch_time()         socket.sleep
--   patch_os()           os.execute and io.popen (on gevent.subprocess;
--                        io.type knows the files io.popen returns)
--   patch_ssl()          LuaSec's connections (require "ssl", ssl.https):
--                        handshake, receive and send wait in the hub
--   is_patched(name)     name: "socket", "dns", "select", "time", "os"
--   get_original(module, name)  what module[name] was before patching
--                        (module: "socket", "socket.dns", "os", "io", or a
--                        LuaSocket class such as "tcp{client}"); name may be
--                        a list, then a list is returned
--   unpatch_all()        gvlua's addition (gevent has no unpatch), meant for
--                        tests: puts every original back
--
-- os.execute and io.popen run "/bin/sh -c command" as Lua's do, with one
-- difference: the command inherits only fds 0-2 (Popen's close_fds, as
-- Python's subprocess), since other greenlets keep running meanwhile and an
-- inherited socket would keep their connections open until it exits. The
-- files io.popen returns are Lua tables: read (formats "a", "l", "L", counts;
-- not "n"), lines, write, close, flush, setvbuf, seek (fails, as on a pipe),
-- <close>, and io.type knows them; io.lines/io.input/io.output do not take
-- them.
--
-- Import order does not matter for LuaSocket objects and modules: the
-- methods are replaced inside LuaSocket's own class tables, so sockets
-- created before the patch, and modules such as socket.http that were
-- required before it, cooperate too. Only a function copied into a local
-- before the patch (local sleep = socket.sleep) keeps the original, as with
-- gevent's `from time import sleep`.
local gsock = require "gevent.socket"
local gsock_internal = require "gevent._socket"
local subprocess = require "gevent.subprocess"
local core = require "gvlua"
local sc = require "socket.core"
local okl, lsocket = pcall(require, "socket")
if not okl then lsocket = sc end

local type, pairs, ipairs, error, tostring, setmetatable =
  type, pairs, ipairs, error, tostring, setmetatable
local registry = debug.getregistry()

local M = {}

---------------------------------------------------------------------------
-- bookkeeping
---------------------------------------------------------------------------
local saved = {}     -- module name -> {name -> original value}
local targets = {}   -- module name -> the table patched
local order = {}     -- {module name, key} in patching order (for unpatch)
local flags = {}     -- "socket", "dns", ... -> true once patched
local NIL = {}       -- a saved original that was nil

-- raw LuaSocket objects that went through a patched method (weak): their
-- real LuaSocket timeouts are put back by unpatch_all
local touched = setmetatable({}, {__mode = "k"})

local function set(modname, t, k, v)
  local s = saved[modname]
  if not s then
    s = {}
    saved[modname] = s
    targets[modname] = t
  end
  if s[k] == nil then
    local old = t[k]
    if old == nil then old = NIL end
    s[k] = old
    order[#order + 1] = {modname, k}
  end
  t[k] = v
end

local aliases = {["socket.core"] = "socket", time = "socket",
                 select = "socket"}

--- get_original(module_name, name): the value module[name] had before
-- gevent.monkey patched it (its current value if it was not patched).
-- name may be a list of names: a list of values is returned.
function M.get_original(module_name, name)
  if type(module_name) ~= "string" then
    error("bad argument #1 to 'gevent.monkey.get_original' (string "
          .. "expected, got " .. (module_name == nil and "no value"
          or type(module_name)) .. ")", 2)
  end
  local mod = aliases[module_name] or module_name
  local function one(n)
    local s = saved[mod]
    if s and s[n] ~= nil then
      if s[n] == NIL then return nil end
      return s[n]
    end
    local t = targets[mod]
    if not t then
      if mod == "socket" then t = lsocket
      elseif mod == "socket.dns" then t = sc.dns
      elseif mod == "os" then t = os
      elseif mod == "io" then t = io
      elseif type(registry[mod]) == "table"
             and type(registry[mod].__index) == "table" then
        t = registry[mod].__index
      else
        local loaded = package.loaded[mod]
        if type(loaded) == "table" then t = loaded end
      end
    end
    if type(t) ~= "table" then
      error("bad argument #1 to 'gevent.monkey.get_original' (no module "
            .. "named '" .. module_name .. "')", 3)
    end
    return t[n]
  end
  if type(name) == "table" then
    local out = {}
    for i, n in ipairs(name) do out[i] = one(n) end
    return out
  end
  return one(name)
end

--- is_patched(name): whether patch_<name>() has run ("socket", "dns",
-- "select", "time", "os", "ssl").
function M.is_patched(name)
  return flags[name] == true
end

--- gevent's names: is_module_patched(name), is_object_patched(module, name).
function M.is_module_patched(name)
  if flags[name] then return true end
  return saved[aliases[name] or name] ~= nil
end

function M.is_object_patched(module_name, name)
  local s = saved[aliases[module_name] or module_name]
  return s ~= nil and s[name] ~= nil
end

---------------------------------------------------------------------------
-- socket
---------------------------------------------------------------------------
local function touching(f)
  return function(sock, ...)
    if type(sock) == "userdata" then touched[sock] = true end
    return f(sock, ...)
  end
end

--- patch_socket(opts): LuaSocket's sockets cooperate (in place: those made
-- before too). opts.dns (default true) also patches DNS.
function M.patch_socket(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'gevent.monkey.patch_socket' (table expected, "
          .. "got " .. type(opts) .. ")", 2)
  end
  if not flags.socket then
    for _, name in ipairs(gsock_internal.luasocket_classes) do
      local mt = registry[name]
      if type(mt) == "table" and type(mt.__index) == "table" then
        local index = mt.__index
        local coop = gsock_internal.cooperative_methods(index)
        for k, f in pairs(coop) do
          if type(f) == "function" and f ~= index[k] then
            set(name, index, k, touching(f))
          end
        end
      end
    end
    -- socket.connect* build their socket and connect it: gevent.socket's
    -- do the same cooperatively; LuaSocket's return the raw object
    local function raw(f)
      return function(...)
        local s, err = f(...)
        if not s then return nil, err end
        local r = gsock.unwrap(s)
        touched[r] = true
        return r
      end
    end
    for _, k in ipairs{"connect", "connect4", "connect6"} do
      if lsocket[k] then set("socket", lsocket, k, raw(gsock[k])) end
      if sc ~= lsocket and sc[k] then set("socket.core", sc, k, raw(gsock[k])) end
    end
    flags.socket = true
  end
  if opts == nil or opts.dns ~= false then M.patch_dns() end
  return true
end

--- patch_dns(): socket.dns's lookups run on the thread pool.
function M.patch_dns()
  if flags.dns then return true end
  local dns = sc.dns
  if dns then
    for _, k in ipairs{"toip", "tohostname", "getaddrinfo", "getnameinfo"} do
      if dns[k] then set("socket.dns", dns, k, gsock.dns[k]) end
    end
  end
  flags.dns = true
  return true
end

--- patch_select(): socket.select waits in the hub, with no FD_SETSIZE
-- cap: socket._SETSIZE says how many sockets it takes now.
function M.patch_select()
  if flags.select then return true end
  local f = gsock.select
  set("socket", lsocket, "select", f)
  if sc ~= lsocket then set("socket.core", sc, "select", f) end
  local n = core.select.setsize()
  set("socket", lsocket, "_SETSIZE", n)
  if sc ~= lsocket then set("socket.core", sc, "_SETSIZE", n) end
  flags.select = true
  return true
end

--- patch_time(): socket.sleep sleeps only the calling greenlet.
function M.patch_time()
  if flags.time then return true end
  local csleep = core.sleep
  local function sleep(n)
    if type(n) ~= "number" then
      local v = tonumber(n)
      if v == nil then
        error(("bad argument #1 to 'sleep' (number expected, got %s)")
              :format(n == nil and "no value" or type(n)), 2)
      end
      n = v
    end
    if n ~= n or n < 0 then n = 0 end
    csleep(n)
  end
  set("socket", lsocket, "sleep", sleep)
  if sc ~= lsocket then set("socket.core", sc, "sleep", sleep) end
  flags.time = true
  return true
end

---------------------------------------------------------------------------
-- os.execute, io.popen
---------------------------------------------------------------------------
local Popen, PIPE = subprocess.Popen, subprocess.PIPE

-- Lua's status triple from a Popen returncode (negative: killed by signal)
local function status(rc)
  if rc < 0 then return nil, "signal", -rc end
  if rc == 0 then return true, "exit", 0 end
  return nil, "exit", rc
end

local function spawn_error(err)
  local msg = type(err) == "table" and (err.message or err.msg) or nil
  return nil, tostring(msg or err)
end

local function checkcmd(cmd, fname)
  local t = type(cmd)
  if t == "number" then return tostring(cmd) end
  if t ~= "string" then
    error(("bad argument #1 to '%s' (string expected, got %s)")
          :format(fname, cmd == nil and "no value" or t), 3)
  end
  return cmd
end

local function make_execute(orig)
  return function(cmd)
    if cmd == nil then return orig() end  -- is a shell available?
    cmd = checkcmd(cmd, "execute")
    local ok, p = pcall(Popen, cmd, {shell = true})
    if not ok then return spawn_error(p) end
    return status(p:wait())
  end
end

-- the file objects io.popen returns
local popen_files = setmetatable({}, {__mode = "k"})
local PFile = {}
PFile.__index = PFile
PFile.__name = "gevent.monkey.popen_file"

local function checkopen(f, name)
  if type(f) ~= "table" or not popen_files[f] then
    error(("bad argument #1 to '%s' (file expected, got %s)"):format(name,
          f == nil and "no value" or type(f)), 3)
  end
  if f._closed then error("attempt to use a closed file", 3) end
end

function PFile:read(...)
  checkopen(self, "read")
  if self._mode ~= "r" then return nil, "Bad file descriptor", 9 end
  return self._f:read(...)
end

function PFile:lines(...)
  checkopen(self, "lines")
  if self._mode ~= "r" then
    return function() error("Bad file descriptor", 2) end
  end
  return self._f:lines(...)
end

function PFile:write(...)
  checkopen(self, "write")
  if self._mode ~= "w" then return nil, "Bad file descriptor", 9 end
  local r, err, code = self._f:write(...)
  if r then return self end
  return r, err, code
end

function PFile:flush()
  checkopen(self, "flush")
  return self
end

function PFile:setvbuf()
  checkopen(self, "setvbuf")
  return true
end

function PFile:seek()
  checkopen(self, "seek")
  return nil, "Illegal seek", 29
end

--- close(): closes the pipe and waits (cooperatively) for the command:
-- true|nil, "exit"|"signal", code as Lua's.
function PFile:close()
  checkopen(self, "close")
  self._closed = true
  self._f:close()
  return status(self._p:wait())
end

PFile.__close = function(self)
  if not self._closed then self:close() end
end

PFile.__tostring = function(self)
  if self._closed then return "file (closed)" end
  return ("file (%p)"):format(self)
end

local function make_popen(orig)
  return function(prog, mode)
    prog = checkcmd(prog, "popen")
    if mode == nil then mode = "r" end
    if type(mode) ~= "string" then
      error(("bad argument #2 to 'popen' (string expected, got %s)")
            :format(type(mode)), 2)
    end
    if mode ~= "r" and mode ~= "w" then
      error("bad argument #2 to 'popen' (invalid mode)", 2)
    end
    local opts = {shell = true}
    if mode == "r" then opts.stdout = PIPE else opts.stdin = PIPE end
    local ok, p = pcall(Popen, prog, opts)
    if not ok then return spawn_error(p) end
    local f = setmetatable({_p = p, _mode = mode, _closed = false,
                            _f = mode == "r" and p.stdout or p.stdin}, PFile)
    popen_files[f] = true
    return f
  end
end

local function make_type(orig)
  return function(obj)
    if popen_files[obj] then
      return obj._closed and "closed file" or "file"
    end
    return orig(obj)
  end
end

--- patch_os(): os.execute and io.popen block only the calling greenlet.
function M.patch_os()
  if flags.os then return true end
  set("os", os, "execute", make_execute(os.execute))
  set("io", io, "popen", make_popen(io.popen))
  set("io", io, "type", make_type(io.type))
  flags.os = true
  return true
end

---------------------------------------------------------------------------
-- LuaSec
---------------------------------------------------------------------------
-- Cooperative versions of LuaSec's connection methods in table o
-- (debug.getregistry()["SSL:Connection"].__index), stored in place by
-- patch_ssl. LuaSec waits inside its C calls with poll();
-- here its real timeout is 0, so those calls give back "wantread",
-- "wantwrite" or "timeout" at once, and the wait happens in the hub
-- (within the timeouts kept here per connection, in LuaSocket's "b" and
-- "t" modes), then the call is retried, passing a receive's partial data
-- back as its prefix and a send's progress as its start index.
local function luasec_methods(o)
  local C_wait, cancel_wait = gsock.wait, gsock.cancel_wait
  local mono = require("gvlua").socket.monotonic
  local states = setmetatable({}, {__mode = "k"})
  local settimeout, getfd = o.settimeout, o.getfd

  local function st_of(c)
    local st = states[c]
    if not st then
      st = {}
      states[c] = st
      settimeout(c, 0)
    end
    return st
  end

  local WAIT = {wantread = 1, wantwrite = 2, timeout = 1}

  -- waits as LuaSec asked (err); nil, "timeout"/"closed" when it cannot
  local function wait(c, st, err, start)
    local w = st.b
    if st.t then
      local left = st.t - (mono() - start)
      if left < 0 then left = 0 end
      if not w or left < w then w = left end
    end
    if w == 0 then return nil, "timeout" end
    return C_wait(getfd(c), WAIT[err], w)
  end

  local m = {}
  m.settimeout = function(c, value, mode)
    local st = st_of(c)
    value = tonumber(value)
    if value and value < 0 then value = nil end
    local k = type(mode) == "string" and mode:sub(1, 1) or "b"
    if k == "t" or k == "r" then st.t = value else st.b = value end
    return 1
  end

  local dohandshake = o.dohandshake
  m.dohandshake = function(c)
    local st = st_of(c)
    local start = st.t and mono()
    while true do
      local ok, err = dohandshake(c)
      if ok or not WAIT[err] then return ok, err end
      local w, werr = wait(c, st, err, start)
      if not w then return nil, werr end
    end
  end

  local receive = o.receive
  m.receive = function(c, pattern, prefix)
    local st = st_of(c)
    local start = st.t and mono()
    while true do
      local data, err, partial = receive(c, pattern, prefix)
      if data or not WAIT[err] then return data, err, partial end
      local w, werr = wait(c, st, err, start)
      if not w then return nil, werr, partial end
      prefix = partial
    end
  end

  local send = o.send
  m.send = function(c, data, i, j)
    local st = st_of(c)
    local start = st.t and mono()
    while true do
      local sent, err, last = send(c, data, i, j)
      if sent or not WAIT[err] then return sent, err, last end
      local w, werr = wait(c, st, err, start)
      if not w then return nil, werr, last end
      if last and last > 0 then i = last + 1 end
    end
  end

  local close = o.close
  m.close = function(c, ...)
    local fd = getfd(c)
    if fd and fd >= 0 then cancel_wait(fd) end
    return close(c, ...)
  end
  return m
end

--- patch_ssl(): LuaSec's connections cooperate, in place (the methods of
-- its "SSL:Connection" class), so connections made before or after, by
-- any module (ssl.https included), wait only in the hub. LuaSec's C module
-- is loaded here if it is installed, so a later require "ssl" finds it
-- patched. Returns false when LuaSec is not installed.
function M.patch_ssl()
  if flags.ssl then return true end
  if not pcall(require, "ssl.core") then return false end
  local mt = registry["SSL:Connection"]
  if type(mt) ~= "table" or type(mt.__index) ~= "table" then return false end
  local index = mt.__index
  local orig = {}
  for k, v in pairs(index) do orig[k] = v end
  for k, f in pairs(luasec_methods(orig)) do
    set("SSL:Connection", index, k, f)
  end
  flags.ssl = true
  return true
end

---------------------------------------------------------------------------
-- all
---------------------------------------------------------------------------
local known = {socket = true, dns = true, select = true, time = true,
               os = true, ssl = true}

--- patch_all(opts): every patch; opts.<name> = false leaves one out.
function M.patch_all(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'gevent.monkey.patch_all' (table expected, "
          .. "got " .. type(opts) .. ")", 2)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not known[k] then
      error("bad argument #1 to 'gevent.monkey.patch_all' (unknown option '"
            .. tostring(k) .. "')", 2)
    end
  end
  if opts.socket ~= false then M.patch_socket({dns = opts.dns}) end
  if opts.dns ~= false then M.patch_dns() end
  if opts.select ~= false then M.patch_select() end
  if opts.time ~= false then M.patch_time() end
  if opts.os ~= false then M.patch_os() end
  if opts.ssl ~= false then M.patch_ssl() end
  return true
end

--- unpatch_all(): puts every original back (gvlua's addition, for tests;
-- gevent has none). Sockets used through the patched methods get their
-- LuaSocket timeouts back, so they block the process again as LuaSocket
-- does. Not meant to run while a greenlet is inside a patched call.
function M.unpatch_all()
  -- the timeouts the cooperative methods kept, before they go away
  local timeouts = {}
  for sock in pairs(touched) do
    local mt = getmetatable(sock)
    local idx = type(mt) == "table" and mt.__index
    if type(idx) == "table" and idx.gettimeout then
      local ok, b, t = pcall(idx.gettimeout, sock)
      if ok then timeouts[sock] = {b, t} end
    end
  end
  for i = #order, 1, -1 do
    local mod, k = order[i][1], order[i][2]
    local v = saved[mod][k]
    if v == NIL then v = nil end
    targets[mod][k] = v
  end
  for sock, bt in pairs(timeouts) do
    local idx = getmetatable(sock).__index
    pcall(idx.settimeout, sock, bt[1] or -1, "b")
    pcall(idx.settimeout, sock, bt[2] or -1, "t")
    touched[sock] = nil
  end
  saved, targets, order, flags = {}, {}, {}, {}
  return true
end

return M
