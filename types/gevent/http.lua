---@meta gevent.http
-- lua-language-server annotations for gevent.http (reference:
-- docs/api/http.md).

---@class gevent.http
local http = {}

---A response head's fields: name -> string, number, or an array of
---strings for a repeated field.
---@alias gevent.http.headers table<string, string|number|string[]>

---What a handler returns (or it streams through `res`).
---@alias gevent.http.handler fun(req: gevent.http.Request, res: gevent.http.Response): (integer?, gevent.http.headers?, string?)

---`HTTPServer`'s options (and StreamServer's `backlog`, `spawn`,
---`reuse_addr`, `reuse_port`, `stop_timeout`).
---@alias gevent.http.options {handler?: gevent.http.handler, max_header_size?: integer, max_headers?: integer, max_uri_size?: integer, max_body_size?: integer|false, idle_timeout?: number, header_timeout?: number, body_timeout?: number, write_timeout?: number, access_log?: file*|fun(line: string), workers?: integer, on_ready?: fun(server: gevent.http.HTTPServer), on_reload?: fun(server: gevent.http.HTTPServer), ssl?: table|userdata, handshake_timeout?: number, backlog?: integer, spawn?: gevent.pool.Pool|integer, reuse_addr?: boolean, reuse_port?: boolean, stop_timeout?: number}

---A `StreamServer` serving HTTP/1.1 with `handler(req, res)`.
---@class gevent.http.HTTPServer: gevent.server.StreamServer
---@field application gevent.http.handler The handler the server calls (wrapped when there is an access log).
---@field workers integer? The number of worker processes (nil: this process serves).
local HTTPServer = {}

---Starts if needed and waits until stopped; with `workers`, supervises
---the worker processes until SIGTERM/SIGINT.
---@param stop_timeout? number
function HTTPServer:serve_forever(stop_timeout) end

---Starts accepting (a server with `workers` raises: use serve_forever).
---@return gevent.http.HTTPServer self
function HTTPServer:start() end

---With `workers`, in the supervisor: the current workers' pids, sorted.
---@return integer[]
function HTTPServer:worker_pids() end

---Graceful stop: stops accepting, closes idle keep-alive connections,
---lets requests in progress finish for `timeout` seconds, then kills what
---is left.
---@param timeout? number
function HTTPServer:stop(timeout) end

---How many client connections are open.
---@return integer
function HTTPServer:connection_count() end

---Serves one accepted connection (StreamServer calls it per client).
---@param sock gevent.socket.tcp
---@param address {[1]: string, [2]: integer}
function HTTPServer:handle(sock, address) end

---A request, valid during the handler's call only.
---@class gevent.http.Request
---@field method string `"GET"`, `"POST"`, ...
---@field target string The request target as sent: `"/p/q?a=1"`.
---@field path string The target's path, without the query.
---@field query string? What follows `?` in the target (not decoded), or nil.
---@field version string `"1.1"` or `"1.0"`.
---@field headers table<string, string> The fields by lower-case name (repeated ones joined with `", "`).
---@field keep_alive boolean Whether the client allows another request on the connection.
---@field peer {[1]: string, [2]: integer} The client's address.
local Request = {}

---The first value of the field `name` (any case), or nil.
---@param name string
---@return string?
function Request:header(name) end

---Reads the body: with `n`, up to `n` bytes (`nil` at its end); without,
---the rest as one string. `nil, err` (`"timeout"`, `"closed"`, `"body too
---large"`, `"malformed body"`) on failure.
---@param n? integer
---@return string|nil
---@return string? err
function Request:read(n) end

---Answers a WebSocket handshake with 101: the WebSocket, or `nil, err`
---when the request is not one.
---@param opts? {protocols?: string[], max_message?: integer, timeout?: number}
---@return gevent.http.WebSocket|nil
---@return string? err
function Request:websocket(opts) end

---A WebSocket (RFC 6455) over the request's connection, valid during the
---handler's call only.
---@class gevent.http.WebSocket
local WebSocket = {}

---The next message: `data, "text"|"binary"`; `nil, "closed", code`;
---`nil, "timeout"`; `nil, reason` after a protocol error.
---@return string|nil
---@return string kind_or_err
---@return integer? code
function WebSocket:receive() end

---Sends one message (text unless `binary`).
---@param data string
---@param binary? boolean
---@return true|nil
---@return string? err
function WebSocket:send(data, binary) end

---Sends a ping (at most 125 bytes).
---@param data? string
---@return true|nil
---@return string? err
function WebSocket:ping(data) end

---Sends a close frame (1000 by default).
---@param code? integer
---@param reason? string
---@return true|nil
---@return string? err
function WebSocket:close(code, reason) end

---A streamed response, valid during the handler's call only.
---@class gevent.http.Response
---@field started boolean Whether the response has started.
---@field status integer? The status of the started response.
local Response = {}

---Starts a streamed response (sent with the first `write`).
---@param status integer
---@param headers? gevent.http.headers
---@return gevent.http.Response self
function Response:start(status, headers) end

---Sends `data` now as the next piece of the body: `true`, or `nil, err`
---when the client is gone or slow.
---@param data string
---@return true|nil
---@return string? err
function Response:write(data) end

---Sends the last piece (optional) and ends the body; without `start`, a
---complete response with `Content-Length`.
---@param data? string
---@return true|nil
---@return string? err
function Response:finish(data) end

---A new server: `HTTPServer(listener, handler, opts)` or
---`HTTPServer(listener, {handler = fn, ...})`.
---@param listener gevent.server.listener
---@param handler gevent.http.handler|gevent.http.options
---@param opts? gevent.http.options
---@return gevent.http.HTTPServer
function http.HTTPServer(listener, handler, opts) end

---The standard reason phrase of a status code (`"Not Found"`).
---@param status integer
---@return string
function http.reason(status) end

return http
