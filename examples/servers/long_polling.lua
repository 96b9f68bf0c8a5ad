-- long_polling.lua: HTTP long polling with an AsyncResult (the tutorial's
-- long polling example: requests wait on an AsyncResult until a producer
-- sets a value).
--
--   gvlua examples/servers/long_polling.lua [PORT [TICK]]   (PORT 0: a free port)
--   curl http://127.0.0.1:PORT/wait            (blocks...)
--   curl -d 'hello' http://127.0.0.1:PORT/put  (...and every waiter gets "hello")
--
--   GET  /wait[?timeout=S]  waits for the next value (200 and the value), or
--                           S seconds (default 30: 204 No Content)
--   POST /put               publishes the request body as the next value;
--                           answers "published to N waiters"
--   GET  /waiters           how many /wait requests are waiting now
--   TICK (seconds, default 0 = off): a producer greenlet also publishes
--   "tick N" every TICK seconds, as the tutorial's producer does.
--
-- gevent concepts shown:
--   * gevent.event.AsyncResult: any number of greenlets block in get() and
--     all wake up with the same value once set() is called;
--   * a timeout on that wait (get(true, seconds) raises gevent.Timeout);
--   * a fresh AsyncResult per round: a result is set once, so publishing
--     swaps in a new one for the next round, then sets the old one;
--   * gevent.spawn for a background producer next to the server.
local gevent = require "gevent"
local AsyncResult = require("gevent.event").AsyncResult
local StreamServer = require("gevent.server").StreamServer

local port = tonumber(arg[1] or 0)
local tick = tonumber(arg[2] or 0)

local next_value = AsyncResult()  -- what /wait requests wait on
local waiting = 0                 -- how many requests wait on it now

-- Wakes everyone waiting now; later waiters wait for the next value.
local function publish(value)
  local current = next_value
  next_value = AsyncResult()
  current:set(value)
end

-- Reads the request line, the headers and the body (Content-Length).
-- Returns method, target, body or nil.
local function read_request(sock)
  local line = sock:receive("*l")
  if not line then return nil end
  local method, target = line:match("^(%u+) (%S+) HTTP/1%.%d$")
  if not method then return nil end
  local length = 0
  while true do
    local h = sock:receive("*l")
    if not h then return nil end
    if h == "" then break end
    local n = h:lower():match("^content%-length:%s*(%d+)")
    if n then length = tonumber(n) end
  end
  local body = ""
  if length > 0 then
    body = sock:receive(length)
    if not body then return nil end
  end
  return method, target, body
end

local function respond(sock, status, body)
  local length = ""     -- a 204 response has no body and no Content-Length
  if not status:match("^204") then length = ("Content-Length: %d\r\n"):format(#body) end
  sock:send(("HTTP/1.1 %s\r\nContent-Type: text/plain\r\n%sConnection: close\r\n\r\n%s")
            :format(status, length, body))
end

local function handle(sock)
  local method, target, body = read_request(sock)
  if not method then return end
  local path = target:match("^[^?]*")
  if method == "GET" and path == "/wait" then
    local timeout = tonumber(target:match("[?&]timeout=([^&]*)")) or 30
    local result = next_value
    -- blocks this request's greenlet only; raises gevent.Timeout if the
    -- value does not come in time
    waiting = waiting + 1
    local ok, value = pcall(result.get, result, true, timeout)
    waiting = waiting - 1
    if ok then
      respond(sock, "200 OK", value)
    elseif gevent.Timeout:is(value) then
      respond(sock, "204 No Content", "")
    else
      error(value, 0)
    end
  elseif method == "POST" and path == "/put" then
    local n = waiting
    publish(body)
    respond(sock, "200 OK", ("published to %d waiters\n"):format(n))
  elseif method == "GET" and path == "/waiters" then
    respond(sock, "200 OK", waiting .. "\n")
  else
    respond(sock, "404 Not Found", "GET /wait, POST /put or GET /waiters\n")
  end
end

-- The tutorial's producer: publishes a value every TICK seconds.
if tick > 0 then
  gevent.spawn(function()
    local n = 0
    while true do
      gevent.sleep(tick)
      n = n + 1
      publish("tick " .. n)
    end
  end)
end

local server = StreamServer({"127.0.0.1", port}, handle):start()
-- Ctrl-C or SIGTERM: stop accepting, give running handlers a second, exit
gevent.signal_handler("SIGTERM", function() server:stop() end)
gevent.signal_handler("SIGINT", function() server:stop() end)
print(("listening on %s:%d"):format(server.address[1], server.address[2]))
io.stdout:flush()
server:serve_forever()
