-- A small Redis client written directly on LuaSocket (require "socket"
-- only), as existing blocking code would be: gevent.monkey makes it
-- cooperative without a line changed. Debian's lua-redis is for Lua 5.1-5.3.
--   local c = assert(resp.connect(host, port, timeout))
--   c:call("SET", "k", "v") --> "OK";  c:call("GET", "k") --> "v"
--   errors from the server: nil, "ERR ..."; I/O errors: nil, message
local socket = require "socket"

local resp = {}
local Client = {}
Client.__index = Client

function resp.connect(host, port, timeout)
  local sock = socket.tcp()
  sock:settimeout(timeout or 5)
  local ok, err = sock:connect(host, port)
  if not ok then sock:close() return nil, err end
  sock:setoption("tcp-nodelay", true)
  return setmetatable({sock = sock}, Client)
end

local function encode(args)
  local out = {"*" .. #args .. "\r\n"}
  for _, a in ipairs(args) do
    a = tostring(a)
    out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return table.concat(out)
end

-- Reads one reply: its value, or nil and an error.
local function read_reply(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, err end
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "+" then return rest
  elseif kind == "-" then return nil, rest
  elseif kind == ":" then return math.tointeger(tonumber(rest))
  elseif kind == "$" then
    local n = tonumber(rest)
    if n < 0 then return false end           -- null bulk string
    local data, e = sock:receive(n + 2)
    if not data then return nil, e end
    return data:sub(1, n)
  elseif kind == "*" then
    local n = tonumber(rest)
    if n < 0 then return false end           -- null array (BLPOP timed out)
    local list = {}
    for i = 1, n do
      local v, e = read_reply(sock)
      if v == nil then return nil, e end
      list[i] = v
    end
    return list
  end
  return nil, "protocol error: " .. line
end

function Client:call(...)
  local ok, err = self.sock:send(encode({...}))
  if not ok then return nil, err end
  return read_reply(self.sock)
end

function Client:close()
  self.sock:close()
end

return resp
