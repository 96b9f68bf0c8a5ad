-- spec/support/http.lua: raw HTTP/1.1 over gevent.socket for the specs:
-- an in-process gevent.http server on a free port, and a client that reads
-- responses byte-exactly (its own small parser, independent of the
-- server's) so the specs see what goes over the wire.
local socket = require "gevent.socket"
local http = require "gevent.http"

local M = {}

-- Starts an HTTPServer on 127.0.0.1 with handler and opts; returns it and
-- its port.
function M.serve(handler, opts)
  local srv = http.HTTPServer({"127.0.0.1", 0}, handler, opts)
  srv:start()
  return srv, srv.address[2]
end

function M.connect(port)
  local s = assert(socket.connect("127.0.0.1", port))
  s:settimeout(5)
  return s
end

-- Reads one response: {status=, reason=, version=, headers= (lower-case
-- names), body=, raw_head=} or nil, err ("closed", "timeout").
-- head_request: the body is empty whatever the framing says.
function M.read_response(s, head_request)
  local line, err = s:receive("*l")
  if not line then return nil, err end
  local version, status, reason = line:match("^HTTP/(1%.%d) (%d%d%d) ?(.*)$")
  assert(version, "bad status line: " .. line)
  local r = {status = tonumber(status), reason = reason, version = version,
             headers = {}, raw_head = line .. "\n"}
  while true do
    local h = assert(s:receive("*l"))
    r.raw_head = r.raw_head .. h .. "\n"
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    assert(name, "bad header line: " .. h)
    name = name:lower()
    r.headers[name] = r.headers[name] and (r.headers[name] .. ", " .. value)
                      or value
  end
  local st = r.status
  if head_request or st < 200 or st == 204 or st == 304 then
    r.body = ""
  elseif r.headers["transfer-encoding"] == "chunked" then
    local parts = {}
    r.chunks = 0
    while true do
      local size = assert(s:receive("*l"))
      local n = assert(tonumber(size:match("^(%x+)"), 16), "bad chunk: " .. size)
      if n == 0 then
        assert(s:receive("*l") == "")
        break
      end
      r.chunks = r.chunks + 1
      parts[#parts + 1] = assert(s:receive(n))
      assert(s:receive("*l") == "")
    end
    r.body = table.concat(parts)
  elseif r.headers["content-length"] then
    local n = tonumber(r.headers["content-length"])
    r.body = n > 0 and assert(s:receive(n)) or ""
  else
    r.body = s:receive("*a")
  end
  return r
end

-- Sends raw bytes on a new connection and reads one response.
function M.exchange(port, raw, head_request)
  local s = M.connect(port)
  assert(s:send(raw))
  local r, err = M.read_response(s, head_request)
  return r, err, s
end

-- Whether the server closed s (reads nothing more within 2 s).
function M.closed(s)
  s:settimeout(2)
  local data, err, partial = s:receive("*a")
  return data ~= nil and data == "" or (err == "closed" and partial == "")
end

function M.get(path, host)
  return ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"):format(path, host or "x")
end

return M
