-- gevent.http: the HTTP/1.1 server, driven over raw sockets in-process.
-- The hostile-request suite is spec/http_conformance_spec.lua.
local gevent = require "gevent"
local socket = require "gevent.socket"
local http = require "gevent.http"

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local H = dofile(here .. "/support/http.lua")

local TEXT = {["Content-Type"] = "text/plain"}

describe("gevent.http", function()
  local srv
  after_each(function()
    if srv then srv:stop(1) end
    srv = nil
  end)

  it("answers a plain return status, headers, body", function()
    local port
    srv, port = H.serve(function(req)
      return 200, {["Content-Type"] = "text/plain", ["X-Path"] = req.path},
             "hello\n"
    end)
    local r = H.exchange(port, H.get("/a/b?x=1"))
    assert.equal(200, r.status)
    assert.equal("OK", r.reason)
    assert.equal("hello\n", r.body)
    assert.equal("6", r.headers["content-length"])
    assert.equal("text/plain", r.headers["content-type"])
    assert.equal("/a/b", r.headers["x-path"])
    assert.truthy(r.headers.date:match("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$"))
  end)

  it("gives the handler method, target, path, query, version, headers", function()
    local seen
    local port
    srv, port = H.serve(function(req)
      seen = {method = req.method, target = req.target, path = req.path,
              query = req.query, version = req.version,
              host = req.headers.host, multi = req.headers["x-multi"],
              ua = req:header("USER-AGENT"), none = req:header("x-none"),
              keep = req.keep_alive, peer = req.peer and req.peer[1]}
      return 204
    end)
    local r = H.exchange(port, "GET /p/q?a=1&b=2 HTTP/1.1\r\nHost: h.example\r\n"
      .. "User-Agent: spec\r\nX-Multi: 1\r\nx-multi: 2\r\n\r\n")
    assert.equal(204, r.status)
    assert.is_nil(r.headers["content-length"])
    assert.same({method = "GET", target = "/p/q?a=1&b=2", path = "/p/q",
                 query = "a=1&b=2", version = "1.1", host = "h.example",
                 multi = "1, 2", ua = "spec", keep = true,
                 peer = "127.0.0.1"}, seen)
    r = H.exchange(port, "GET /nq HTTP/1.1\r\nHost: x\r\n\r\n")
    assert.equal(204, r.status)
    assert.is_nil(seen.query)
  end)

  it("keeps the connection alive and answers pipelined requests in order", function()
    local n = 0
    local port
    srv, port = H.serve(function(req)
      n = n + 1
      if req.path == "/slow" then gevent.sleep(0.05) end
      return 200, nil, req.path .. " " .. n
    end)
    local s = H.connect(port)
    assert(s:send(H.get("/slow") .. H.get("/two") .. H.get("/three")))
    assert.equal("/slow 1", H.read_response(s).body)
    assert.equal("/two 2", H.read_response(s).body)
    assert.equal("/three 3", H.read_response(s).body)
    assert(s:send(H.get("/four")))
    assert.equal("/four 4", H.read_response(s).body)
    s:close()
  end)

  it("closes after Connection: close, and speaks HTTP/1.0", function()
    local port
    srv, port = H.serve(function() return 200, nil, "x" end)
    local r, _, s = H.exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(s))
    r, _, s = H.exchange(port, "GET / HTTP/1.0\r\n\r\n")
    assert.equal("1.0", r.version)
    assert.equal("x", r.body)
    assert.is_true(H.closed(s))
    r, _, s = H.exchange(port, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert.equal("keep-alive", r.headers.connection)
    assert(s:send("GET / HTTP/1.0\r\n\r\n"))
    assert.equal("x", H.read_response(s).body)
  end)

  it("answers HEAD without a body", function()
    local port
    srv, port = H.serve(function() return 200, nil, "12345" end)
    local s = H.connect(port)
    assert(s:send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" .. H.get("/")))
    local r = H.read_response(s, true)
    assert.equal("5", r.headers["content-length"])
    assert.equal("", r.body)
    assert.equal("12345", H.read_response(s).body)
  end)

  it("reads Content-Length and chunked bodies, whole or piece by piece", function()
    local port
    srv, port = H.serve(function(req)
      if req.path == "/all" then return 200, nil, req:read() end
      local parts = {}
      while true do
        local p = req:read(3)
        if not p then break end
        assert(#p <= 3, "piece too long")
        parts[#parts + 1] = p
      end
      return 200, nil, table.concat(parts, "|")
    end)
    local r = H.exchange(port, "POST /all HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
    assert.equal("hello world", r.body)
    r = H.exchange(port, "POST /all HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "5\r\nhello\r\n1;ext=v\r\n \r\n5\r\nworld\r\n0\r\nTrailer: t\r\n\r\n")
    assert.equal("hello world", r.body)
    r = H.exchange(port, "POST /pieces HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nabcdefg")
    assert.equal("abc|def|g", r.body)
    r = H.exchange(port, "POST /all HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert.equal("", r.body)
  end)

  it("streams a body that arrives slowly, and a large one", function()
    local port
    srv, port = H.serve(function(req) return 200, nil, req:read() end,
                        {max_body_size = false})
    local s = H.connect(port)
    assert(s:send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
    for _, piece in ipairs{"3\r", "\nab", "c\r\n", "2\r\nde\r\n", "0\r\n", "\r\n"} do
      gevent.sleep(0.01)
      assert(s:send(piece))
    end
    assert.equal("abcde", H.read_response(s).body)
    local big = ("0123456789abcdef"):rep(1 << 16) -- 1 MiB
    assert(s:send(("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"):format(#big)))
    local sender = gevent.spawn(function() assert(s:send(big)) end)
    local r = H.read_response(s)
    sender:join(5)
    assert.equal(#big, #r.body)
    assert.is_true(r.body == big)
  end)

  it("sends 100 Continue when the handler reads the body", function()
    local port
    srv, port = H.serve(function(req)
      if req.path == "/ignore" then return 200, nil, "ignored" end
      return 200, nil, req:read()
    end)
    local s = H.connect(port)
    assert(s:send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"))
    local r = H.read_response(s)
    assert.equal(100, r.status)
    assert(s:send("data"))
    r = H.read_response(s)
    assert.equal(200, r.status)
    assert.equal("data", r.body)
    -- not read: the final answer comes without 100, and the connection closes
    local _
    r, _, s = H.exchange(port, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
      .. "Expect: 100-continue\r\n\r\n")
    assert.equal(200, r.status)
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(s))
  end)

  it("streams responses: chunked for 1.1, to the close for 1.0, fixed length", function()
    local port
    srv, port = H.serve(function(req, res)
      if req.path == "/fixed" then
        res:start(200, {["Content-Length"] = 6})
        res:write("abc")
        res:write("def")
        return
      end
      res:start(201, TEXT)
      for i = 1, 3 do
        assert(res:write("piece " .. i .. "\n"))
        gevent.sleep(0.01)
      end
      res:finish("end\n")
    end)
    local s = H.connect(port)
    assert(s:send(H.get("/")))
    local r = H.read_response(s)
    assert.equal(201, r.status)
    assert.equal("chunked", r.headers["transfer-encoding"])
    assert.equal(4, r.chunks)
    assert.equal("piece 1\npiece 2\npiece 3\nend\n", r.body)
    assert(s:send(H.get("/fixed")))
    r = H.read_response(s)
    assert.equal("6", r.headers["content-length"])
    assert.equal("abcdef", r.body)
    r = H.exchange(port, "GET / HTTP/1.0\r\n\r\n")
    assert.is_nil(r.headers["transfer-encoding"])
    assert.equal("piece 1\npiece 2\npiece 3\nend\n", r.body)
  end)

  it("turns a handler error into a 500 and reports it", function()
    local port
    srv, port = H.serve(function(req)
      if req.path == "/bad" then return "nope" end
      if req.path == "/hdr" then return 200, {["Bad Name"] = "x"}, "" end
      error("boom")
    end)
    local r, _, s = H.exchange(port, H.get("/"))
    assert.equal(500, r.status)
    assert.is_true(H.closed(s))
    assert.equal(500, (H.exchange(port, H.get("/bad"))).status)
    assert.equal(500, (H.exchange(port, H.get("/hdr"))).status)
  end)

  it("closes the connection when its greenlet is killed in the handler", function()
    local Event = require("gevent.event").Event
    local inside, g = Event(), nil
    local port
    srv, port = H.serve(function(req)
      if req.path == "/hang" then
        g = gevent.getcurrent()
        inside:set()
        gevent.sleep(10)
      end
      return 200, nil, "ok"
    end)
    local s = H.connect(port)
    assert(s:send(H.get("/hang")))
    inside:wait(2)
    g:kill()
    assert.is_true(H.closed(s))
    assert.is_true(g.dead)
    assert.equal(0, srv:connection_count())
    assert.equal("ok", (H.exchange(port, H.get("/"))).body)
  end)

  it("limits header size and count, URI length and body size", function()
    local port
    srv, port = H.serve(function(req) return 200, nil, req:read() end,
      {max_header_size = 1024, max_headers = 10, max_uri_size = 100,
       max_body_size = 50})
    local function status(raw)
      local r, _, s = H.exchange(port, raw)
      assert.is_true(H.closed(s))
      return r.status
    end
    assert.equal(431, status("GET / HTTP/1.1\r\nHost: x\r\nX: " .. ("a"):rep(2000) .. "\r\n\r\n"))
    local many = {}
    for i = 1, 12 do many[i] = "X-" .. i .. ": v\r\n" end
    assert.equal(431, status("GET / HTTP/1.1\r\nHost: x\r\n" .. table.concat(many) .. "\r\n"))
    assert.equal(414, status(H.get("/" .. ("u"):rep(200))))
    assert.equal(413, status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 51\r\n\r\n" .. ("b"):rep(51)))
    assert.equal(413, status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "20\r\n" .. ("c"):rep(32) .. "\r\n20\r\n" .. ("c"):rep(32) .. "\r\n0\r\n\r\n"))
    assert.equal(200, (H.exchange(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n"
      .. ("b"):rep(50))).status)
  end)

  it("times out idle connections, slow heads and slow bodies", function()
    local port
    srv, port = H.serve(function(req) return 200, nil, req:read() or "-" end,
      {idle_timeout = 0.2, header_timeout = 0.2, body_timeout = 0.2})
    -- idle after a request: closed without a response
    local r, _, s = H.exchange(port, H.get("/"))
    assert.equal(200, r.status)
    local t0 = socket.gettime()
    assert.is_true(H.closed(s))
    assert.is_true(socket.gettime() - t0 < 1.9)
    -- a head that never ends: 408
    s = H.connect(port)
    assert(s:send("GET / HTTP/1.1\r\nHost: x\r\n"))
    r = H.read_response(s)
    assert.equal(408, r.status)
    -- a body that never comes: the handler gets nil, "timeout"
    s = H.connect(port)
    assert(s:send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"))
    r = H.read_response(s)
    assert.equal(200, r.status)
    assert.equal("close", r.headers.connection)
  end)

  it("stops gracefully: idle connections close, requests in progress finish", function()
    local port
    local Event = require("gevent.event").Event
    local inside = Event()
    srv, port = H.serve(function(req)
      if req.path == "/slow" then
        inside:set()
        gevent.sleep(0.2)
        return 200, nil, "finished"
      end
      return 200, nil, "quick"
    end)
    local idle = H.connect(port)
    assert(idle:send(H.get("/")))
    assert.equal("quick", H.read_response(idle).body)
    local busy = H.connect(port)
    assert(busy:send(H.get("/slow")))
    inside:wait(2)
    assert.equal(2, srv:connection_count())
    local stopper = gevent.spawn(function() srv:stop(2) end)
    local r = H.read_response(busy)
    assert.equal("finished", r.body)
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(idle))
    assert.is_true(H.closed(busy))
    stopper:join(3)
    assert.is_true(stopper.dead)
    assert.equal(0, srv:connection_count())
    srv = nil
  end)

  it("writes an access log", function()
    local lines = {}
    local port
    srv, port = H.serve(function(req, res)
      if req.path == "/s" then res:start(202) res:write("x") return end
      return 404, nil, "nope"
    end, {access_log = function(line) lines[#lines + 1] = line end})
    H.exchange(port, H.get("/missing?q"))
    H.exchange(port, H.get("/s"))
    assert.equal(2, #lines)
    assert.truthy(lines[1]:match('^127%.0%.0%.1 %- %- %[.-%] "GET /missing%?q HTTP/1%.1" 404 4\n$'))
    assert.truthy(lines[2]:match('"GET /s HTTP/1%.1" 202 %-\n$'))
  end)

  it("rejects misuse with clear errors", function()
    assert.has_error(function() http.HTTPServer({"127.0.0.1", 0}, 42) end,
      "bad argument #2 to 'gevent.http.HTTPServer' (function expected, got "
      .. "number)")
    assert.has_error(function()
      http.HTTPServer({"127.0.0.1", 0}, function() end, {workers = 0})
    end, "bad argument #3 to 'gevent.http.HTTPServer' (workers must be a "
         .. "positive integer)")
    local wsrv = http.HTTPServer({"127.0.0.1", 0}, function() end, {workers = 2})
    local ok, e = pcall(function() wsrv:start() end)
    assert.is_false(ok)
    assert.matches("^[^:]*http_spec.lua:%d+: a server with workers runs with "
                   .. "serve_forever, not start$", e)
    local port, err
    srv, port = H.serve(function(req, res)
      local _, e = pcall(res.start, res, 99)
      err = e
      return 200, nil, "ok"
    end)
    H.exchange(port, H.get("/"))
    assert.truthy(err:match("bad argument #1 to 'start' %(number expected")
                  or err:match("bad status"))
  end)

  it("refuses the request object once the handler returned", function()
    local kept
    local port
    srv, port = H.serve(function(req) kept = req return 200 end)
    H.exchange(port, H.get("/"))
    assert.has_error(function() return kept.method end,
      "bad argument #1 to 'gevent.http.Request' (the request is over)")
  end)
end)
