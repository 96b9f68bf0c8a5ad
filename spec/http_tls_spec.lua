-- gevent.http over TLS: examples/servers/http_demo.lua PORT CERT KEY, run
-- as a child process with throwaway certificates (spec/support/certs.sh),
-- driven by gevent.httpclient (verifying), curl and Python's http.client;
-- and an in-process HTTPServer with {ssl = ...} given a hostile request.
local gevent = require "gevent"
local sp = require "gevent.subprocess"
local client = require "gevent.httpclient"

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local child = dofile(here .. "/support/child.lua")
local H = dofile(here .. "/support/http.lua")
local T = dofile(here .. "/support/tls.lua")

local function interpreter()
  return os.getenv("SERVERS_SPEC_LUA") or child.interpreter()
end

local have = child.have

local run = child.capture

describe("gevent.http over TLS", function()
  local p, port, base, ca
  setup(function()
    ca = T.path("ca.pem")
    p = sp.Popen({interpreter(), here .. "/../examples/servers/http_demo.lua", "0",
                  T.path("server.pem"), T.path("server.key")},
                 {stdout = sp.PIPE, stderr = sp.DEVNULL})
    local line = gevent.with_timeout(10, p.stdout.readline, p.stdout)
    port = tonumber(line:match("^listening on 127%.0%.0%.1:(%d+)$"))
    assert(port, "unexpected first line: " .. tostring(line))
    base = "https://127.0.0.1:" .. port
  end)
  teardown(function()
    client.close_all()
    p:terminate()
    assert.equal(0, p:wait(10))
    p.stdout:close() -- p stays referenced from here: close its pipe now
    T.cleanup()
  end)

  it("serves gevent.httpclient, which verifies the certificate", function()
    local r = assert(client.request(base .. "/", nil, {ca_certs = ca}))
    assert.equal(200, r.status)
    assert.equal("hello\n", r.body)
    local big = ("s"):rep(100000)
    r = assert(client.request(base .. "/echo", big, {ca_certs = ca}))
    assert.is_true(r.body == big)
    r = assert(client.request(base .. "/stream?n=3", nil, {ca_certs = ca}))
    assert.equal("line 1\nline 2\nline 3\n", r.body)
    local c = client.HTTPClient("127.0.0.1", port, {ssl = true, ca_certs = ca})
    for _ = 1, 3 do assert.equal("hello\n", c:get("/").body) end
    c:close()
    local _, err = client.request(base .. "/", nil, {ca_certs = T.path("ca2.pem")})
    assert.truthy(tostring(err):match("^bad certificate"), err)
    -- plain HTTP to the TLS port: the handshake fails, no answer
    r = H.exchange(port, H.get("/"))
    assert.is_nil(r)
  end)

  it("reaches an HTTPS server through a CONNECT proxy", function()
    local StreamServer = require("gevent.server").StreamServer
    local socket = require "gevent.socket"
    local seen
    local proxy = StreamServer({"127.0.0.1", 0}, function(sock)
      local line = sock:receive("*l")
      seen = line
      repeat local l = sock:receive("*l") until not l or l == ""
      local hostport = line:match("^CONNECT (%S+) HTTP/1%.1$")
      local up = hostport and socket.create_connection(hostport, 5)
      if not up then sock:send("HTTP/1.1 502 Bad Gateway\r\n\r\n") return end
      sock:send("HTTP/1.1 200 Connection Established\r\n\r\n")
      sock:settimeout(0.05)
      up:settimeout(0.05)
      local g = gevent.spawn(function()
        while not sock:getfd() or sock:getfd() >= 0 do
          local data, err, partial = up:receive(4096)
          data = data or partial
          if data and #data > 0 then sock:send(data) end
          if err == "closed" then break end
        end
        sock:close()
      end)
      while true do
        local data, err, partial = sock:receive(4096)
        data = data or partial
        if data and #data > 0 then up:send(data) end
        if err == "closed" then break end
      end
      up:close()
      g:join(2)
    end)
    proxy:start()
    local r = assert(client.request(base .. "/", nil,
      {ca_certs = ca, proxy = "http://127.0.0.1:" .. proxy.address[2]}))
    assert.equal("hello\n", r.body)
    assert.equal("CONNECT 127.0.0.1:" .. port .. " HTTP/1.1", seen)
    client.close_all()
    proxy:stop(1)
  end)

  it("works with curl: keep-alive, 100-continue, chunked upload", function()
    if not have("curl") then pending("curl not installed") return end
    local out, rc, err = run({"curl", "-sS", "-v", "--cacert", ca, base .. "/", base .. "/"})
    assert.equal(0, rc, err)
    assert.equal("hello\nhello\n", out)
    assert.truthy(err:match("Re%-using existing connection"))
    local body = ("0123456789"):rep(300)
    out, rc, err = run({"curl", "-sS", "--cacert", ca, "-H", "Expect: 100-continue",
                        "--data-binary", "@-", base .. "/echo"}, body)
    assert.equal(0, rc, err)
    assert.equal(body, out)
    out, rc, err = run({"curl", "-sS", "--cacert", ca, "-H", "Transfer-Encoding: chunked",
                        "--data-binary", "@-", base .. "/echo"}, body)
    assert.equal(0, rc, err)
    assert.equal(body, out)
  end)

  it("works with Python's http.client", function()
    local script = ([[
import http.client, ssl
ctx = ssl.create_default_context(cafile=%q)
c = http.client.HTTPSConnection("127.0.0.1", %d, context=ctx, timeout=10)
for i in range(3):
    c.request("GET", "/")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"hello\n"
c.request("POST", "/echo", body=b"x" * 50000)
assert c.getresponse().read() == b"x" * 50000
print("ok")
]]):format(ca, port)
    local out, rc, err = run({T.PYTHON, "-c", script})
    assert.equal(0, rc, err)
    assert.equal("ok\n", out)
  end)
end)

describe("gevent.http HTTPServer with ssl", function()
  it("applies the same strict parsing over TLS", function()
    local http = require "gevent.http"
    local ssl = require "gevent.ssl"
    local socket = require "gevent.socket"
    local srv = http.HTTPServer({"127.0.0.1", 0}, function() return 200, nil, "ok" end,
      {ssl = {certificate = T.path("server.pem"), key = T.path("server.key")}})
    srv:start()
    local function exchange(raw)
      local s = assert(socket.create_connection({"127.0.0.1", srv.address[2]}, 5))
      local conn = assert(ssl.wrap_socket(s, {ca_certs = T.path("ca.pem"),
                                             server_hostname = "127.0.0.1"}))
      conn:settimeout(5)
      assert(conn:send(raw))
      local r = H.read_response(conn)
      conn:close()
      return r
    end
    assert.equal("ok", exchange(H.get("/")).body)
    assert.equal(400, exchange("GET / HTTP/1.1\r\nHost : x\r\n\r\n").status)
    assert.equal(400, exchange("GET / HTTP/1.1\r\n\r\n").status)
    srv:stop(1)
    T.cleanup()
  end)
end)
