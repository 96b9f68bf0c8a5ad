-- gevent.httpclient: a cooperative HTTP/1.1 client in the shape of
-- geventhttpclient (HTTPClient(host, port), client:get(path)), with
-- module-level request() for URLs, keep-alive connection pools per host,
-- redirects, proxies from http_proxy/https_proxy, HTTPS through gevent.ssl,
-- and socket_http, a drop-in for LuaSocket's socket.http.request.
--
--   local httpclient = require "gevent.httpclient"
--   local resp = assert(httpclient.request("http://127.0.0.1:8080/"))
--   print(resp.status, resp.headers["content-type"], resp.body)
--
-- Response heads are parsed by the server's strict parser (runtime/http.c
-- through gvlua.http.parse_response); bodies by Content-Length, chunked
-- (strict), or to the end of the connection.
local gevent = require "gevent"
local socket = require "gevent.socket"
local C = require("gvlua").http

local type, tostring, tonumber, pairs, ipairs, error, setmetatable =
  type, tostring, tonumber, pairs, ipairs, error, setmetatable
local concat = table.concat

local M = {}

M.USERAGENT = "gvlua-httpclient"
M.max_redirects = 5

local DEFAULTS = {connection_timeout = 10, network_timeout = 60,
                  max_header_size = 65536}

---------------------------------------------------------------------------
-- URLs
---------------------------------------------------------------------------

--- Splits an http(s) URL: scheme, host, port, target ("/path?query"),
-- userinfo. Returns nil, err for anything else.
local function parse_url(url)
  if type(url) ~= "string" then return nil, "url must be a string" end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil, "bad url '" .. url .. "'" end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then
    return nil, "unsupported scheme '" .. scheme .. "'"
  end
  local authority, target = rest:match("^([^/?#]*)(.*)$")
  target = target:gsub("#.*$", "")
  if target == "" then target = "/" end
  if target:sub(1, 1) == "?" then target = "/" .. target end
  local userinfo, hostport = authority:match("^(.*)@(.*)$")
  hostport = hostport or authority
  local host, port = hostport:match("^%[(.-)%]:?(%d*)$")
  if not host then host, port = hostport:match("^([^:]*):?(%d*)$") end
  if not host or host == "" then return nil, "no host in url '" .. url .. "'" end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return {scheme = scheme, host = host, port = port, target = target,
          userinfo = userinfo}
end
M.parse_url = parse_url

local function host_header(u)
  local h = u.host:find(":", 1, true) and "[" .. u.host .. "]" or u.host
  if (u.scheme == "http" and u.port ~= 80) or
     (u.scheme == "https" and u.port ~= 443) then
    h = h .. ":" .. u.port
  end
  return h
end

local function b64(s)
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((s:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({"", "==", "="})[#s % 3 + 1])
end

-- The environment's proxy settings, read once (as most clients do: a
-- process does not change its own environment from Lua).
local env = setmetatable({}, {__index = function(t, k)
  local v = os.getenv(k) or os.getenv(k:upper()) or false
  t[k] = v
  return v
end})

-- The proxy for a URL: opts.proxy (a URL, or false for none), else
-- http_proxy / https_proxy (and their upper-case forms) unless no_proxy
-- names its host.
local function proxy_for(u, o)
  if o.proxy == false then return nil end
  if o.proxy then return parse_url(o.proxy) end
  local p = env[u.scheme .. "_proxy"]
  if not p or p == "" then return nil end
  local np = env.no_proxy
  if np then
    for entry in np:gmatch("[^,%s]+") do
      if entry == "*" then return nil end
      entry = entry:gsub("^%.", "")
      if u.host == entry or u.host:sub(-#entry - 1) == "." .. entry then
        return nil
      end
    end
  end
  if not p:find("://", 1, true) then p = "http://" .. p end
  return parse_url(p)
end

---------------------------------------------------------------------------
-- connections and their pools
---------------------------------------------------------------------------

-- Idle keep-alive connections by "scheme host port" (and proxy).
local pools = {}
M.pool_size = 10

local function pool_key(scheme, host, port, via)
  return scheme .. " " .. host .. " " .. port .. (via and (" " .. via) or "")
end

local function pool_get(key)
  local list = pools[key]
  while list and #list > 0 do
    local s = list[#list]
    list[#list] = nil
    -- a connection the server closed meanwhile reads as readable (EOF or
    -- stray bytes): drop it
    local fd = s.getfd and s:getfd()
    if fd and fd >= 0 and not C.input_waiting(fd) then return s end
    s:close()
  end
  return nil
end

local function pool_put(key, s)
  local list = pools[key]
  if not list then list = {} pools[key] = list end
  if #list >= M.pool_size then s:close() return end
  list[#list + 1] = s
end

--- Closes every idle pooled connection.
function M.close_all()
  for key, list in pairs(pools) do
    for _, s in ipairs(list) do s:close() end
    pools[key] = nil
  end
end

local function tls_wrap(sock, host, o)
  local ok, ssl = pcall(require, "gevent.ssl")
  if not ok then return nil, "https is not supported (gevent.ssl missing)" end
  local conn, err = ssl.wrap_socket(sock, {
    server_hostname = host, ca_certs = o.ca_certs,
    cert_reqs = o.insecure and "none" or "required"})
  if not conn then
    sock:close()
    if tostring(err):find("certificate", 1, true) then
      return nil, "bad certificate: " .. tostring(err)
    end
    return nil, err
  end
  return conn
end

-- A connected socket for u (through proxy p): pooled or new.
local function open(u, p, o)
  local via = p and (p.host .. ":" .. p.port)
  local key = pool_key(u.scheme, u.host, u.port, via)
  local s = pool_get(key)
  if s then return s, key, true end
  local h, port = u.host, u.port
  if p then h, port = p.host, p.port end
  local err
  s, err = socket.create_connection({h, port}, o.connection_timeout)
  if not s then
    return nil, err == "timeout" and "connect timeout" or err
  end
  s:settimeout(o.network_timeout)
  if u.scheme == "https" then
    if p then -- a tunnel through the proxy
      local req = ("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"):format(
        u.host, u.port, u.host, u.port)
      local ok, e = s:send(req)
      if not ok then s:close() return nil, e end
      local line = s:receive("*l")
      if not line or not line:match("^HTTP/1%.%d 2%d%d") then
        s:close()
        return nil, "proxy refused the tunnel: " .. tostring(line)
      end
      repeat line = s:receive("*l") until not line or line == ""
    end
    s, err = tls_wrap(s, u.host, o)
    if not s then return nil, err end
  end
  return s, key, false
end

---------------------------------------------------------------------------
-- one exchange
---------------------------------------------------------------------------

local function read_head(s, o, head_request)
  local lines = {}
  local size = 0
  while true do
    local line, err = s:receive("*l")
    if not line then return nil, err end
    size = size + #line + 2
    if size > o.max_header_size then return nil, "malformed response" end
    if #lines > 0 or line ~= "" then -- (a stray empty line first: skip)
      lines[#lines + 1] = line
      if line == "" then break end
    end
  end
  local head = concat(lines, "\r\n") .. "\r\n"
  local n, status, reason, version, headers, clen, chunked, keep =
    C.parse_response(head, head_request, o.max_header_size)
  if not n then return nil, "malformed response" end
  return {status = status, reason = reason, version = version,
          headers = headers, content_length = clen, chunked = chunked,
          keep_alive = keep}
end

-- A body reader: returns the next piece, nil at the end, or nil, err.
local function body_reader(s, r)
  local done = false
  if r.chunked then
    local left = 0
    return function()
      if done then return nil end
      if left == 0 then
        local line, err = s:receive("*l")
        if not line then return nil, err end
        local hex = line:match("^(%x+)[ \t]*;?") or line:match("^(%x+)$")
        if not hex or #hex > 15 then return nil, "malformed chunked body" end
        left = tonumber(hex, 16)
        if left == 0 then
          repeat
            line, err = s:receive("*l")
            if not line then return nil, err end
          until line == ""
          done = true
          return nil
        end
      end
      local n = left < 65536 and left or 65536
      local data, err = s:receive(n)
      if not data then return nil, err end
      left = left - n
      if left == 0 then
        local crlf = s:receive(2)
        if crlf ~= "\r\n" then return nil, "malformed chunked body" end
      end
      return data
    end
  elseif r.content_length then
    local left = r.content_length
    return function()
      if left == 0 then done = true return nil end
      local n = left < 65536 and left or 65536
      local data, err = s:receive(n)
      if not data then return nil, err end
      left = left - n
      return data
    end
  end
  return function() -- to the end of the connection
    if done then return nil end
    local data, err, partial = s:receive(65536)
    if data then return data end
    if err == "closed" then
      done = true
      if partial and partial ~= "" then return partial end
      return nil
    end
    return nil, err
  end
end

-- Sends a string, or a source (LuaSocket's ltn12 shape: returns pieces,
-- then nil) as chunks, or as they are when the length was given (raw).
local function send_body(s, body, raw)
  if body == nil then return true end
  if type(body) == "string" then return s:send(body) end
  while true do
    local piece, err = body()
    if err then return nil, err end
    if piece == nil then return raw or s:send("0\r\n\r\n") end
    if #piece > 0 then
      local ok, e = s:send(raw and piece or
                           ("%x\r\n"):format(#piece) .. piece .. "\r\n")
      if not ok then return nil, e end
    end
  end
end

-- One request on an open connection; returns the response (body read
-- unless o.stream) or nil, err.
local function exchange(s, u, p, method, body, headers, o)
  local target = u.target
  if p and u.scheme == "http" then -- absolute form through the proxy
    target = u.scheme .. "://" .. host_header(u) .. u.target
  end
  local lines = {("%s %s HTTP/1.1\r\n"):format(method, target)}
  local have = {}
  for k, v in pairs(headers or {}) do
    local lk = k:lower()
    have[lk] = true
    if tostring(v):find("[\r\n%z]") or not k:match("^[%w!#$%%&'*+.^_`|~-]+$") then
      return nil, "bad header '" .. k .. "'"
    end
    lines[#lines + 1] = k .. ": " .. tostring(v) .. "\r\n"
  end
  if not have.host then lines[#lines + 1] = "Host: " .. host_header(u) .. "\r\n" end
  if not have["user-agent"] then lines[#lines + 1] = "User-Agent: " .. M.USERAGENT .. "\r\n" end
  if u.userinfo and not have.authorization then
    lines[#lines + 1] = "Authorization: Basic " .. b64(u.userinfo) .. "\r\n"
  end
  if p and p.userinfo and u.scheme == "http" and not have["proxy-authorization"] then
    lines[#lines + 1] = "Proxy-Authorization: Basic " .. b64(p.userinfo) .. "\r\n"
  end
  if type(body) == "string" then
    if not have["content-length"] then
      lines[#lines + 1] = "Content-Length: " .. #body .. "\r\n"
    end
  elseif body ~= nil and not have["transfer-encoding"] and
         not have["content-length"] then
    lines[#lines + 1] = "Transfer-Encoding: chunked\r\n"
  end
  lines[#lines + 1] = "\r\n"
  local ok, err = s:send(concat(lines))
  if not ok then return nil, err end
  ok, err = send_body(s, body, have["content-length"])
  if not ok then return nil, err end
  local r
  repeat
    r, err = read_head(s, o, method == "HEAD")
    if not r then return nil, err end
  until r.status >= 200 or r.status == 101
  r.read = body_reader(s, r)
  if o.stream then return r end
  local parts = {}
  while true do
    local piece, e = r.read()
    if not piece then
      if e then return nil, e end
      break
    end
    parts[#parts + 1] = piece
  end
  r.body = concat(parts)
  return r
end

local function normalize_error(err)
  err = tostring(err)
  if err == "closed" then return "connection reset" end
  if err == "connection refused" or err:find("refused", 1, true) then
    return "connection refused"
  end
  return err
end

-- A request to URL u with retries on a stale pooled connection.
local function request_once(u, method, body, headers, o)
  local p = proxy_for(u, o)
  for attempt = 1, 2 do
    local s, key, reused = open(u, p, o)
    if not s then return nil, normalize_error(key) end
    local r, err = exchange(s, u, p, method, body, headers, o)
    if r then
      if o.stream then
        local read = r.read
        local released = false
        r.read = function()
          local piece, e = read()
          if piece == nil and not released then
            released = true
            if not e and r.keep_alive then pool_put(key, s) else s:close() end
          end
          return piece, e
        end
        r.close = function()
          if not released then released = true s:close() end
        end
      elseif r.keep_alive and (r.content_length or r.chunked) then
        pool_put(key, s)
      else
        s:close()
      end
      return r
    end
    s:close()
    -- a pooled connection the server had closed: try once on a new one
    if not (reused and attempt == 1 and err == "closed") then
      return nil, normalize_error(err)
    end
  end
end

local REDIRECTS = {[301] = true, [302] = true, [303] = true, [307] = true,
                   [308] = true}

local DEFAULT_OPTIONS

local function options(o)
  if o == nil and DEFAULT_OPTIONS then return DEFAULT_OPTIONS end
  o = o or {}
  local r = {}
  for k, v in pairs(DEFAULTS) do r[k] = v end
  for k, v in pairs(o) do r[k] = v end
  if o.timeout and not o.network_timeout then r.network_timeout = o.timeout end
  if o.timeout and not o.connection_timeout then r.connection_timeout = o.timeout end
  return r
end

-- request() on a parsed URL u with merged options o (HTTPClient's path).
local function request_url(u, body, o)
  local method = (o.method or (body ~= nil and "POST" or "GET")):upper()
  local function follow()
    local max = o.max_redirects or M.max_redirects
    local e
    for _ = 0, max do
      local resp, rerr = request_once(u, method, body, o.headers, o)
      if not resp then return nil, rerr end
      resp.url = u.scheme .. "://" .. host_header(u) .. u.target
      local loc = resp.headers.location
      if not (REDIRECTS[resp.status] and loc) then return resp end
      if max == 0 then return resp end
      if resp.close then resp.close() end
      if not loc:match("^%a[%w+.-]*://") then
        if loc:sub(1, 1) == "/" then
          loc = u.scheme .. "://" .. host_header(u) .. loc
        else
          loc = u.scheme .. "://" .. host_header(u) ..
                u.target:gsub("[^/]*$", "") .. loc
        end
      end
      u, e = parse_url(loc)
      if not u then return nil, e end
      if resp.status == 303 or ((resp.status == 301 or resp.status == 302)
                                and method == "POST") then
        method, body = "GET", nil
      end
    end
    return nil, "too many redirects"
  end
  local total = o.timeout
  if not total then return follow() end
  local t = gevent.Timeout(total)
  t:start()
  local ok, r, err = pcall(follow)
  t:cancel()
  if not ok then
    if r == t then return nil, "timeout" end
    error(r, 0)
  end
  return r, err
end

--- request(url, body, opts) -> response | nil, err. opts: method (default
-- GET, POST with a body), headers, connection_timeout, network_timeout
-- (each wait), timeout (both, and the whole request), max_redirects
-- (default 5; 0: none), stream (the body is left to response.read()),
-- proxy (a URL, or false: none; default from the environment), ca_certs,
-- insecure (no certificate check). response: status, reason,
-- version, headers (lower-case names), body, url (after redirects).
function M.request(url, body, opts)
  if type(body) == "table" and opts == nil and getmetatable(body) == nil then
    body, opts = nil, body
  end
  local o = options(opts)
  local u, e = parse_url(url)
  if not u then return nil, e end
  return request_url(u, body, o)
end

---------------------------------------------------------------------------
-- HTTPClient (geventhttpclient's shape)
---------------------------------------------------------------------------

local HTTPClient = {}
HTTPClient.__index = HTTPClient
HTTPClient.__name = "gevent.httpclient.HTTPClient"
M.HTTPClient = HTTPClient

--- HTTPClient(host, port, opts): a client of one server. opts: ssl (true
-- for HTTPS), headers (sent with every request), and request()'s options.
local function new_client(_, host, port, opts)
  if type(host) ~= "string" then
    error("bad argument #1 to 'gevent.httpclient.HTTPClient' (string expected, got " ..
          type(host) .. ")", 2)
  end
  opts = opts or {}
  local scheme = opts.ssl and "https" or "http"
  local self = setmetatable({host = host, port = port or
    (scheme == "https" and 443 or 80), scheme = scheme, opts = opts}, HTTPClient)
  return self
end
setmetatable(HTTPClient, {__call = new_client})

--- HTTPClient.from_url(url, opts)
function HTTPClient.from_url(url, opts)
  local u, err = parse_url(url)
  if not u then
    error("bad argument #1 to 'gevent.httpclient.HTTPClient.from_url' ("
          .. err .. ")", 2)
  end
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.ssl = u.scheme == "https"
  return new_client(nil, u.host, u.port, o)
end

--- client:request(method, path, body, headers) -> response | nil, err
function HTTPClient:request(method, path, body, headers)
  local o = rawget(self, "_o")
  if not o then -- the client's options, merged once
    local base = {}
    for k, v in pairs(self.opts) do base[k] = v end
    base.max_redirects = 0
    o = options(base)
    self._o = o
    self._mt = {__index = o}
  end
  local h = o.headers
  if headers then
    h = {}
    for k, v in pairs(o.headers or {}) do h[k] = v end
    for k, v in pairs(headers) do h[k] = v end
  end
  local ro = setmetatable({method = method, headers = h}, self._mt)
  return request_url({scheme = self.scheme, host = self.host,
                      port = self.port, target = path or "/"}, body, ro)
end

function HTTPClient:get(path, headers) return self:request("GET", path, nil, headers) end
function HTTPClient:head(path, headers) return self:request("HEAD", path, nil, headers) end
function HTTPClient:delete(path, headers) return self:request("DELETE", path, nil, headers) end
function HTTPClient:post(path, body, headers) return self:request("POST", path, body or "", headers) end
function HTTPClient:put(path, body, headers) return self:request("PUT", path, body or "", headers) end

--- Closes the idle pooled connections to this client's server.
function HTTPClient:close()
  for key, list in pairs(pools) do
    if key:find(self.scheme .. " " .. self.host .. " " .. self.port, 1, true) == 1 then
      for _, s in ipairs(list) do s:close() end
      pools[key] = nil
    end
  end
end

---------------------------------------------------------------------------
-- socket.http's interface
---------------------------------------------------------------------------

local socket_http = {TIMEOUT = 60, USERAGENT = M.USERAGENT, PROXY = nil}
M.socket_http = socket_http

--- socket_http.request(url, body) -> body, code, headers, status, or
-- socket_http.request{url=, sink=, method=, headers=, source=, redirect=,
-- proxy=} -> 1, code, headers, status; nil, err on failure: LuaSocket's
-- socket.http.request, cooperative.
function socket_http.request(reqt, body)
  local simple = type(reqt) == "string"
  local t = simple and {url = reqt} or reqt
  if type(t) ~= "table" or not t.url then
    error("bad argument #1 to 'gevent.httpclient.socket_http.request' (url "
          .. "or request table expected, got " .. type(reqt) .. ")", 2)
  end
  local src = t.source
  if simple and body ~= nil then
    src = body
    t.method = "POST"
    t.headers = {["content-type"] = "application/x-www-form-urlencoded"}
  end
  local o = {method = t.method or (src ~= nil and "POST" or "GET"),
             headers = t.headers, timeout = socket_http.TIMEOUT,
             max_redirects = (t.redirect == false) and 0 or M.max_redirects}
  if t.proxy or socket_http.PROXY then
    error("bad argument #1 to 'gevent.httpclient.socket_http.request' "
          .. "(proxy is not supported: set http_proxy instead)", 2)
  end
  local r, err = M.request(t.url, src, o)
  if not r then return nil, err end
  if simple then return r.body, r.status, r.headers, "HTTP/" .. r.version ..
    " " .. r.status .. " " .. r.reason end
  if t.sink then
    if r.body ~= "" then t.sink(r.body) end
    t.sink(nil)
  end
  return 1, r.status, r.headers, "HTTP/" .. r.version .. " " .. r.status ..
         " " .. r.reason
end

DEFAULT_OPTIONS = options({})

return M
