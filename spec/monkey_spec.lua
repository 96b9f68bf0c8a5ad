-- gevent.monkey: LuaSocket (and what is built on it: socket.http,
-- socket.smtp, ltn12 pumps, a Redis client), socket.select/sleep/dns,
-- os.execute and io.popen made cooperative in place, whatever the import
-- order. Every network peer is on 127.0.0.1; every wait is bounded (the
-- LuaSocket timeouts below turn a broken patch into a failure, not a hang).
local gevent = require "gevent"
local core = require "gvlua"
local sp = require "gevent.subprocess"
local StreamServer = require("gevent.server").StreamServer

-- LuaSocket and modules on it, required before gevent.monkey is
local socket = require "socket"
local http = require "socket.http"
local smtp = require "socket.smtp"
local ltn12 = require "ltn12"
http.TIMEOUT = 5
smtp.TIMEOUT = 5

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local resp = dofile(here .. "/support/resp.lua")

local monkey = require "gevent.monkey"

local now = core.socket.monotonic
local reg = debug.getregistry()
local ORIG = {
  receive = reg["tcp{client}"].__index.receive,
  connect = socket.connect,
  toip = socket.dns.toip,
  select = socket.select,
  sleep = socket.sleep,
  execute = os.execute,
  popen = io.popen,
  iotype = io.type,
  setsize = socket._SETSIZE,
}

local ticker = dofile(here .. "/support/ticker.lua")

-- Runs fn(i) in n greenlets; returns the elapsed time and the results.
local function concurrently(n, fn, limit)
  local res, gs = {}, {}
  local t0 = now()
  for i = 1, n do gs[i] = gevent.spawn(function() res[i] = {fn(i)} end) end
  gevent.joinall(gs, limit or 10)
  for _, g in ipairs(gs) do
    if not g.dead then g:kill() end
    assert(g:successful(), tostring(g.exception))
  end
  return now() - t0, res
end

-- A one-line server: after 'delay', answers each connection with 'line'.
local function line_server(delay, line)
  return StreamServer({"127.0.0.1", 0}, function(sock)
    gevent.sleep(delay)
    sock:send(line .. "\n")
    sock:receive("*a")
  end):start()
end

local silent = StreamServer({"127.0.0.1", 0}, function(sock)
  sock:receive("*a")
end)

describe("gevent.monkey", function()
  teardown(function()
    monkey.unpatch_all()
    silent:stop()
  end)

  it("starts unpatched; get_original gives the current values then", function()
    for _, n in ipairs{"socket", "dns", "select", "time", "os"} do
      assert.is_false(monkey.is_patched(n), n)
    end
    assert.are.equal(ORIG.receive, monkey.get_original("tcp{client}", "receive"))
    assert.are.equal(ORIG.connect, monkey.get_original("socket", "connect"))
    assert.are.equal(ORIG.execute, monkey.get_original("os", "execute"))
    assert.is_false(monkey.is_object_patched("socket", "connect"))
    assert.has_error(function() monkey.get_original("no.such.module", "x") end,
      "bad argument #1 to 'gevent.monkey.get_original' (no module named "
      .. "'no.such.module')")
    assert.has_error(function() monkey.get_original(nil, "x") end,
      "bad argument #1 to 'gevent.monkey.get_original' (string expected, got "
      .. "no value)")
  end)

  it("makes sockets created and modules required before patch_socket cooperate", function()
    silent:start()
    local server = line_server(0.1, "hello")
    local port = server.address[2]
    -- made before the patch, with LuaSocket timeouts set before it too
    local early = socket.tcp()
    early:settimeout(5)
    local quiet = socket.tcp()
    quiet:settimeout(0.1)
    -- a module that captured LuaSocket before the patch
    local mod = (function()
      local s = require "socket"
      local tcp = s.tcp
      return {fetch = function(p)
        local c = tcp()
        c:settimeout(5)
        assert(c:connect("127.0.0.1", p))
        local line, err = c:receive("*l")
        c:close()
        return line, err
      end}
    end)()

    assert.is_true(monkey.patch_socket())
    assert.is_true(monkey.is_patched("socket"))
    assert.is_true(monkey.is_patched("dns")) -- patch_socket's default

    local t = ticker(0.005)
    assert(early:connect("127.0.0.1", port))
    local t0 = now()
    assert.are.equal("hello", early:receive("*l"))
    assert.is_true(t.n >= 5, "ticker ran " .. t.n .. " times")
    assert.is_true(now() - t0 >= 0.05)
    early:close()
    -- the timeout set before the patch is kept: 0.1 s, cooperatively
    assert(quiet:connect("127.0.0.1", silent.address[2]))
    local n0 = t.n
    t0 = now()
    assert.are.same({nil, "timeout", ""}, {quiet:receive("*l")})
    local dt = now() - t0
    assert.is_true(dt >= 0.08 and dt < 2, "waited " .. dt)
    assert.is_true(t.n - n0 >= 5)
    quiet:close()
    t.g:kill()
    -- the module's sockets cooperate: three fetches overlap
    local elapsed, res = concurrently(3, function() return mod.fetch(port) end)
    for i = 1, 3 do assert.are.same({"hello"}, res[i]) end
    assert.is_true(elapsed < 0.6 * 0.3, "took " .. elapsed)
    server:stop()
  end)

  it("patches LuaSocket's class tables and socket.connect in place, once", function()
    monkey.patch_socket()
    local index = reg["tcp{client}"].__index
    local patched = index.receive
    assert.are_not.equal(ORIG.receive, patched)
    assert.are.equal(ORIG.receive, monkey.get_original("tcp{client}", "receive"))
    assert.are.equal(ORIG.connect, monkey.get_original("socket", "connect"))
    assert.are.equal(ORIG.connect, monkey.get_original("socket.core", "connect"))
    assert.are.same({ORIG.receive, index.getfd},
                    monkey.get_original("tcp{client}", {"receive", "getfd"}))
    assert.is_true(monkey.is_object_patched("tcp{client}", "receive"))
    assert.is_false(monkey.is_object_patched("tcp{client}", "getfd"))
    assert.is_true(monkey.is_module_patched("socket"))
    -- patching twice changes nothing
    monkey.patch_socket()
    assert.are.equal(patched, index.receive)
    assert.are.equal(ORIG.receive, monkey.get_original("tcp{client}", "receive"))

    -- socket.connect: a raw LuaSocket object, connected cooperatively
    local server = line_server(0.05, "raw")
    local t = ticker(0.005)
    local c = assert(socket.connect("localhost", server.address[2]))
    assert.matches("^tcp{client}", tostring(c))
    c:settimeout(5)
    assert.are.equal("raw", c:receive("*l"))
    assert.is_true(t.n >= 4)
    c:close()
    t.g:kill()
    server:stop()

    -- udp: receive waits for the datagram without blocking the others
    local a = assert(socket.udp())
    assert(a:setsockname("127.0.0.1", 0))
    local _, aport = a:getsockname()
    a:settimeout(5)
    local b = assert(socket.udp())
    gevent.spawn_later(0.05, function() b:sendto("dgram", "127.0.0.1", aport) end)
    t = ticker(0.005)
    assert.are.equal("dgram", a:receive())
    assert.is_true(t.n >= 4)
    a:settimeout(0.05)
    local v, err = a:receive()
    assert.is_nil(v)
    assert.are.equal("timeout", err)
    t.g:kill()
    a:close(); b:close()
  end)

  it("patch_dns: socket.dns lookups run on the thread pool", function()
    assert.is_true(monkey.patch_dns())
    assert.is_true(monkey.is_patched("dns"))
    assert.are_not.equal(ORIG.toip, socket.dns.toip)
    assert.are.equal(ORIG.toip, monkey.get_original("socket.dns", "toip"))
    local elapsed, res = concurrently(3, function()
      return socket.dns.toip("localhost")
    end)
    for i = 1, 3 do assert.are.equal("127.0.0.1", res[i][1]) end
    assert.is_true(elapsed < 5)
    local ai = assert(socket.dns.getaddrinfo("127.0.0.1"))
    assert.are.equal("127.0.0.1", ai[1].addr)
    assert.is_nil((socket.dns.toip("no-such-host.invalid")))
    assert.are.equal(socket.dns.gethostname(), monkey.get_original("socket.dns", "gethostname")())
  end)

  it("patch_select: socket.select waits in the hub", function()
    assert.are.equal(ORIG.select, socket.select)
    assert.is_false(monkey.is_patched("select"))
    assert.is_true(monkey.patch_select())
    assert.is_true(monkey.patch_select())
    assert.are_not.equal(ORIG.select, socket.select)
    assert.are.equal(ORIG.select, monkey.get_original("socket", "select"))
    assert.are.equal(ORIG.select, monkey.get_original("select", "select"))
    local server = line_server(0.1, "ready")
    local c = assert(socket.connect("127.0.0.1", server.address[2]))
    local t = ticker(0.005)
    local r, _, err = socket.select({c}, nil, 0.03)
    assert.are.same({}, r)
    assert.are.equal("timeout", err)
    r = socket.select({c}, nil, 5)
    assert.are.equal(c, r[1])
    assert.is_true(t.n >= 8, "ticker ran " .. t.n .. " times")
    t.g:kill()
    c:close()
    server:stop()
  end)

  -- (not under valgrind: it keeps some fds for itself and reports a lower
  -- soft limit to the process than the shell below sees)
  it("patch_select: socket._SETSIZE tells how many sockets select takes #novalgrind", function()
    monkey.patch_select()
    -- no FD_SETSIZE cap: as many as the process may open
    local limit = tonumber(io.popen("sh -c 'ulimit -n'"):read("l"))
    assert.are.equal(limit, socket._SETSIZE)
    assert.are.equal(limit, require("gevent.socket")._SETSIZE)
    -- more sockets than FD_SETSIZE in one select, within the limit
    local n = math.min(limit - 64, 1100)
    local socks = {}
    for i = 1, n do socks[i] = assert(socket.udp4()) end
    socks[n]:setsockname("127.0.0.1", 0)
    local ip, port = socks[n]:getsockname()
    local u = assert(socket.udp4())
    u:sendto("x", ip, port)
    local r = socket.select(socks, nil, 2)
    assert.are.equal(1, #r)
    assert.are.equal(socks[n], r[1])
    for i = 1, n do socks[i]:close() end
    u:close()
    monkey.unpatch_all()
    assert.are.equal(ORIG.setsize, socket._SETSIZE)
  end)

  it("patch_time: socket.sleep sleeps only its greenlet", function()
    assert.are.equal(ORIG.sleep, socket.sleep)
    assert.is_true(monkey.patch_time())
    assert.is_true(monkey.is_patched("time"))
    assert.are.equal(ORIG.sleep, monkey.get_original("socket", "sleep"))
    assert.are.equal(ORIG.sleep, monkey.get_original("time", "sleep"))
    local elapsed = concurrently(4, function() socket.sleep(0.1) end)
    assert.is_true(elapsed >= 0.09 and elapsed < 0.6 * 0.4, "took " .. elapsed)
    local t0 = now()
    socket.sleep(-1)
    assert.is_true(now() - t0 < 0.05)
    assert.has_error(function() socket.sleep("soon") end)
  end)

  it("patch_os: os.execute returns what Lua's does", function()
    assert.is_true(monkey.patch_os())
    assert.is_true(monkey.is_patched("os"))
    assert.are_not.equal(ORIG.execute, os.execute)
    assert.are.equal(ORIG.execute, monkey.get_original("os", "execute"))
    assert.are.equal(ORIG.popen, monkey.get_original("io", "popen"))
    for _, cmd in ipairs{"true", "exit 3", "false", "kill -9 $$",
                         "kill -TERM $$", "exec /nonexistent/x 2>/dev/null"} do
      assert.are.same({ORIG.execute(cmd)}, {os.execute(cmd)}, cmd)
    end
    assert.are.same({true, "exit", 0}, {os.execute("true")})
    assert.are.same({nil, "exit", 3}, {os.execute("exit 3")})
    assert.are.same({nil, "signal", 9}, {os.execute("kill -9 $$")})
    assert.is_true(os.execute())
    assert.has_error(function() os.execute({}) end)
  end)

  it("os.execute blocks only the calling greenlet", function()
    monkey.patch_os()
    local t = ticker(0.01)
    local t0 = now()
    assert.is_true(os.execute("sleep 0.2"))
    assert.is_true(now() - t0 >= 0.15)
    assert.is_true(t.n >= 10, "ticker ran " .. t.n .. " times")
    t.g:kill()
    local elapsed = concurrently(3, function() return os.execute("sleep 0.2") end)
    assert.is_true(elapsed < 0.6 * 0.6, "took " .. elapsed)
    -- a socket open while the command runs is not inherited by it: closing
    -- it in another greenlet meanwhile ends the connection at once
    local closed_after
    local server = StreamServer({"127.0.0.1", 0}, function(sock)
      local t0 = now()
      sock:receive("*a")
      closed_after = now() - t0
    end):start()
    local c = assert(socket.connect("127.0.0.1", server.address[2]))
    gevent.sleep(0.02)
    local g = gevent.spawn(os.execute, "sleep 0.4")
    gevent.sleep(0.05)
    c:close()
    t0 = now()
    while not closed_after and now() - t0 < 2 do gevent.sleep(0.01) end
    assert.is_true(closed_after < 0.3, "EOF after " .. tostring(closed_after))
    g:join(2)
    server:stop()
  end)

  it("io.popen gives a file-like object whose close returns Lua's statuses", function()
    monkey.patch_os()
    local f = assert(io.popen("printf 'a\\nb\\nc\\n'; printf tail"))
    assert.are.equal("file", io.type(f))
    assert.matches("^file %(", tostring(f))
    assert.are.equal("a", f:read())
    assert.are.equal("b\n", f:read("L"))
    local rest = {}
    for l in f:lines() do rest[#rest + 1] = l end
    assert.are.same({"c", "tail"}, rest)
    assert.are.equal("", f:read("a")) -- "a" at EOF is ""
    assert.are.same({nil, "Bad file descriptor", 9}, {f:write("x")})
    assert.are.same({true, "exit", 0}, {f:close()})
    assert.are.equal("closed file", io.type(f))
    assert.are.equal("file (closed)", tostring(f))
    assert.has_error(function() f:read() end, "attempt to use a closed file")
    assert.has_error(function() f:close() end)
    assert.are.equal("file", io.type(io.stdout))
    assert.is_nil(io.type(42))

    -- statuses as the original io.popen's close
    for _, cmd in ipairs{"exit 5", "kill -TERM $$", "true"} do
      local g = ORIG.popen(cmd)
      local want = {g:close()}
      assert.are.same(want, {io.popen(cmd):close()}, cmd)
    end
    assert.are.same({nil, "exit", 5}, {io.popen("exit 5"):close()})
    assert.are.same({nil, "signal", 15}, {io.popen("kill -TERM $$"):close()})

    -- reads everything with "a", numbers of bytes
    f = io.popen("echo hello world")
    assert.are.equal("hello", f:read(5))
    assert.are.equal(" world\n", f:read("a"))
    assert.are.equal("", f:read("a"))
    assert.is_nil(f:read("l"))
    f:close()

    -- write mode
    local path = os.tmpname()
    local w = assert(io.popen("cat > " .. path, "w"))
    assert.are.equal(w, w:write("one ", 2, "\n"))
    assert.are.equal(w, w:write("three\n"))
    assert.are.same({nil, "Bad file descriptor", 9}, {w:read()})
    assert.are.same({true, "exit", 0}, {w:close()})
    local fh = assert(io.open(path))
    assert.are.equal("one 2\nthree\n", fh:read("a"))
    fh:close()
    os.remove(path)

    -- to-be-closed
    do
      local c <close> = io.popen("echo x")
      assert.are.equal("x", c:read())
    end

    assert.has_error(function() io.popen("true", "rw") end,
                     "bad argument #2 to 'popen' (invalid mode)")
  end)

  it("io.popen blocks only the calling greenlet", function()
    monkey.patch_os()
    local t = ticker(0.01)
    local f = io.popen("sleep 0.2; echo done")
    assert.are.equal("done\n", f:read("a"))
    assert.is_true(f:close())
    assert.is_true(t.n >= 10, "ticker ran " .. t.n .. " times")
    t.g:kill()
    local elapsed, res = concurrently(3, function(i)
      local p = io.popen("sleep 0.2; echo " .. i)
      local out = p:read("l")
      return out, p:close()
    end)
    for i = 1, 3 do assert.are.same({tostring(i), true, "exit", 0}, res[i]) end
    assert.is_true(elapsed < 0.6 * 0.6, "took " .. elapsed)
  end)

  it("patch_all: socket.http fetches overlap across greenlets", function()
    assert.is_true(monkey.patch_all())
    assert.is_true(monkey.patch_all()) -- twice is harmless
    for _, n in ipairs{"socket", "dns", "select", "time", "os"} do
      assert.is_true(monkey.is_patched(n), n)
    end
    assert.has_error(function() monkey.patch_all({sockets = false}) end,
      "bad argument #1 to 'gevent.monkey.patch_all' (unknown option 'sockets')")
    assert.has_error(function() monkey.patch_all(1) end,
      "bad argument #1 to 'gevent.monkey.patch_all' (table expected, got "
      .. "number)")
    local DELAY, N = 0.2, 5
    local active, most = 0, 0
    local server = StreamServer({"127.0.0.1", 0}, function(sock)
      active = active + 1
      most = math.max(most, active)
      local path = sock:receive("*l"):match("^%S+%s+(%S+)")
      repeat local l = sock:receive("*l") until not l or l == ""
      gevent.sleep(DELAY)
      local body = "page " .. path
      sock:send(("HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s"):format(#body, body))
      active = active - 1
    end):start()
    local base = "http://127.0.0.1:" .. server.address[2]
    local elapsed, res = concurrently(N, function(i)
      return http.request(base .. "/" .. i)
    end)
    for i = 1, N do
      assert.are.equal("page /" .. i, res[i][1])
      assert.are.equal(200, res[i][2])
    end
    assert.is_true(elapsed < 0.6 * N * DELAY, "took " .. elapsed)
    assert.are.equal(N, most)
    -- the generic form with an ltn12 sink, by name
    local t = {}
    local ok, code = http.request{url = "http://localhost:" .. server.address[2] .. "/x",
                                  sink = (ltn12.sink.table(t))}
    assert.are.equal(1, ok)
    assert.are.equal(200, code)
    assert.are.equal("page /x", table.concat(t))
    server:stop()
  end)

  it("patch_all: socket.smtp sends to a local SMTP server concurrently", function()
    monkey.patch_all()
    local DELAY, N = 0.15, 3
    local got = {}
    local server = StreamServer({"127.0.0.1", 0}, function(sock)
      gevent.sleep(DELAY)
      sock:send("220 localhost fake ESMTP\r\n")
      local msg = {rcpt = {}}
      while true do
        local line = sock:receive("*l")
        if not line then return end
        local cmd = line:upper()
        if cmd:match("^EHLO") or cmd:match("^HELO") then
          sock:send("250-localhost\r\n250 OK\r\n")
        elseif cmd:match("^MAIL FROM:") then
          msg.from = line:match("<(.-)>")
          sock:send("250 OK\r\n")
        elseif cmd:match("^RCPT TO:") then
          msg.rcpt[#msg.rcpt + 1] = line:match("<(.-)>")
          sock:send("250 OK\r\n")
        elseif cmd == "DATA" then
          sock:send("354 go ahead\r\n")
          local data = {}
          while true do
            local l = sock:receive("*l")
            if not l or l == "." then break end
            data[#data + 1] = l
          end
          msg.data = table.concat(data, "\n")
          got[#got + 1] = msg
          msg = {rcpt = {}}
          sock:send("250 OK queued\r\n")
        elseif cmd == "QUIT" then
          sock:send("221 bye\r\n")
          return
        else
          sock:send("500 what?\r\n")
        end
      end
    end):start()
    local elapsed, res = concurrently(N, function(i)
      return smtp.send{
        from = "<sender@example.com>",
        rcpt = {"<to" .. i .. "@example.com>"},
        server = "127.0.0.1",
        port = server.address[2],
        source = smtp.message{
          headers = {to = "to" .. i .. "@example.com", subject = "test " .. i},
          body = "body of message " .. i,
        },
      }
    end)
    for i = 1, N do assert.are.same({1}, res[i]) end
    assert.are.equal(N, #got)
    local seen = {}
    for _, m in ipairs(got) do
      assert.are.equal("sender@example.com", m.from)
      local i = m.rcpt[1]:match("^to(%d+)@")
      assert.matches("body of message " .. i, m.data, 1, true)
      assert.matches("Subject: test " .. i, m.data, 1, true)
      seen[tonumber(i)] = true
    end
    assert.are.same({true, true, true}, seen)
    assert.is_true(elapsed < 0.6 * N * DELAY, "took " .. elapsed)
    server:stop()
  end)

  it("patch_all: ltn12 pumps over sockets run concurrently", function()
    monkey.patch_all()
    -- download: the server sends 4 chunks, 0.05 s apart
    local CHUNK, PIECES, GAP, N = 1000, 4, 0.05, 4
    local server = StreamServer({"127.0.0.1", 0}, function(sock)
      for i = 1, PIECES do
        sock:send(string.rep(string.char(64 + i), CHUNK))
        gevent.sleep(GAP)
      end
    end):start()
    local elapsed, res = concurrently(N, function()
      local c = assert(socket.connect("127.0.0.1", server.address[2]))
      c:settimeout(5)
      local t = {}
      assert(ltn12.pump.all(socket.source("until-closed", c), (ltn12.sink.table(t))))
      return table.concat(t)
    end)
    for i = 1, N do
      assert.are.equal(PIECES * CHUNK, #res[i][1])
      assert.are.equal(string.rep("D", CHUNK), res[i][1]:sub(-CHUNK))
    end
    assert.is_true(elapsed < 0.6 * N * PIECES * GAP, "took " .. elapsed)
    server:stop()

    -- upload: 2 MB through socket.sink, more than the socket buffers hold,
    -- to a server that reads slowly; a ticker keeps running
    local BIG = 2 * 1024 * 1024
    local received = {}
    local sink_server = StreamServer({"127.0.0.1", 0}, function(sock)
      local n = 0
      while true do
        local data, err, partial = sock:receive(65536)
        data = data or partial
        n = n + #data
        if err then break end
        gevent.sleep(0.001)
      end
      received[#received + 1] = n
    end):start()
    local tk = ticker(0.005)
    concurrently(2, function(i)
      local c = assert(socket.connect("127.0.0.1", sink_server.address[2]))
      c:settimeout(5)
      return assert(ltn12.pump.all(ltn12.source.string(string.rep("x", BIG)),
                                   socket.sink("close-when-done", c)))
    end)
    local t0 = now()
    while #received < 2 and now() - t0 < 5 do gevent.sleep(0.01) end
    assert.are.same({BIG, BIG}, received)
    assert.is_true(tk.n >= 3, "ticker ran " .. tk.n .. " times")
    tk.g:kill()
    sink_server:stop()
  end)

  describe("with a real redis-server", function()
    local proc, port

    local function redis_client()
      return assert(resp.connect("127.0.0.1", port, 5))
    end

    setup(function()
      monkey.patch_all()
      local which = io.popen("command -v redis-server")
      local found = which:read("l")
      which:close()
      assert(found, "redis-server is not installed (./dev installs it)")
      local l = assert(socket.bind("127.0.0.1", 0))
      port = tonumber((select(2, l:getsockname())))
      l:close()
      proc = sp.Popen({found, "--save", "", "--appendonly", "no",
                       "--port", tostring(port), "--bind", "127.0.0.1"},
                      {stdout = sp.DEVNULL, stderr = sp.DEVNULL})
      local t0 = now()
      while true do
        local c = resp.connect("127.0.0.1", port, 1)
        if c then
          local pong = c:call("PING")
          c:close()
          if pong == "PONG" then break end
        end
        assert(now() - t0 < 10, "redis-server did not start")
        assert(proc:poll() == nil, "redis-server exited")
        gevent.sleep(0.05)
      end
    end)

    teardown(function()
      if proc then
        proc:terminate()
        if not pcall(proc.wait, proc, 5) then
          proc:kill()
          proc:wait()
        end
      end
    end)

    it("answers a client written on LuaSocket", function()
      local c = redis_client()
      assert.are.equal("OK", c:call("SET", "greeting", "hello"))
      assert.are.equal("hello", c:call("GET", "greeting"))
      assert.are.equal(1, c:call("INCR", "counter"))
      assert.are.equal(2, c:call("INCR", "counter"))
      assert.is_false(c:call("GET", "missing"))
      local v, err = c:call("NOSUCHCOMMAND")
      assert.is_nil(v)
      assert.matches("^ERR", err)
      c:call("DEL", "greeting", "counter")
      c:close()
    end)

    it("serves BLPOP in several greenlets while another pushes", function()
      local N, DELAY = 4, 0.2
      local clients = {}
      for i = 1, N do clients[i] = redis_client() end
      local pusher = redis_client()
      gevent.spawn(function()
        gevent.sleep(DELAY)
        for i = 1, N do pusher:call("RPUSH", "q:" .. i, "item " .. i) end
      end)
      local elapsed, res = concurrently(N, function(i)
        return clients[i]:call("BLPOP", "q:" .. i, 5)
      end)
      for i = 1, N do
        assert.are.same({{"q:" .. i, "item " .. i}}, res[i])
        clients[i]:close()
      end
      pusher:close()
      assert.is_true(elapsed >= DELAY * 0.9, "took " .. elapsed)
      assert.is_true(elapsed < 0.6 * N * DELAY, "took " .. elapsed)
    end)

    it("overlaps BLPOP timeouts of several greenlets", function()
      local N, WAIT = 4, 0.3
      local clients = {}
      for i = 1, N do clients[i] = redis_client() end
      local t = ticker(0.01)
      local elapsed, res = concurrently(N, function(i)
        return clients[i]:call("BLPOP", "empty:" .. i, WAIT)
      end)
      for i = 1, N do
        assert.are.same({false}, res[i])
        clients[i]:close()
      end
      assert.is_true(t.n >= 20, "ticker ran " .. t.n .. " times")
      t.g:kill()
      assert.is_true(elapsed >= WAIT * 0.9, "took " .. elapsed)
      assert.is_true(elapsed < 0.6 * N * WAIT, "took " .. elapsed)
    end)
  end)

  -- issue 9, item 0: a patched LuaSocket object returns what was sent before
  -- the peer closed, as stock LuaSocket does (lines, a count, then "*a")
  it("patched sockets return all data sent before the peer closed", function()
    monkey.patch_all()
    local l = assert(socket.bind("127.0.0.1", 0))
    local port = select(2, l:getsockname())
    local peer = gevent.spawn(function()
      local d = assert(l:accept())
      for _, p in ipairs{"one\ntw", "o\r\n12345", "67tail ", "end"} do
        gevent.sleep(0.01)
        assert(d:send(p))
      end
      gevent.sleep(0.01)
      d:close()
    end)
    local c = assert(socket.connect("127.0.0.1", port))
    c:settimeout(2)
    local got = {{c:receive()}, {c:receive()}, {c:receive(7)},
                 {c:receive("*a")}, {c:receive("*a")}}
    assert.is_true(peer:join(2))
    assert.are.same({{"one"}, {"two"}, {"1234567"}, {"tail end"},
                     {nil, "closed", ""}}, got)
    c:close(); l:close()
  end)

  it("unpatch_all puts the originals and LuaSocket's own timeouts back", function()
    monkey.patch_all()
    local c = socket.tcp()
    c:settimeout(0.2)
    assert(c:connect("127.0.0.1", silent.address[2]))
    assert.are.same({nil, "timeout", ""}, {c:receive("*l")})
    assert.is_true(monkey.unpatch_all())
    assert.are.equal(ORIG.receive, reg["tcp{client}"].__index.receive)
    assert.are.equal(ORIG.connect, socket.connect)
    assert.are.equal(ORIG.toip, socket.dns.toip)
    assert.are.equal(ORIG.select, socket.select)
    assert.are.equal(ORIG.sleep, socket.sleep)
    assert.are.equal(ORIG.execute, os.execute)
    assert.are.equal(ORIG.popen, io.popen)
    assert.are.equal(ORIG.iotype, io.type)
    for _, n in ipairs{"socket", "dns", "select", "time", "os"} do
      assert.is_false(monkey.is_patched(n), n)
    end
    assert.are.equal(ORIG.receive, monkey.get_original("tcp{client}", "receive"))
    -- LuaSocket's own (blocking) receive with the socket's timeout again
    assert.are.equal(0.2, (c:gettimeout()))
    local t0 = now()
    assert.are.same({nil, "timeout", ""}, {c:receive("*l")})
    assert.is_true(now() - t0 >= 0.15)
    c:close()
    -- and patching again works
    monkey.patch_all()
    assert.are_not.equal(ORIG.receive, reg["tcp{client}"].__index.receive)
    assert.is_true(monkey.is_patched("socket"))
  end)
end)

-- LuaSec (Debian's lua-sec) under patch_all: its ssl.https against real
-- TLS servers, with verification, many at once while others run.
describe("gevent.monkey and LuaSec", function()
  local T = require "spec.support.tls"
  local ssl = require "gevent.ssl"
  local sp = require "gevent.subprocess"
  local ticker = require "spec.support.ticker"
  local ctx, good

  setup(function()
    ctx = assert(ssl.newcontext{mode = "server",
      certificate = T.path("server.pem"), key = T.path("server.key")})
    good = T.https_server(ctx, {delay = 0.2})
  end)
  teardown(function()
    good.stop()
    monkey.unpatch_all()
    T.cleanup()
  end)

  -- ssl.https.request with verification; returns body or raises
  local function fetch(https, ltn12, port, path)
    local out = {}
    local ok, code = https.request{url = ("https://localhost:%d%s")
      :format(port, path), sink = ltn12.sink.table(out), verify = "peer",
      cafile = T.path("ca.pem")}
    assert(ok, code)
    assert(code == 200, "status " .. tostring(code))
    return table.concat(out)
  end

  it("patched after require 'ssl': many requests at once, verified",
     function()
    local https = require "ssl.https"
    local ltn12 = require "ltn12"
    monkey.patch_all()
    assert.is_true(monkey.is_patched("ssl"))
    local t = ticker()
    local jobs = {}
    for i = 1, 10 do
      jobs[i] = gevent.spawn(fetch, https, ltn12, good.port, "/" .. i)
    end
    gevent.joinall(jobs, 20)
    for i = 1, 10 do
      assert.is_true(jobs[i]:successful(), tostring(jobs[i].exception))
      assert.equal("hello /" .. i, jobs[i].value)
    end
    assert.is_true(good.max_inflight >= 5)   -- side by side, not one by one
    assert.is_true(t.n > 10)
    t.g:kill()
    -- verification is LuaSec's: an unknown CA fails
    local ok, err = https.request{url = ("https://localhost:%d/x")
      :format(good.port), verify = "peer", cafile = T.path("ca2.pem")}
    assert.is_nil(ok)
    assert.matches("certificate verify failed", err, 1, true)
  end)

  it("three requests under Timeout against s_server time out", function()
    local https = require "ssl.https"
    local ltn12 = require "ltn12"
    monkey.patch_all()
    -- s_server handshakes one client at a time and never answers HTTP
    local p, port = T.s_server()
    local t = ticker()
    local jobs = {}
    for i = 1, 3 do
      jobs[i] = gevent.spawn(function()
        local tmo <close> = gevent.Timeout(0.5):start()
        return pcall(fetch, https, ltn12, port, "/" .. i)
      end)
    end
    local t0 = require("gvlua").socket.monotonic()
    gevent.joinall(jobs, 10)
    local took = require("gvlua").socket.monotonic() - t0
    T.stop(p)
    for i = 1, 3 do
      local ok, err = jobs[i]:get()
      assert.is_false(ok)
      assert.is_true(gevent.Timeout:is(err), tostring(err))
    end
    assert.is_true(took < 5, "took " .. took)
    assert.is_true(t.n > 10)
    t.g:kill()
  end)

  it("a stalled TLS server delays nobody else", function()
    local https = require "ssl.https"
    local ltn12 = require "ltn12"
    monkey.patch_all()
    local stall = T.https_server(ctx, {stall = true})
    local slow, fast = {}, {}
    for i = 1, 4 do
      slow[i] = gevent.spawn(function()
        local tmo <close> = gevent.Timeout(3):start()
        return fetch(https, ltn12, stall.port, "/")
      end)
    end
    for i = 1, 4 do
      fast[i] = gevent.spawn(fetch, https, ltn12, good.port, "/f" .. i)
    end
    gevent.joinall(fast, 10)
    for i = 1, 4 do
      assert.equal("hello /f" .. i, fast[i].value)
      assert.is_false(slow[i].dead)       -- still waiting, in the hub
    end
    gevent.killall(slow)
    stall.stop()
  end)

  it("patched before require 'ssl' (in a new process)", function()
    local f = assert(io.open("/proc/self/cmdline", "rb"))
    local lua = f:read("a"):match("^[^%z]+")
    f:close()
    local code = ([[
      local gevent = require "gevent"
      require("gevent.monkey").patch_all()
      local https = require "ssl.https"
      local ltn12 = require "ltn12"
      local ticks, jobs = 0, {}
      gevent.spawn(function() while true do ticks = ticks + 1; gevent.sleep(0.01) end end)
      for i = 1, 5 do
        jobs[i] = gevent.spawn(function()
          local out = {}
          local ok, c = https.request{url = "https://localhost:%d/p" .. i,
            sink = ltn12.sink.table(out), verify = "peer", cafile = %q}
          return ok and c == 200 and table.concat(out)
        end)
      end
      gevent.joinall(jobs)
      for i = 1, 5 do io.write(tostring(jobs[i].value), ";") end
      print(ticks > 10)
    ]]):format(good.port, T.path("ca.pem"))
    local before = good.max_inflight
    good.max_inflight = 0
    local r = sp.run({lua, "-e", code}, {capture_output = true, timeout = 20})
    assert.equal("hello /p1;hello /p2;hello /p3;hello /p4;hello /p5;true\n",
                 r.stdout, r.stderr)
    assert.is_true(good.max_inflight >= 3)   -- side by side
    good.max_inflight = before
  end)
end)
