-- gevent.backdoor: a Lua console into a running program, over TCP or a
-- Unix socket. Each connection runs in its own greenlet with its own
-- environment (seeded with `locals`, falling back to the globals), so it
-- can inspect and change the program while everything else keeps running:
--
--   local BackdoorServer = require("gevent.backdoor").BackdoorServer
--   local server = BackdoorServer(9000, {app = app})   -- 127.0.0.1:9000
--   server:start()
--   -- $ nc 127.0.0.1 9000     (or: socat - UNIX-CONNECT:/run/app.sock)
--   -- > app.stats
--
-- Input works as in the `lua` prompt: an expression prints its values, a
-- statement runs, an unfinished chunk asks for more (">> "), "=expr" is
-- "return expr". print writes to the connection; quit() (or end of input)
-- closes it. The code runs in the connection's greenlet: it may block
-- cooperatively (gevent.sleep, joins...), and a loop that never yields
-- blocks the whole program, as anywhere else.
local gevent = require "gevent"
local socket = require "gevent.socket"
local StreamServer = require("gevent.server").StreamServer

local M = {}

local BackdoorServer = StreamServer:subclass()
BackdoorServer.__name = "gevent.backdoor.BackdoorServer"
M.BackdoorServer = BackdoorServer

local DEFAULT_BANNER = ("gvlua backdoor (%s): the program keeps running; "
  .. "quit() to leave"):format(_VERSION)

local function is_path(s)
  return type(s) == "string" and (s:sub(1, 5) == "unix:" or s:find("/", 1, true))
end

-- A listening Unix socket at 'path' (a stale socket file is replaced).
local function listen_unix(path)
  if not socket.unix then
    error("bad argument #1 to 'gevent.backdoor.BackdoorServer' (a Unix "
          .. "socket path needs LuaSocket's socket.unix)", 3)
  end
  local s = assert(socket.unix())
  local ok, err = s:bind(path)
  if not ok and err and err:find("in use") then
    local probe = socket.unix()
    if not probe:connect(path) then os.remove(path); ok, err = s:bind(path) end
    probe:close()
  end
  if ok then ok, err = s:listen(16) end
  if not ok then
    s:close()
    error(("cannot listen on %s: %s"):format(path, err), 3)
  end
  return s
end

-- The listener with 127.0.0.1 wherever no address is named.
local function local_listener(listener)
  if math.type(listener) == "integer" then return {"127.0.0.1", listener} end
  if type(listener) == "string" and listener:match("^:%d+$") then
    return "127.0.0.1" .. listener
  end
  if type(listener) == "table" and getmetatable(listener) == nil and
     listener[1] == nil and listener[2] ~= nil then
    return {"127.0.0.1", listener[2]}
  end
  return listener
end

local function new(cls, listener, locals, banner)
  if listener == nil then
    error("bad argument #1 to 'gevent.backdoor.BackdoorServer' (listener "
          .. "expected, got nil)", 2)
  end
  if locals ~= nil and type(locals) ~= "table" then
    error("bad argument #2 to 'gevent.backdoor.BackdoorServer' (table "
          .. "expected, got " .. type(locals) .. ")", 2)
  end
  if banner ~= nil and type(banner) ~= "string" then
    error("bad argument #3 to 'gevent.backdoor.BackdoorServer' (string "
          .. "expected, got " .. type(banner) .. ")", 2)
  end
  local path
  if is_path(listener) then
    path = listener:gsub("^unix:", "")
    listener = listen_unix(path)
  end
  local ok, self = pcall(getmetatable(StreamServer).__call, cls,
                         local_listener(listener))
  if not ok then error(self, 2) end
  self.locals = locals or {}
  self.banner = banner or DEFAULT_BANNER
  self.path = path
  return self
end
getmetatable(BackdoorServer).__call = new

function BackdoorServer:__tostring()
  local where = self.path or
    (tostring(self.address[1]) .. ":" .. tostring(self.address[2]))
  return ("<BackdoorServer at %s%s>"):format(where,
    self.started and "" or " (not started)")
end

--- Stops as StreamServer:stop does; a Unix socket's file is removed.
function BackdoorServer:stop(timeout)
  StreamServer.stop(self, timeout)
  if self.path then os.remove(self.path) end
end

local function send(sock, s)
  local i = 1
  while i <= #s do
    local last, err, partial = sock:send(s, i)
    if not last then
      if err == "closed" or not partial then return nil end
      last = partial
    end
    i = last + 1
  end
  return true
end

-- The traceback of an error in typed code, without the console's frames.
local function msgh(err)
  local tb = debug.traceback(tostring(err), 2)
  return (tb:gsub("\n[^\n]*in function 'xpcall'.*$", ""))
end

local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  return table.concat(t, "\t", 1, t.n)
end

-- Compiles what was typed: as an expression first (to print its values),
-- then as statements. Returns fn, or nil and "incomplete", or nil, err.
local function compile(buffer, env, first_line)
  if first_line and buffer:sub(1, 1) == "=" then
    buffer = "return " .. buffer:sub(2)
  end
  local fn = load("return " .. buffer .. ";", "=console", "t", env)
  if fn then return fn end
  local err
  fn, err = load(buffer, "=console", "t", env)
  if fn then return fn end
  if err:sub(-5) == "<eof>" then return nil, "incomplete" end
  return nil, err
end

--- The console of one connection (runs in its greenlet).
function BackdoorServer:handle(sock, address)
  local env = setmetatable({gevent = gevent}, {__index = _G})
  for k, v in pairs(self.locals) do env[k] = v end
  local open = true
  env.print = function(...) send(sock, show(...) .. "\n") end
  env.quit = function() open = false end
  env.exit = env.quit
  if not send(sock, self.banner .. "\n> ") then return end
  local buffer
  while open do
    local line = sock:receive("*l")
    if not line then break end
    local first = buffer == nil
    buffer = first and line or (buffer .. "\n" .. line)
    local fn, cerr = compile(buffer, env, first)
    local out
    if fn then
      buffer = nil
      local res = table.pack(xpcall(fn, msgh))
      if not res[1] then
        out = tostring(res[2]) .. "\n"
      elseif res.n > 1 then
        out = show(table.unpack(res, 2, res.n)) .. "\n"
      end
    elseif cerr ~= "incomplete" then
      buffer = nil
      out = cerr .. "\n"
    end
    if not open then break end
    if out and not send(sock, out) then break end
    if not send(sock, buffer and ">> " or "> ") then break end
  end
end

return M
