-- gevent.httpclient against in-process servers: gevent.http for the usual
-- cases, raw StreamServers for the broken ones (malformed heads, resets,
-- bodies to the close), and a proxy.
local gevent = require "gevent"
local socket = require "gevent.socket"
local StreamServer = require("gevent.server").StreamServer
local client = require "gevent.httpclient"

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local H = dofile(here .. "/support/http.lua")

-- A raw server that answers each connection with handle(sock, request_head).
local function raw_server(handle)
  local srv = StreamServer({"127.0.0.1", 0}, function(sock)
    local lines = {}
    while true do
      local l = sock:receive("*l")
      if not l then return end
      if l == "" then break end
      lines[#lines + 1] = l
    end
    handle(sock, lines)
  end)
  srv:start()
  return srv, srv.address[2]
end

describe("gevent.httpclient", function()
  local srv, port, base
  setup(function()
    srv, port = H.serve(function(req, res)
      local p = req.path
      if p == "/" then return 200, {["X-Peer-Port"] = req.peer[2]}, "hello" end
      if p == "/echo" then return 200, {["X-Method"] = req.method}, req:read() end
      if p == "/headers" then return 200, nil, (req:header("x-test") or "-") .. " " .. req.headers.host end
      if p == "/chunked" then
        res:start(200)
        for i = 1, 3 do res:write("part" .. i) end
        return
      end
      if p == "/redirect" then
        local n = tonumber(req.query or "0")
        if n > 0 then return 302, {Location = "/redirect?" .. (n - 1)}, "" end
        return 200, nil, "landed"
      end
      if p == "/see-other" then return 303, {Location = "http://127.0.0.1:" .. port .. "/echo"}, "" end
      if p == "/slow" then gevent.sleep(0.3) return 200, nil, "late" end
      return 404, nil, "nope"
    end)
    base = "http://127.0.0.1:" .. port
  end)
  teardown(function() client.close_all() srv:stop(1) end)

  it("gets a body and the response fields", function()
    local r = assert(client.request(base .. "/"))
    assert.equal(200, r.status)
    assert.equal("OK", r.reason)
    assert.equal("1.1", r.version)
    assert.equal("hello", r.body)
    assert.equal("5", r.headers["content-length"])
    assert.equal(base .. "/", r.url)
  end)

  it("reuses keep-alive connections from its pool", function()
    client.close_all()
    local a = assert(client.request(base .. "/"))
    local b = assert(client.request(base .. "/"))
    assert.equal(a.headers["x-peer-port"], b.headers["x-peer-port"])
    -- concurrent requests need more connections
    local gs = {}
    for i = 1, 3 do gs[i] = gevent.spawn(client.request, base .. "/slow", {timeout = 5}) end
    gevent.joinall(gs, 5)
    for i = 1, 3 do assert.equal("late", gs[i].value.body) end
  end)

  it("sends bodies: strings, and sources as chunked", function()
    local r = assert(client.request(base .. "/echo", "payload"))
    assert.equal("POST", r.headers["x-method"])
    assert.equal("payload", r.body)
    local pieces = {"a", "bb", "ccc"}
    local i = 0
    r = assert(client.request(base .. "/echo", function()
      i = i + 1
      return pieces[i]
    end, {method = "PUT"}))
    assert.equal("PUT", r.headers["x-method"])
    assert.equal("abbccc", r.body)
  end)

  it("reads chunked bodies, whole or streamed", function()
    local r = assert(client.request(base .. "/chunked"))
    assert.equal("part1part2part3", r.body)
    r = assert(client.request(base .. "/chunked", nil, {stream = true}))
    local got = {}
    for piece in r.read do got[#got + 1] = piece end
    assert.equal("part1part2part3", table.concat(got))
  end)

  it("follows redirects up to a limit", function()
    local r = assert(client.request(base .. "/redirect?3"))
    assert.equal("landed", r.body)
    assert.equal(base .. "/redirect?0", r.url)
    local _, err = client.request(base .. "/redirect?9", nil, {max_redirects = 2})
    assert.equal("too many redirects", err)
    r = assert(client.request(base .. "/redirect?1", nil, {max_redirects = 0}))
    assert.equal(302, r.status)
    r = assert(client.request(base .. "/see-other", "x"))
    assert.equal("GET", r.headers["x-method"])
  end)

  it("fails clearly: refused, timed out, reset, malformed", function()
    local l = socket.bind("127.0.0.1", 0)
    local _, free = l:getsockname()
    l:close()
    local r, err = client.request("http://127.0.0.1:" .. free .. "/")
    assert.is_nil(r)
    assert.equal("connection refused", err)
    r, err = client.request(base .. "/slow", nil, {timeout = 0.1})
    assert.is_nil(r)
    assert.equal("timeout", err)
    local bad, bport = raw_server(function(sock) sock:send("HTTP/1.1 200 OK\nbroken\n\n") end)
    _, err = client.request("http://127.0.0.1:" .. bport .. "/")
    assert.equal("malformed response", err)
    bad:stop()
    local reset, rport = raw_server(function(sock)
      sock:send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    end)
    r, err = client.request("http://127.0.0.1:" .. rport .. "/")
    assert.is_nil(r)
    assert.equal("connection reset", err)
    reset:stop()
    _, err = client.request("ftp://x/")
    assert.equal("unsupported scheme 'ftp'", err)
  end)

  it("reads a body that runs to the close (HTTP/1.0)", function()
    local old, oport = raw_server(function(sock)
      sock:send("HTTP/1.0 200 OK\r\n\r\nall of it")
    end)
    local r = assert(client.request("http://127.0.0.1:" .. oport .. "/"))
    assert.equal("all of it", r.body)
    old:stop()
  end)

  it("goes through a proxy with the absolute form", function()
    local seen
    local proxy, pport = raw_server(function(sock, lines)
      seen = lines[1]
      sock:send("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied")
    end)
    local r = assert(client.request("http://example.invalid:8080/x?y", nil,
                                    {proxy = "http://127.0.0.1:" .. pport}))
    assert.equal("proxied", r.body)
    assert.equal("GET http://example.invalid:8080/x?y HTTP/1.1", seen)
    proxy:stop()
  end)

  it("has geventhttpclient's HTTPClient", function()
    local c = client.HTTPClient("127.0.0.1", port)
    assert.equal("hello", c:get("/").body)
    assert.equal("data", c:post("/echo", "data").body)
    assert.equal("yes 127.0.0.1:" .. port, c:get("/headers", {["X-Test"] = "yes"}).body)
    assert.equal(404, c:get("/missing").status)
    local c2 = client.HTTPClient.from_url(base .. "/ignored")
    assert.equal("hello", c2:get("/").body)
    c:close()
    assert.has_error(function() client.HTTPClient(42) end,
      "bad argument #1 to 'gevent.httpclient.HTTPClient' (string expected, "
      .. "got number)")
    local ok, e = pcall(client.HTTPClient.from_url, "ftp://x/")
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'gevent.httpclient.HTTPClient.from_url' %(",
                   e)
    assert.has_error(function() client.socket_http.request(42) end,
      "bad argument #1 to 'gevent.httpclient.socket_http.request' (url or "
      .. "request table expected, got number)")
  end)

  it("has socket.http's request", function()
    local sh = client.socket_http
    local body, code, headers, status = sh.request(base .. "/")
    assert.equal("hello", body)
    assert.equal(200, code)
    assert.equal("5", headers["content-length"])
    assert.equal("HTTP/1.1 200 OK", status)
    local out = {}
    local one, c2 = sh.request{url = base .. "/echo", method = "POST",
      headers = {["content-length"] = "3"},
      source = (function() local done = false
        return function() if done then return nil end done = true return "abc" end end)(),
      sink = function(chunk) if chunk then out[#out + 1] = chunk end return 1 end}
    assert.equal(1, one)
    assert.equal(200, c2)
    assert.equal("abc", table.concat(out))
    local r, err = sh.request("http://127.0.0.1:1/")
    assert.is_nil(r)
    assert.equal("connection refused", err)
  end)
end)
