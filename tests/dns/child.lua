-- child.lua: the resolver checks spec/dns_spec.lua runs inside a private
-- mount and network namespace, where /etc/resolv.conf and /etc/hosts are
-- the test's and tests/dns/responder.py answers on 127.0.0.1:53. Prints
-- "key=value" lines; the spec asserts on them. GVLUA_RESOLVER picks the
-- backend (FULL=1: every check, else the basic ones).
local gevent = require "gevent"
local socket = require "gevent.socket"
local core = require "gvlua"
local mono = core.socket.monotonic

local function put(k, v) print(k .. "=" .. tostring(v)) io.stdout:flush() end

local function addrs(host, family)
  local r, err = socket.getaddrinfo(host, nil, family or "unspec", "stream")
  if not r then return "error: " .. tostring(err) end
  local t = {}
  for _, a in ipairs(r) do t[#t + 1] = a.addr end
  table.sort(t)
  return table.concat(t, ",")
end

put("backend", core.dns._backend())
put("a.test", addrs("a.test"))
put("a.test.inet6", addrs("a.test", "inet6"))
put("fromhosts.test", addrs("fromhosts.test"))
put("shorty", addrs("shorty"))
put("toip", (socket.dns.toip("b.test")))
put("nx", addrs("nope.test"))
if os.getenv("FULL") ~= "1" then return end

-- a nameserver that never answers one name delays no other lookup
local t0 = mono()
local slow = gevent.spawn(function()
  local _, err = socket.getaddrinfo("slow.test")
  return err, mono() - t0
end)
local fast = {}
for i = 1, 3 do
  fast[i] = gevent.spawn(function() return addrs("b.test"), mono() - t0 end)
end
gevent.joinall(fast)
local most = 0
for i = 1, 3 do most = math.max(most, select(2, fast[i]:get())) end
put("fast", fast[1]:get())
put("fast_before_slow", most < 0.5 and not slow.dead)
local err, took = slow:get()
put("slow.err", err)
put("slow.took", ("%.2f"):format(took))

-- killed or timed out: cancelled at once, its socket closed. Sockets
-- talking to a nameserver: UDP sockets connected to port 53 (only this
-- process makes them in this namespace).
local function dns_sockets()
  local n = 0
  for _, f in ipairs{"/proc/net/udp", "/proc/net/udp6"} do
    local fh = io.open(f)
    if fh then
      for line in fh:lines() do
        local rem = line:match("^%s*%d+:%s+%S+%s+(%S+)")
        if rem and rem:match(":0035$") then n = n + 1 end
      end
      fh:close()
    end
  end
  return n
end
local before = dns_sockets()
local g = gevent.spawn(socket.getaddrinfo, "slow2.test")
gevent.sleep(0.1)
local during = dns_sockets()
g:kill()
put("kill.dead", g.dead)
put("kill.sockets", ("%d,%d,%d"):format(before, during, dns_sockets()))
t0 = mono()
local ok, e = pcall(gevent.with_timeout, 0.2, socket.getaddrinfo, "slow3.test")
put("timeout", not ok and gevent.Timeout:is(e))
put("timeout.took", mono() - t0 < 0.6)
put("timeout.sockets", dns_sockets())

-- a late answer after a cancelled lookup does no harm
g = gevent.spawn(socket.getaddrinfo, "late.test")
gevent.sleep(0.05)
g:kill()
put("late", addrs("late.test"))
