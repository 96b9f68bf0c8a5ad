-- gevent.socket: LuaSocket's API where every wait blocks only the calling
-- greenlet. 127.0.0.1 only; every wait is bounded.
local gevent = require "gevent"
local socket = require "gevent.socket"
local socket_internal = require "gevent._socket" -- gevent's own helpers
local core = require("gvlua").socket
local dnscore = require("gvlua").dns
local poolcore = require("gvlua").threadpool

local function listener(backlog)
  local s = assert(socket.tcp4())
  assert(s:setoption("reuseaddr", true))
  assert(s:bind("127.0.0.1", 0))
  assert(s:listen(backlog or 64))
  local _, port = s:getsockname()
  return s, tonumber(port)
end

-- a connected pair: client, server side
local function pair()
  local l, port = listener()
  local srv
  local g = gevent.spawn(function() srv = assert(l:accept()) end)
  local c = assert(socket.connect("127.0.0.1", port))
  g:join(2)
  l:close()
  return c, srv
end

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local ticker = dofile(here .. "/support/ticker.lua")

local function elapsed(f, ...)
  local t0 = core.monotonic()
  local r = table.pack(f(...))
  return core.monotonic() - t0, table.unpack(r, 1, r.n)
end

describe("gevent.socket", function()
  it("exposes LuaSocket's API", function()
    for _, k in ipairs{"tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "connect",
                       "connect4", "connect6", "bind", "select", "sleep",
                       "gettime", "try", "newtry", "protect", "skip", "sink",
                       "source", "create_connection", "wait_read",
                       "wait_write", "wait_readwrite", "getaddrinfo",
                       "gethostbyname"} do
      assert.is_not_nil(socket[k], k)
    end
    -- gevent's own helpers are in the private gevent._socket
    assert.is_nil(socket._cooperative_methods)
    assert.is_function(socket_internal.cooperative_methods)
  end)

  it("raises argument errors in Lua's voice, naming the function", function()
    assert.has_error(function() socket.wrap({}) end,
      "bad argument #1 to 'gevent.socket.wrap' (LuaSocket socket expected, "
      .. "got table)")
    assert.has_error(function() socket.connect(nil, 80) end,
      "bad argument #1 to 'gevent.socket.connect' (string expected, got no "
      .. "value)")
    assert.has_error(function() socket.create_connection("nowhere") end,
      "bad argument #1 to 'gevent.socket.create_connection' ({host, port} or "
      .. "\"host:port\" expected, got 'nowhere')")
    assert.has_error(function()
      socket.create_connection({"127.0.0.1", 1}, 1, 42)
    end, "bad argument #3 to 'gevent.socket.create_connection' ({host, port} "
         .. "or \"host:port\" expected, got number)")
    assert.has_error(function() socket.select({}, {}) end,
      "bad argument #3 to 'gevent.socket.select' (nothing to wait for and no "
      .. "timeout: it would block forever)")
    assert.has_error(function() socket.dns.getaddrinfo(1) end,
      "bad argument #1 to 'gevent.socket.dns.getaddrinfo' (string expected, "
      .. "got number)")
    local u = socket.udp()
    assert.has_error(function() u:settimeout({}) end,
      "bad argument #1 to 'settimeout' (number expected, got table)")
    assert.has_error(function() u:settimeout(1, "x") end,
      "bad argument #2 to 'settimeout' (invalid timeout mode)")
    u:close()
    for _, k in ipairs{"toip", "tohostname", "getaddrinfo", "getnameinfo",
                       "gethostname"} do
      assert.is_function(socket.dns[k], k)
    end
    assert.is_not_nil(socket.unix)
    local s = socket.tcp()
    for _, m in ipairs{"accept", "bind", "listen", "connect", "send",
                       "receive", "settimeout", "gettimeout", "shutdown",
                       "close", "getpeername", "getsockname", "getstats",
                       "setstats", "setoption", "getoption", "getfd", "setfd",
                       "dirty", "getfamily"} do
      assert.is_function(s[m], m)
    end
    assert.matches("^tcp{master}: ", tostring(s))
    s:close()
    assert.matches("^tcp{master}: ", tostring(s))
  end)

  it("echoes lines, counts and everything over TCP", function()
    local l, port = listener()
    local got = {}
    local g = gevent.spawn(function()
      local c = assert(l:accept())
      assert.matches("^tcp{client}", tostring(c))
      got.line = c:receive("*l")
      got.default = c:receive()
      got.n = c:receive(5)
      got.all = c:receive("*a")
      c:send("bye\n")
      c:close()
    end)
    local c = assert(socket.connect("127.0.0.1", port))
    local ip, p, fam = c:getpeername()
    assert.are.same({"127.0.0.1", port, "inet"}, {ip, p, fam})
    assert.are.equal(9, c:send("one\r\ntwo\n"))
    assert.are.equal(5, c:send("xxabcdefg", 3, 5)) -- LuaSocket: last index
    c:send("de")
    c:send("rest")
    c:shutdown("send")
    assert.are.equal("bye", c:receive())
    assert.same({nil, "closed", ""}, {c:receive()})
    g:join(2)
    assert.are.same({line = "one", default = "two", n = "abcde", all = "rest"}, got)
    local recv, sent = c:getstats()
    assert.are.equal(4, recv)
    assert.are.equal(18, sent)
    c:close()
    l:close()
  end)

  it("accumulates partial reads across waits, with a prefix", function()
    local c, s = pair()
    local t = ticker()
    local res
    local g = gevent.spawn(function() res = {s:receive(10, "ab")} end)
    c:send("cde")
    gevent.sleep(0.02)
    c:send("fg")
    gevent.sleep(0.02)
    assert.is_nil(res)
    c:send("hijklm")
    g:join(2)
    assert.are.same({"abcdefghij"}, {res[1]})
    assert.are.equal("klm", s:receive(3))
    -- a line split over several segments, "\r" dropped
    gevent.spawn(function()
      for _, part in ipairs{"spl", "it li", "ne\r", "\nnext\n"} do
        c:send(part); gevent.sleep(0.01)
      end
    end)
    assert.are.equal("split line", s:receive("*l"))
    assert.are.equal("next", s:receive("*l"))
    assert.is_true(t.n > 3)
    t.g:kill()
    c:close(); s:close()
  end)

  it("times out in block mode with the partial result", function()
    local c, s = pair()
    s:settimeout(0.05)
    assert.are.same({0.05, -1}, {s:gettimeout()})
    c:send("abc")
    local dt, data, err, partial = elapsed(s.receive, s, 10)
    assert.is_nil(data)
    assert.are.equal("timeout", err)
    assert.are.equal("abc", partial)
    assert.is_true(dt >= 0.04 and dt < 1, tostring(dt))
    -- the block timeout applies to each wait: a trickle keeps it alive
    gevent.spawn(function()
      for i = 1, 6 do gevent.sleep(0.02); c:send(tostring(i)) end
    end)
    assert.are.equal("123456", s:receive(6))
    -- "*l" times out with the partial line
    c:send("no newline")
    assert.are.same({nil, "timeout", "no newline"}, {s:receive("*l")})
    c:close(); s:close()
  end)

  it("times out in total mode across waits", function()
    local c, s = pair()
    s:settimeout(0.1, "t")
    assert.are.same({-1, 0.1}, {s:gettimeout()})
    local feeder = gevent.spawn(function()
      for i = 1, 50 do gevent.sleep(0.02); c:send("x") end
    end)
    local dt, data, err, partial = elapsed(s.receive, s, 100)
    assert.is_nil(data)
    assert.are.equal("timeout", err)
    assert.is_true(#partial >= 1 and #partial <= 8, tostring(#partial))
    assert.is_true(dt >= 0.09 and dt < 1, tostring(dt))
    feeder:kill()
    -- both: block 0.5, total 0.05 -> total wins
    s:settimeout(0.5, "b")
    local dt2 = elapsed(s.receive, s, 1000)
    assert.is_true(dt2 < 0.45, tostring(dt2))
    c:close(); s:close()
  end)

  it("returns at once with timeout 0, and waits forever with nil", function()
    local c, s = pair()
    s:settimeout(0)
    local dt, d, e = elapsed(s.receive, s)
    assert.are.same({nil, "timeout"}, {d, e})
    assert.is_true(dt < 0.2)
    s:settimeout(nil)
    assert.are.same({-1, -1}, {s:gettimeout()})
    gevent.spawn_later(0.05, function() c:send("late\n") end)
    assert.are.equal("late", s:receive())
    c:close(); s:close()
  end)

  it("times out accept and connect", function()
    local l, port = listener(0)
    l:settimeout(0.05)
    local dt, c, err = elapsed(l.accept, l)
    assert.are.same({nil, "timeout"}, {c, err})
    assert.is_true(dt >= 0.04)
    -- backlog 0: after the first, connections wait in SYN retries
    local first = assert(socket.connect("127.0.0.1", port))
    local timed_out = false
    for _ = 1, 4 do
      local s = socket.tcp4()
      s:settimeout(0.1)
      local ok, e = s:connect("127.0.0.1", port)
      s:close()
      if not ok and e == "timeout" then timed_out = true break end
    end
    assert.is_true(timed_out)
    first:close(); l:close()
  end)

  it("reports a refused connection", function()
    local l, port = listener()
    l:close()
    local s = socket.tcp()
    assert.are.same({nil, "connection refused"}, {s:connect("127.0.0.1", port)})
    s:close()
    assert.are.same({nil, "connection refused"},
                    {socket.connect("127.0.0.1", port)})
  end)

  it("sees a peer reset as closed", function()
    local c, s = pair()
    assert(s:setoption("linger", {on = true, timeout = 0}))
    local res
    local g = gevent.spawn(function() res = {c:receive(10)} end)
    gevent.sleep(0.01)
    s:send("12")
    gevent.sleep(0.01)
    s:close() -- RST
    g:join(2)
    assert.is_nil(res[1])
    assert.are.equal("closed", res[2])
    assert.are.equal("12", res[3])
    local ok, err = c:send("more")
    if ok then ok, err = c:send("more") end
    assert.is_nil(ok)
    assert.are.equal("closed", err)
    c:close()
  end)

  it("sends large data cooperatively, with partial sends", function()
    local c, s = pair()
    local data = string.rep("0123456789abcdef", 256 * 1024) -- 4 MiB
    local received = {}
    local reader = gevent.spawn(function()
      while true do
        local d, e, p = s:receive(65536)
        received[#received + 1] = d or p
        if e then break end
        gevent.sleep(0.0005)
      end
    end)
    local t = ticker(0.001)
    assert.are.equal(#data, c:send(data))
    c:close()
    reader:join(10)
    assert.are.equal(#data, #table.concat(received))
    assert.is_true(t.n > 2)
    t.g:kill()
    s:close()
    -- a send timeout returns the last index sent
    local c2, s2 = pair()
    c2:settimeout(0.05)
    local sent, err, last = c2:send(data)
    assert.is_nil(sent)
    assert.are.equal("timeout", err)
    assert.is_true(last > 0 and last < #data)
    c2:close(); s2:close()
  end)

  it("wakes a greenlet waiting on a socket that another closes", function()
    local c, s = pair()
    local res
    local g = gevent.spawn(function() res = {s:receive("*l")} end)
    gevent.sleep(0.01)
    c:send("part")
    gevent.sleep(0.01)
    s:close()
    g:join(1)
    assert.is_true(g.dead)
    assert.are.same({nil, "closed", "part"}, res)
    -- a waiter in accept
    local l = listener()
    local ares
    local g2 = gevent.spawn(function() ares = {l:accept()} end)
    gevent.sleep(0.01)
    l:close()
    g2:join(1)
    assert.are.same({nil, "closed"}, ares)
    c:close()
  end)

  it("can be killed during connect, accept and receive", function()
    local l, port = listener(0)
    local first = assert(socket.connect("127.0.0.1", port))
    -- connect: backlog full, the connection hangs in SYN retries
    local conns = {}
    local gs = {}
    for i = 1, 3 do
      gs[i] = gevent.spawn(function()
        conns[i] = socket.tcp4()
        conns[i]:connect("127.0.0.1", port)
        conns[i] = "connected"
      end)
    end
    gevent.sleep(0.05)
    local blocked
    for i = 1, 3 do if not gs[i].dead then blocked = gs[i] end end
    assert.is_not_nil(blocked)
    blocked:kill()
    assert.is_true(blocked.dead)
    for i = 1, 3 do gs[i]:kill() end
    for _, c in pairs(conns) do if type(c) ~= "string" then c:close() end end
    first:close()
    l:close()
    -- accept
    local l2, port2 = listener()
    local ga = gevent.spawn(function() l2:accept() end)
    gevent.sleep(0.01)
    ga:kill()
    assert.is_true(ga.dead)
    -- the listener still works afterwards
    local got
    gevent.spawn(function() got = l2:accept() end)
    local c = assert(socket.connect("127.0.0.1", port2))
    gevent.sleep(0.01)
    assert.is_not_nil(got)
    -- receive
    local gr = gevent.spawn(function() got:receive() end)
    gevent.sleep(0.01)
    gr:kill()
    assert.is_true(gr.dead)
    c:send("still fine\n")
    got:settimeout(1)
    assert.are.equal("still fine", got:receive())
    c:close(); got:close(); l2:close()
  end)

  it("raises a gevent.Timeout at a socket wait", function()
    local c, s = pair()
    local t = gevent.Timeout(0.03)
    t:start()
    local ok, err = pcall(s.receive, s)
    t:cancel()
    assert.is_false(ok)
    assert.are.equal(t, err)
    -- the socket is usable afterwards
    c:send("ok\n")
    s:settimeout(1)
    assert.are.equal("ok", s:receive())
    c:close(); s:close()
  end)

  it("does UDP", function()
    local a = assert(socket.udp4())
    assert(a:setsockname("127.0.0.1", 0))
    local _, aport = a:getsockname()
    local b = assert(socket.udp())
    assert(b:setsockname("127.0.0.1", 0))
    local _, bport = b:getsockname()
    local res
    local g = gevent.spawn(function() res = {a:receivefrom()} end)
    gevent.sleep(0.01)
    assert.is_nil(res)
    assert(b:sendto("ping", "127.0.0.1", aport))
    g:join(1)
    assert.are.same({"ping", "127.0.0.1", tonumber(bport)}, res)
    -- connected
    assert(b:setpeername("localhost", aport))
    assert.matches("^udp{connected}", tostring(b))
    assert(b:send("pong"))
    assert.are.equal("pong", a:receive())
    -- timeout
    a:settimeout(0.03)
    local dt, d, e = elapsed(a.receive, a)
    assert.are.same({nil, "timeout"}, {d, e})
    assert.is_true(dt >= 0.02 and dt < 1)
    a:close(); b:close()
  end)

  it("does unix stream and datagram sockets", function()
    assert.is_not_nil(socket.unix)
    local path = os.tmpname()
    os.remove(path)
    local l = assert(socket.unix())
    assert(l:bind(path))
    assert(l:listen(8))
    local got
    local g = gevent.spawn(function()
      local c = assert(l:accept())
      got = c:receive("*l")
      c:send(got:upper() .. "\n")
      c:close()
    end)
    local c = assert(socket.unix.stream())
    assert(c:connect(path))
    gevent.sleep(0.01)
    c:send("hello unix\n")
    c:settimeout(1)
    assert.are.equal("HELLO UNIX", c:receive())
    assert.are.same({nil, "closed", ""}, {c:receive()})
    g:join(1)
    c:close(); l:close()
    os.remove(path)
    -- datagram
    local p1, p2 = os.tmpname(), os.tmpname()
    os.remove(p1); os.remove(p2)
    local d1 = assert(socket.unix.dgram())
    assert(d1:bind(p1))
    local d2 = assert(socket.unix.dgram())
    assert(d2:bind(p2))
    local res
    local g2 = gevent.spawn(function() res = d1:receive() end)
    gevent.sleep(0.01)
    assert(d2:sendto("dgram", p1))
    g2:join(1)
    assert.are.equal("dgram", res)
    d1:close(); d2:close()
    os.remove(p1); os.remove(p2)
  end)

  it("resolves names on the thread pool while other greenlets run", function()
    local t = ticker(0.001)
    local jobs = dnscore._lookups()
    local ip, resolved = socket.dns.toip("localhost")
    assert.are.equal("127.0.0.1", ip)
    assert.is_table(resolved.ip)
    assert.are.equal("127.0.0.1", socket.gethostbyname("localhost"))
    local infos = assert(socket.dns.getaddrinfo("localhost"))
    local found = false
    for _, i in ipairs(infos) do
      if i.addr == "127.0.0.1" then found = i.family == "inet" end
    end
    assert.is_true(found)
    local ai = assert(socket.getaddrinfo("localhost", 80, "inet", "stream"))
    assert.are.equal(80, ai[1].port)
    assert.are.equal("127.0.0.1", ai[1].addr)
    assert.is_true(dnscore._lookups() >= jobs + 4)
    -- numeric addresses do not go to the pool
    local j2 = dnscore._lookups()
    assert.are.equal("127.0.0.1", socket.gethostbyname("127.0.0.1"))
    local c, s = pair()
    c:close(); s:close()
    assert.are.equal(j2, dnscore._lookups())
    -- errors as LuaSocket words them
    assert.are.same({nil, "host or service not provided, or not known"},
                    {socket.dns.getaddrinfo("no-such-host.invalid")})
    -- the pool keeps the hub running: a 0.2 s job on an OS thread
    local n0 = t.n
    local dt = elapsed(poolcore._sleep_job, 0.2)
    assert.is_true(dt >= 0.19)
    assert.is_true(t.n - n0 >= 10, tostring(t.n - n0))
    -- connect by name
    local l, port = listener()
    gevent.spawn(function() local x = l:accept(); if x then x:close() end end)
    local cn = assert(socket.connect("localhost", port))
    cn:close(); l:close()
    t.g:kill()
  end)

  it("a pending pool job keeps the loop alive; an idle pool does not", function()
    -- only the pool job can wake the main greenlet: no LoopExit
    assert.is_true(poolcore._sleep_job(0.05))
    -- a timed-out wait abandons the job, which finishes later
    assert.are.same({nil, "timeout"}, {poolcore._sleep_job(0.1, 0.01)})
    gevent.sleep(0.15)
    -- a kill or a Timeout cuts the wait short too
    local g = gevent.spawn(poolcore._sleep_job, 0.1)
    gevent.sleep(0.01)
    g:kill()
    assert.is_true(g.dead)
    local t = gevent.Timeout(0.01):start()
    local ok, err = pcall(poolcore._sleep_job, 0.1)
    assert.is_false(ok)
    assert.are.equal(t, err)
    local gd = gevent.spawn(socket.dns.toip, "localhost")
    gd:kill()
    gevent.sleep(0.15)
    -- an idle pool does not keep gevent.wait() from returning
    local dt = elapsed(gevent.wait)
    assert.is_true(dt < 0.5)
  end)

  it("returns what LuaSocket returns on a UDP receive timeout", function()
    local u = assert(socket.udp())
    assert(u:setsockname("127.0.0.1", 0))
    u:settimeout(0.01)
    for _ = 1, 2 do -- the second time the socket waits first
      local r = table.pack(u:receive())
      assert.are.same({nil, "timeout", n = 2}, r)
    end
    local _, port = u:getsockname()
    local v = assert(socket.udp())
    assert(v:sendto("datagram", "127.0.0.1", port))
    assert.are.same({"datagram", n = 1}, table.pack(u:receive()))
    u:close(); v:close()
  end)

  it("reads lines already buffered after a receive that had to wait", function()
    local c, srv = pair()
    srv:settimeout(1)
    local lines = {}
    local reader = gevent.spawn(function()
      for i = 1, 3 do lines[i] = srv:receive("*l") end
    end)
    gevent.sleep(0.01)          -- the reader waits: no data yet
    c:send("one\ntwo\nthree\n") -- then all three lines arrive at once
    reader:join(2)
    assert.are.same({"one", "two", "three"}, lines)
    -- and a later line still needs (and gets) a wait
    local g = gevent.spawn(function() return srv:receive("*l") end)
    gevent.sleep(0.01)
    c:send("four\n")
    assert.are.equal("four", g:get(true, 2))
    c:close(); srv:close()
  end)

  it("reads lines already buffered on the fast path (no timeout) too", function()
    local c, srv = pair()
    local lines = {}
    local reader = gevent.spawn(function()
      for i = 1, 4 do lines[i] = srv:receive("*l") end
    end)
    gevent.sleep(0.01)            -- waits: no data yet
    c:send("zero\n")
    gevent.sleep(0.01)            -- waited once: now it waits first
    c:send("one\ntwo\nthree\n")  -- three lines in LuaSocket's buffer at once
    reader:join(2)
    assert.is_true(reader.dead)
    assert.are.same({"zero", "one", "two", "three"}, lines)
    c:close(); srv:close()
  end)

  it("receives and sends through a proxy's own fast paths, honouring another self", function()
    local c, s = pair()
    local c2, s2 = pair()
    local got = {}
    local g = gevent.spawn(function()
      for i = 1, 3 do got[i] = s:receive("*l") end   -- waits first from the 2nd on
      got[4] = s.receive(s2, "*l")                   -- s's method, s2 as self
    end)
    for _, line in ipairs{"a", "b", "c"} do
      gevent.sleep(0.01)
      c:send(line .. "\n")
    end
    gevent.sleep(0.01)
    c2:send("other\n")
    g:join(2)
    assert.are.same({"a", "b", "c", "other"}, got)
    -- send: its own fast path too, continuing partial sends where they
    -- stopped; with another self it sends on that one
    local big = {}
    for i = 1, 1000000 do big[i] = ("%07d\n"):format(i) end
    big = table.concat(big)                         -- 8 MB, 8 bytes a line
    local w = gevent.spawn(function()
      return {s:send("x\n"), s:send(big, 9), s.send(s2, "to s2\n")}
    end)
    c:settimeout(5); c2:settimeout(5)
    assert.are.equal("x", c:receive("*l"))
    local back = assert(c:receive(#big - 8))
    assert.are.equal(big:sub(9), back)
    assert.are.equal("to s2", c2:receive("*l"))
    assert.are.same({2, #big, 6}, w:get(true, 5))
    for _, x in ipairs{c, s, c2, s2} do x:close() end
  end)

  it("keeps LuaSocket's results, buffer and stats on the direct fast path", function()
    local c, s = pair()
    local got = {}
    local g = gevent.spawn(function()
      got[1] = s:receive("*l")              -- waits: from now on it waits first
      got[2] = {s:receive(5)}               -- whole count at once
      got[3] = {s:receive(5)}               -- 3 bytes, then 2 more later
      got[4] = {s:receive(4)}               -- 10 bytes there: takes 4
      got[5] = {s:receive(6)}               -- the other 6
      got[6] = {s:receive(3)}               -- the peer closes
    end)
    gevent.sleep(0.01); c:send("hello\n")
    gevent.sleep(0.01); c:send("abcde")
    gevent.sleep(0.01); c:send("fgh")
    gevent.sleep(0.01); c:send("ij")
    gevent.sleep(0.01); c:send("0123456789")
    gevent.sleep(0.01); c:close()
    g:join(2)
    assert.is_true(g.dead)
    assert.are.same({"abcde"}, got[2])
    assert.are.same({"fghij"}, got[3])
    assert.are.same({"0123"}, got[4])
    assert.are.same({"456789"}, got[5])
    assert.are.same({nil, "closed", ""}, got[6])
    local raw = socket.unwrap(s)
    local received = raw:getstats()
    assert.are.equal(6 + 5 + 5 + 4 + 6, received)
    -- send: the same values as LuaSocket's own send, counted in its stats
    local c2, s2 = pair()
    local r1 = {s2:send("x")}                 -- adopts the socket
    local r2 = {s2:send("abc")}               -- the fast path from here on
    local ref = {socket.unwrap(c2).send(socket.unwrap(c2), "abc")}
    assert.are.same(ref, r2)
    assert.are.equal(math.type(ref[1]), math.type(r2[1]))
    assert.are.same({1}, {r1[1]})
    assert.are.equal(4, select(2, socket.unwrap(s2):getstats()))
    assert.are.equal("xabc", c2:receive(4))
    s:close(); c2:close(); s2:close()
  end)

  it("checks LuaSocket's object layout before reading it directly", function()
    local sc = require "socket.core"
    local t = sc.tcp4()
    local _, direct = core.watcher(t, t:getfd())
    if sc._VERSION:match("^LuaSocket 3%.") then assert.is_true(direct) end
    assert.is_false(select(2, core.watcher(t, t:getfd() + 1))) -- not its fd
    local u = sc.udp()
    assert.is_false(select(2, core.watcher(u, u:getfd())))     -- no buffer
    assert.is_false(select(2, core.watcher(io.stdout, 1)))      -- not LuaSocket
    assert.is_false(select(2, core.watcher()))
    t:close(); u:close()
  end)

  it("a socket closed behind its back, or collected, leaves its fd to the next", function()
    local l, port = listener()
    local function armed_pair()
      local c = assert(socket.connect("127.0.0.1", port))
      local s = assert(l:accept())
      local g = gevent.spawn(function() return s:receive("*l") end)
      gevent.sleep(0.01)          -- s's watcher is armed by this wait
      c:send("hi\n")
      assert.are.equal("hi", g:get(true, 2))
      return c, s
    end
    local function next_on(fd)
      local c2 = assert(socket.connect("127.0.0.1", port))
      assert.are.equal(fd, c2:getfd()) -- the number was reused
      local s2 = assert(l:accept())
      local g = gevent.spawn(function() return c2:receive("*l") end)
      gevent.sleep(0.01)
      s2:send("fresh\n")
      assert.are.equal("fresh", g:get(true, 2))
      c2:close(); s2:close()
    end
    -- LuaSocket's own close: gevent.socket never hears of it
    local c, s = armed_pair()
    local fd = s:getfd()
    local raw = socket.unwrap(s)
    local close = getmetatable(raw).__index.close
    assert.are.equal("C", debug.getinfo(close, "S").what) -- unpatched
    close(raw)
    assert.are.same({nil, "closed", ""}, {s:receive("*l")})
    next_on(fd)
    c:close()
    -- collected: LuaSocket's __gc closes the fd
    c, s = armed_pair()
    fd = s:getfd()
    s, raw = nil, nil -- luacheck: ignore 311 (dropped for the collector)
    collectgarbage(); collectgarbage()
    next_on(fd)
    c:close(); l:close()
  end)

  it("lets one greenlet read while another writes on the same socket", function()
    local c, s = pair()
    local big = string.rep("x", 4 * 1024 * 1024)
    local line
    local reader = gevent.spawn(function() line = s:receive("*l") end)
    local writer = gevent.spawn(function() return s:send(big) end)
    gevent.sleep(0.01)
    assert.is_false(writer.dead)  -- blocked: nobody reads yet
    local n = 0
    while n < #big do n = n + #assert(c:receive(65536)) end
    c:send("done\n")
    assert.are.equal(#big, writer:get(true, 5))
    reader:join(2)
    assert.are.equal("done", line)
    c:close(); s:close()
  end)

  it("serves two greenlets reading the same socket", function()
    local c, s = pair()
    local got = {}
    local gs = {}
    for i = 1, 2 do
      gs[i] = gevent.spawn(function()
        local line = s:receive("*l")
        got[#got + 1] = line
      end)
    end
    gevent.sleep(0.01)
    c:send("one\n")
    gevent.sleep(0.01)
    c:send("two\n")
    gevent.joinall(gs, 2)
    table.sort(got)
    assert.are.same({"one", "two"}, got)
    c:close(); s:close()
  end)

  it("has create_connection, wait_read and wait_write", function()
    local l, port = listener()
    local srv
    gevent.spawn(function() srv = l:accept() end)
    local c = assert(socket.create_connection({"127.0.0.1", port}, 1))
    assert.are.same({1, -1}, {c:gettimeout()})
    gevent.sleep(0.01)
    local c2 = assert(socket.create_connection("localhost:" .. port))
    c2:close()
    assert.are.same({nil, "timeout"}, {socket.wait_read(c:getfd(), 0.02)})
    assert.are.same({nil, "timeout"}, {socket.wait_read(c, 0.02)})
    assert.is_true(socket.wait_write(c:getfd(), 1))
    gevent.spawn_later(0.02, function() srv:send("x") end)
    assert.is_true(socket.wait_read(c, 1))
    assert.is_true(socket.wait_readwrite(c, 1))
    -- closing wakes wait_read with "closed"
    local r
    local g = gevent.spawn(function() r = {socket.wait_read(srv)} end)
    gevent.sleep(0.01)
    srv:close()
    g:join(1)
    assert.are.same({nil, "closed"}, r)
    c:close(); l:close()
    local refused = socket.create_connection({"127.0.0.1", port}, 1)
    assert.is_nil(refused)
  end)

  it("handles 2,000 concurrent connections", function()
    local h = io.popen("sh -c 'ulimit -n'")
    local limit = tonumber(h:read("*l")) or 0
    h:close()
    if limit < 4200 then
      pending(("ulimit -n is %d; 2,000 connections need about 4,100 fds"):format(limit))
      return
    end
    local N = 2000
    local l, port = listener(4096)
    local server_side = {}
    local acceptor = gevent.spawn(function()
      while true do
        local c = l:accept()
        if not c then break end
        server_side[#server_side + 1] = c
        gevent.spawn(function()
          local line = c:receive("*l")
          if line then c:send(line .. "!\n") end
        end)
      end
    end)
    local connected, done, ok = 0, 0, 0
    local clients = {}
    for i = 1, N do
      clients[i] = gevent.spawn(function()
        local c = socket.tcp4()
        c:settimeout(20)
        assert(c:connect("127.0.0.1", port))
        connected = connected + 1
        -- hold every connection open until all are made
        while connected < N do gevent.sleep(0.01) end
        c:send("n" .. i .. "\n")
        if c:receive("*l") == "n" .. i .. "!" then ok = ok + 1 end
        c:close()
        done = done + 1
      end)
    end
    local t0 = core.monotonic()
    gevent.joinall(clients, 30)
    assert.are.equal(N, connected)
    assert.are.equal(N, ok)
    assert.is_true(core.monotonic() - t0 < 30)
    l:close()
    acceptor:join(1)
    for _, c in ipairs(server_side) do c:close() end
  end)

  it("selects like LuaSocket", function()
    local c, s = pair()
    local r, w, err = socket.select({s}, {c}, 0.5)
    assert.are.equal(0, #r)
    assert.are.equal(1, #w)
    assert.are.equal(c, w[1])
    assert.are.equal(1, w[c])
    assert.is_nil(err)
    local t0 = core.monotonic()
    r, w, err = socket.select({s}, nil, 0.03)
    assert.are.same({}, r)
    assert.are.same({}, w)
    assert.are.equal("timeout", err)
    assert.is_true(core.monotonic() - t0 >= 0.02)
    gevent.spawn_later(0.02, function() c:send("a\nb\n") end)
    r = socket.select({s}, nil, 1)
    assert.are.equal(s, r[1])
    assert.are.equal("a", s:receive())
    -- buffered data makes it readable at once (dirty)
    assert.is_true(s:dirty())
    r = socket.select({s}, nil, 0)
    assert.are.equal(s, r[1])
    c:close(); s:close()
  end)

  it("gives monkey patching cooperative methods for LuaSocket's classes", function()
    local reg = debug.getregistry()
    local orig = reg["tcp{client}"].__index
    local coop = socket_internal.cooperative_methods(orig)
    for k, v in pairs(orig) do
      assert.are.equal(type(v), type(coop[k]), k)
    end
    assert.are_not.equal(orig.receive, coop.receive)
    assert.are.equal(orig.getfd, coop.getfd)
    -- twice: wraps the originals, not the wrappers
    local patched = setmetatable({}, {__index = orig})
    patched.receive = coop.receive
    local coop2 = socket_internal.cooperative_methods(patched)
    assert.are_not.equal(coop.receive, coop2.receive)
    -- used on a raw LuaSocket object
    local c, s = pair()
    local raw = socket.unwrap(s)
    local t = ticker(0.002)
    gevent.spawn_later(0.05, function() c:send("raw\n") end)
    assert.are.equal("raw", coop.receive(raw))
    assert.is_true(t.n >= 3)
    coop.settimeout(raw, 0.02)
    assert.are.same({nil, "timeout", ""}, {coop.receive(raw)})
    t.g:kill()
    c:close(); s:close()
  end)

  it("patches LuaSocket in place (socket.http cooperates), and undoes it", function()
    local ls = require "socket"
    local http = require "socket.http"
    local reg = debug.getregistry()
    local before = reg["tcp{client}"].__index.receive
    local server = require("gevent.server").StreamServer({"127.0.0.1", 0},
      function(sock)
        repeat local l = sock:receive("*l") until l == "" or l == nil
        gevent.sleep(0.05)
        sock:send("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
      end):start()
    local made_before = ls.tcp() -- made before patching: cooperates too
    local unpatch = socket_internal.patch_luasocket()
    assert.are_not.equal(before, reg["tcp{client}"].__index.receive)
    local again = socket_internal.patch_luasocket() -- idempotent
    again()
    local t = ticker(0.002)
    local bodies = {}
    local gs = {}
    for i = 1, 5 do
      gs[i] = gevent.spawn(function()
        bodies[i] = http.request("http://localhost:" .. server.address[2] .. "/")
      end)
    end
    gevent.joinall(gs, 5)
    for i = 1, 5 do assert.are.equal("hello", bodies[i]) end
    assert.is_true(t.n >= 5) -- the requests (0.05 s each, in parallel) did not block
    -- LuaSocket's own connect/select are cooperative and return raw objects
    local raw = assert(ls.connect("127.0.0.1", server.address[2]))
    assert.matches("^tcp{client}", tostring(raw))
    assert.is_nil(getmetatable(raw).__name == "gevent.socket.tcp" or nil)
    raw:send("GET / HTTP/1.0\r\n\r\n")
    local r = ls.select({raw}, nil, 2)
    assert.are.equal(raw, r[1])
    raw:close()
    assert(made_before:connect("127.0.0.1", server.address[2]))
    made_before:close()
    unpatch()
    assert.are.equal(before, reg["tcp{client}"].__index.receive)
    t.g:kill()
    server:stop()
  end)
end)

-- Issue 9, item 0: buffered data always comes before "closed", whatever
-- path the receive takes (the proxy's C fast path, the general one, a raw
-- LuaSocket object patched in place), as LuaSocket's own blocking receive.
describe("gevent.socket receive before close", function()
  -- peer sends each piece, pausing between them so that the reader's
  -- receives run out of data and wait, then closes
  local function feed(s, pieces)
    return gevent.spawn(function()
      for _, p in ipairs(pieces) do
        gevent.sleep(0.01)
        assert(s:send(p))
      end
      gevent.sleep(0.01)
      s:close()
    end)
  end

  local function mixed(c, s)
    local g = feed(s, {"unix line\ndos ", "line\r\nraw by", "tesend ta", "il"})
    local got = {}
    got[1] = {c:receive()}
    got[2] = {c:receive()}
    got[3] = {c:receive(9)}
    got[4] = {c:receive("*a")}
    got[5] = {c:receive("*a")}
    assert.is_true(g:join(2))
    assert.are.same({{"unix line", nil, nil}, {"dos line", nil, nil},
                     {"raw bytes", nil, nil}, {"end tail", nil, nil},
                     {nil, "closed", ""}}, got)
  end

  it("returns all of '*a' when the close comes after a wait (proxy)", function()
    local c, s = pair()
    mixed(c, s)
    c:close()
  end)

  it("returns all of '*a' on the general path (another self)", function()
    local c, s = pair()
    local recv = c.receive
    local proxy = setmetatable({_sock = c._sock, _st = c._st},
                               getmetatable(c))
    local g = feed(s, {"ab", "cd", "ef"})
    assert.are.same({"abcdef", nil, nil}, {recv(proxy, "*a")})
    assert.is_true(g:join(2))
    c:close()
  end)

  it("keeps the caller's prefix apart from what this call read", function()
    local c, s = pair()
    local g = feed(s, {})
    -- nothing new arrives before the close: LuaSocket says "closed"
    assert.are.same({nil, "closed", "pre"}, {c:receive("*a", "pre")})
    assert.is_true(g:join(2))
    c:close()
    c, s = pair()
    g = feed(s, {"x", "y"})
    assert.are.same({"prexy", nil, nil}, {c:receive("*a", "pre")})
    assert.is_true(g:join(2))
    c:close()
  end)

  it("answers from the prefix at once, as LuaSocket, even after a wait", function()
    local c, s = pair()
    c:settimeout(1)
    gevent.spawn_later(0.01, function() s:send("7890") end)
    assert.are.equal("1234567890", c:receive(10, "123456")) -- waited
    local dt, back = elapsed(c.receive, c, 8, "87654321")
    assert.are.equal("87654321", back)
    assert.is_true(dt < 0.5, "waited " .. dt)
    assert.are.equal("87654321", (c:receive(4, "87654321")))
    -- a bad pattern raises at once instead of waiting for data first
    dt = elapsed(pcall, c.receive, c, "*x")
    assert.is_true(dt < 0.5, "waited " .. dt)
    assert.is_false((pcall(c.receive, c, -1)))
    c:close(); s:close()
  end)
end)

describe("gevent.socket receive with no time to wait", function()
  it("still tries the receive with a timeout of 0 after waiting first", function()
    local c, s = pair()
    gevent.spawn_later(0.01, function() s:send("one\n") end)
    assert.are.equal("one", c:receive())   -- waited: now it waits first
    c:settimeout(0)
    s:send("two\n")
    gevent.sleep(0.02)                     -- "two" is there, unread
    local got, err
    for _ = 1, 3 do
      got, err = c:receive()
      if got then break end
    end
    assert.are.same({"two", nil}, {got, err})
    assert.are.same({nil, "timeout", ""}, {c:receive()})
    c:close(); s:close()
  end)
end)

-- Issue 9, item 1: an fd argument that is not a valid open fd is an error
-- in the caller; libev never sees it (it aborts the process on one) and
-- the hub keeps running.
describe("gevent.socket fd arguments", function()
  local function closed_fd()
    local u = assert(socket.udp4())
    local fd = math.tointeger(u:getfd())
    u:close()
    return fd
  end

  it("reject numbers that are not an fd with 'bad argument'", function()
    for _, f in ipairs{socket.wait_read, socket.wait_write,
                       socket.wait_readwrite} do
      for _, fd in ipairs{2^31 - 1, 2^32 + 5, 2^53, 1.5, -1, -2^40,
                          math.huge, 0 / 0} do
        local ok, err = pcall(f, fd, 0.01)
        assert.is_false(ok, tostring(fd))
        assert.matches("bad argument #1", err)
      end
      assert.has_error(function() f("x", 0.01) end)
      assert.has_error(function() f({getfd = function() return 2^40 end}) end)
    end
    assert.has_error(function() socket.wait(2^32 + 5, 1, 0.01) end)
    assert.has_error(function() socket.cancel_wait(2^32 + 5) end)
    assert.is_true(gevent.sleep(0) == nil)        -- the hub is intact
  end)

  it("raise for a closed fd, and for the hub's own", function()
    local fd = closed_fd()
    local ok, err = pcall(socket.wait_read, fd, 1)
    assert.is_false(ok)
    assert.matches("file descriptor " .. fd .. " is not open", err)
    ok, err = pcall(socket.wait, fd, 3, 1)
    assert.is_false(ok)
    assert.matches("is not open", err)
    -- two of the low fds are libev's (epoll, eventfd): refused, no abort
    local own = 0
    for n = 0, 16 do
      local ok2, e = pcall(socket.wait_readwrite, n, 0)
      if not ok2 and e:find("hub's own", 1, true) then own = own + 1 end
    end
    assert.are.equal(2, own)
    assert.is_nil(gevent.sleep(0.001))
  end)

  it("a wait on an fd closed behind its back ends with 'closed'", function()
    local sc = require "socket.core"
    -- closed after the wait began, before the hub gave it to epoll
    local u = sc.udp4()
    local fd = u:getfd()
    local g = gevent.spawn(function() return socket.wait_read(fd, 2) end)
    gevent.spawn(function() u:close() end)
    assert.are.same({nil, "closed"}, {g:get(true, 2)})
    -- a socket's own watcher too: closed by LuaSocket's own close
    local c, s = pair()
    local raw = socket.unwrap(s)
    local rclose = getmetatable(raw).__index.close
    local r = gevent.spawn(function() return {s:receive()} end)
    local w = gevent.spawn(function() return socket.wait_read(s, 2) end)
    gevent.spawn(function() rclose(raw) end)
    local got = r:get(true, 2)
    assert.are.equal("closed", got[2])
    assert.are.equal(nil, (w:get(true, 2)))
    c:close()
    assert.is_nil(gevent.sleep(0.001))
  end)
end)

-- Happy eyeballs (RFC 8305) in create_connection: a blackholed first
-- address (a listener whose accept queue is full drops SYNs) does not hold
-- up the next one for the whole timeout.
describe("create_connection with several addresses", function()
  local mono = require("gvlua").socket.monotonic

  local function blackhole6()
    local bh = assert(socket.tcp6())
    assert(bh:setoption("reuseaddr", true))
    assert(bh:bind("::1", 0))
    assert(bh:listen(0))
    local _, port = bh:getsockname()
    local filler = socket.tcp6()
    filler:settimeout(2)
    assert(filler:connect("::1", tonumber(port)))   -- fills the queue
    return bh, filler, tonumber(port)
  end

  it("starts the next family after the delay; the first made wins",
     function()
    local bh, filler, port = blackhole6()
    local good = assert(socket.bind("127.0.0.1", port))
    local g = gevent.spawn(function()
      local c = good:accept()
      c:send("hi\n")
      c:close()
    end)
    local t0 = mono()
    local c, err = socket_internal.connect_any({"::1", "127.0.0.1"}, port, 10)
    local took = mono() - t0
    assert.is_truthy(c, err)
    assert.equal("127.0.0.1", (c:getpeername()))
    assert.equal("hi", c:receive())
    -- after the delay (give or take the clocks' grain), far from the
    -- 10 s timeout the blackholed attempt alone would have taken
    assert.is_true(took >= 0.8 * socket.happy_eyeballs_delay and took < 5,
                   "took " .. took)
    c:close()
    g:join(1)
    for _, s in ipairs{good, filler, bh} do s:close() end
  end)

  it("tries the next address at once when one is refused", function()
    local l = assert(socket.bind("127.0.0.1", 0))
    local _, port = l:getsockname()
    local saved = socket.happy_eyeballs_delay
    socket.happy_eyeballs_delay = 30   -- only a refusal can move it on
    local c, err = socket_internal.connect_any({"::1", "127.0.0.1"}, tonumber(port), 5)
    socket.happy_eyeballs_delay = saved
    assert.is_truthy(c, err)
    c:close()
    l:close()
    local r, e = socket_internal.connect_any({"::1", "127.0.0.1"}, 1, 5)
    assert.is_nil(r)
    assert.equal("connection refused", e)
  end)

  it("closes the attempts still running when it is killed", function()
    -- connections being made to the blackhole: SYN_SENT (02) to its port
    local function connecting(port)
      local n = 0
      local f = assert(io.open("/proc/net/tcp6"))
      for line in f:lines() do
        local rem, st = line:match("^%s*%d+:%s+%S+%s+(%S+)%s+(%x%x)")
        if rem and st == "02" and rem:match(":(%x+)$") ==
           ("%04X"):format(port) then
          n = n + 1
        end
      end
      f:close()
      return n
    end
    local bh, filler, port = blackhole6()
    local g = gevent.spawn(socket_internal.connect_any, {"::1", "::1"}, port, 10)
    gevent.sleep(socket.happy_eyeballs_delay + 0.3)  -- both started, stuck
    assert.equal(2, connecting(port))
    g:kill()
    assert.is_true(g.dead)
    assert.equal(0, connecting(port))
    filler:close()
    bh:close()
  end)
end)

-- Issue 9, item 8: lookups still queued or running on the work pool, or
-- finished but not handed back, when the process exits are released (the
-- ASan run's LeakSanitizer checks the child's exit).
describe("DNS lookups at exit", function()
  local child = dofile(here .. "/support/child.lua").run

  for _, busy in ipairs{0, 12} do
    it(("leave nothing behind (%d pool jobs ahead of them)"):format(busy), function()
      local r = child(([[
        local gevent = require "gevent"
        local socket = require "gevent.socket"
        local tp = require("gvlua").threadpool
        for _ = 1, %d do gevent.spawn(tp._sleep_job, 0.3, 0) end
        for i = 1, 3 do
          gevent.spawn(socket.getaddrinfo, "slow-" .. i .. ".invalid", 80)
          gevent.spawn(socket.dns.toip, "slow-h" .. i .. ".invalid")
          gevent.spawn(socket.dns.getnameinfo, "slow-n" .. i .. ".invalid")
        end
        gevent.sleep(0)
        local t = os.clock() + 0.05 -- let them finish, unseen by the hub
        while os.clock() < t do end
        print("exit")
      ]]):format(busy))
      assert.are.equal("exit\n", r.out)
      assert.are.equal(0, r.rc, r.err)
      assert.is_nil(r.err:find("LeakSanitizer", 1, true), r.err)
    end)
  end
end)

-- Issue 9, error messages: a method called on a closed gevent.socket says
-- it is closed; a wrong self or a wrong class is named by the method.
describe("a closed gevent.socket", function()
  it("answers nil, 'closed'", function()
    local c, s = pair()
    c:close()
    for _, m in ipairs{"receive", "send", "getpeername", "getsockname",
                       "setoption", "getoption", "shutdown", "connect",
                       "bind", "listen", "accept"} do
      local args = ({send = {"x"}, setoption = {"tcp-nodelay", true},
                     getoption = {"tcp-nodelay"}, connect = {"127.0.0.1", 1},
                     bind = {"127.0.0.1", 0}})[m] or {}
      local r = {c[m](c, table.unpack(args))}
      assert.are.equal(nil, r[1], m)
      assert.are.equal("closed", r[2], m)
    end
    assert.are.equal(-1, c:getfd())
    assert.are.equal(1, c:close())
    s:close()
  end)

  it("names the method for a wrong self or class", function()
    local t = socket.tcp4()
    local ok, e = pcall(t.bind, 5)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'bind' %(gevent.socket.tcp expected, "
                   .. "got number%)", e)
    ok, e = pcall(t.receive, "x")
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'receive' %(gevent.socket object "
                   .. "expected", e)
    ok, e = pcall(t.accept, t)            -- a master, not a server
    assert.is_false(ok)
    assert.matches("'accept'", e)
    t:close()
  end)
end)

-- Issue 9, found by the API fuzz: setfd let a socket take the hub's own
-- fds (libev's epoll fd and eventfd), whose close then made libev abort
-- the process ("epoll_wait: Invalid argument"), or the standard streams.
describe("setfd", function()
  it("refuses the hub's fds and 0-2", function()
    local own = 0
    for fd = 0, 20 do
      local s = socket.tcp4()
      local raw = socket.unwrap(s)
      local mine = raw:getfd()
      local ok, err = pcall(s.setfd, s, fd)
      if not ok then
        assert.matches("bad argument #1 to 'setfd' %(file descriptor " .. fd
                       .. " is ", err)
        if err:find("hub's own", 1, true) then own = own + 1 end
        s:close()
      else
        s:setfd(mine); s:close() -- give it its own fd back to close
      end
    end
    assert.are.equal(2, own)       -- epoll and eventfd
    assert.is_nil(gevent.sleep(0.001))
  end)
end)
