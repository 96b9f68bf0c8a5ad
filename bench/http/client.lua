-- Client benchmark (gvlua): N keep-alive GET requests to URL over C
-- connections (one greenlet each, gevent.httpclient.HTTPClient).
--   gvlua client.lua URL N C      prints RESULT client_rps <req/s> req/s
local gevent = require "gevent"
local httpclient = require "gevent.httpclient"
local mono = require("gvlua").socket.monotonic

local url, n, c = arg[1], tonumber(arg[2] or 20000), tonumber(arg[3] or 10)
local u = assert(httpclient.parse_url(url))
local per = n // c
local t0 = mono()
local gs = {}
for i = 1, c do
  gs[i] = gevent.spawn(function()
    local cl = httpclient.HTTPClient(u.host, u.port)
    for _ = 1, per do
      local r = assert(cl:get(u.target))
      assert(r.status == 200)
    end
  end)
end
gevent.joinall(gs, nil, true)
local dt = mono() - t0
print(("RESULT client_rps %.0f req/s"):format(per * c / dt))
