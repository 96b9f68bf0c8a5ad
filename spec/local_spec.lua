-- gevent.local: greenlet-local storage.
local gevent = require "gevent"
local localmod = require "gevent.local"
local Local = localmod.Local

describe("gevent.local", function()
  it("fields are seen only by the greenlet that set them", function()
    local stash = Local()
    local out = {}
    local function f1()
      stash.x = 1
      out[#out + 1] = stash.x
    end
    local function f2()
      stash.y = 2
      out[#out + 1] = stash.y
      if stash.x == nil then out[#out + 1] = "x is not local to f2" end
    end
    gevent.joinall({ gevent.spawn(f1), gevent.spawn(f2) })
    assert.same({ 1, 2, "x is not local to f2" }, out)
    -- the main greenlet saw none of it
    assert.is_nil(stash.x)
    assert.is_nil(stash.y)
  end)

  it("the main greenlet has its own fields", function()
    local l = Local()
    l.name = "main"
    local seen
    gevent.spawn(function()
      seen = l.name
      l.name = "child"
    end):join()
    assert.is_nil(seen)
    assert.equal("main", l.name)
  end)

  it("keeps each greenlet's values across switches", function()
    local l = Local()
    local res = {}
    local gs = {}
    for i = 1, 5 do
      gs[i] = gevent.spawn(function()
        l.v = i
        gevent.sleep(0)
        l.v = l.v * 10
        gevent.sleep(0.001 * (6 - i))
        res[i] = l.v
      end)
    end
    gevent.joinall(gs)
    assert.same({ 10, 20, 30, 40, 50 }, res)
  end)

  it("assigning nil removes a field; any key type works", function()
    local l = Local()
    l.a = 1
    l[1] = "one"
    l[true] = "yes"
    assert.equal("one", l[1])
    assert.equal("yes", l[true])
    l.a = nil
    assert.is_nil(l.a)
  end)

  it("separate Local objects do not share", function()
    local a, b = Local(), Local()
    a.x = 1
    assert.is_nil(b.x)
  end)

  it("pairs() lists the current greenlet's fields", function()
    local l = Local()
    l.a, l.b = 1, 2
    local keys = {}
    gevent.spawn(function()
      l.c = 3
      for k in pairs(l) do keys[#keys + 1] = k end
    end):join()
    assert.same({ "c" }, keys)
    local mine = {}
    for k, v in pairs(l) do mine[k] = v end
    assert.same({ a = 1, b = 2 }, mine)
  end)

  it("an init function sets defaults once per greenlet", function()
    local calls = 0
    local l = Local(function(self)
      calls = calls + 1
      self.count = 0
    end)
    local res = {}
    local gs = {}
    for i = 1, 3 do
      gs[i] = gevent.spawn(function()
        l.count = l.count + i
        l.count = l.count + 1
        res[i] = l.count
      end)
    end
    gevent.joinall(gs)
    assert.same({ 2, 3, 4 }, res)
    assert.equal(3, calls)
    assert.has_error(function() Local(42) end,
      "bad argument #1 to 'gevent.local.Local' (function expected, got number)")
  end)

  it("# is the current greenlet's array length", function()
    local l = Local()
    l[1], l[2] = "a", "b"
    assert.equal(2, #l)
    gevent.spawn(function() assert.equal(0, #l); l[1] = "x" end):join()
    assert.equal(2, #l)
  end)

  it("clear() drops the current greenlet's fields", function()
    local l = Local()
    l.x = 1
    localmod.clear(l)
    assert.is_nil(l.x)
  end)

  it("hub callbacks have their own storage", function()
    local l = Local()
    l.x = "main"
    local seen = "unset"
    local g = gevent.spawn(function() end)
    g:rawlink(function() seen = l.x; l.x = "hub" end)
    g:join()
    gevent.sleep(0)
    assert.is_nil(seen)
    assert.equal("main", l.x)
  end)

  it("tostring", function()
    assert.matches("^<gevent.local at ", tostring(Local()))
  end)

  it("storage goes away with the greenlets (no leak)", function()
    local l = Local()
    local function round(n)
      local gs = {}
      for i = 1, n do
        gs[i] = gevent.spawn(function()
          l.payload = { i, tostring(i) }
          l.n = i
        end)
      end
      gevent.joinall(gs)
    end
    round(10000) -- warm up the thread pool and the tables
    collectgarbage()
    collectgarbage()
    local base = collectgarbage("count")
    for _ = 1, 10 do round(10000) end -- 100k greenlets
    collectgarbage()
    collectgarbage()
    local grown = collectgarbage("count") - base
    assert.is_true(grown < 2048, ("grew by %.0f KiB"):format(grown))
  end)
end)
