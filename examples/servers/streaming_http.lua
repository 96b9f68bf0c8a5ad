-- streaming_http.lua: an HTTP/1.1 server that streams its response piece by
-- piece (the tutorial's streaming WSGI application, without a WSGI library:
--   def application(environ, start_response):
--       start_response('200 OK', [('Content-Type', 'text/html')])
--       yield "<p>Hello"
--       yield "World</p>"
-- here a generator of chunks with a sleep between them).
--
--   gvlua examples/servers/streaming_http.lua [PORT]   (PORT 0: a free port)
--   curl -N http://127.0.0.1:PORT/              (5 chunks, 0.5 s apart)
--   curl -N 'http://127.0.0.1:PORT/?n=10&delay=0.2'
--
-- gevent concepts shown:
--   * a handler greenlet per connection (StreamServer) that sleeps between
--     chunks: gevent.sleep blocks only this response, the server keeps
--     accepting and streaming to other clients meanwhile;
--   * the body is a Lua coroutine (a generator, as the Python version's
--     yield), which can itself block cooperatively: greenlets are stackful,
--     so gevent.sleep works inside coroutine.wrap;
--   * chunked transfer encoding: each piece goes out as soon as it is made.
local gevent = require "gevent"
local StreamServer = require("gevent.server").StreamServer

local port = tonumber(arg[1] or 0)

-- Reads the request line and skips the headers. Returns method, target and
-- HTTP version ("1.1", "1.0"), or nil on a closed connection or a
-- malformed request.
local function read_request(sock)
  local line = sock:receive("*l")
  if not line then return nil end
  local method, target, version = line:match("^(%u+) (%S+) HTTP/(1%.%d)$")
  if not method then return nil end
  repeat
    local h = sock:receive("*l")
    if not h then return nil end
  until h == ""
  return method, target, version
end

local function query_param(target, name)
  return target:match("[?&]" .. name .. "=([^&]*)")
end

-- The application: yields the chunks of the body, one at a time.
local function application(n, delay)
  return coroutine.wrap(function()
    for i = 1, n do
      if i > 1 then gevent.sleep(delay) end   -- blocks this client only
      coroutine.yield(("chunk %d of %d\n"):format(i, n))
    end
  end)
end

local function respond(sock, status, body)
  sock:send(("HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
             .. "Connection: close\r\n\r\n%s"):format(status, #body, body))
end

local function handle(sock)
  local method, target, version = read_request(sock)
  if not method then return end
  if method ~= "GET" then return respond(sock, "405 Method Not Allowed", "GET only\n") end
  if target:match("^[^?]*") ~= "/" then return respond(sock, "404 Not Found", "try /\n") end
  local n = math.tointeger(tonumber(query_param(target, "n"))) or 5
  local delay = tonumber(query_param(target, "delay")) or 0.5

  if version == "1.0" then
    -- HTTP/1.0 has no chunked encoding: send the pieces as they come; the
    -- end of the connection is the end of the body
    sock:send("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    for chunk in application(n, delay) do
      if not sock:send(chunk) then return end
    end
    return
  end
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            .. "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
  for chunk in application(n, delay) do
    -- one HTTP chunk: size in hex, CRLF, data, CRLF
    local ok = sock:send(("%x\r\n%s\r\n"):format(#chunk, chunk))
    if not ok then return end            -- the client went away
  end
  sock:send("0\r\n\r\n")                 -- the last chunk ends the body
end

local server = StreamServer({"127.0.0.1", port}, handle):start()
-- Ctrl-C or SIGTERM: stop accepting, give running handlers a second, exit
gevent.signal_handler("SIGTERM", function() server:stop() end)
gevent.signal_handler("SIGINT", function() server:stop() end)
print(("listening on %s:%d"):format(server.address[1], server.address[2]))
io.stdout:flush()
server:serve_forever()
