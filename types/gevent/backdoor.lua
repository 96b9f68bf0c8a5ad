---@meta gevent.backdoor
-- lua-language-server annotations for gevent.backdoor (reference:
-- docs/api/backdoor.md).

---@class gevent.backdoor
local M = {}

---`BackdoorServer(listener, locals, banner)`: a Lua console per
---connection (127.0.0.1 unless another address is named; a port, ":port",
---{host, port}, "host:port", a listening socket or "unix:/path").
---@class gevent.backdoor.BackdoorServer: gevent.server.StreamServer
---@field locals table The table each session's environment starts with.
---@field banner string The first line sent to each connection.
---@field path string? The Unix socket path, or nil for TCP.
---@overload fun(listener: integer|string|table, locals?: table, banner?: string): gevent.backdoor.BackdoorServer
local BackdoorServer = {}

---Binds if needed and accepts connections in a background greenlet.
---@return gevent.backdoor.BackdoorServer self
function BackdoorServer:start() end

---Starts if needed and waits until the server is stopped.
---@param stop_timeout? number
function BackdoorServer:serve_forever(stop_timeout) end

---Stops as StreamServer does; a Unix socket's file is removed.
---@param timeout? number
function BackdoorServer:stop(timeout) end

---The console of one connection, run in its greenlet.
---@param sock gevent.socket.tcp
---@param address table
function BackdoorServer:handle(sock, address) end

M.BackdoorServer = BackdoorServer

return M
