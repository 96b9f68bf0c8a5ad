-- gevent (lua/gevent/init.lua): joinall, wait and iwait, the loops over
-- greenlets and waitable objects that the top-level module adds.
local gevent = require "gevent"

describe("joinall", function()
  it("returns the finished greenlets, and stops at the timeout", function()
    local fast = gevent.spawn(function() end)
    local slow = gevent.spawn(gevent.sleep, 0.2)
    local done = gevent.joinall({fast, slow}, 0.02)
    assert.are.same({fast}, done)
    slow:kill()
  end)

  it("waits for other waitable objects in the list too, in the order they became ready", function()
    local Event = require("gevent.event").Event
    local e = Event()
    local g = gevent.spawn(gevent.sleep, 0.02)
    gevent.spawn(function() e:set() end)
    assert.are.same({e, g}, gevent.joinall({g, e}))
  end)

  it("skips an entry that stopped being a greenlet while it waited", function()
    local list = {}
    list[1] = gevent.spawn(function() gevent.sleep(0.01); list[2] = "gone" end)
    list[2] = gevent.spawn(gevent.sleep, 0.02)
    local second = list[2]
    assert.are.same({list[1]}, gevent.joinall(list))
    second:join()
  end)

  it("a greenlet in its own list is an error, not a wait for ever", function()
    local me
    me = gevent.spawn(function() return pcall(gevent.joinall, {me}) end)
    me:join()
    assert.is_false(me.value)
    local ok, err = me:get()
    assert.is_false(ok)
    assert.matches("a greenlet cannot join itself", err)
  end)

  it("raise_error raises the first failure", function()
    local bad = gevent.spawn(function() error("bad", 0) end)
    local ok, err = pcall(gevent.joinall, {bad}, nil, true)
    assert.is_false(ok)
    assert.are.equal("bad", err)
  end)
end)

describe("joinall, as gevent's", function()
  it("returns those done in the order they finished, within the timeout", function()
    local a = gevent.spawn(gevent.sleep, 0.3)
    local b = gevent.spawn(gevent.sleep, 0.01)
    local c = gevent.spawn(gevent.sleep, 0.02)
    local done = gevent.joinall({a, b, c}, 0.15)
    assert.are.same({b, c}, done)
    a:kill()
  end)

  it("without timeout or count, returns all of them in the order they died", function()
    local a = gevent.spawn(gevent.sleep, 0.03)
    local b = gevent.spawn(gevent.sleep, 0.01)
    local c = gevent.spawn(gevent.sleep, 0.02)
    local killed = gevent.spawn(gevent.sleep, 1)
    killed:kill()
    assert.are.same({killed, b, c, a}, gevent.joinall({a, b, c, killed}))
  end)

  it("stops after count greenlets", function()
    local a = gevent.spawn(gevent.sleep, 0.02)
    local b = gevent.spawn(gevent.sleep, 0.01)
    assert.are.same({b}, gevent.joinall({a, b}, nil, false, 1))
    a:join()
  end)

  it("with raise_error raises the first failure as it happens", function()
    local slow = gevent.spawn(gevent.sleep, 0.05)
    local bad = gevent.spawn(function() gevent.sleep(0.01); error("first", 0) end)
    local ok, err = pcall(gevent.joinall, {slow, bad}, nil, true)
    assert.is_false(ok)
    assert.are.equal("first", err)
    assert.is_false(slow.dead)
    slow:join()
  end)
end)

describe("wait and iwait", function()
  it("iwait's timeout ends the iteration, never raising in the loop body", function()
    local a = gevent.spawn(gevent.sleep, 0.01)
    local b = gevent.spawn(gevent.sleep, 0.5)
    local seen = {}
    for g in gevent.iwait({a, b}, 0.05) do
      seen[#seen + 1] = g
      gevent.sleep(0.1) -- past the deadline, inside the body
    end
    assert.are.same({a}, seen)
    b:kill()
  end)

  it("breaking out of iwait unlinks it from the other objects", function()
    local a = gevent.spawn(gevent.sleep, 0.01)
    local b = gevent.spawn(gevent.sleep, 0.02)
    for _ in gevent.iwait({a, b}) do break end -- luacheck: ignore 512
    b:join()
    gevent.sleep(0)
    -- nothing was left linked to b: a fresh iwait on b alone sees it once
    local n = 0
    for _ in gevent.iwait({b}) do n = n + 1 end
    assert.are.equal(1, n)
  end)

  it("iwait yields greenlets in the order they finish", function()
    local a = gevent.spawn(gevent.sleep, 0.03)
    local b = gevent.spawn(gevent.sleep, 0.01)
    local order = {}
    for g in gevent.iwait({a, b}) do order[#order + 1] = g end
    assert.are.same({b, a}, order)
  end)

  it("wait() with no objects runs until nothing is left", function()
    local done = false
    gevent.spawn(function() gevent.sleep(0.01); done = true end)
    gevent.wait()
    assert.is_true(done)
  end)
end)

describe("the public modules", function()
  -- Names starting with '_' that are public all the same: LuaSocket's
  -- module fields, gevent's (Python's) os._exit and RLock._is_owned, and
  -- Greenlet's _run, the body a subclass defines.
  local FOREIGN = {_VERSION = true, _SETSIZE = true, _DATAGRAMSIZE = true,
                   _SOCKETINVALID = true, _exit = true, _is_owned = true,
                   _run = true}

  local function modules()
    local init = assert(package.searchpath("gevent", package.path))
    local dir = init:match("^(.*)/[^/]*$")
    local out = {"gevent"}
    local ls = assert(io.popen("ls '" .. dir .. "'"))
    for f in ls:lines() do
      local name = f:match("^([%w]+)%.lua$") -- private ones start with '_'
      if name and name ~= "init" then out[#out + 1] = "gevent." .. name end
    end
    ls:close()
    return out
  end

  -- The private entries of t, its tables and their method tables.
  local function private_entries(t, path, out, seen)
    if seen[t] then return end
    seen[t] = true
    for k, v in pairs(t) do
      if type(k) == "string" and k:match("^_[^_]") and not FOREIGN[k] then
        out[#out + 1] = path .. "." .. k
      end
      if type(k) == "string" and not k:match("^__") and type(v) == "table" then
        private_entries(v, path .. "." .. k, out, seen)
      end
    end
    local mt = getmetatable(t)
    if type(mt) == "table" and type(mt.__index) == "table" then
      private_entries(mt.__index, path, out, seen)
    end
  end

  it("hold no private entries (helpers live in private modules)", function()
    local found, seen = {}, {}
    local list = modules()
    assert.is_true(#list > 15)
    for _, name in ipairs(list) do
      private_entries(require(name), name, found, seen)
    end
    -- the methods of the C types
    for name, mt in pairs(debug.getregistry()) do
      if type(name) == "string" and name:match("^gevent%.") and
         type(mt) == "table" then
        for _, t in ipairs{mt.__index, mt.__methods} do
          if type(t) == "table" then private_entries(t, name, found, seen) end
        end
      end
    end
    table.sort(found)
    assert.are.same({}, found)
  end)
end)
