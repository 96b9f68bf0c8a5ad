-- gevent.select.select over fds and objects with getfd: blocks only the
-- calling greenlet, no FD_SETSIZE cap.
local gevent = require "gevent"
local socket = require "gevent.socket"
local gselect = require "gevent.select"
local core = require("gvlua").socket

local function pair()
  local l = assert(socket.tcp4())
  assert(l:bind("127.0.0.1", 0))
  assert(l:listen(8))
  local _, port = l:getsockname()
  local srv
  local g = gevent.spawn(function() srv = assert(l:accept()) end)
  local c = assert(socket.connect("127.0.0.1", tonumber(port)))
  g:join(2)
  l:close()
  return c, srv
end

describe("gevent.select", function()
  it("returns the ready entries as given", function()
    local c, s = pair()
    local r, w, x = gselect.select({s, c:getfd()}, {c}, {}, 1)
    assert.are.same({}, r)
    assert.are.equal(1, #w)
    assert.are.equal(c, w[1])
    assert.are.same({}, x)
    c:send("hi")
    r, w = gselect.select({s:getfd(), c}, {}, {}, 1)
    assert.are.same({s:getfd()}, r)
    assert.are.same({}, w)
    -- the same fd twice, as two different entries
    r = gselect.select({s, s:getfd()}, {}, {}, 1)
    assert.are.equal(2, #r)
    c:close(); s:close()
  end)

  it("blocks only the calling greenlet until something is ready", function()
    local c, s = pair()
    local ticks = 0
    local tk = gevent.spawn(function()
      while true do ticks = ticks + 1; gevent.sleep(0.002) end
    end)
    gevent.spawn_later(0.05, function() c:send("x") end)
    local t0 = core.monotonic()
    local r = gselect.select({s}, {}, {}, 2)
    assert.are.equal(s, r[1])
    assert.is_true(core.monotonic() - t0 >= 0.04)
    assert.is_true(ticks >= 3)
    tk:kill()
    c:close(); s:close()
  end)

  it("returns empty lists on timeout", function()
    local c, s = pair()
    local t0 = core.monotonic()
    local r, w, x = gselect.select({s}, {}, {}, 0.03)
    local dt = core.monotonic() - t0
    assert.are.same({{}, {}, {}}, {r, w, x})
    assert.is_true(dt >= 0.02 and dt < 0.5, tostring(dt))
    -- timeout 0 polls
    r = gselect.select({s}, {}, {}, 0)
    assert.are.same({}, r)
    -- no entries: sleeps for the timeout
    t0 = core.monotonic()
    r, w, x = gselect.select({}, {}, {}, 0.02)
    assert.is_true(core.monotonic() - t0 >= 0.015)
    assert.are.same({{}, {}, {}}, {r, w, x})
    c:close(); s:close()
  end)

  it("accepts a started Timeout as its timeout", function()
    local c, s = pair()
    local t = gevent.Timeout(0.02):start()
    local r = gselect.select({s}, {}, {}, t)
    assert.are.same({}, r)
    t:cancel()
    c:close(); s:close()
  end)

  it("can be killed while waiting; its watchers go away", function()
    local c, s = pair()
    local g = gevent.spawn(function() gselect.select({s}, {}, {}) end)
    gevent.sleep(0.01)
    g:kill()
    assert.is_true(g.dead)
    c:send("data") -- would have woken it
    gevent.sleep(0.01)
    local r = gselect.select({s}, {}, {}, 1)
    assert.are.equal(s, r[1])
    c:close(); s:close()
  end)

  it("raises on bad entries, naming the argument and the entry", function()
    local function err_of(...)
      local ok, e = pcall(gselect.select, ...)
      assert.is_false(ok)
      return e
    end
    assert.matches("^bad argument #1 to 'gevent.select.select' %(entry 1: "
                   .. "file descriptor or object with getfd expected, got "
                   .. "table%)$", err_of({{}}, {}, {}, 0))
    local c, s = pair()
    s:close()
    assert.matches("^bad argument #2 to 'gevent.select.select' %(entry 1 is "
                   .. "a negative file descriptor", err_of({}, {s}, {}, 0))
    c:close()
    assert.matches("^bad argument #4 to 'gevent.select.select' %(nothing to "
                   .. "wait for and no timeout: it would block forever%)$",
                   err_of({}, {}, {}))
    assert.matches("^bad argument #3 to 'gevent.select.select' %(timeout "
                   .. "must be non%-negative%)$", err_of({}, {}, -1))
    -- the position is the caller's
    local ok, e = pcall(function() gselect.select({"x"}, {}, {}, 0) end)
    assert.is_false(ok)
    assert.matches("^[^:]*select_spec.lua:%d+: bad argument #1", e)
  end)

  it("has no FD_SETSIZE cap", function()
    local h = io.popen("sh -c 'ulimit -n'")
    local limit = tonumber(h:read("*l")) or 0
    h:close()
    if limit < 1400 then
      pending("ulimit -n is " .. limit .. ": cannot open fds above 1024")
      return
    end
    local pairs_ = {}
    local high
    repeat
      local c, s = pair()
      pairs_[#pairs_ + 1] = {c, s}
      high = {c, s}
    until s:getfd() > 1100
    local c, s = high[1], high[2]
    gevent.spawn_later(0.01, function() c:send("hi") end)
    local r = gselect.select({s}, {}, {}, 2)
    assert.are.equal(s, r[1])
    -- LuaSocket's select through gevent.socket too
    local r2 = socket.select({s}, nil, 1)
    assert.are.equal(s, r2[1])
    for _, p in ipairs(pairs_) do p[1]:close(); p[2]:close() end
  end)
end)

describe("gevent.select.poll", function()
  it("reports events per fd, cooperatively", function()
    local c, s = pair()
    local p = gselect.poll()
    p:register(s, gselect.POLLIN)
    p:register(c:getfd(), gselect.POLLOUT)
    local r = p:poll(1000)
    assert.are.same({{c:getfd(), gselect.POLLOUT}}, r)
    p:unregister(c)
    local t0 = core.monotonic()
    assert.are.same({}, p:poll(30))
    assert.is_true(core.monotonic() - t0 >= 0.02)
    gevent.spawn_later(0.02, function() c:send("x") end)
    r = p:poll()
    assert.are.equal(s:getfd(), r[1][1])
    assert.are.equal(gselect.POLLIN, r[1][2] & gselect.POLLIN)
    p:modify(s, gselect.POLLIN | gselect.POLLOUT)
    r = p:poll(0)
    assert.are.equal(gselect.POLLIN | gselect.POLLOUT, r[1][2])
    assert.has_error(function() p:unregister(12345) end,
      "bad argument #1 to 'unregister' (fd 12345 is not registered)")
    assert.has_error(function() p:modify(12345) end,
      "bad argument #1 to 'modify' (fd 12345 is not registered)")
    assert.has_error(function() gselect.poll():poll() end,
      "bad argument #1 to 'poll' (nothing registered and no timeout: it "
      .. "would block forever)")
    -- a hang-up
    s:receive(1)
    p:modify(s, gselect.POLLIN)
    c:close()
    r = p:poll(1000)
    assert.are.equal(s:getfd(), r[1][1])
    s:close()
  end)

  it("poll ignores negative fds, as poll(2) does", function()
    local sel = require "gevent.select"
    local p = sel.poll()
    p:register(-1, sel.POLLIN)
    local ready = p:poll(10)
    assert.are.same({}, ready)
  end)
end)

-- Issue 9, item 1: bad fds are errors in the caller, never a libev abort.
describe("gevent.select fd arguments", function()
  local function closed_fd()
    local u = assert(socket.udp4())
    local fd = math.tointeger(u:getfd())
    u:close()
    return fd
  end

  it("select raises for out-of-range and closed fds", function()
    for _, fd in ipairs{2^32 + 5, 2^31, 2^53} do
      local ok, err = pcall(gselect.select, {fd}, {}, {}, 0.01)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'select' %(file descriptor out of range%)", err)
    end
    local fd = closed_fd()
    local ok, err = pcall(gselect.select, {}, {fd}, {}, 0.01)
    assert.is_false(ok)
    assert.matches("bad argument #2 to 'select' %(file descriptor " .. fd
                   .. " is not open%)", err)
    ok, err = pcall(socket.select, {fd}, nil, 0.01)
    assert.is_false(ok)
    assert.matches("is not open", err)
    -- the hub's own fds (epoll, eventfd) are refused, whichever numbers
    local own = 0
    for n = 0, 16 do
      local ok2, e = pcall(gselect.select, {n}, {}, {}, 0.01)
      if not ok2 and e:find("hub's own", 1, true) then own = own + 1 end
    end
    assert.are.equal(2, own)
  end)

  it("poll reports a closed fd with POLLNVAL and refuses bad numbers", function()
    local fd = closed_fd()
    local p = gselect.poll()
    p:register(fd, gselect.POLLIN)
    assert.are.same({{fd, gselect.POLLNVAL}}, p:poll(100))
    local q = gselect.poll()
    q:register(2^32 + 1, gselect.POLLIN)
    assert.has_error(function() q:poll(10) end)
    for n = 0, 16 do -- the hub's own fd: an error, not an abort
      local r = gselect.poll()
      r:register(n, gselect.POLLIN)
      pcall(r.poll, r, 1)
    end
    assert.is_nil(gevent.sleep(0.001))
  end)
end)
