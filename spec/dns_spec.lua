-- The resolver (runtime/dns.c, dns_ares.c) as gevent.socket uses it, in a
-- private mount and network namespace (unshare -m -n) with the test's own
-- /etc/resolv.conf and /etc/hosts and a small DNS responder
-- (tests/dns/responder.py) on 127.0.0.1: nothing leaves the machine.
-- The checks run in tests/dns/child.lua under this spec's interpreter.
local socket = require "gevent.socket"
local sp = require "gevent.subprocess"

local source = debug.getinfo(1, "S").source
local root = (source:match("^@(.-)[^/]*$") or "./") .. "../"

local interpreter = require("spec.support.child").interpreter

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local ZONE = [[
a.test A 10.0.0.1
a.test AAAA fd00::1
b.test A 10.0.0.2
shorty.example.test A 10.0.0.3
slow.test DROP
slow2.test DROP
slow3.test DROP
late.test DELAY 0.3
late.test A 10.0.0.4
]]
local HOSTS = "127.0.0.1 localhost\n192.0.2.7 fromhosts.test\n"
              .. "2001:db8::7 fromhosts.test\n"
local RESOLV = "nameserver 127.0.0.1\nsearch example.test\n"
               .. "options ndots:1 timeout:1 attempts:1\n"

-- Runs tests/dns/child.lua in a fresh namespace; returns its key=value
-- lines as a table and the responder's query log as a list.
local function in_namespace(env)
  local dir = sp.check_output({"mktemp", "-d"}):gsub("%s+$", "")
  write(dir .. "/zone", ZONE)
  write(dir .. "/hosts", HOSTS)
  write(dir .. "/resolv.conf", RESOLV)
  write(dir .. "/log", "")
  local script = ([[
set -e
ip link set lo up
mount --bind %s/resolv.conf /etc/resolv.conf
mount --bind %s/hosts /etc/hosts
/usr/bin/python3 %stests/dns/responder.py %s/zone %s/log > %s/ready 2>&1 &
responder=$!
for i in $(seq 1 100); do grep -q ready %s/ready 2>/dev/null && break; sleep 0.05; done
rc=0
env %s %q %stests/dns/child.lua || rc=$?
kill $responder
exit $rc
]]):format(dir, dir, root, dir, dir, dir, dir, env, interpreter(), root)
  local r = sp.run({"unshare", "-m", "-n", "sh", "-c", script},
                   {capture_output = true, timeout = 30})
  local out = {}
  for k, v in (r.stdout or ""):gmatch("([^=\n]+)=([^\n]*)") do out[k] = v end
  local log = {}
  for line in io.lines(dir .. "/log") do log[#log + 1] = line end
  os.execute("rm -rf " .. dir)
  assert(r.returncode == 0, "child failed: " .. tostring(r.stderr))
  return out, log
end

local function count(log, entry)
  local n = 0
  for _, l in ipairs(log) do if l == entry then n = n + 1 end end
  return n
end

describe("the resolver", function()
  it("is c-ares by default and resolves /etc/hosts names without DNS",
     function()
    assert.equal(os.getenv("GVLUA_RESOLVER") == "thread" and "thread"
                 or "ares", require("gvlua").dns._backend())
    local r = assert(socket.getaddrinfo("localhost", 80, "inet", "stream"))
    assert.equal("127.0.0.1", r[1].addr)
    assert.equal(80, r[1].port)
    assert.equal("127.0.0.1", socket.gethostbyname("localhost"))
  end)

  describe("with c-ares in a namespace", function()
    local out, log
    setup(function() out, log = in_namespace("GVLUA_RESOLVER=ares FULL=1") end)

    it("honours resolv.conf and hosts, IPv4 and IPv6", function()
      assert.equal("ares", out.backend)
      assert.equal("10.0.0.1,fd00::1", out["a.test"])
      assert.equal("fd00::1", out["a.test.inet6"])
      assert.equal("192.0.2.7", (out["fromhosts.test"]:match("^[^,]*")))
      assert.matches("2001:db8::7", out["fromhosts.test"], 1, true)
      assert.equal(0, count(log, "fromhosts.test A"))     -- hosts first
      -- search with ndots:1: a bare name gets the domain first
      assert.equal("10.0.0.3", out.shorty)
      assert.equal(1, count(log, "shorty.example.test A"))
      assert.equal(0, count(log, "a.test.example.test A"))
      assert.equal("10.0.0.2", out.toip)
      assert.equal("error: host or service not provided, or not known",
                   out.nx)
    end)

    it("honours timeout and attempts; a silent server delays no one else",
       function()
      assert.equal("10.0.0.2", out.fast)
      assert.equal("true", out.fast_before_slow)
      assert.equal("temporary failure in name resolution", out["slow.err"])
      local took = tonumber(out["slow.took"])
      assert.is_true(took >= 0.9 and took < 3, "took " .. took)
      assert.equal(1, count(log, "slow.test A"))          -- attempts:1
    end)

    it("cancels and frees a lookup whose greenlet is killed or times out",
       function()
      assert.equal("true", out["kill.dead"])
      -- nameserver sockets before, during, after: its socket, then none
      assert.equal("0,1,0", out["kill.sockets"])
      assert.equal("true", out.timeout)
      assert.equal("true", out["timeout.took"])
      assert.equal("0", out["timeout.sockets"])
      assert.equal("10.0.0.4", out.late)
    end)
  end)

  it("keeps the thread resolver selectable (GVLUA_RESOLVER=thread)",
     function()
    local out = in_namespace("GVLUA_RESOLVER=thread")
    assert.equal("thread", out.backend)
    assert.equal("10.0.0.1,fd00::1", out["a.test"])
    assert.equal("10.0.0.3", out.shorty)
    assert.matches("192.0.2.7", out["fromhosts.test"], 1, true)
  end)
end)
