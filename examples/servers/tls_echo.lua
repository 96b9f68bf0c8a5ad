-- tls_echo.lua: a TLS echo server on 127.0.0.1: sends back every byte it
-- receives, as it comes.
--
--   gvlua examples/servers/tls_echo.lua PORT CERTFILE KEYFILE   (PORT 0: free)
--   openssl s_client -connect 127.0.0.1:PORT -quiet
--
-- gevent concepts shown:
--   * StreamServer(listener, handle, {ssl = {...}}) serves TLS: each
--     connection's handshake runs in its own greenlet (within
--     handshake_timeout), so a slow or broken client never delays accept
--     or the others; handle gets the TLS connection;
--   * conn:recv(n) returns whatever arrived (up to n bytes) as soon as any
--     did, and blocks only this greenlet;
--   * gevent.signal_handler stops the server on SIGTERM or Ctrl-C.
local gevent = require "gevent"
local StreamServer = require("gevent.server").StreamServer

local port, certfile, keyfile = tonumber(arg[1]), arg[2], arg[3]
if not (port and certfile and keyfile) then
  io.stderr:write("usage: tls_echo.lua PORT CERTFILE KEYFILE\n")
  os.exit(2)
end

local function echo(conn)
  while true do
    local data = conn:recv(65536)
    if not data or not conn:send(data) then return end
  end
end

local server = StreamServer({"127.0.0.1", port}, echo, {
  ssl = {certificate = certfile, key = keyfile},
  handshake_timeout = 10,
})
server:start()
print(("listening on 127.0.0.1:%d"):format(server.address[2]))
io.stdout:flush()

for _, sig in ipairs{"SIGTERM", "SIGINT"} do
  gevent.signal_handler(sig, function() server:stop() end)
end
server:serve_forever()
