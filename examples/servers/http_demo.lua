-- http_demo.lua: the HTTP server of gevent.http and its client, in the
-- routes the tests and benchmarks drive.
--
--   gvlua examples/servers/http_demo.lua PORT [CERTFILE KEYFILE]
--
--   GET  /                    200 "hello\n"
--   POST /echo                200, the request body (Content-Length or chunked)
--   GET  /stream?n=K&delay=S  K lines "line i\n", S seconds apart, each sent
--                             as it is produced
--   GET  /sleep?s=S           waits S seconds (cooperatively), 200 "slept\n"
--   GET  /fetch?url=U         U fetched with gevent.httpclient: 200 and its
--                             body, or 502
--   anything else             404
local gevent = require "gevent"
local http = require "gevent.http"

local port = tonumber(arg[1] or 0)
local certfile, keyfile = arg[2], arg[3]

local TEXT = {["Content-Type"] = "text/plain"}

local function param(query, name)
  if not query then return nil end
  local v = query:match("[?&]?" .. name .. "=([^&]*)")
  return v and (v:gsub("%%(%x%x)", function(h)
    return string.char(tonumber(h, 16)) end))
end

-- routes[path] = {method, handler}; HEAD is answered as GET
local routes = {}
local function route(method, path, fn) routes[path] = {method, fn} end

route("GET", "/", function()
  return 200, TEXT, "hello\n"
end)

route("POST", "/echo", function(req, res)
  -- streamed both ways: each piece read is written at once
  res:start(200, TEXT)
  while true do
    local piece, err = req:read(65536)
    if not piece then
      if err then error("echo: " .. err) end
      break
    end
    if not res:write(piece) then return end
  end
end)

route("GET", "/stream", function(req, res)
  local n = math.tointeger(tonumber(param(req.query, "n"))) or 5
  local delay = tonumber(param(req.query, "delay")) or 0
  res:start(200, TEXT)
  for i = 1, n do
    if i > 1 and delay > 0 then gevent.sleep(delay) end
    if not res:write(("line %d\n"):format(i)) then return end
  end
end)

route("GET", "/sleep", function(req)
  gevent.sleep(tonumber(param(req.query, "s")) or 0)
  return 200, TEXT, "slept\n"
end)

route("GET", "/fetch", function(req)
  local url = param(req.query, "url")
  if not url then return 400, TEXT, "url missing\n" end
  local ok, client = pcall(require, "gevent.httpclient")
  if not ok then return 502, TEXT, "no client\n" end
  local resp, err = client.request(url, nil, {timeout = 10})
  if not resp then return 502, TEXT, tostring(err) .. "\n" end
  return 200, TEXT, resp.body
end)

local function handler(req, res)
  local r = routes[req.path]
  if r then
    local method = req.method
    if method == r[1] or (method == "HEAD" and r[1] == "GET") then
      return r[2](req, res)
    end
  end
  return 404, TEXT, "not found\n"
end

local opts = {max_body_size = false}
if certfile then opts.ssl = {certificate = certfile, key = keyfile} end
local server = http.HTTPServer({"127.0.0.1", port}, handler, opts)
server:start()
gevent.signal_handler("SIGTERM", function() server:stop() end)
gevent.signal_handler("SIGINT", function() server:stop() end)
print(("listening on %s:%d"):format(server.address[1], server.address[2]))
io.stdout:flush()
server:serve_forever()
