-- spec/support/tls.lua - what the TLS specs share: throwaway certificates
-- (spec/support/certs.sh, made once per process in a temporary directory
-- that cleanup() removes), real peers as child processes (openssl
-- s_server, python3's ssl module) and a small gevent.ssl echo server.
local gevent = require "gevent"
local socket = require "gevent.socket"
local sp = require "gevent.subprocess"

local M = {}

local source = debug.getinfo(1, "S").source
local here = source:match("^@(.-)[^/]*$") or "./"

local dir
--- The certificate directory (made on first use).
function M.dir()
  if not dir then
    local p = io.popen("mktemp -d")
    dir = p:read("l")
    p:close()
    local ok = os.execute(here .. "certs.sh " .. dir)
    assert(ok, "certs.sh failed")
  end
  return dir
end

--- path(name): a file of the certificate directory ("ca.pem", ...).
function M.path(name) return M.dir() .. "/" .. name end

function M.cleanup()
  if dir then os.execute("rm -rf " .. dir) end
  dir = nil
end

--- Debian's python3 (the one with the ssl module), not a pyenv shim.
M.PYTHON = "/usr/bin/python3"

--- s_server(args...): openssl s_server on 127.0.0.1 (a free port) with the
-- server certificate unless args give one; returns the Popen and the port.
function M.s_server(...)
  local args = {"openssl", "s_server", "-accept", "127.0.0.1:0"}
  local extra = {...}
  local has_cert = false
  for _, a in ipairs(extra) do if a == "-cert" then has_cert = true end end
  if not has_cert then
    for _, a in ipairs{"-cert", M.path("server.pem"), "-key",
                       M.path("server.key")} do
      args[#args + 1] = a
    end
  end
  for _, a in ipairs(extra) do args[#args + 1] = a end
  local p = sp.Popen(args, {stdin = sp.PIPE, stdout = sp.PIPE,
                            stderr = sp.DEVNULL})
  local port
  local ok, err = pcall(gevent.with_timeout, 10, function()
    while not port do
      local line = p.stdout:readline()
      assert(line and line ~= "", "s_server exited")
      port = line:match("^ACCEPT 127%.0%.0%.1:(%d+)")
    end
  end)
  if not ok then M.stop(p) error(err, 0) end
  return p, tonumber(port)
end

--- Ends a child process.
function M.stop(p)
  for _, name in ipairs{"stdin", "stdout", "stderr"} do
    local f = p[name]
    if f and not f:closed() then f:close() end
  end
  if p.returncode ~= nil then return end
  pcall(p.kill, p)
  pcall(p.wait, p, 5)
end

--- python(code, args...): runs code with Debian's python3; returns its
-- stdout, stderr and exit code (10 s at most).
function M.python(code, ...)
  local r = sp.run({M.PYTHON, "-c", code, ...},
                   {capture_output = true, timeout = 10})
  return r.stdout, r.stderr, r.returncode
end

--- connect(port): a gevent.socket connection to 127.0.0.1:port.
function M.connect(port)
  return assert(socket.create_connection({"127.0.0.1", port}, 5))
end

--- echo_server(ctx, opts): a gevent.ssl server on 127.0.0.1 (free port)
-- in a background greenlet; each connection is handshaken then echoed
-- line by line (opts.lines lines at most, then it closes). Returns {port=, g=, results = {per connection: true or
-- the handshake error}, conns = {the connections}, stop = fn}.
function M.echo_server(ctx, opts)
  local ssl = require "gevent.ssl"
  opts = opts or {}
  local l = assert(socket.bind("127.0.0.1", 0))
  local _, port = l:getsockname()
  local s = {port = tonumber(port), results = {}, conns = {}, handlers = {}}
  s.g = gevent.spawn(function()
    while true do
      local c = l:accept()
      if not c then break end
      local h = gevent.spawn(function()
        local conn = assert(ssl.wrap(c, ctx))
        s.conns[#s.conns + 1] = conn
        conn:settimeout(opts.handshake_timeout or 5)
        local ok, err = conn:dohandshake()
        s.results[#s.results + 1] = ok or err
        if ok then
          conn:settimeout(opts.timeout or 5)
          if opts.on_handshake then opts.on_handshake(conn) end
          local n = 0
          while n ~= opts.lines do
            local line = conn:receive("*l")
            if not line then break end
            if not conn:send(line .. "\n") then break end
            n = n + 1
          end
        end
        conn:close()
      end)
      s.handlers[#s.handlers + 1] = h
    end
  end)
  function s.stop()
    gevent.killall(s.handlers)
    s.g:kill()
    l:close()
  end
  return s
end

--- https_server(ctx, opts): a tiny HTTPS server (gevent.ssl, one greenlet
-- per connection) answering every request with "hello <path>" after
-- opts.delay seconds; opts.stall: accept TCP connections and never answer
-- (a handshake that never completes). Returns {port=, served=,
-- max_inflight= (requests in their delay at once), stop=fn}.
function M.https_server(ctx, opts)
  local ssl = require "gevent.ssl"
  opts = opts or {}
  local l = assert(socket.bind("127.0.0.1", 0))
  local _, port = l:getsockname()
  local s = {port = tonumber(port), served = 0, handlers = {}, held = {},
             inflight = 0, max_inflight = 0}
  local function handle(c)
    if opts.stall then
      s.held[#s.held + 1] = c
      return
    end
    local conn = assert(ssl.wrap(c, ctx))
    conn:settimeout(5)
    if conn:dohandshake() then
      local first = conn:receive("*l")
      repeat local line = conn:receive("*l") until not line or line == ""
      s.inflight = s.inflight + 1
      s.max_inflight = math.max(s.max_inflight, s.inflight)
      if opts.delay then gevent.sleep(opts.delay) end
      s.inflight = s.inflight - 1
      local body = "hello " .. (first and first:match("^%u+ (%S+)") or "?")
      conn:send(("HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s")
                :format(#body, body))
      s.served = s.served + 1
    end
    conn:close()
  end
  s.g = gevent.spawn(function()
    while true do
      local c = l:accept()
      if not c then break end
      s.handlers[#s.handlers + 1] = gevent.spawn(handle, c)
    end
  end)
  function s.stop()
    gevent.killall(s.handlers)
    s.g:kill()
    for _, c in ipairs(s.held) do c:close() end
    l:close()
  end
  return s
end

return M
