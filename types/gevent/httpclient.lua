---@meta gevent.httpclient
-- lua-language-server annotations for gevent.httpclient (reference:
-- docs/api/httpclient.md).

---@class gevent.httpclient
---@field pool_size integer Idle connections kept per host (10).
---@field max_redirects integer The default redirect limit (5).
---@field USERAGENT string The `User-Agent` sent when the request has none.
---@field HTTPClient gevent.httpclient.HTTPClient
---@field socket_http {TIMEOUT: number, USERAGENT: string, request: fun(reqt: string|table, body?: string): any, integer|string, table<string, string>?, string?} LuaSocket's `socket.http` interface, cooperative: `request(url, body)` -> body, code, headers, status; `request{url=, method=, headers=, source=, sink=, redirect=}` -> 1, code, headers, status; nil, err on failure.
local httpclient = {}

---`request`'s options (`HTTPClient`'s too, with `ssl` and `headers`).
---@alias gevent.httpclient.options {method?: string, headers?: table<string, string|number>, connection_timeout?: number, network_timeout?: number, timeout?: number, max_redirects?: integer, stream?: boolean, proxy?: string|false, ca_certs?: string, insecure?: boolean, ssl?: boolean}

---A response: `status`, `reason`, `version` (`"1.1"`, `"1.0"`),
---`headers` (lower-case names, repeated fields joined with `", "`),
---`body` (unless streamed), `url` (after redirects); with `stream`,
---`read()` gives the next piece of the body (nil at its end) and
---`close()` drops the connection.
---@alias gevent.httpclient.response {status: integer, reason: string, version: string, headers: table<string, string>, body: string?, url: string, read: (fun(): string?, string?), close: fun()?}

---Requests `url`; `body` a string or a source function (pieces, then nil).
---@param url string
---@param body? string|fun(): string?|gevent.httpclient.options
---@param opts? gevent.httpclient.options
---@return gevent.httpclient.response|nil
---@return string? err
function httpclient.request(url, body, opts) end

---Splits an http(s) URL.
---@param url string
---@return {scheme: string, host: string, port: integer, target: string, userinfo: string?}|nil
---@return string? err
function httpclient.parse_url(url) end

---Closes every idle pooled connection.
function httpclient.close_all() end

---A client of one server (geventhttpclient's shape):
---`HTTPClient(host, port, opts)`.
---@class gevent.httpclient.HTTPClient
---@overload fun(host: string, port?: integer, opts?: gevent.httpclient.options): gevent.httpclient.HTTPClient
---@field host string
---@field port integer
---@field scheme string `"http"` or `"https"`.
---@field opts gevent.httpclient.options
local HTTPClient = {}

---A client for the scheme, host and port of `url`.
---@param url string
---@param opts? gevent.httpclient.options
---@return gevent.httpclient.HTTPClient
function HTTPClient.from_url(url, opts) end

---One request (redirects are not followed).
---@param method string
---@param path? string
---@param body? string|fun(): string?
---@param headers? table<string, string|number>
---@return gevent.httpclient.response|nil
---@return string? err
function HTTPClient:request(method, path, body, headers) end

---@param path? string
---@param headers? table<string, string|number>
---@return gevent.httpclient.response|nil
---@return string? err
function HTTPClient:get(path, headers) end

---@param path? string
---@param headers? table<string, string|number>
---@return gevent.httpclient.response|nil
---@return string? err
function HTTPClient:head(path, headers) end

---@param path? string
---@param headers? table<string, string|number>
---@return gevent.httpclient.response|nil
---@return string? err
function HTTPClient:delete(path, headers) end

---@param path? string
---@param body? string|fun(): string?
---@param headers? table<string, string|number>
---@return gevent.httpclient.response|nil
---@return string? err
function HTTPClient:post(path, body, headers) end

---@param path? string
---@param body? string|fun(): string?
---@param headers? table<string, string|number>
---@return gevent.httpclient.response|nil
---@return string? err
function HTTPClient:put(path, body, headers) end

---Closes the idle pooled connections to this client's server.
function HTTPClient:close() end

return httpclient
