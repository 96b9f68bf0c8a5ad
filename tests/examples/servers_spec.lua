-- examples/servers/*.lua: each server runs as a child process (the same
-- interpreter as this spec, gvlua or lua5.4), prints "listening on
-- 127.0.0.1:PORT" first, is driven by several gevent.socket clients at once,
-- then is stopped with SIGTERM and must exit with status 0.
-- Set SERVERS_SPEC_STDERR=1 to see the servers' logs.
local gevent = require "gevent"
local socket = require "gevent.socket"
local sp = require "gevent.subprocess"

local LIMIT = 30     -- seconds: no test may take longer than this

-- The tree's root: two directories above this file's.
local source = debug.getinfo(1, "S").source
local root = (source:match("^@(.-)[^/]*$") or "./") .. "../../"

-- The interpreter running this spec (gvlua, or lua5.4 with LUA_PATH and
-- LUA_CPATH set): the servers inherit the environment and run under it.
-- argv[0] from /proc/self/cmdline (not /proc/self/exe, which is valgrind's
-- tool under valgrind); SERVERS_SPEC_LUA overrides it.
local function find_interpreter()
  local f = assert(io.open("/proc/self/cmdline", "rb"))
  local argv0 = f:read("a"):match("^[^%z]+")
  f:close()
  return os.getenv("SERVERS_SPEC_LUA") or argv0
end
local interpreter = find_interpreter()

-- Ends the server if it still runs: SIGTERM first (prefork.lua's parent
-- then stops its workers), SIGKILL if that does not do it in 5 s.
local function cleanup(p)
  if p.returncode ~= nil then return end
  p:terminate()
  if not pcall(p.wait, p, 5) then p:kill() p:wait() end
end

-- Starts examples/servers/<name> with args; returns the Popen and the port.
local function start(name, ...)
  local stderr = os.getenv("SERVERS_SPEC_STDERR") and 2 or sp.DEVNULL
  local p = sp.Popen({interpreter, root .. "examples/servers/" .. name, "0", ...},
                     {stdout = sp.PIPE, stderr = stderr})
  local ok, line = pcall(gevent.with_timeout, 10, p.stdout.readline, p.stdout)
  if not ok then cleanup(p) error("no first line from " .. name .. ": " .. tostring(line)) end
  local port = line and line:match("^listening on 127%.0%.0%.1:(%d+)$")
  if not port then cleanup(p) error("unexpected first line: " .. tostring(line)) end
  return p, tonumber(port)
end

-- Stops the server with SIGTERM; returns its exit status (raises if it
-- does not exit within 10 s).
local function stop(p)
  p:terminate()
  local ok, rc = pcall(p.wait, p, 10)
  if not ok then p:kill() p:wait() error("server did not exit on SIGTERM: " .. tostring(rc)) end
  return rc
end

-- Runs body(p, port) against a started server with a time limit; always
-- ends the server.
local function with_server(name, args, body)
  local p, port = start(name, table.unpack(args))
  local ok, err = pcall(gevent.with_timeout, LIMIT, body, p, port)
  cleanup(p)
  if not ok then error(err, 0) end
end

-- Everything until the peer closes ("*a" gives nil, "closed" when empty).
local function read_to_eof(c)
  local data, err, partial = c:receive("*a")
  if data then return data end
  assert(err == "closed", err)
  return partial
end

local function connect(port)
  return assert(socket.create_connection({"127.0.0.1", port}, 5))
end

local function refused(port)
  local c = socket.connect("127.0.0.1", port)
  if c then c:close() return false end
  return true
end

-- Sends an HTTP request; returns the socket (positioned at the body), the
-- status line and the headers (lower-case names).
local function http_request(port, method, path, body)
  local c = connect(port)
  local req = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"):format(method, path)
  if body then req = req .. ("Content-Length: %d\r\n"):format(#body) end
  assert(c:send(req .. "\r\n" .. (body or "")))
  local status = assert(c:receive("*l"))
  local headers = {}
  while true do
    local h = assert(c:receive("*l"))
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.-)%s*$")
    headers[k:lower()] = v
  end
  return c, status, headers
end

-- A whole request: status line, headers, body (by Content-Length, or to EOF).
local function http(port, method, path, body)
  local c, status, headers = http_request(port, method, path, body)
  local n = tonumber(headers["content-length"])
  local data
  if n then data = n == 0 and "" or assert(c:receive(n)) else data = read_to_eof(c) end
  c:close()
  return status, headers, data
end

describe("examples/servers", function()
  it("echo_server.lua echoes lines to several clients at once", function()
    with_server("echo_server.lua", {}, function(p, port)
      local function client(id)
        local c = connect(port)
        assert.are.equal("Welcome to the echo server! Type quit to exit.\r\n",
                         c:receive(48))
        for i = 1, 5 do
          local line = ("client %d line %d \1\2\255 \t end\n"):format(id, i)
          assert(c:send(line))
          assert.are.equal(line, c:receive(#line))   -- the very same bytes
          gevent.sleep(0.01)                         -- let the others interleave
        end
        assert(c:send("  QUIT \n"))
        local data = read_to_eof(c)                  -- the server hangs up
        c:close()
        return data
      end
      local clients = {}
      for id = 1, 6 do clients[id] = gevent.spawn(client, id) end
      gevent.joinall(clients, nil, true)
      for _, g in ipairs(clients) do
        assert.is_true(g:successful())
        assert.are.equal("", g.value)                -- nothing after quit
      end
      -- a client that hangs up without "quit" does not disturb the server
      local c = connect(port)
      c:send("half a line")
      c:close()
      local c2 = connect(port)
      assert.are.equal(48, #c2:receive(48))
      c2:send("still here\n")
      assert.are.equal("still here\n", c2:receive(11))
      c2:close()
      assert.are.equal(0, stop(p))
      assert.is_true(refused(port))
    end)
  end)

  it("tls_echo.lua echoes every byte over TLS to several clients", function()
    local T = require "spec.support.tls"
    local ssl = require "gevent.ssl"
    with_server("tls_echo.lua", {T.path("server.pem"), T.path("server.key")},
                function(p, port)
      local function client(id)
        local conn = assert(ssl.wrap(connect(port), {cafile = T.path("ca.pem")}))
        conn:sni("localhost")
        conn:settimeout(5)
        assert(conn:dohandshake())
        for i = 1, 5 do
          local chunk = ("%d:%d \0\1\255 no newline"):format(id, i)
          assert(conn:send(chunk))
          assert.are.equal(chunk, conn:receive(#chunk))
          gevent.sleep(0.01)
        end
        local big = ("x"):rep(100000)
        assert(conn:send(big))
        assert.are.equal(big, conn:receive(#big))
        conn:close()
        return true
      end
      local clients = {}
      for id = 1, 4 do clients[id] = gevent.spawn(client, id) end
      gevent.joinall(clients, nil, true)
      for _, g in ipairs(clients) do assert.is_true(g.value) end
      -- a real client: openssl s_client
      local sc = sp.Popen({"openssl", "s_client", "-connect",
        "127.0.0.1:" .. port, "-CAfile", T.path("ca.pem"),
        "-verify_return_error", "-quiet"},
        {stdin = sp.PIPE, stdout = sp.PIPE, stderr = sp.DEVNULL})
      sc.stdin:write("from s_client\n")
      local line = gevent.with_timeout(10, sc.stdout.readline, sc.stdout)
      sc:kill()
      sc:wait()
      assert.are.equal("from s_client", line)
      assert.are.equal(0, stop(p))
      T.cleanup()
    end)
  end)

  it("streaming_http.lua streams chunks separately, in order, with delays", function()
    with_server("streaming_http.lua", {}, function(p, port)
      local N, DELAY = 4, 0.3
      local function fetch()
        local t0 = socket.gettime()
        local c, status, headers = http_request(port, "GET", ("/?n=%d&delay=%s"):format(N, DELAY))
        assert.are.equal("HTTP/1.1 200 OK", status)
        assert.are.equal("chunked", headers["transfer-encoding"])
        local chunks, times = {}, {}
        while true do
          local size = tonumber(assert(c:receive("*l")), 16)
          if size == 0 then assert.are.equal("", c:receive("*l")) break end
          chunks[#chunks + 1] = assert(c:receive(size))
          times[#times + 1] = socket.gettime() - t0
          assert.are.equal("", c:receive("*l"))     -- the CRLF after the data
        end
        assert.are.equal("", read_to_eof(c))
        c:close()
        return {chunks = chunks, times = times}
      end
      -- three clients at once: each gets its own stream, and they overlap
      local t0 = socket.gettime()
      local gs = {}
      for i = 1, 3 do gs[i] = gevent.spawn(fetch) end
      gevent.joinall(gs, nil, true)
      local elapsed = socket.gettime() - t0
      for _, g in ipairs(gs) do
        local r = g:get()
        assert.are.same({"chunk 1 of 4\n", "chunk 2 of 4\n", "chunk 3 of 4\n",
                         "chunk 4 of 4\n"}, r.chunks)
        assert.is_true(r.times[1] < 2 * DELAY, "the first chunk comes at once")
        for i = 2, N do
          local gap = r.times[i] - r.times[i - 1]
          assert.is_true(gap > DELAY * 0.5 and gap < DELAY + 1,
                         ("chunk %d came %.3f s after the one before"):format(i, gap))
        end
      end
      -- served concurrently: about (N-1)*DELAY in all, not three times that
      assert.is_true(elapsed < (N - 1) * DELAY * 2, ("took %.3f s"):format(elapsed))

      -- an HTTP/1.0 client gets the pieces without chunked framing
      local c = connect(port)
      c:send("GET /?n=2&delay=0.05 HTTP/1.0\r\n\r\n")
      assert.are.equal("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                       .. "chunk 1 of 2\nchunk 2 of 2\n", read_to_eof(c))
      c:close()

      local status, _, body = http(port, "GET", "/nowhere")
      assert.are.equal("HTTP/1.1 404 Not Found", status)
      assert.are.equal("try /\n", body)
      assert.are.equal(0, stop(p))
      assert.is_true(refused(port))
    end)
  end)

  it("long_polling.lua wakes every waiter with the value POSTed", function()
    with_server("long_polling.lua", {}, function(p, port)
      local function waiters(n)
        local gs = {}
        for i = 1, n do
          gs[i] = gevent.spawn(function()
            local status, _, body = http(port, "GET", "/wait")
            return {status = status, body = body, at = socket.gettime()}
          end)
        end
        -- until the server says they are all waiting
        while select(3, http(port, "GET", "/waiters")) ~= n .. "\n" do gevent.sleep(0.02) end
        gevent.sleep(0.1)
        for _, g in ipairs(gs) do assert.is_false(g.dead, "a waiter returned early") end
        return gs
      end
      for round = 1, 2 do
        local gs = waiters(5)
        local value = "value of round " .. round
        local t_put = socket.gettime()
        local status, _, body = http(port, "POST", "/put", value)
        assert.are.equal("HTTP/1.1 200 OK", status)
        assert.are.equal("published to 5 waiters\n", body)
        gevent.joinall(gs, nil, true)
        for _, g in ipairs(gs) do
          local r = g:get()
          assert.are.equal("HTTP/1.1 200 OK", r.status)
          assert.are.equal(value, r.body)
          assert.is_true(r.at - t_put < 1, "the waiters wake together")
        end
      end
      -- nothing published: the wait ends with 204 after its timeout
      local t0 = socket.gettime()
      local status, headers, body = http(port, "GET", "/wait?timeout=0.2")
      local took = socket.gettime() - t0
      assert.are.equal("HTTP/1.1 204 No Content", status)
      assert.is_nil(headers["content-length"])
      assert.are.equal("", body)
      assert.is_true(took > 0.1 and took < 2, ("took %.3f s"):format(took))
      -- a waiter still blocked at shutdown does not keep the server alive
      local late = gevent.spawn(pcall, http, port, "GET", "/wait")
      while select(3, http(port, "GET", "/waiters")) ~= "1\n" do gevent.sleep(0.02) end
      assert.are.equal(0, stop(p))
      late:join(5)
      assert.is_true(late.dead)
      assert.is_true(refused(port))
    end)
  end)

  it("long_polling.lua's producer timer wakes the waiters too", function()
    with_server("long_polling.lua", {"0.3"}, function(p, port)
      local gs = {}
      for i = 1, 4 do
        gs[i] = gevent.spawn(function()
          local status, _, body = http(port, "GET", "/wait")
          assert.are.equal("HTTP/1.1 200 OK", status)
          return body
        end)
      end
      gevent.joinall(gs, nil, true)
      local first = gs[1]:get()
      assert.is_truthy(first:match("^tick %d+$"), first)
      for _, g in ipairs(gs) do assert.are.equal(first, g:get()) end
      assert.are.equal(0, stop(p))
    end)
  end)

  it("chat.lua keeps rooms apart and handles commands and disconnects", function()
    with_server("chat.lua", {}, function(p, port)
      local function expect(c, want)
        local line, err = c.sock:receive("*l")
        assert(line, ("%s: expected %q, got %s"):format(c.name, want, tostring(err)))
        if want:sub(1, 1) == "~" then
          assert.is_truthy(line:match(want:sub(2)), ("%s got %q"):format(c.name, line))
        else
          assert.are.equal(want, line, c.name)
        end
      end
      local function say(c, line) assert(c.sock:send(line .. "\n")) end
      local function user(name)
        local c = {name = name, sock = connect(port)}
        expect(c, "~^%* welcome guest%d+! commands: /nick NAME, /join ROOM, /leave, /who, /quit$")
        say(c, "/nick " .. name)
        expect(c, "~^%* guest%d+ is now known as " .. name .. "$")
        return c
      end
      -- four users connect at once
      local gs = {}
      for i, name in ipairs{"alice", "bob", "carol", "dave"} do
        gs[i] = gevent.spawn(user, name)
      end
      gevent.joinall(gs, nil, true)
      local alice, bob, carol, dave = gs[1].value, gs[2].value, gs[3].value, gs[4].value

      say(dave, "/nick alice")
      expect(dave, "* nick alice is taken")
      say(dave, "hello?")
      expect(dave, "* join a room first: /join ROOM")
      say(dave, "/frobnicate")
      expect(dave, "* unknown command /frobnicate")

      say(alice, "/join A")
      expect(alice, "* alice joined #A")
      expect(alice, "* in #A: alice")
      say(bob, "/join A")
      expect(bob, "* bob joined #A")
      expect(bob, "* in #A: alice, bob")
      expect(alice, "* bob joined #A")
      say(carol, "/join B")
      expect(carol, "* carol joined #B")
      expect(carol, "* in #B: carol")

      -- a message in A reaches A's members (the sender too), not B's
      say(alice, "hi all")
      expect(alice, "[A] alice: hi all")
      expect(bob, "[A] alice: hi all")
      say(carol, "/who")
      expect(carol, "* in #B: carol")         -- and not alice's message first
      say(carol, "anyone in B?")
      expect(carol, "[B] carol: anyone in B?")
      say(bob, "/who")
      expect(bob, "* in #A: alice, bob")      -- carol's message did not come

      -- both rooms at once: each member gets their room's lines in order
      local senders = {}
      for i, c in ipairs{alice, bob, carol} do
        senders[i] = gevent.spawn(function()
          for k = 1, 5 do say(c, c.name .. " says " .. k) gevent.sleep(0) end
        end)
      end
      gevent.joinall(senders, nil, true)
      local function collect(c, n)
        local got = {}
        for _ = 1, n do got[#got + 1] = assert(c.sock:receive("*l")) end
        return got
      end
      local a_lines, b_lines, c_lines = collect(alice, 10), collect(bob, 10), collect(carol, 5)
      assert.are.same(a_lines, b_lines)       -- the same transcript for A's members
      local seen = {alice = 0, bob = 0}
      for _, l in ipairs(a_lines) do
        local who, k = l:match("^%[A%] (%a+): %a+ says (%d)$")
        assert.is_truthy(who, l)
        seen[who] = seen[who] + 1
        assert.are.equal(seen[who], tonumber(k)) -- each sender's lines in order
      end
      for k, l in ipairs(c_lines) do assert.are.equal("[B] carol: carol says " .. k, l) end

      -- /join switches rooms, /leave leaves
      say(dave, "/join A")
      expect(dave, "* dave joined #A")
      expect(dave, "* in #A: alice, bob, dave")
      expect(alice, "* dave joined #A")
      expect(bob, "* dave joined #A")
      say(dave, "/join B")
      expect(dave, "* dave left #A")
      expect(alice, "* dave left #A")
      expect(bob, "* dave left #A")
      expect(dave, "* dave joined #B")
      expect(carol, "* dave joined #B")
      expect(dave, "* in #B: carol, dave")
      say(bob, "/leave")
      expect(bob, "* bob left #A")
      expect(alice, "* bob left #A")
      say(bob, "/who")
      expect(bob, "* you are not in a room")

      -- /nick inside a room is announced to the room
      say(alice, "/nick alicia")
      expect(alice, "* alice is now known as alicia")
      say(alice, "renamed")
      expect(alice, "[A] alicia: renamed")

      -- a client that just disconnects leaves its room
      carol.sock:close()
      expect(dave, "* carol left #B")
      say(dave, "/who")
      expect(dave, "* in #B: dave")

      -- /quit leaves the room, says bye and hangs up; the nick is free again
      say(dave, "/quit")
      expect(dave, "* dave left #B")
      expect(dave, "* bye")
      assert.are.same({nil, "closed", ""}, {dave.sock:receive("*l")})
      dave.sock:close()
      say(bob, "/nick dave")
      expect(bob, "* bob is now known as dave")

      -- SIGTERM with clients still connected: the server stops anyway
      assert.are.equal(0, stop(p))
      assert.are.same({nil, "closed", ""}, {alice.sock:receive("*l")})
      alice.sock:close()
      bob.sock:close()
      assert.is_true(refused(port))
    end)
  end)

  it("prefork.lua serves one port from several worker processes", function()
    with_server("prefork.lua", {"3"}, function(p, port)
      local function ppid_of(pid)
        local f = io.open("/proc/" .. pid .. "/stat")
        if not f then return nil end
        local s = f:read("a") -- nil when it was reaped since the open
        f:close()
        return s and tonumber(s:match("^%d+ %b() %S+ (%d+)"))
      end
      -- connections that stay open, a few at a time, until more than one
      -- worker has answered
      local pids, npids, conns = {}, 0, {}
      for round = 1, 40 do
        local gs = {}
        for i = 1, 4 do
          gs[i] = gevent.spawn(function()
            local c = connect(port)
            local line = assert(c:receive("*l"))
            local pid = tonumber(line:match("^hello from worker (%d+)$"))
            assert(pid, line)
            c:send("ping " .. i .. "\n")
            assert.are.equal(("worker %d: ping %d"):format(pid, i), c:receive("*l"))
            conns[#conns + 1] = c
            return pid
          end)
        end
        gevent.joinall(gs, nil, true)
        for _, g in ipairs(gs) do
          if not pids[g.value] then pids[g.value] = true npids = npids + 1 end
        end
        if npids > 1 and round >= 3 then break end
        gevent.sleep(0.02)
      end
      assert.is_true(npids > 1, "only one worker served " .. #conns .. " connections")
      assert.is_true(npids <= 3)
      for pid in pairs(pids) do
        assert.are.equal(p.pid, ppid_of(pid), "the workers are the server's children")
      end
      for _, c in ipairs(conns) do c:close() end
      -- SIGTERM to the parent stops every worker, then the parent exits 0
      assert.are.equal(0, stop(p))
      for pid in pairs(pids) do assert.is_nil(ppid_of(pid), "worker " .. pid .. " is gone") end
      assert.is_true(refused(port))
    end)
  end)

  it("prefork.lua stops on SIGINT; exits 1 if a worker died", function()
    with_server("prefork.lua", {"2"}, function(p, port)
      local c = connect(port)
      local pid = tonumber(assert(c:receive("*l")):match("^hello from worker (%d+)$"))
      c:close()
      assert.are.equal(0, sp.call({"kill", "-KILL", tostring(pid)}))
      local function alive()   -- not yet a zombie (or reaped)
        local f = io.open("/proc/" .. pid .. "/stat")
        if not f then return false end
        local stat = f:read("a") -- nil when it was reaped since the open
        f:close()
        return stat ~= nil and stat:match("^%d+ %b() (%S)") ~= "Z"
      end
      while alive() do gevent.sleep(0.01) end
      -- the other worker still serves
      for _ = 1, 3 do
        local c2 = connect(port)
        local line = assert(c2:receive("*l"))
        c2:close()
        local other = tonumber(line:match("^hello from worker (%d+)$"))
        assert.is_truthy(other, line)
        assert.are_not.equal(pid, other)
      end
      p:send_signal("SIGINT")
      assert.are.equal(1, p:wait(10))
      assert.is_true(refused(port))
    end)
  end)
end)
