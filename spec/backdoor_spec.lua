-- gevent.backdoor: console sessions over real sockets (TCP on 127.0.0.1,
-- and a Unix socket), driven by a gevent.socket client.
local gevent = require "gevent"
local socket = require "gevent.socket"
local BackdoorServer = require("gevent.backdoor").BackdoorServer

-- A client: send(line), and until(text): what arrived up to `text`.
local function connect(addr)
  local c
  if type(addr) == "string" then
    c = assert(socket.unix())
    assert(c:connect(addr))
  else
    c = assert(socket.tcp())
    assert(c:connect(addr[1], addr[2]))
  end
  c:settimeout(10)
  local buf = ""
  local client = {}
  function client.send(line) assert(c:send(line .. "\n")) end
  -- reads until `text` has arrived; returns what came before it
  function client.upto(text)
    while not buf:find(text, 1, true) do
      local s, err, partial = c:receive(1)
      if not s then
        if partial and #partial > 0 then buf = buf .. partial end
        error(("no %q (%s) after: %q"):format(text, err, buf))
      end
      buf = buf .. s
    end
    local i, j = buf:find(text, 1, true)
    local before = buf:sub(1, i - 1)
    buf = buf:sub(j + 1)
    return before
  end
  -- one line of input: what it printed before the next prompt
  function client.eval(line)
    client.send(line)
    return client.upto("> ")
  end
  function client.rest()
    local s = c:receive("*a")
    return buf .. (s or "")
  end
  function client.close() c:close() end
  return client
end

describe("gevent.backdoor.BackdoorServer", function()
  it("runs a console session over TCP on 127.0.0.1", function()
    local server = BackdoorServer(0, {answer = 42}, "welcome")
    server:start()
    assert.are.equal("127.0.0.1", server.address[1])
    assert.is_true(server.address[2] > 0)
    local c = connect(server.address)
    assert.are.equal("welcome\n", c.upto("> "))
    assert.are.equal("42\n", c.eval("answer"))                 -- locals
    assert.are.equal("", c.eval("x = answer + 1"))             -- statement
    assert.are.equal("43\t44\n", c.eval("x, x + 1"))           -- values
    assert.are.equal("hi\t43\n", c.eval("print('hi', x)"))     -- print
    -- a chunk not finished asks for more with ">> "
    c.send("function f(n)")
    assert.are.equal("", c.upto(">> "))
    c.send("  return n * 2")
    assert.are.equal("", c.upto(">> "))
    c.send("end")
    assert.are.equal("", c.upto("> "))
    assert.are.equal("14\n", c.eval("f(7)"))
    assert.are.equal("21\n", c.eval("=f(7) + 7"))
    -- errors are reported with their traceback, the session goes on
    local e = c.eval("error('boom')")
    assert.is_truthy(e:find("^console:1: boom\nstack traceback:\n"), e)
    assert.is_nil(e:find("backdoor.lua", 1, true))
    assert.is_truthy(c.eval("x = = 1"):find("^console:1: unexpected symbol"))
    -- the code runs in the connection's greenlet and may block
    assert.are.equal("slept\n", c.eval("gevent.sleep(0.01) return 'slept'"))
    assert.are.equal("true\n", c.eval("gevent.getcurrent() ~= nil"))
    c.send("quit()")
    assert.are.equal("", c.rest())
    c.close()
    server:stop()
  end)

  it("gives each connection its own environment", function()
    local shared = {n = 1}
    local server = BackdoorServer({"127.0.0.1", 0}, {shared = shared})
    server:start()
    local a, b = connect(server.address), connect(server.address)
    a.upto("> ")
    b.upto("> ")
    a.eval("mine = 'a'")
    assert.are.equal("nil\n", b.eval("mine"))
    assert.are.equal("a\n", a.eval("mine"))
    a.eval("shared.n = shared.n + 1")
    assert.are.equal("2\n", b.eval("shared.n"))
    assert.are.equal(2, shared.n)
    assert.is_nil(rawget(_G, "mine"))
    a.close()
    b.close()
    server:stop()
  end)

  it("serves a Unix socket, and stops as StreamServer does", function()
    local path = os.tmpname()
    os.remove(path)
    local server = BackdoorServer("unix:" .. path)
    assert.is_truthy(tostring(server):find(path, 1, true))
    local runner = gevent.spawn(function() server:serve_forever() end)
    gevent.sleep(0)
    local c = connect(path)
    assert.is_truthy(c.upto("> "):find("gvlua backdoor", 1, true))
    assert.are.equal("2\n", c.eval("1 + 1"))
    c.close() -- (stop would wait stop_timeout for an open session)
    server:stop()
    runner:join(5)
    assert.is_true(runner.dead)
    assert.is_nil(io.open(path))
  end)

  it("checks its arguments", function()
    assert.has_error(function() BackdoorServer() end,
      "bad argument #1 to 'gevent.backdoor.BackdoorServer' (listener "
      .. "expected, got nil)")
    assert.has_error(function() BackdoorServer(0, 5) end,
      "bad argument #2 to 'gevent.backdoor.BackdoorServer' (table expected, "
      .. "got number)")
    assert.has_error(function() BackdoorServer(0, {}, {}) end,
      "bad argument #3 to 'gevent.backdoor.BackdoorServer' (string expected, "
      .. "got table)")
  end)
end)
