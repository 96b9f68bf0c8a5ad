-- gevent.http's WebSocket (RFC 6455): req:websocket() on the server,
-- driven by a raw-socket client that masks its frames as browsers do.
local gevent = require "gevent"

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local H = dofile(here .. "/support/http.lua")

local KEY = "dGhlIHNhbXBsZSBub25jZQ=="          -- RFC 6455's example
local ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

local function handshake(port, extra)
  local s = H.connect(port)
  assert(s:send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    .. "Connection: Upgrade\r\nSec-WebSocket-Key: " .. KEY .. "\r\n"
    .. "Sec-WebSocket-Version: 13\r\n" .. (extra or "") .. "\r\n"))
  local r = H.read_response(s, true)
  return s, r
end

-- A client frame (masked unless unmasked is set).
local function frame(opcode, payload, fin, unmasked)
  local n = #payload
  local b1 = (fin == false and 0 or 0x80) | opcode
  local len
  local m = unmasked and 0 or 0x80
  if n < 126 then len = string.char(m | n)
  elseif n < 65536 then len = string.char(m | 126) .. string.pack(">I2", n)
  else len = string.char(m | 127) .. string.pack(">I8", n) end
  if unmasked then return string.char(b1) .. len .. payload end
  local mask = "\1\2\3\4"
  local out = {}
  for i = 1, n do
    out[i] = string.char(payload:byte(i) ~ mask:byte((i - 1) % 4 + 1))
  end
  return string.char(b1) .. len .. mask .. table.concat(out)
end

-- Reads one server frame: opcode, payload, fin.
local function read_frame(s)
  local h = assert(s:receive(2))
  local b1, b2 = h:byte(1, 2)
  assert(b2 & 0x80 == 0, "server frames are not masked")
  local n = b2 & 127
  if n == 126 then n = string.unpack(">I2", assert(s:receive(2)))
  elseif n == 127 then n = string.unpack(">I8", assert(s:receive(8))) end
  local payload = n > 0 and assert(s:receive(n)) or ""
  return b1 & 15, payload, b1 & 0x80 ~= 0
end

describe("gevent.http WebSocket", function()
  local srv, port
  local log
  setup(function()
    srv, port = H.serve(function(req)
      if req.path ~= "/ws" then return 404 end
      local ws, err = req:websocket({protocols = {"chat", "echo"}, max_message = 200000})
      if not ws then return 400, nil, err end
      while true do
        local msg, kind, code = ws:receive()
        if not msg then
          log[#log + 1] = kind .. (code and (" " .. code) or "")
          return
        end
        log[#log + 1] = kind .. " " .. #msg
        if msg == "close-me" then
          ws:close(4000, "bye")
        elseif msg == "ping-me" then
          ws:ping("hi")
          assert(ws:send("pinged"))
        else
          assert(ws:send(msg, kind == "binary"))
        end
      end
    end)
  end)
  teardown(function() srv:stop(1) end)
  before_each(function() log = {} end)

  it("answers the handshake with 101 and the accept key", function()
    local s, r = handshake(port, "Sec-WebSocket-Protocol: other, echo\r\n")
    assert.equal(101, r.status)
    assert.equal("websocket", r.headers.upgrade)
    assert.equal(ACCEPT, r.headers["sec-websocket-accept"])
    assert.equal("echo", r.headers["sec-websocket-protocol"])
    s:close()
  end)

  it("refuses a request that is not a handshake", function()
    local r = H.exchange(port, H.get("/ws"))
    assert.equal(400, r.status)
    assert.equal("not a websocket handshake", r.body)
    r = H.exchange(port, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      .. "Connection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert.equal(400, r.status)
  end)

  it("echoes text and binary, small and large, and fragmented messages", function()
    local s = handshake(port)
    assert(s:send(frame(1, "hello")))
    local op, p = read_frame(s)
    assert.equal(1, op)
    assert.equal("hello", p)
    local bin = ("\0\255"):rep(100)
    assert(s:send(frame(2, bin)))
    op, p = read_frame(s)
    assert.equal(2, op)
    assert.equal(bin, p)
    local big = ("x"):rep(70000)   -- a 64-bit length
    gevent.spawn(function() s:send(frame(1, big)) end)
    op, p = read_frame(s)
    assert.equal(1, op)
    assert.equal(#big, #p)
    assert(s:send(frame(1, "fra", false) .. frame(9, "p") .. frame(0, "gm", false)
                  .. frame(0, "ent")))
    op, p = read_frame(s)            -- the ping in the middle is answered first
    assert.equal(10, op)
    assert.equal("p", p)
    op, p = read_frame(s)
    assert.equal(1, op)
    assert.equal("fragment", p)
    assert(s:send(frame(8, string.pack(">I2", 1000))))
    op, p = read_frame(s)
    assert.equal(8, op)
    assert.equal(1000, string.unpack(">I2", p))
    assert.is_true(H.closed(s))
    assert.same({"text 5", "binary 200", "text 70000", "text 8", "closed 1000"}, log)
  end)

  it("pings, and closes with a code from the server", function()
    local s = handshake(port)
    assert(s:send(frame(1, "ping-me")))
    local op, p = read_frame(s)
    assert.equal(9, op)
    assert.equal("hi", p)
    op, p = read_frame(s)
    assert.equal(1, op)
    assert.equal("pinged", p)
    assert(s:send(frame(1, "close-me")))
    op, p = read_frame(s)
    assert.equal(8, op)
    assert.equal(4000, string.unpack(">I2", p))
    assert.equal("bye", p:sub(3))
    assert(s:send(frame(8, string.pack(">I2", 4000))))
    assert.is_true(H.closed(s))
  end)

  it("closes on protocol errors with the matching status", function()
    local cases = {
      {frame(1, "x", true, true), 1002},             -- unmasked
      {frame(1, "\255\254"), 1007},                   -- not UTF-8
      {frame(0, "x"), 1002},                          -- continuation first
      {string.char(0x81 | 0x40, 0x80) .. "\0\0\0\0", 1002},   -- RSV bit
      {frame(9, ("p"):rep(126)), 1002},               -- control over 125
      {frame(3, "x"), 1002},                          -- unknown opcode
      {frame(2, ("z"):rep(200001)), 1009},            -- over max_message
    }
    for _, c in ipairs(cases) do
      local s = handshake(port)
      gevent.spawn(function() s:send(c[1]) end)
      local op, p = read_frame(s)
      assert.equal(8, op)
      assert.equal(c[2], string.unpack(">I2", p))
      assert.is_true(H.closed(s))
    end
  end)

  it("sees a client that goes away", function()
    local s = handshake(port)
    s:close()
    for _ = 1, 50 do
      if #log > 0 then break end
      gevent.sleep(0.01)
    end
    assert.same({"closed"}, log)
  end)
end)
