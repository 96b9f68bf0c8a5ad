-- 7. gvlua TCP echo server: gevent.server.StreamServer, one greenlet per
-- connection doing sock:receive(64) / sock:send (LuaSocket API). Args: PORT.
require "gevent"
local StreamServer = require("gevent.server").StreamServer
local port = tonumber(arg[1]) or 9000
local function handle(sock, address)
  pcall(sock.setoption, sock, "tcp-nodelay", true)
  while true do
    local data = sock:receive(64)
    if not data then break end
    sock:send(data)
  end
  sock:close()
end
local server = StreamServer({"127.0.0.1", port}, handle)
server:serve_forever()
