---@meta gevent.server
-- lua-language-server annotations for gevent.server (reference:
-- docs/api/server.md).

---@class gevent.server
local M = {}

---@alias gevent.server.listener {[1]: string, [2]: integer}|string|gevent.socket.tcp
---@alias gevent.server.handle fun(sock: gevent.socket.tcp, address: {[1]: string, [2]: integer})

---@alias gevent.server.options {handle?: gevent.server.handle, backlog?: integer, spawn?: gevent.pool.Pool|integer, reuse_addr?: boolean, reuse_port?: boolean, stop_timeout?: number, ssl?: gevent.ssl.params|gevent.ssl.Context, certfile?: string, keyfile?: string, handshake_timeout?: number}

---`StreamServer(listener, handle, backlog, spawn)` or
---`StreamServer(listener, handle, options)`: one greenlet per connection,
---`handle(sock, address)`.
---@class gevent.server.StreamServer
---@field address {[1]: string, [2]: integer} What it listens on (the real port once bound).
---@field socket gevent.socket.tcp? The listening socket, once bound.
---@field started boolean Whether it is accepting.
---@field server_host string? The host it was started on.
---@field server_port integer? The port it was started on.
---@field pool gevent.pool.Pool? The `Pool` handlers are spawned in, if `spawn` was given.
---@field handle_fn gevent.server.handle? The `handle` function given.
---@field backlog integer The `listen` backlog (default 128).
---@field reuse_addr boolean Whether `SO_REUSEADDR` is set (default `true`).
---@field reuse_port boolean Whether `SO_REUSEPORT` is set (default `false`).
---@field stop_timeout number `stop()`'s default timeout, seconds (default 1).
---@field min_delay number The first delay after a failed `accept`, seconds.
---@field max_delay number The longest delay after failed `accept`s, seconds.
---@field handshake_timeout number Seconds a TLS client has to complete its handshake (default 10).
---@field handshake_errors integer? TLS servers: handshakes failed or timed out so far.
---@field ssl_context gevent.ssl.Context? TLS servers: the context they serve with.
---@overload fun(listener: gevent.server.listener, handle?: gevent.server.handle|gevent.server.options, backlog?: integer|gevent.server.options, spawn?: gevent.pool.Pool|integer): gevent.server.StreamServer
local StreamServer = {}

---Binds and listens if needed, then accepts in a background greenlet.
---@return gevent.server.StreamServer self
function StreamServer:start() end

---Starts if needed and waits until the server is stopped.
---@param stop_timeout? number
function StreamServer:serve_forever(stop_timeout) end

---Stops accepting, waits up to `timeout` seconds for the running
---handlers, then kills those still running.
---@param timeout? number
function StreamServer:stop(timeout) end

---Stops accepting and closes the listening socket; handlers go on.
function StreamServer:close() end

---Whether `close()` (or `stop()`) was called since the last `start()`.
---@return boolean
function StreamServer:closed() end

---The handler: calls the `handle` function given; override it in a
---subclass.
---@param sock gevent.socket.tcp
---@param address {[1]: string, [2]: integer}
function StreamServer:handle(sock, address) end

---The number of handlers running (`#server`).
---@return integer
function StreamServer:handler_count() end

---Creates, binds and listens on the socket for `address`.
function StreamServer:init_socket() end

---A class deriving from this one, callable like it.
---@return gevent.server.StreamServer
function StreamServer:subclass() end

M.StreamServer = StreamServer

---gevent's UDP server: `handle(data, address)` per datagram.
---@class gevent.server.DatagramServer: gevent.server.StreamServer
---@field max_size integer The largest datagram read, bytes (65535).
---@overload fun(listener: gevent.server.listener|gevent.socket.udp, handle?: fun(data: string, address: {[1]: string, [2]: integer})|gevent.server.options, options?: gevent.server.options): gevent.server.DatagramServer
local DatagramServer = {}

---Sends a datagram to `address` from the server's socket.
---@param data string
---@param address {[1]: string, [2]: integer}|string
---@param port? integer
---@return 1|nil
---@return string? err
function DatagramServer:sendto(data, address, port) end

M.DatagramServer = DatagramServer

return M
