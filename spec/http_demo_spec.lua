-- examples/servers/http_demo.lua, the demo contract of gevent.http, run as
-- a child process and driven by real clients: curl (keep-alive,
-- 100-continue, chunked upload), Python's http.client, and raw sockets.
local gevent = require "gevent"
local sp = require "gevent.subprocess"

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local child = dofile(here .. "/support/child.lua")
local H = dofile(here .. "/support/http.lua")
local root = here .. "/../"

local function interpreter()
  return os.getenv("SERVERS_SPEC_LUA") or child.interpreter()
end

local have = child.have

local run = child.capture

describe("examples/servers/http_demo.lua", function()
  local p, port, base
  setup(function()
    p = sp.Popen({interpreter(), root .. "examples/servers/http_demo.lua", "0"},
                 {stdout = sp.PIPE, stderr = sp.DEVNULL})
    local line = gevent.with_timeout(10, p.stdout.readline, p.stdout)
    port = tonumber(line:match("^listening on 127%.0%.0%.1:(%d+)$"))
    assert(port, "unexpected first line: " .. tostring(line))
    base = "http://127.0.0.1:" .. port
  end)
  teardown(function()
    p:terminate()
    assert.equal(0, p:wait(10))
    p.stdout:close() -- p stays referenced from here: close its pipe now
  end)

  it("serves GET / and 404", function()
    local r = H.exchange(port, H.get("/"))
    assert.equal(200, r.status)
    assert.equal("hello\n", r.body)
    assert.equal(404, (H.exchange(port, H.get("/nope"))).status)
    assert.equal(404, (H.exchange(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")).status)
  end)

  it("echoes POST /echo bodies of any size, Content-Length or chunked", function()
    local big = ("x"):rep(300000) .. "end"
    local s = H.connect(port)
    local sender = gevent.spawn(function()
      assert(s:send(("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"):format(#big) .. big))
    end)
    local r = H.read_response(s)
    sender:join(10)
    assert.is_true(r.body == big)
    r = H.exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert.equal("abcde", r.body)
  end)

  it("streams /stream lines as they are produced", function()
    local s = H.connect(port)
    assert(s:send(H.get("/stream?n=3&delay=0.1")))
    local t0 = require("gevent.socket").gettime()
    local r = H.read_response(s)
    assert.equal("line 1\nline 2\nline 3\n", r.body)
    assert.equal(3, r.chunks)
    assert.is_true(require("gevent.socket").gettime() - t0 >= 0.15)
  end)

  it("sleeps cooperatively in /sleep while other requests go on", function()
    local slow = gevent.spawn(H.exchange, port, H.get("/sleep?s=0.3"))
    local r = H.exchange(port, H.get("/"))
    assert.equal("hello\n", r.body)
    assert.is_false(slow.dead)
    slow:join(5)
    assert.equal("slept\n", slow.value.body)
  end)

  it("fetches /fetch?url= with gevent.httpclient, 502 on failure", function()
    local r = H.exchange(port, H.get("/fetch?url=http://127.0.0.1:1/"))
    assert.equal(502, r.status)
    r = H.exchange(port, H.get("/fetch?url=http%3A%2F%2F127.0.0.1%3A" .. port .. "%2Fstream%3Fn%3D2"))
    assert.equal(200, r.status)
    assert.equal("line 1\nline 2\n", r.body)
    r = H.exchange(port, H.get("/fetch?url=https://127.0.0.1:" .. port .. "/"))
    assert.equal(502, r.status)
  end)

  it("works with curl: keep-alive, 100-continue, chunked upload", function()
    if not have("curl") then pending("curl not installed") return end
    local out, rc, err = run({"curl", "-sS", "-v", base .. "/", base .. "/"})
    assert.equal(0, rc, err)
    assert.equal("hello\nhello\n", out)
    assert.truthy(err:match("Re%-using existing connection"))
    local body = ("0123456789"):rep(200)
    out, rc, err = run({"curl", "-sS", "-v", "-H", "Expect: 100-continue",
                        "--data-binary", "@-", base .. "/echo"}, body)
    assert.equal(0, rc, err)
    assert.equal(body, out)
    assert.truthy(err:match("HTTP/1%.1 100 Continue"))
    out, rc, err = run({"curl", "-sS", "-H", "Transfer-Encoding: chunked",
                        "--data-binary", "@-", base .. "/echo"}, body)
    assert.equal(0, rc, err)
    assert.equal(body, out)
    out, rc = run({"curl", "-sS", "-N", base .. "/stream?n=4&delay=0.01"})
    assert.equal(0, rc)
    assert.equal("line 1\nline 2\nline 3\nline 4\n", out)
  end)

  it("works with Python's http.client", function()
    if not have("python3") then pending("python3 not installed") return end
    local script = ([[
import http.client
c = http.client.HTTPConnection("127.0.0.1", %d, timeout=10)
for i in range(3):
    c.request("GET", "/")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"hello\n", r.status
c.request("POST", "/echo", body=b"abc" * 1000)
r = c.getresponse()
assert r.read() == b"abc" * 1000
def gen():
    yield b"chunk1"
    yield b"chunk2"
c.request("POST", "/echo", body=gen(), encode_chunked=True)
r = c.getresponse()
assert r.read() == b"chunk1chunk2"
c.request("HEAD", "/")
r = c.getresponse()
assert r.status == 200 and r.read() == b"" and r.getheader("Content-Length") == "6"
c.request("GET", "/missing")
r = c.getresponse()
assert r.status == 404
r.read()
print("ok")
]]):format(port)
    local out, rc, err = run({"python3", "-c", script})
    assert.equal(0, rc, err)
    assert.equal("ok\n", out)
  end)
end)
