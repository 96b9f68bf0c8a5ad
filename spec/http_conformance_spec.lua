-- gevent.http against hostile requests, over raw sockets: request
-- smuggling variants (CL.TE, TE.CL, TE.TE, codings other than chunked,
-- bad chunk sizes and extensions, bare LF, obs-fold, odd bytes in names
-- and values), malformed framing, and garbage pipelined after a valid
-- request. Each case gets exactly one answer with the expected status; a
-- rejected message also ends the connection, so nothing after it can be
-- read as another request.
local gevent = require "gevent"

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local H = dofile(here .. "/support/http.lua")

local function req(head, body)
  return "POST / HTTP/1.1\r\nHost: x\r\n" .. head .. "\r\n" .. (body or "")
end

-- {name, raw request, status}: the server must answer status and close
local rejected = {
  -- framing ambiguities (smuggling)
  {"CL.TE: Content-Length then Transfer-Encoding",
   req("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\nG"), 400},
  {"TE.CL: Transfer-Encoding then Content-Length",
   req("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", "5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n"), 400},
  {"two Content-Lengths that differ",
   req("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd"), 400},
  {"two equal Content-Lengths", req("Content-Length: 3\r\nContent-Length: 3\r\n", "abc"), 400},
  {"a Content-Length list", req("Content-Length: 3, 3\r\n", "abc"), 400},
  {"a negative Content-Length", req("Content-Length: -1\r\n"), 400},
  {"a Content-Length that is not a number", req("Content-Length: 1x\r\n", "a"), 400},
  {"a Content-Length in hex", req("Content-Length: 0x10\r\n"), 400},
  {"a Content-Length with a sign", req("Content-Length: +4\r\n", "abcd"), 400},
  {"an empty Content-Length", req("Content-Length: \r\n"), 400},
  {"a huge Content-Length", req("Content-Length: 99999999999999999999999\r\n"), 400},
  {"TE with another coding before chunked", req("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), 501},
  {"TE with another coding after chunked", req("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n"), 501},
  {"TE: identity", req("Transfer-Encoding: identity\r\n", ""), 501},
  {"TE: xchunked", req("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"), 501},
  {"TE: chunked twice", req("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400},
  {"TE: chunked, chunked", req("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"), 501},
  {"TE with a space before the colon",
   req("Transfer-Encoding : chunked\r\nContent-Length: 4\r\n", "0\r\n\r\n"), 400},
  {"TE with a tab in the name", req("Transfer-Encoding\t: chunked\r\n", "0\r\n\r\n"), 400},
  {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
  {"TE: chunked with a vertical tab", req("Transfer-Encoding: \vchunked\r\n", "0\r\n\r\n"), 400},
  -- chunk sizes and extensions
  {"a chunk size that is not hex", req("Transfer-Encoding: chunked\r\n", "xyz\r\nabc\r\n0\r\n\r\n"), 400},
  {"a negative chunk size", req("Transfer-Encoding: chunked\r\n", "-1\r\na\r\n0\r\n\r\n"), 400},
  {"a chunk size with 0x", req("Transfer-Encoding: chunked\r\n", "0x3\r\nabc\r\n0\r\n\r\n"), 400},
  {"a chunk size with a space and no extension", req("Transfer-Encoding: chunked\r\n", "3 \r\nabc\r\n0\r\n\r\n"), 400},
  {"a huge chunk size", req("Transfer-Encoding: chunked\r\n", "fffffffffffffffffff\r\nabc\r\n0\r\n\r\n"), 400},
  {"a chunk size over the body limit", req("Transfer-Encoding: chunked\r\n", "ffffffffff\r\nabc\r\n0\r\n\r\n"), 413},
  {"a chunk size line ending in CR only", req("Transfer-Encoding: chunked\r\n", "3\rXabc\r\n0\r\n\r\n"), 400},
  {"a chunk size line ending in LF only", req("Transfer-Encoding: chunked\r\n", "3\nabc\r\n0\r\n\r\n"), 400},
  {"chunk data without its CRLF", req("Transfer-Encoding: chunked\r\n", "3\r\nabcXX0\r\n\r\n"), 400},
  {"chunk data longer than its size", req("Transfer-Encoding: chunked\r\n", "3\r\nabcd\r\n0\r\n\r\n"), 400},
  {"a chunk extension with a bare LF", req("Transfer-Encoding: chunked\r\n", "3;a\nb\r\nabc\r\n0\r\n\r\n"), 400},
  {"a chunk extension with a NUL", req("Transfer-Encoding: chunked\r\n", "3;a\0b\r\nabc\r\n0\r\n\r\n"), 400},
  {"a chunk size line without digits", req("Transfer-Encoding: chunked\r\n", ";ext\r\nabc\r\n0\r\n\r\n"), 400},
  {"a trailer without a colon", req("Transfer-Encoding: chunked\r\n", "0\r\nTrailer\r\n\r\n"), 400},
  {"an obs-folded trailer", req("Transfer-Encoding: chunked\r\n", "0\r\nA: b\r\n c\r\n\r\n"), 400},
  -- line endings and folding
  {"a bare LF between fields", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400},
  {"a bare LF after the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400},
  {"bare LFs only", "GET / HTTP/1.1\nHost: x\n\n", 400},
  {"a bare CR in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400},
  {"obs-fold continuation line", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400},
  {"obs-fold with a tab", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n\tb\r\n\r\n", 400},
  {"whitespace before the first field", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400},
  -- field names and values
  {"a space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
  {"a field line without a colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400},
  {"an empty field name", "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400},
  {"a NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400},
  {"a NUL in a name", "GET / HTTP/1.1\r\nHost: x\r\nX\0Y: a\r\n\r\n", 400},
  {"a control byte in a name", "GET / HTTP/1.1\r\nHost: x\r\nX\1: a\r\n\r\n", 400},
  {"a non-token byte in a name", "GET / HTTP/1.1\r\nHost: x\r\nX(y): a\r\n\r\n", 400},
  {"a control byte in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\1b\r\n\r\n", 400},
  {"DEL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\127b\r\n\r\n", 400},
  -- the request line and Host
  {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400},
  {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
  {"an unknown version", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505},
  {"HTTP/2.0 on HTTP/1", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
  {"a lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400},
  {"no version", "GET /\r\nHost: x\r\n\r\n", 400},
  {"two spaces in the request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
  {"a space in the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
  {"a control byte in the target", "GET /a\1b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
  {"an unknown method", "FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
  {"CONNECT", "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 501},
  {"binary garbage", "\22\3\1\0\165\1\0\0\161\3\3", 400},
  {"only empty lines", "\r\n\r\n\r\n\r\n\r\n", 400},
  {"a method with odd bytes", "G\1T / HTTP/1.1\r\n", 400},
}

describe("gevent.http conformance (hostile requests)", function()
  local srv, port
  local calls
  setup(function()
    srv, port = H.serve(function(req)
      calls = calls + 1
      local body = req:read()
      return 200, nil, "got " .. tostring(body and #body)
    end, {max_body_size = 1 << 20})
  end)
  teardown(function() srv:stop(1) end)
  before_each(function() calls = 0 end)

  for _, case in ipairs(rejected) do
    local name, raw, status = case[1], case[2], case[3]
    it(("answers %d and closes: %s"):format(status, name), function()
      local r, err, s = H.exchange(port, raw)
      assert.is_table(r, err)
      assert.equal(status, r.status)
      assert.equal("close", r.headers.connection)
      assert.is_true(H.closed(s))
      -- the handler never saw a rejected head; a bad body is refused
      -- while the handler reads it, and its answer replaced
      if not raw:find("\r\n\r\n.", 1, false) or status ~= 400 and status ~= 413 then
        assert.is_true(calls <= 1)
      end
    end)
  end

  it("answers a valid request then 400 for pipelined garbage, and closes", function()
    local s = H.connect(port)
    assert(s:send(H.get("/") .. "GARBAGE\r\n\r\n"))
    local r1 = H.read_response(s)
    assert.equal(200, r1.status)
    local r2 = H.read_response(s)
    assert.equal(400, r2.status)
    assert.is_true(H.closed(s))
  end)

  it("smuggles nothing through CL.TE: one answer only", function()
    local s = H.connect(port)
    assert(s:send(req("Content-Length: 13\r\nTransfer-Encoding: chunked\r\n",
                      "0\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n")))
    local r = H.read_response(s)
    assert.equal(400, r.status)
    assert.is_true(H.closed(s))
    assert.equal(0, calls)
  end)

  it("takes a chunked body with extensions and trailers, then the next request", function()
    local s = H.connect(port)
    assert(s:send(req("Transfer-Encoding: chunked\r\n",
      "3;name=value;q=\"quoted\"\r\nabc\r\n2 ;x\r\nde\r\n0\r\nExpires: never\r\n\r\n")
      .. H.get("/next")))
    assert.equal("got 5", H.read_response(s).body)
    assert.equal("got 0", H.read_response(s).body)
    assert.equal(2, calls)
  end)

  it("ignores empty lines before a request line", function()
    local r = H.exchange(port, "\r\n" .. H.get("/"))
    assert.equal(200, r.status)
  end)

  it("accepts an absolute-form target and reads its path", function()
    local path
    local s2, p2 = H.serve(function(req) path = req.path return 200 end)
    local r = H.exchange(p2, "GET http://x/abs/p?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    s2:stop(1)
    assert.equal(200, r.status)
    assert.equal("/abs/p", path)
  end)

  it("holds up under a slow-drip head byte by byte", function()
    local s = H.connect(port)
    local raw = H.get("/drip")
    for i = 1, #raw do
      assert(s:send(raw:sub(i, i)))
      if i % 8 == 0 then gevent.sleep(0) end
    end
    assert.equal(200, H.read_response(s).status)
  end)
end)
