-- 7. Tarantool TCP echo server: socket.tcp_server, one fiber per connection,
-- s:read(64) / s:write. Args: PORT.
local socket = require "socket"
local port = tonumber(arg[1]) or 9000
local function handle(s)
  s:setsockopt("SOL_TCP", "TCP_NODELAY", true)
  while true do
    local data = s:read(64)
    if data == nil or data == "" then break end
    if not s:write(data) then break end
  end
  -- tcp_server closes the socket when the handler returns
end
assert(socket.tcp_server("127.0.0.1", port, {handler = handle, backlog = 4096}))
-- the script's main fiber returns; the event loop keeps serving
