-- gevent.ssl: cooperative TLS over gvlua sockets, with LuaSec's shape
-- (Lua's TLS library) and gevent's wrap_socket.
--
--   local ssl = require "gevent.ssl"
--   local sock = socket.create_connection({"example.org", 443})
--   local conn = ssl.wrap(sock, {mode = "client"})   -- verifies by default
--   conn:sni("example.org")                          -- SNI + name checked
--   assert(conn:dohandshake())
--   conn:send("GET / HTTP/1.0\r\nHost: example.org\r\n\r\n")
--   print(conn:receive("*l"))
--
-- The connections are C objects (bindings/l_ssl.c) over runtime/tls.c:
-- OpenSSL driven from the hub, every wait (handshake, receive, send) a
-- wait on the fd that blocks only the calling greenlet. Unlike LuaSec,
-- clients verify the peer by default (OpenSSL's default trust store, so
-- SSL_CERT_FILE and SSL_CERT_DIR apply) and check the host name given to
-- sni() (or server_hostname); verify = "none" turns both off.
local C = require("gvlua").ssl

local type, pairs, ipairs, error, tostring, setmetatable, getmetatable =
  type, pairs, ipairs, error, tostring, setmetatable, getmetatable

local M = {}

local VERSIONS = {
  any = {0x0303, 0x0304}, sslv23 = {0x0303, 0x0304}, tls = {0x0303, 0x0304},
  tlsv1_2 = {0x0303, 0x0303}, tlsv1_3 = {0x0304, 0x0304},
}

local function is_context(x)
  return type(x) == "userdata" and getmetatable(x) ==
         debug.getregistry()["gevent.ssl.Context"]
end

-- Raises "bad argument #n to 'gevent.ssl.fname' (msg)" for the caller of
-- the public function (depth: calls between it and here; 1 by default).
local function argerr(n, fname, msg, depth)
  error(("bad argument #%d to 'gevent.ssl.%s' (%s)"):format(n, fname, msg),
        2 + (depth or 1))
end

-- verify = "none" | "peer" | {"peer", "fail_if_no_peer_cert", ...}
local function verify_flags(v, server)
  if v == nil then return not server, false end
  if type(v) == "string" then v = {v} end
  if type(v) ~= "table" then
    argerr(1, "newcontext", "'verify' must be a string or a list", 2)
  end
  local peer, require_cert = false, false
  for _, f in ipairs(v) do
    if f == "peer" then peer = true
    elseif f == "fail_if_no_peer_cert" then require_cert = true
    elseif f ~= "client_once" and f ~= "none" then
      argerr(1, "newcontext", "unknown verify flag '" .. tostring(f) .. "'",
             2) end
  end
  return peer, require_cert
end

--- newcontext(params): a context from LuaSec's params table (mode,
-- protocol, key, certificate, password, cafile, capath, verify, depth,
-- ciphers, ciphersuites, alpn, options) plus gvlua's check_hostname, sni,
-- sni_strict and session_cache. Returns the context, or nil, msg when a
-- file cannot be loaded.
function M.newcontext(params)
  if is_context(params) then return params end
  if type(params) ~= "table" then
    argerr(1, "newcontext", "table expected, got " .. type(params))
  end
  local mode = params.mode or "client"
  if mode ~= "client" and mode ~= "server" then
    argerr(1, "newcontext", "invalid mode '" .. tostring(mode) .. "'")
  end
  local server = mode == "server"
  local ctx = C.context(mode)
  local ok, err
  local proto = params.protocol or "any"
  local v = VERSIONS[proto]
  if not v then
    return nil, "unsupported protocol '" .. tostring(proto) ..
                "' (gvlua speaks TLS 1.2 and 1.3)"
  end
  local min, max = v[1], v[2]
  for _, o in ipairs(type(params.options) == "table" and params.options or
                     {params.options}) do
    if o == "no_tlsv1_2" then min = 0x0304
    elseif o == "no_tlsv1_3" then max = 0x0303 end
  end
  if min > max then return nil, "no protocol version left to use" end
  ok, err = C.ctx_versions(ctx, min, max)
  if not ok then return nil, err end
  local password = params.password
  if type(password) == "function" then password = password() end
  if params.certificate or params.key then
    ok, err = C.ctx_certificate(ctx, params.certificate, params.key or
                               params.certificate, password)
    if not ok then return nil, err end
  end
  local peer, require_cert = verify_flags(params.verify, server)
  C.ctx_verify(ctx, peer, require_cert, params.depth, params.check_hostname)
  if params.cafile or params.capath then
    ok, err = C.ctx_trust(ctx, params.cafile, params.capath)
    if not ok then return nil, err end
  end
  if params.ciphers or params.ciphersuites then
    ok, err = C.ctx_ciphers(ctx, params.ciphers, params.ciphersuites)
    if not ok then return nil, err end
  end
  local alpn = params.alpn
  if alpn ~= nil then
    if type(alpn) == "string" then alpn = {alpn} end
    if type(alpn) ~= "table" then
      argerr(1, "newcontext", "'alpn' must be a string or a list")
    end
    for _, name in ipairs(alpn) do
      if type(name) ~= "string" then
        argerr(1, "newcontext", "'alpn' names must be strings")
      end
    end
    ok, err = C.ctx_alpn(ctx, alpn)
    if not ok then return nil, err end
  end
  if params.sni ~= nil then
    if not server or type(params.sni) ~= "table" then
      argerr(1, "newcontext", "'sni' is a table of names for a server")
    end
    for name, sub in pairs(params.sni) do
      if not is_context(sub) then
        if type(sub) ~= "table" then
          argerr(1, "newcontext", "'sni' values are contexts or params")
        end
        local p = setmetatable({mode = "server"}, {__index = sub})
        local e
        sub, e = M.newcontext(p)
        if not sub then return nil, e end
      end
      ok, err = C.ctx_sni(ctx, name, sub)
      if not ok then return nil, err end
    end
  end
  C.ctx_options(ctx, params.sni_strict, params.session_cache)
  return ctx
end

-- the fd a wrap takes over: LuaSec's way, the socket object gives it up
local function take_fd(sock)
  if math.type(sock) == "integer" then return sock end
  if (type(sock) ~= "table" and type(sock) ~= "userdata") or
     not sock.getfd then
    argerr(1, "wrap", "socket expected, got " .. type(sock), 2)
  end
  local fd = sock:getfd()
  if not fd or fd < 0 then return nil end
  if sock.setfd then sock:setfd(-1) end
  return math.tointeger(fd)
end

--- wrap(sock, ctx): a TLS connection over sock (a gevent.socket or
-- LuaSocket object, or an fd), which gives its fd up to it. ctx is a
-- context or a params table. The handshake is left to dohandshake().
-- Returns the connection or nil, msg.
function M.wrap(sock, ctx)
  if not is_context(ctx) then
    if type(ctx) ~= "table" then
      argerr(2, "wrap", "context or params table expected, got " .. type(ctx))
    end
    local err
    ctx, err = M.newcontext(ctx)
    if not ctx then return nil, err end
  end
  local fd = take_fd(sock)
  if not fd then return nil, "closed" end
  return C.wrap(ctx, fd)
end

--- loadcertificate(pem): a certificate object, or nil, msg.
M.loadcertificate = C.loadcertificate

-- contexts made by wrap_socket, by their options (weak)
local contexts = setmetatable({}, {__mode = "v"})

local function context_key(o)
  local keys = {}
  for k, v in pairs(o) do
    if type(v) == "table" then return nil end -- not cacheable
    keys[#keys + 1] = tostring(k) .. "=" .. tostring(v)
  end
  table.sort(keys)
  return table.concat(keys, "\0")
end

--- wrap_socket(sock, opts): gevent's convenience. opts: server_side,
-- certfile, keyfile, password, ca_certs (or cafile), capath, cert_reqs
-- ("none", "optional", "required"; clients default to "required"),
-- server_hostname (SNI and the name checked), alpn_protocols, ciphers,
-- ssl_version (a LuaSec protocol name), check_hostname, context (a
-- context to use instead), do_handshake_on_connect (default true).
-- The connection takes the socket's timeout. Returns the connection
-- (handshake done unless asked otherwise) or nil, msg.
function M.wrap_socket(sock, opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    argerr(2, "wrap_socket", "table expected, got " .. type(opts))
  end
  local ctx = opts.context
  if ctx == nil then
    local server = opts.server_side and true or false
    local reqs = opts.cert_reqs or (server and "none" or "required")
    local verify
    if reqs == "none" then verify = "none"
    elseif reqs == "optional" then verify = "peer"
    elseif reqs == "required" then
      verify = server and {"peer", "fail_if_no_peer_cert"} or "peer"
    else
      argerr(2, "wrap_socket", "invalid cert_reqs '" .. tostring(reqs) .. "'")
    end
    local params = {
      mode = server and "server" or "client",
      protocol = opts.ssl_version,
      certificate = opts.certfile, key = opts.keyfile,
      password = opts.password,
      cafile = opts.ca_certs or opts.cafile, capath = opts.capath,
      verify = verify, ciphers = opts.ciphers,
      alpn = opts.alpn_protocols, check_hostname = opts.check_hostname,
    }
    local key = context_key{server, reqs, opts.ssl_version, opts.certfile,
      opts.keyfile, opts.password, params.cafile, opts.capath, opts.ciphers,
      type(opts.alpn_protocols) == "table"
        and table.concat(opts.alpn_protocols, ",") or opts.alpn_protocols,
      opts.check_hostname}
    ctx = key and contexts[key]
    if not ctx then
      local err
      ctx, err = M.newcontext(params)
      if not ctx then return nil, err end
      if key then contexts[key] = ctx end
    end
  end
  local b = sock.gettimeout and sock:gettimeout()
  local conn, err = M.wrap(sock, ctx)
  if not conn then return nil, err end
  if b and b >= 0 then conn:settimeout(b) end
  if opts.server_hostname then
    local ok, e = conn:sni(opts.server_hostname)
    if not ok then conn:close() return nil, e end
  end
  if opts.do_handshake_on_connect ~= false then
    local ok, e = conn:dohandshake()
    if not ok then conn:close() return nil, e end
  end
  return conn
end

return M
