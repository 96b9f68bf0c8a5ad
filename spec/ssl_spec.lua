-- gevent.ssl: cooperative TLS, client and server, against real peers
-- (openssl s_server and s_client, curl, python3's ssl module) with
-- throwaway certificates (spec/support/certs.sh). Waits must block only
-- the calling greenlet: a ticker keeps ticking next to them.
local gevent = require "gevent"
local socket = require "gevent.socket"
local ssl = require "gevent.ssl"
local sp = require "gevent.subprocess"
local T = require "spec.support.tls"
local ticker = require "spec.support.ticker"

local function client_ctx(extra)
  local p = {mode = "client", cafile = T.path("ca.pem")}
  for k, v in pairs(extra or {}) do p[k] = v end
  return assert(ssl.newcontext(p))
end

local function server_ctx(extra)
  local p = {mode = "server", certificate = T.path("server.pem"),
             key = T.path("server.key")}
  for k, v in pairs(extra or {}) do p[k] = v end
  return assert(ssl.newcontext(p))
end

-- a handshaken client connection to 127.0.0.1:port
local function dial(port, ctx, host)
  local conn = assert(ssl.wrap(T.connect(port), ctx or client_ctx()))
  assert(conn:sni(host or "localhost"))
  conn:settimeout(5)
  return conn, conn:dohandshake()
end

-- The interpreter running this spec (gvlua, or lua5.4 with LUA_PATH and
-- LUA_CPATH set), for child processes.
local interpreter = require("spec.support.child").interpreter

describe("gevent.ssl", function()
  teardown(function() T.cleanup() end)

  describe("newcontext", function()
    it("checks its arguments and reports files it cannot load", function()
      assert.has_error(function() ssl.newcontext(42) end,
        "bad argument #1 to 'gevent.ssl.newcontext' (table expected, got number)")
      assert.has_error(function() ssl.newcontext{mode = "both"} end,
        "bad argument #1 to 'gevent.ssl.newcontext' (invalid mode 'both')")
      assert.has_error(function() ssl.newcontext{verify = 1} end,
        "bad argument #1 to 'gevent.ssl.newcontext' ('verify' must be a "
        .. "string or a list)")
      assert.has_error(function() ssl.newcontext{alpn = {"h2", 2}} end,
        "bad argument #1 to 'gevent.ssl.newcontext' ('alpn' names must be "
        .. "strings)")
      -- the position is the caller's, also for checks made further in
      local ok, e = pcall(function() ssl.newcontext{verify = {"x"}} end)
      assert.is_false(ok)
      assert.matches("^[^:]*ssl_spec.lua:%d+: bad argument #1 to "
                     .. "'gevent.ssl.newcontext' %(unknown verify flag 'x'%)$", e)
      ok, e = pcall(function() ssl.wrap(false, {}) end)
      assert.is_false(ok)
      assert.matches("^[^:]*ssl_spec.lua:%d+: bad argument #1 to "
                     .. "'gevent.ssl.wrap' %(socket expected, got boolean%)$", e)
      local ctx, err = ssl.newcontext{mode = "server",
                                      certificate = "/nonexistent.pem"}
      assert.is_nil(ctx)
      assert.matches("error loading certificate '/nonexistent.pem'", err,
                     1, true)
      ctx, err = ssl.newcontext{mode = "server", certificate =
        T.path("server.pem"), key = T.path("other.key")}
      assert.is_nil(ctx)
      assert.matches("key values mismatch", err, 1, true)
      ctx, err = ssl.newcontext{protocol = "sslv3"}
      assert.is_nil(ctx)
      assert.matches("unsupported protocol 'sslv3'", err, 1, true)
      assert.equal("server", server_ctx():mode())
    end)
  end)

  describe("as a client of openssl s_server", function()
    local p, port
    setup(function() p, port = T.s_server("-rev") end)
    teardown(function() T.stop(p) end)

    it("handshakes, verifies and talks while others run", function()
      local t = ticker()
      local conn, ok = dial(port)
      assert.is_true(ok)
      assert.equal("TLSv1.3", conn:info("protocol"))
      assert.is_true(conn:getpeerverification())
      assert.equal(6, conn:send("hello\n"))
      assert.equal("olleh", conn:receive("*l"))
      local cert = conn:getpeercertificate()
      assert.same({{name = "CN", value = "localhost"}}, cert:subject())
      assert.equal("gvlua test CA", cert:issuer()[1].value)
      local san = cert:extensions()["2.5.29.17"]
      assert.same({"localhost"}, san.dNSName)
      assert.same({"127.0.0.1", "::1"}, san.iPAddress)
      assert.is_true(cert:checkhost("127.0.0.1"))
      assert.is_false(cert:checkhost("other.test"))
      assert.is_true(cert:validat(os.time()))
      assert.equal(64, #cert:digest("sha256"))
      assert.matches("BEGIN CERTIFICATE", cert:pem(), 1, true)
      assert.equal(1, #conn:getpeerchain())
      conn:close()
      assert.is_true(t.n > 0)
      t.g:kill()
    end)

    it("checks an IP address as the host name", function()
      local conn, ok, err = dial(port, nil, "127.0.0.1")
      assert.is_true(ok, err)
      conn:close()
    end)

    it("speaks TLS 1.2 when asked to", function()
      local conn, ok = dial(port, client_ctx{protocol = "tlsv1_2"})
      assert.is_true(ok)
      assert.equal("TLSv1.2", conn:info().protocol)
      conn:close()
    end)

    it("says what failed in verification", function()
      local _, ok, err = dial(port, nil, "other.test")
      assert.is_nil(ok)
      assert.equal("certificate verify failed: hostname mismatch", err)
      _, ok, err = dial(port, client_ctx{cafile = T.path("ca2.pem")})
      assert.is_nil(ok)
      assert.equal("certificate verify failed: unable to get local issuer "
                   .. "certificate", err)
      local conn = assert(ssl.wrap(T.connect(port), client_ctx()))
      ok, err = conn:dohandshake()
      assert.is_nil(ok)
      assert.matches("no host name to check", err, 1, true)
      conn:close()
      -- verify = "none" checks neither chain nor name
      conn, ok = dial(port, client_ctx{verify = "none",
                                       cafile = T.path("ca2.pem")},
                      "other.test")
      assert.is_true(ok)
      conn:close()
    end)

    it("resumes sessions per host name", function()
      local ctx = client_ctx()
      local conn, ok = dial(port, ctx)
      assert.is_true(ok)
      assert.is_false(conn:resumed())
      conn:send("a\n")
      assert.equal("a", conn:receive()) -- the TLS 1.3 ticket came with it
      conn:close()
      conn, ok = dial(port, ctx)
      assert.is_true(ok)
      assert.is_true(conn:resumed())
      conn:close()
    end)

    it("times out a receive, and a Timeout cuts a wait short", function()
      local t = ticker()
      local conn = dial(port)
      conn:settimeout(0.1)
      local data, err, partial = conn:receive(10)
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.equal("", partial)
      conn:settimeout(nil)
      local tmo = gevent.Timeout(0.1)
      tmo:start()
      local okp, e = pcall(conn.receive, conn)
      tmo:cancel()
      assert.is_false(okp)
      assert.equal(tmo, e)
      -- still usable afterwards
      conn:settimeout(5)
      conn:send("xyz\n")
      assert.equal("zyx", conn:receive())
      conn:close()
      assert.is_true(t.n > 3)
      t.g:kill()
    end)

    it("wakes a reader with 'closed' when another greenlet closes", function()
      local conn = dial(port)
      conn:settimeout(nil)
      local got
      local g = gevent.spawn(function() got = {conn:receive()} end)
      gevent.sleep(0.05)
      conn:close()
      g:join(2)
      assert.same({nil, "closed", ""}, got)
      assert.has_error(function() conn:dohandshake() end,
        "attempt to use a closed TLS connection")
    end)

    it("frees a handshake whose greenlet is killed", function()
      -- a TCP peer that never answers the ClientHello
      local l = assert(socket.bind("127.0.0.1", 0))
      local _, lport = l:getsockname()
      local conn = assert(ssl.wrap(T.connect(tonumber(lport)), client_ctx()))
      conn:sni("localhost")
      local g = gevent.spawn(function() conn:dohandshake() end)
      gevent.sleep(0.05)
      g:kill()
      assert.is_true(g.dead)
      conn:settimeout(0.05)
      local ok, err = conn:dohandshake()
      assert.is_nil(ok)
      assert.equal("timeout", err)
      conn:close()
      l:close()
    end)

    it("refuses a second reader at once", function()
      local conn = dial(port)
      conn:settimeout(nil)
      local g = gevent.spawn(function() conn:receive() end)
      gevent.sleep(0.02)
      assert.has_error(function() conn:receive() end,
        "TLS connection already used by another greenlet for reading")
      conn:close()
      g:join(1)
    end)

    it("wrap_socket handshakes with gevent's options", function()
      local conn = assert(ssl.wrap_socket(T.connect(port), {
        server_hostname = "localhost", ca_certs = T.path("ca.pem")}))
      conn:send("ok\n")
      assert.equal("ko", conn:receive())
      conn:close()
      local c, err = ssl.wrap_socket(T.connect(port), {
        server_hostname = "localhost", ca_certs = T.path("ca2.pem")})
      assert.is_nil(c)
      assert.matches("certificate verify failed", err, 1, true)
    end)
  end)

  it("reports an expired certificate", function()
    local p, port = T.s_server("-cert", T.path("expired.pem"), "-key",
                               T.path("expired.key"))
    local _, ok, err = dial(port)
    T.stop(p)
    assert.is_nil(ok)
    assert.equal("certificate verify failed: certificate has expired", err)
  end)

  it("negotiates ALPN with s_server", function()
    local p, port = T.s_server("-alpn", "http/1.1")
    local conn, ok = dial(port, client_ctx{alpn = {"h2", "http/1.1"}})
    T.stop(p)
    assert.is_true(ok)
    assert.equal("http/1.1", conn:getalpn())
    conn:close()
  end)

  it("trusts SSL_CERT_FILE through OpenSSL's default paths", function()
    local p, port = T.s_server()
    local code = ([[
      local ssl = require "gevent.ssl"
      local socket = require "gevent.socket"
      local c = ssl.wrap(socket.create_connection({"127.0.0.1", %d}), {})
      c:sni("localhost")
      print(c:dohandshake())
    ]]):format(port)
    local r1 = sp.run({"env", "SSL_CERT_FILE=" .. T.path("ca.pem"),
                       interpreter(), "-e", code},
                      {capture_output = true, timeout = 10})
    local r2 = sp.run({"env", "SSL_CERT_FILE=" .. T.path("ca2.pem"),
                       interpreter(), "-e", code},
                      {capture_output = true, timeout = 10})
    T.stop(p)
    assert.equal("true\n", r1.stdout)
    assert.matches("certificate verify failed", r2.stdout, 1, true)
  end)

  describe("as a server", function()
    it("serves openssl s_client, picking a certificate per SNI name",
       function()
      local ctx = server_ctx{sni = {["other.test"] = {
        certificate = T.path("other.pem"), key = T.path("other.key")}}}
      local names = {}
      local s = T.echo_server(ctx, {lines = 1, on_handshake = function(conn)
        names[#names + 1] = conn:getsniname()
      end})
      local function s_client(name)
        return sp.run({"openssl", "s_client", "-connect",
          "127.0.0.1:" .. s.port, "-servername", name, "-CAfile",
          T.path("ca.pem"), "-verify_return_error", "-verify_hostname", name,
          "-quiet"}, {input = "via " .. name .. "\n", capture_output = true,
                      timeout = 10})
      end
      local r1, r2 = s_client("other.test"), s_client("localhost")
      s.stop()
      assert.equal("via other.test\n", r1.stdout)
      assert.equal("via localhost\n", r2.stdout)
      assert.same({true, true}, s.results)
      assert.same({"other.test", "localhost"}, names)
    end)

    it("requires client certificates and negotiates ALPN with python's ssl",
       function()
      local ctx = server_ctx{verify = {"peer", "fail_if_no_peer_cert"},
                             cafile = T.path("ca.pem"),
                             alpn = {"http/1.1", "h2"}}
      local seen = {}
      local s = T.echo_server(ctx, {on_handshake = function(conn)
        seen.cn = conn:getpeercertificate():subject()[1].value
        seen.alpn = conn:getalpn()
        seen.verified = conn:getpeerverification()
      end})
      local code = [[
import socket, ssl, sys
port, d, with_cert = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
if with_cert:
    ctx.load_cert_chain(d + "/client.pem", d + "/client.key")
ctx.set_alpn_protocols(["h2", "http/1.1"])
try:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"ping\n")
            print(s.selected_alpn_protocol(), s.recv(100).decode().strip())
except (ssl.SSLError, OSError) as e:
    print("failed", e.__class__.__name__)
]]
      local out = T.python(code, tostring(s.port), T.dir(), "1")
      local out2 = T.python(code, tostring(s.port), T.dir(), "0")
      s.stop()
      assert.equal("http/1.1 ping\n", out)
      assert.matches("^failed", out2)
      assert.equal("gvlua client", seen.cn)
      assert.equal("http/1.1", seen.alpn)
      assert.is_true(seen.verified)
      assert.equal(true, s.results[1])
      assert.matches("certificate", s.results[2])
    end)

    it("serves curl", function()
      local l = assert(socket.bind("127.0.0.1", 0))
      local _, port = l:getsockname()
      local ctx = server_ctx()
      local g = gevent.spawn(function()
        local conn = ssl.wrap(l:accept(), ctx)
        conn:settimeout(5)
        assert(conn:dohandshake())
        repeat local line = conn:receive() until line == ""
        conn:send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n" ..
                  "Connection: close\r\n\r\nhello\n")
        conn:close()
      end)
      local r = sp.run({"curl", "-sS", "--cacert", T.path("ca.pem"),
                        "https://localhost:" .. port .. "/"},
                       {capture_output = true, timeout = 10})
      g:join(5)
      l:close()
      assert.equal("hello\n", r.stdout)
      assert.is_true(g:successful())
    end)

    it("refuses renegotiation and keeps serving", function()
      local s = T.echo_server(server_ctx())
      local p = sp.Popen({"openssl", "s_client", "-connect",
        "127.0.0.1:" .. s.port, "-tls1_2", "-CAfile", T.path("ca.pem")},
        {stdin = sp.PIPE, stdout = sp.PIPE, stderr = sp.STDOUT})
      p.stdin:write("hello\n")
      local echoed, out = nil, {}
      gevent.with_timeout(10, function()
        repeat
          echoed = p.stdout:readline()
          out[#out + 1] = echoed
        until echoed == "hello" or echoed == nil
      end)
      assert.equal("hello", echoed, table.concat(out, "\n"))
      p.stdin:write("R\n")
      local rest = gevent.with_timeout(10, p.stdout.read, p.stdout, "a")
      p:wait(5)
      assert.matches("no renegotiation", rest, 1, true)
      local conn, ok = dial(s.port)
      assert.is_true(ok)
      conn:send("still here\n")
      assert.equal("still here", conn:receive())
      conn:close()
      s.stop()
    end)

    it("fails plaintext and garbage handshakes with a reason", function()
      local s = T.echo_server(server_ctx())
      local c = T.connect(s.port)
      c:send("GET / HTTP/1.0\r\n\r\n")
      c:receive("*a")
      c:close()
      c = T.connect(s.port)
      c:send(("\22\3\1\0\5" .. "garbage"):rep(3))
      c:receive("*a")
      c:close()
      c = T.connect(s.port) -- closes mid-handshake
      c:send("\22\3\1\2\0\1\0\1\252\3\3")
      c:close()
      gevent.sleep(0.1)
      s.stop()
      assert.equal("http request", s.results[1])
      assert.is_string(s.results[2])
      assert.equal("closed", s.results[3])
    end)
  end)
end)

-- Issue 9: on the slow path (the main greenlet, or one inside a C call,
-- here 150 gsub callbacks deep in its 1 MiB stack) receive, recv and send
-- waited through a continuation that nested a C frame per wait, and a peer
-- sending thousands of small records overflowed the stack. They loop now.
-- (Without the loop this fails under ASan, whose frames are bigger; the
-- suite runs it there.)
describe("gevent.ssl on the slow path", function()
  teardown(function() T.cleanup() end)

  local function deep(d, fn) -- d C levels down (gsub callbacks), then fn
    if d == 0 then return fn() end
    local r
    string.gsub("x", "x", function() r = deep(d - 1, fn) end)
    return r
  end

  it("receives thousands of small records", function()
    local N = 3000
    local s = T.echo_server(server_ctx(), {lines = 0, on_handshake = function(conn)
      for i = 1, N do conn:send(i .. "\n"); gevent.sleep(0.0002) end
    end})
    local got = gevent.spawn(deep, 150, function()
      local conn = dial(s.port)
      conn:settimeout(30)
      local a, _, partial = conn:receive("*a")
      local first = conn:recv() -- nil, "closed": the loop ends cleanly too
      conn:close()
      return {a or partial, first}
    end):get(true, 60)
    s.stop()
    local n = 0
    for _ in got[1]:gmatch("\n") do n = n + 1 end
    assert.are.equal(N, n)
    assert.is_nil(got[2])
  end)
end)
