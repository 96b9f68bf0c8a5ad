-- gevent.server.StreamServer: a handler greenlet per connection.
local gevent = require "gevent"
local socket = require "gevent.socket"
local StreamServer = require("gevent.server").StreamServer
local core = require("gvlua").socket

local function echo(sock, address)
  local line = sock:receive("*l")
  if line then sock:send(line:upper() .. "\n") end
end

local function ask(port, text)
  local c = assert(socket.create_connection({"127.0.0.1", port}, 2))
  c:send(text .. "\n")
  local r, e = c:receive("*l")
  c:close()
  return r, e
end

-- runs f with io.stderr silenced (the failed greenlet's own report still
-- goes to fd 2: that is the expected "handler failed" traceback)
local function quietly(f)
  local null = io.open("/dev/null", "w")
  local saved = io.stderr
  io.stderr = null -- luacheck: ignore 122
  local ok, err = pcall(f)
  io.stderr = saved -- luacheck: ignore 122
  null:close()
  if not ok then error(err, 0) end
end

describe("gevent.server.StreamServer", function()
  it("listens on {host, port}; port 0 picks a free port", function()
    local seen
    local server = StreamServer({"127.0.0.1", 0}, function(sock, address)
      seen = address
      echo(sock)
    end)
    assert.are.same({"127.0.0.1", 0}, server.address)
    server:start()
    assert.is_true(server.started)
    local port = server.address[2]
    assert.is_true(port > 0)
    assert.are.equal("127.0.0.1", server.address[1])
    assert.are.equal("HELLO", ask(port, "hello"))
    assert.are.equal("127.0.0.1", seen[1])
    assert.is_number(seen[2])
    server:stop()
    assert.is_false(server.started)
    assert.is_nil(socket.connect("127.0.0.1", port))
  end)

  it("takes \"host:port\" and listening sockets", function()
    local s1 = StreamServer("127.0.0.1:0", echo):start()
    assert.are.equal("ABC", ask(s1.address[2], "abc"))
    s1:stop()
    local l = assert(socket.bind("127.0.0.1", 0))
    local s2 = StreamServer(l, echo)
    local _, port = l:getsockname()
    assert.are.equal(tonumber(port), s2.address[2])
    s2:start()
    assert.are.equal("DEF", ask(s2.address[2], "def"))
    s2:stop()
    -- a raw LuaSocket listening socket
    local raw = require("socket.core").tcp4()
    raw:bind("127.0.0.1", 0)
    raw:listen(8)
    local s3 = StreamServer(raw, echo):start()
    assert.are.equal("GHI", ask(s3.address[2], "ghi"))
    s3:stop()
  end)

  it("handles connections concurrently", function()
    local active, peak = 0, 0
    local server = StreamServer({"127.0.0.1", 0}, function(sock)
      active = active + 1
      peak = math.max(peak, active)
      gevent.sleep(0.05)
      echo(sock)
      active = active - 1
    end):start()
    local port = server.address[2]
    local t0 = core.monotonic()
    local gs, answers = {}, {}
    for i = 1, 50 do
      gs[i] = gevent.spawn(function() answers[i] = ask(port, "c" .. i) end)
    end
    gevent.joinall(gs, 5)
    assert.is_true(core.monotonic() - t0 < 2)
    for i = 1, 50 do assert.are.equal("C" .. i, answers[i]) end
    assert.are.equal(50, peak)
    server:stop()
  end)

  it("reports handler errors and keeps serving", function()
    local server = StreamServer({"127.0.0.1", 0}, function(sock)
      local line = sock:receive("*l")
      if line == "boom" then error("handler failed") end
      sock:send(line .. "\n")
    end):start()
    local port = server.address[2]
    quietly(function()
      local r, e = ask(port, "boom")
      assert.is_nil(r)
      assert.are.equal("closed", e) -- the socket is closed after the error
      gevent.sleep(0.01)
    end)
    assert.are.equal("fine", ask(port, "fine"))
    server:stop()
  end)

  it("stop(timeout) waits for handlers, then kills them", function()
    local finished, killed = 0, 0
    local server = StreamServer({"127.0.0.1", 0}, function(sock, address)
      local ok, err = pcall(function()
        local d = sock:receive("*l")
        gevent.sleep(tonumber(d))
      end)
      if ok then finished = finished + 1
      elseif gevent.GreenletExit:is(err) then killed = killed + 1; error(err, 0) end
    end):start()
    local port = server.address[2]
    local clients = {}
    for _, d in ipairs{"0.01", "0.02", "5", "5"} do
      local c = assert(socket.connect("127.0.0.1", port))
      c:send(d .. "\n")
      clients[#clients + 1] = c
    end
    for _ = 1, 200 do
      if #server == 4 then break end
      gevent.sleep(0.005)
    end
    assert.are.equal(4, #server)
    local t0 = core.monotonic()
    server:stop(0.1)
    local dt = core.monotonic() - t0
    assert.is_true(dt >= 0.09 and dt < 1.5, tostring(dt))
    assert.are.equal(2, finished)
    assert.are.equal(2, killed)
    assert.are.equal(0, #server)
    -- no longer accepting
    assert.is_nil(socket.connect("127.0.0.1", port))
    for _, c in ipairs(clients) do c:close() end
  end)

  it("serve_forever returns once stopped; killing it stops the server", function()
    local server = StreamServer({"127.0.0.1", 0}, echo)
    local g = gevent.spawn(function() server:serve_forever() end)
    gevent.sleep(0.01)
    assert.is_true(server.started)
    assert.are.equal("X", ask(server.address[2], "x"))
    server:stop()
    g:join(1)
    assert.is_true(g.dead)
    -- killing serve_forever
    local s2 = StreamServer({"127.0.0.1", 0}, echo)
    local g2 = gevent.spawn(function() s2:serve_forever(0.1) end)
    gevent.sleep(0.01)
    local port = s2.address[2]
    g2:kill()
    assert.is_true(g2.dead)
    assert.is_true(s2:closed())
    assert.is_nil(socket.connect("127.0.0.1", port))
  end)

  it("caps connections with spawn = a pool", function()
    local okp, poolmod = pcall(require, "gevent.pool")
    local pool
    if okp and poolmod.Pool then
      pool = poolmod.Pool(2)
    else
      -- a minimal pool: spawn waits for a free slot
      pool = {n = 0, size = 2}
      function pool:spawn(fn, ...)
        while self.n >= self.size do gevent.sleep(0.001) end
        self.n = self.n + 1
        local args = table.pack(...)
        return gevent.spawn(function()
          local _ <close> = setmetatable({}, {__close = function() self.n = self.n - 1 end})
          return fn(table.unpack(args, 1, args.n))
        end)
      end
    end
    local active, peak = 0, 0
    local server = StreamServer({"127.0.0.1", 0}, function(sock)
      active = active + 1
      peak = math.max(peak, active)
      gevent.sleep(0.02)
      echo(sock)
      active = active - 1
    end, {spawn = pool}):start()
    local gs, answers = {}, {}
    for i = 1, 6 do
      gs[i] = gevent.spawn(function() answers[i] = ask(server.address[2], "p" .. i) end)
    end
    gevent.joinall(gs, 5)
    for i = 1, 6 do assert.are.equal("P" .. i, answers[i]) end
    assert.are.equal(2, peak)
    server:stop()
  end)

  it("can set SO_REUSEPORT", function()
    local a = StreamServer({"127.0.0.1", 0}, echo, {reuse_port = true}):start()
    local port = a.address[2]
    local b = StreamServer({"127.0.0.1", port}, echo, {reuse_port = true}):start()
    assert.are.equal(port, b.address[2])
    assert.are.equal(1, a.socket:getoption("reuseport") and 1 or 0)
    assert.are.equal("R", ask(port, "r"))
    a:stop()
    assert.are.equal("S", ask(port, "s"))
    b:stop()
    -- without it the port is taken
    local c = StreamServer({"127.0.0.1", 0}, echo):start()
    local d = StreamServer({"127.0.0.1", c.address[2]}, echo)
    local ok, err = pcall(function() d:start() end)
    assert.is_false(ok)
    assert.matches("^[^:]*server_spec.lua:%d+: cannot listen on 127%.0%.0%.1:"
                   .. c.address[2] .. ": address already in use$", err)
    c:stop()
  end)

  it("names itself in argument errors", function()
    assert.has_error(function() StreamServer("nowhere", echo) end,
      "bad argument #1 to 'gevent.server.StreamServer' ({host, port} or "
      .. "\"host:port\" expected, got 'nowhere')")
    assert.has_error(function()
      require("gevent.server").DatagramServer(42, echo)
    end, "bad argument #1 to 'gevent.server.DatagramServer' ({host, port} "
         .. "or \"host:port\" expected, got number)")
  end)

  it("can be subclassed with a handle method", function()
    local Upper = StreamServer:subclass()
    function Upper:handle(sock, address)
      self.count = (self.count or 0) + 1
      return echo(sock, address)
    end
    local s = Upper({"127.0.0.1", 0}):start()
    assert.are.equal("SUB", ask(s.address[2], "sub"))
    assert.are.equal(1, s.count)
    s:stop()
  end)
end)

-- StreamServer over TLS: the handshake in the connection's greenlet, with a
-- handshake timeout; hostile handshakes, many at once, while a good client
-- completes.
describe("StreamServer with ssl", function()
  local T = require "spec.support.tls"
  local ssl = require "gevent.ssl"
  local sp = require "gevent.subprocess"
  teardown(function() T.cleanup() end)

  local function client(port)
    local conn = assert(ssl.wrap(T.connect(port), {cafile = T.path("ca.pem")}))
    conn:sni("localhost")
    conn:settimeout(5)
    assert(conn:dohandshake())
    return conn
  end

  local function tls_echo(conn)
    while true do
      local data = conn:recv(4096)
      if not data or not conn:send(data) then return end
    end
  end

  it("hands the TLS connection to handle; gevent's certfile/keyfile too",
     function()
    local seen
    local s = StreamServer({"127.0.0.1", 0}, function(conn, address)
      seen = {conn:info("protocol"), address[1]}
      tls_echo(conn)
    end, {certfile = T.path("server.pem"), keyfile = T.path("server.key")})
    s:start()
    local conn = client(s.address[2])
    conn:send("abc\n")
    assert.equal("abc", conn:receive())
    conn:close()
    s:stop()
    assert.same({"TLSv1.3", "127.0.0.1"}, seen)
    assert.equal(0, s.handshake_errors)
    assert.has_error(function()
      StreamServer({"127.0.0.1", 0}, tls_echo, {ssl = {
        certificate = "/nonexistent.pem"}})
    end, "bad argument #3 to 'gevent.server.StreamServer' (ssl option: error "
         .. "loading certificate '/nonexistent.pem': No such file or directory)")
  end)

  it("survives hostile handshakes, many at once, while a good one completes",
     function()
    local s = StreamServer({"127.0.0.1", 0}, tls_echo, {
      ssl = {certificate = T.path("server.pem"), key = T.path("server.key")},
      handshake_timeout = 1.5})
    s:start()
    local port = s.address[2]
    -- a real ClientHello, to truncate
    local l = assert(socket.bind("127.0.0.1", 0))
    local _, lport = l:getsockname()
    local probe = assert(ssl.wrap(T.connect(tonumber(lport)),
                                  {verify = "none"}))
    local catcher = gevent.spawn(function()
      local c = l:accept()
      c:settimeout(2)
      local _, _, hello = c:receive(4096)
      c:close()
      return hello
    end)
    probe:settimeout(0.2)
    probe:dohandshake()
    probe:close()
    local hello = catcher:get()
    l:close()
    assert.is_true(#hello > 100)
    local kinds = {
      garbage = function(c) c:send(("\0\255garbage"):rep(40)) end,
      truncated = function(c) c:send(hello:sub(1, #hello // 2)) end,
      truncated_close = function(c)
        c:send(hello:sub(1, #hello // 2)); c:close()
      end,
      plaintext = function(c) c:send("GET / HTTP/1.1\r\nHost: x\r\n\r\n") end,
      close_at_once = function(c) c:close() end,
      silent = function() end,
      wrong_record = function(c) c:send("\22\3\1\255\255" .. ("x"):rep(50)) end,
    }
    local bad, socks = {}, {}
    for round = 1, 5 do
      for _, f in pairs(kinds) do
        bad[#bad + 1] = gevent.spawn(function()
          local c = T.connect(port)
          socks[#socks + 1] = c
          f(c)
          c:settimeout(3)
          c:receive("*a")   -- until the server gives up on it
          c:close()
        end)
      end
    end
    -- a renegotiation attempt by a real client
    local reneg = sp.Popen({"openssl", "s_client", "-connect",
      "127.0.0.1:" .. port, "-tls1_2", "-CAfile", T.path("ca.pem")},
      {stdin = sp.PIPE, stdout = sp.DEVNULL, stderr = sp.DEVNULL})
    reneg.stdin:write("R\n")
    -- the good client completes while all that is going on
    gevent.sleep(0.05)
    local conn = client(port)
    conn:send("\0binary\255\n")
    assert.equal("\0binary\255", conn:receive())
    local pending = 0
    for _, g in ipairs(bad) do if not g.dead then pending = pending + 1 end end
    assert.is_true(pending > 0)   -- the silent ones at least still wait
    conn:close()
    gevent.joinall(bad, 10)
    for _, g in ipairs(bad) do assert.is_true(g.dead) end
    reneg:wait(5)
    local n = #bad
    s:stop()
    assert.equal(n, s.handshake_errors)
    assert.equal(0, #s)
  end)
end)

describe("DatagramServer", function()
  local DatagramServer = require("gevent.server").DatagramServer

  it("runs handle(data, address) per datagram; sendto answers", function()
    local s
    s = DatagramServer({"127.0.0.1", 0}, function(data, address)
      gevent.sleep(0.01)                  -- handlers run side by side
      s:sendto(data:upper(), address)
    end)
    s:start()
    assert.matches("^<DatagramServer at 127%.0%.0%.1:%d+>$", tostring(s))
    local u = socket.udp()
    u:settimeout(2)
    assert(u:setpeername("127.0.0.1", s.address[2]))
    for i = 1, 5 do u:send("ping" .. i) end
    gevent.sleep(0)
    local got = {}
    for i = 1, 5 do got[i] = u:receive() end
    table.sort(got)
    assert.same({"PING1", "PING2", "PING3", "PING4", "PING5"}, got)
    assert.equal(0, #s)
    s:stop()
    assert.is_true(s:closed())
    u:close()
  end)

  it("caps handlers with a pool and takes a bound socket", function()
    local u0 = socket.udp()
    assert(u0:setsockname("127.0.0.1", 0))
    local running, most = 0, 0
    local s = DatagramServer(u0, function()
      running = running + 1
      most = math.max(most, running)
      gevent.sleep(0.02)
      running = running - 1
    end, {spawn = 2})
    s:start()
    local u = socket.udp()
    for i = 1, 6 do u:sendto("x" .. i, "127.0.0.1", s.address[2]) end
    gevent.sleep(0.2)
    s:stop()
    u:close()
    assert.equal(2, most)
  end)
end)
