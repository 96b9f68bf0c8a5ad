-- 7. luv (libuv for Lua 5.4) TCP echo server: callbacks, no coroutines:
-- read_start echoes each chunk with tcp:write. Args: PORT.
local uv = require "luv"
local port = tonumber(arg[1]) or 9000
local server = uv.new_tcp()
assert(server:bind("127.0.0.1", port))
assert(server:listen(4096, function(err)
  assert(not err, err)
  local client = uv.new_tcp()
  server:accept(client)
  client:nodelay(true)
  client:read_start(function(rerr, chunk)
    if rerr or not chunk then client:close(); return end
    client:write(chunk)
  end)
end))
uv.run()
