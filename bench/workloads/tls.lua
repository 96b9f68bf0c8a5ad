-- tls.lua MODE CERT KEY PORT: the gvlua side of bench/run's tlshs and
-- tlsecho: a StreamServer over TLS on 127.0.0.1:PORT. hs: greet with one
-- line after the handshake, then close; echo: send back every byte.
local StreamServer = require("gevent.server").StreamServer

local mode, cert, key, port = arg[1], arg[2], arg[3], tonumber(arg[4])

local handle
if mode == "hs" then
  handle = function(conn) conn:send("hi\n") end
else
  handle = function(conn)
    while true do
      local data = conn:recv(65536)
      if not data or not conn:send(data) then return end
    end
  end
end

local server = StreamServer({"127.0.0.1", port}, handle, {
  ssl = {certificate = cert, key = key}, backlog = 1024})
server:serve_forever()
