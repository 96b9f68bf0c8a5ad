-- docs_sync.lua - checks that the API reference (docs/api/*.md) and the
-- public modules agree, in both directions:
--   * every public name of every public module has an entry: its
--     functions and values, and for classes (and objects the module makes)
--     their methods, found by walking the class tables, the instance
--     metatables' method tables (__index tables, __methods) and the fields
--     of an instance made for the purpose;
--   * every entry names something that exists (for fields: that reads as
--     non-nil on one of those instances).
-- Names starting with '_' (and so the metamethods '__*') need no entry.
-- Also: each module has its page(s), every page belongs to a module and
-- is linked from docs/api/README.md, headings are well formed and unique;
-- every module under lua/ (but private ones, `_x`) is in MODULES below;
-- the relative links of every Markdown file name files of the repository.
--
-- Editor annotations (types/<module path>.lua, lua-language-server's
-- ---@meta files): every documented entry has one, and every name they
-- annotate exists in the code. An annotation is read as the entry of the
-- same name: `function gevent.spawn(` is `gevent.spawn`, `function
-- Queue:get(` is `Queue:get` (Queue being the local a `---@class
-- gevent.queue.Queue` line names: the owner is the class name's last
-- part), `---@field value` in that class is `Queue.value`, `queue.Empty =`
-- is `gevent.queue.Empty`, `function socket.dns.toip(` is
-- `gevent.socket.dns.toip`. Helper types are `---@alias`es.
-- The entry format (level-3 headings such as `### gevent.spawn(fn, ...)`,
-- `### Queue:get(block, timeout)`, `### Greenlet.value`) is described in
-- docs/api/README.md.
--
-- Pending modules: a public module that cannot be loaded is a failure,
-- unless docs/api/pending.txt lists it (one "module reason" per line,
-- '#' comments); then its page is not checked and a `skip` line says why.
-- A listed module that loads is a failure too, so the list only holds
-- modules that are really missing: keep it minimal.
--
-- Run it with the gvlua interpreter, or with lua5.4 and LUA_PATH/LUA_CPATH
-- pointing at the tree (the tree's lua/ directory is put first on
-- package.path in any case, and build/bindings/ last on package.cpath):
--   build/app/gvlua tests/docs_sync.lua
--   LUA_CPATH="build/bindings/?.so;;" lua5.4 tests/docs_sync.lua
--   lua5.4 tests/docs_sync.lua build/app/gvlua   (re-runs under that one)
-- Prints `ok <name>` / `FAIL <name>: reason` lines (and `skip` lines for
-- pending modules), then `N passed, N failed`; exits 1 on failure.

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local root = here:match("^(.*)/tests$") or (here == "tests" and ".")
             or (here .. "/..")
local docdir = root .. "/docs/api"

-- `lua5.4 tests/docs_sync.lua GVLUA`: run again under GVLUA.
if arg and arg[1] and not os.getenv("GVLUA_DOCS_SYNC_INNER") then
  local cmd = ("GVLUA_DOCS_SYNC_INNER=1 GVLUA_PATH=%s %s %s"):format(
    quote(root .. "/lua"), quote(arg[1]), quote(arg[0]))
  local ok, _, code = os.execute(cmd)
  os.exit(ok and 0 or (code ~= 0 and code or 1))
end

package.path = ("%s/lua/?.lua;%s/lua/?/init.lua;"):format(root, root)
               .. package.path
package.cpath = package.cpath .. (";%s/build/bindings/?.so"):format(root)

-- The public modules and the pages that document them.
local MODULES = {
  {"gevent", {"gevent.md", "greenlet.md", "timeout.md"}},
  {"gevent.event", {"event.md"}},
  {"gevent.queue", {"queue.md"}},
  {"gevent.lock", {"lock.md"}},
  {"gevent.local", {"local.md"}},
  {"gevent.pool", {"pool.md"}},
  {"gevent.socket", {"socket.md"}},
  {"gevent.select", {"select.md"}},
  {"gevent.server", {"server.md"}},
  {"gevent.subprocess", {"subprocess.md"}},
  {"gevent.threadpool", {"threadpool.md"}},
  {"gevent.os", {"os.md"}},
  {"gevent.monkey", {"monkey.md"}},
  {"gevent.http", {"http.md"}},
  {"gevent.httpclient", {"httpclient.md"}},
  {"gevent.ssl", {"ssl.md"}},
  {"gevent.config", {"config.md"}},
  {"gevent.util", {"util.md"}},
  {"gevent.events", {"events.md"}},
  {"gevent.backdoor", {"backdoor.md"}},
}

---------------------------------------------------------------------------
-- results
---------------------------------------------------------------------------
local passed, failed = 0, 0
local function ok(name)
  passed = passed + 1
  print("ok " .. name)
end
local function fail(name, why)
  failed = failed + 1
  print(("FAIL %s: %s"):format(name, why))
end

---------------------------------------------------------------------------
-- the pages: entries from their level-3 headings
---------------------------------------------------------------------------
local function readfile(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local entries = {}        -- {owner=, name=, text=, where=, file=}
local by_key = {}         -- owner .. "\0" .. name -> entry

local function parse_page(file)
  local text = readfile(docdir .. "/" .. file)
  if not text then return false end
  local n, fence = 0, false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:match("^%s*```") then
      fence = not fence
    elseif not fence and line:match("^###%s") then
      local head = line:match("^###%s+(.-)%s*$")
      local where = ("%s:%d"):format(file, n)
      local path = head:match("^([%w_%.:]+)")
      local rest = path and head:sub(#path + 1) or ""
      local owner, name
      if path and (rest == "" or rest:match("^%(.*%)$")) then
        owner, name = path:match("^([%w_%.]+):([%w_]+)$")
        if not owner then owner, name = path:match("^([%w_%.]+)%.([%w_]+)$") end
      end
      if not owner then
        fail(("entry '%s' (%s)"):format(head, where),
             "not an entry heading (see docs/api/README.md)")
      else
        local key = owner .. "\0" .. name
        if by_key[key] then
          fail(("entry '%s' (%s)"):format(head, where),
               "duplicate of " .. by_key[key].where)
        else
          local e = {owner = owner, name = name, text = head, where = where,
                     file = file}
          entries[#entries + 1] = e
          by_key[key] = e
        end
      end
    end
  end
  return true
end

---------------------------------------------------------------------------
-- pending modules
---------------------------------------------------------------------------
local pending = {}
do
  local text = readfile(docdir .. "/pending.txt") or ""
  for line in text:gmatch("[^\n]+") do
    local name, reason = line:match("^%s*([^#%s]%S*)%s*(.-)%s*$")
    if name then pending[name] = reason ~= "" and reason or "no reason given" end
  end
end

---------------------------------------------------------------------------
-- what the modules expose
---------------------------------------------------------------------------
local function public(k)
  return type(k) == "string" and k:sub(1, 1) ~= "_"
end

local function try_index(obj, k)
  local okk, v = pcall(function() return obj[k] end)
  if okk then return v end
  return nil
end

-- Function names found on instance 'inst' (its metatable's __index table
-- and __methods table; its own fields if it is a table) into 'into'.
local function instance_methods(inst, into)
  local mt = getmetatable(inst)
  if type(mt) == "table" then
    for _, t in ipairs{rawget(mt, "__index"), rawget(mt, "__methods")} do
      if type(t) == "table" then
        for k, v in pairs(t) do
          if public(k) and type(v) == "function" then into[k] = true end
        end
      end
    end
  end
  if type(inst) == "table" then
    for k, v in pairs(inst) do
      if public(k) and type(v) == "function" then into[k] = true end
    end
  end
end

-- Per module: tables that are namespaces (their functions get entries
-- `module.key.fn`), data tables (only their own entry), class aliases
-- (whose entries may document a class's methods), recipes for instances,
-- and objects without a class table of their own (made by a factory).
local SPEC = {}

SPEC["gevent"] = {
  data = {config = true},
  instances = {
    Greenlet = function(m)
      local g1 = m.spawn(function() return 1 end)
      g1:join()
      local g2 = m.Greenlet(print)
      g2:kill("failed on purpose")          -- never ran: no report printed
      return {g1, g2, m.getcurrent()}
    end,
    Timeout = function(m) return {m.Timeout(1, "custom")} end,
  },
  objects = {
    SignalHandler = function(m)
      local h = m.signal_handler("SIGUSR2", function() end)
      h:cancel()
      return {h}
    end,
  },
}

SPEC["gevent.event"] = {
  instances = {
    Event = function(m) return {m.Event()} end,
    AsyncResult = function(m)
      local a, b = m.AsyncResult(), m.AsyncResult()
      a:set(1)
      b:set_exception("error on purpose")
      return {a, b}
    end,
  },
}

SPEC["gevent.queue"] = {
  aliases = {LifoQueue = {"Queue"}, PriorityQueue = {"Queue"},
             JoinableQueue = {"Queue"}, Channel = {"Queue"}},
  instances = {
    Queue = function(m) return {m.Queue(3)} end,
    LifoQueue = function(m) return {m.LifoQueue()} end,
    PriorityQueue = function(m) return {m.PriorityQueue()} end,
    JoinableQueue = function(m) return {m.JoinableQueue()} end,
    Channel = function(m) return {m.Channel()} end,
  },
}

SPEC["gevent.lock"] = {
  aliases = {BoundedSemaphore = {"Semaphore"}, Lock = {"Semaphore"},
             RLock = {"Semaphore"}, DummySemaphore = {"Semaphore"}},
  instances = {
    Semaphore = function(m) return {m.Semaphore(1)} end,
    BoundedSemaphore = function(m) return {m.BoundedSemaphore(1)} end,
    Lock = function(m) return {m.Lock()} end,
    RLock = function(m) return {m.RLock()} end,
    DummySemaphore = function(m) return {m.DummySemaphore()} end,
  },
}

SPEC["gevent.pool"] = {
  aliases = {Pool = {"Group"}},
  instances = {
    Group = function(m) return {m.Group()} end,
    Pool = function(m) return {m.Pool(2)} end,
  },
}

SPEC["gevent.socket"] = {
  namespaces = {dns = true, unix = true},
  data = {sinkt = true, sourcet = true},
  aliases = {udp = {"tcp"}, unixstream = {"tcp"}, unixdgram = {"udp", "tcp"}},
  objects = {
    tcp = function(m) local s = m.tcp(); s:close(); return {s} end,
    udp = function(m) local s = m.udp(); s:close(); return {s} end,
    unixstream = function(m)
      if not m.unix then return {} end
      local s = m.unix.stream(); s:close(); return {s}
    end,
    unixdgram = function(m)
      if not m.unix then return {} end
      local s = m.unix.dgram(); s:close(); return {s}
    end,
  },
}

SPEC["gevent.select"] = {
  objects = {poll = function(m) return {m.poll()} end},
}

SPEC["gevent.server"] = {
  aliases = {DatagramServer = {"StreamServer"}},
  instances = {
    DatagramServer = function(m)
      local s = m.DatagramServer({"127.0.0.1", 0}, function() end)
      s:start()
      local fields = {}
      for _, k in ipairs{"address", "socket", "started", "server_host",
                         "server_port", "handle_fn"} do
        fields[k] = s[k]
      end
      s:stop()
      return {s, setmetatable(fields, getmetatable(s))}
    end,
    StreamServer = function(m)
      local s = m.StreamServer({"127.0.0.1", 0}, function() end, nil, 2)
      s:start()
      local fields = {}   -- read while it runs, then stop it
      for _, k in ipairs{"address", "socket", "started", "server_host",
                         "server_port", "pool", "handle_fn"} do
        fields[k] = s[k]
      end
      s:stop()
      -- a TLS server (a context without a certificate is enough here)
      local ctx = require("gevent.ssl").newcontext{mode = "server"}
      local tls = m.StreamServer({"127.0.0.1", 0}, function() end, {ssl = ctx})
      return {s, setmetatable(fields, getmetatable(s)), tls}
    end,
  },
}

-- A request and a response as a handler sees them: their fields copied
-- during the call (the objects refuse reads once it returned).
local function http_objects(m, what)
  local socket = require "gevent.socket"
  local snap
  local s = m.HTTPServer({"127.0.0.1", 0}, function(req, res)
    local t = {}
    if what == "Request" then
      for _, k in ipairs{"method", "target", "path", "query", "version",
                         "headers", "keep_alive", "peer"} do
        t[k] = req[k]
      end
      snap = setmetatable(t, getmetatable(req))
    elseif what == "WebSocket" then
      local ws = assert(req:websocket())
      snap = setmetatable(t, getmetatable(ws))
      return
    else
      res:start(200)
      t.started, t.status = res.started, res.status
      snap = setmetatable(t, getmetatable(res))
    end
    return 200
  end)
  s:start()
  local c = assert(socket.connect("127.0.0.1", s.address[2]))
  c:settimeout(5)
  c:send("GET /p?q=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    .. "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    .. "Sec-WebSocket-Version: 13\r\n\r\n")
  c:receive("*l")
  c:close()
  s:stop()
  return {snap}
end

-- A self-signed certificate, only read (its dates do not matter).
local DOC_PEM = [[
-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIUZJphcYmQhJ2wjl9ZVumIjqPkAaMwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJZG9jcy50ZXN0MB4XDTI2MTIwNDIyMzcyMFoXDTI2MTIwNTIy
MzcyMFowFDESMBAGA1UEAwwJZG9jcy50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEEJDii6EyB/mYZENDZWGNUe921Ddjqmfb4fSHr2jPv/NftQ220MkDv0zT
v/oNzVr0nbY7dAVZUQu4CPkRuaooFKNTMFEwHQYDVR0OBBYEFIIQxqIBK1n3forE
C/lS/XcBbkwpMB8GA1UdIwQYMBaAFIIQxqIBK1n3forEC/lS/XcBbkwpMA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAIBsWAe7YsGBXJ+d9tw18Tl8
3YjHSDkEME2/XZC51y2/AiA5F8TBB+7E9F55GvxAAg/y4Nnlg8i+Cx0ks5FxcEYY
nQ==
-----END CERTIFICATE-----
]]

SPEC["gevent.ssl"] = {
  objects = {
    Context = function(m) return {m.newcontext{mode = "server"}} end,
    Connection = function(m)
      local socket = require "gevent.socket"
      local c = m.wrap(socket.tcp4(), {verify = "none"})
      c:close()
      return {c}
    end,
    Certificate = function(m) return {m.loadcertificate(DOC_PEM)} end,
  },
}

SPEC["gevent.http"] = {
  instances = {
    HTTPServer = function(m)
      local s = m.HTTPServer({"127.0.0.1", 0}, function() end)
      s:start()
      local fields = {}
      for _, k in ipairs{"address", "socket", "started", "server_host",
                         "server_port", "application"} do
        fields[k] = s[k]
      end
      s:stop()
      local w = m.HTTPServer({"127.0.0.1", 0}, function() end, {workers = 2})
      return {s, setmetatable(fields, getmetatable(s)), w}
    end,
  },
  objects = {
    Request = function(m) return http_objects(m, "Request") end,
    Response = function(m) return http_objects(m, "Response") end,
    WebSocket = function(m) return http_objects(m, "WebSocket") end,
  },
}

SPEC["gevent.httpclient"] = {
  data = {socket_http = true},
  instances = {
    HTTPClient = function(m) return {m.HTTPClient("127.0.0.1", 1)} end,
  },
}

SPEC["gevent.subprocess"] = {
  instances = {
    Popen = function(m)
      local p = m.Popen({"sh", "-c", "exit 0"},
                        {stdin = m.PIPE, stdout = m.PIPE, stderr = m.PIPE})
      p:communicate()
      p:wait()
      return {p}
    end,
    CompletedProcess = function(m)
      return {m.run({"true"}, {capture_output = true})}
    end,
    CalledProcessError = function(m)
      local okk, e = pcall(m.run, {"sh", "-c", "echo o; echo e >&2; exit 1"},
                           {capture_output = true, check = true})
      assert(not okk, "the command did not fail")
      return {e}
    end,
    TimeoutExpired = function(m)
      local p = m.Popen({"sh", "-c", "sleep 5"},
                        {stdout = m.PIPE, stderr = m.PIPE})
      local okk, e = pcall(p.communicate, p, nil, 0.01)
      p:kill()
      p:wait()
      assert(not okk, "communicate did not time out")
      return {e}
    end,
  },
  objects = {
    File = function(m)
      local p = m.Popen({"true"}, {stdout = m.PIPE})
      local f = p.stdout
      p:wait()
      return {f}
    end,
  },
}

SPEC["gevent.events"] = {
  data = {kinds = true},
  objects = {
    Subscription = function(m)
      local s = m.subscribe("spawned", print)
      s:unsubscribe()
      return {s}
    end,
  },
}

SPEC["gevent.backdoor"] = {
  instances = {
    BackdoorServer = function(m)
      local path = os.tmpname()
      os.remove(path)
      local tcp = m.BackdoorServer(0, {x = 1}, "hi")
      local unix = m.BackdoorServer("unix:" .. path)
      unix:start()
      unix:stop()
      return {tcp, unix}
    end,
  },
}

SPEC["gevent.threadpool"] = {
  instances = {
    ThreadPool = function(m) return {m.ThreadPool(1)} end,
  },
}

-- Owners: names that entries use before ':' or the last '.', each with the
-- records that can answer for it.
local owners = {}         -- name -> {records}
local function add_owner(name, rec)
  owners[name] = owners[name] or {}
  table.insert(owners[name], rec)
end

local required = {}       -- {id=, owners={...}, name=, module=}
local ERROR_IS            -- the `is` function every error class shares

local function make_instances(display, recipe, m)
  if not recipe then return {} end
  local okk, res = pcall(recipe, m)
  if not okk then
    fail(display, "could not make an instance to inspect: " .. tostring(res))
    return {}
  end
  return res
end

-- Records a class (or object kind) 'key' of module 'mname'.
local function add_class(mname, spec, key, class, display)
  local names = {key}
  for _, a in ipairs(spec.aliases and spec.aliases[key] or {}) do
    names[#names + 1] = a
  end
  local is_error = class and ERROR_IS and rawget(class, "is") == ERROR_IS
  if is_error then names[#names + 1] = "ErrorClass" end
  local m = package.loaded[mname]
  local recipe = (spec.instances and spec.instances[key])
                 or (spec.objects and spec.objects[key])
  if not recipe and is_error and key ~= "Timeout" then
    recipe = function() return {class("message", 2)} end
  end
  local insts = make_instances(display, recipe, m)
  local rec = {class = class, instances = insts, module = mname}
  for _, n in ipairs(names) do add_owner(n, rec) end
  local methods = {}
  if type(class) == "table" then
    for k, v in pairs(class) do
      if public(k) and type(v) == "function" then methods[k] = true end
    end
  end
  for _, inst in ipairs(insts) do instance_methods(inst, methods) end
  local sorted = {}
  for k in pairs(methods) do sorted[#sorted + 1] = k end
  table.sort(sorted)
  for _, k in ipairs(sorted) do
    required[#required + 1] = {id = display .. ":" .. k, owners = names,
                               name = k, module = mname}
  end
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do if public(k) then ks[#ks + 1] = k end end
  table.sort(ks)
  return ks
end

local function add_module(mname, m)
  local spec = SPEC[mname] or {}
  add_owner(mname, {table = m, module = mname})
  for _, k in ipairs(sorted_keys(m)) do
    local v = m[k]
    required[#required + 1] = {id = mname .. "." .. k, owners = {mname},
                               name = k, module = mname}
    if type(v) == "table" and not (spec.data and spec.data[k]) then
      if spec.namespaces and spec.namespaces[k] then
        local ns = mname .. "." .. k
        add_owner(ns, {table = v, module = mname})
        for _, f in ipairs(sorted_keys(v)) do
          required[#required + 1] = {id = ns .. "." .. f, owners = {ns},
                                     name = f, module = mname}
        end
      else
        add_class(mname, spec, k, v, mname .. "." .. k)
      end
    end
  end
  local objs = {}
  for k in pairs(spec.objects or {}) do objs[#objs + 1] = k end
  table.sort(objs)
  for _, k in ipairs(objs) do
    add_class(mname, spec, k, nil, mname .. " " .. k)
  end
end

---------------------------------------------------------------------------
-- the checks
---------------------------------------------------------------------------
local skipped_files = {}
local loaded = {}

for _, mod in ipairs(MODULES) do
  local mname, files = mod[1], mod[2]
  local okk, m = pcall(require, mname)
  if not okk or type(m) ~= "table" then
    local err = tostring(m):match("^[^\n]*")
    if pending[mname] then
      print(("skip %s: pending (%s)"):format(mname, pending[mname]))
    else
      fail(mname, ("cannot be loaded (%s); if it is not written yet, list "
                   .. "it in docs/api/pending.txt with the reason"):format(err))
    end
    -- its page cannot be checked (the pages of 'gevent' hold classes
    -- other modules use: they stay checked)
    if mname ~= "gevent" then
      for _, f in ipairs(files) do skipped_files[f] = true end
    end
  else
    loaded[#loaded + 1] = {mname, m}
    if pending[mname] then
      fail(mname, "listed in docs/api/pending.txt but it loads: remove it "
                  .. "from the list")
    end
  end
  for _, f in ipairs(files) do
    if not skipped_files[f] and not parse_page(f) then
      fail(mname, ("no page docs/api/%s"):format(f))
    end
  end
end
-- Every page is one of the above and listed in the index.
do
  local known, index = {}, readfile(docdir .. "/README.md") or ""
  for _, mod in ipairs(MODULES) do
    for _, f in ipairs(mod[2]) do
      known[f] = true
      if not index:find("(" .. f .. ")", 1, true) then
        fail("docs/api/README.md", ("does not link %s"):format(f))
      end
    end
  end
  local ls = io.popen("ls " .. quote(docdir))
  for f in ls:lines() do
    if f:match("%.md$") and f ~= "README.md" and not known[f] then
      fail("docs/api/" .. f, "a page of no module (add it to MODULES in "
           .. "tests/docs_sync.lua, or remove it)")
    end
  end
  ls:close()
end
for name in pairs(pending) do
  local known = false
  for _, mod in ipairs(MODULES) do known = known or mod[1] == name end
  if not known then fail(name, "in docs/api/pending.txt but not a public module") end
end

local gevent = package.loaded["gevent"]
ERROR_IS = type(gevent) == "table" and gevent.GreenletExit
           and rawget(gevent.GreenletExit, "is") or nil
for _, lm in ipairs(loaded) do add_module(lm[1], lm[2]) end

-- Every public name has an entry.
local covered = {}
for _, r in ipairs(required) do
  local e
  for _, o in ipairs(r.owners) do
    e = e or by_key[o .. "\0" .. r.name]
  end
  if e then
    covered[e] = true
    ok(r.id)
  else
    fail(r.id, ("no entry (expected a heading like '### %s%s%s' in "
                .. "docs/api/*.md)"):format(r.owners[1],
                r.id:find(":", 1, true) and ":" or ".", r.name))
  end
end

-- Every entry names something that exists.
local function exists(rec, name)
  if rec.table then return try_index(rec.table, name) ~= nil end
  if rec.class and try_index(rec.class, name) ~= nil then return true end
  for _, inst in ipairs(rec.instances) do
    if try_index(inst, name) ~= nil then return true end
  end
  return false
end

for _, e in ipairs(entries) do
  if not covered[e] and not skipped_files[e.file] then
    local label = ("entry '%s' (%s)"):format(e.text, e.where)
    local recs = owners[e.owner]
    if not recs then
      fail(label, ("'%s' is neither a module, a namespace nor a class or "
                   .. "object kind of the docs"):format(e.owner))
    else
      local found = false
      for _, rec in ipairs(recs) do found = found or exists(rec, e.name) end
      if found then ok(label)
      else fail(label, ("%s has no '%s'"):format(e.owner, e.name)) end
    end
  end
end

---------------------------------------------------------------------------
-- every module of lua/ is one of MODULES
---------------------------------------------------------------------------
do
  local known = {}
  for _, mod in ipairs(MODULES) do known[mod[1]] = true end
  local find = io.popen("cd " .. quote(root .. "/lua") .. " && find . -name '*.lua'")
  local files = {}
  for f in find:lines() do files[#files + 1] = f:sub(3) end
  find:close()
  table.sort(files)
  for _, f in ipairs(files) do
    local name = f:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
    if not ("." .. name):find("%._") then
      if known[name] then ok("lua/" .. f .. " is a documented module")
      else
        fail("lua/" .. f, ("public module '%s' is not in MODULES of "
             .. "tests/docs_sync.lua: give it a page in docs/api/ and "
             .. "annotations in types/, and list it there"):format(name))
      end
    end
  end
end

---------------------------------------------------------------------------
-- relative links of the Markdown files stay inside the repository and
-- name files that exist
---------------------------------------------------------------------------
do
  local find = io.popen("cd " .. quote(root) .. " && find . -name '*.md' "
                        .. "-not -path './build*' -not -path './.git/*'")
  local mds = {}
  for f in find:lines() do mds[#mds + 1] = f:sub(3) end
  find:close()
  table.sort(mds)
  for _, md in ipairs(mds) do
    local dir = md:match("^(.*)/[^/]*$") or ""
    local text = readfile(root .. "/" .. md) or ""
    local bad = {}
    for target in text:gmatch("%]%(([^)%s]+)%)") do
      local file = target:gsub("#.*$", "")
      if file ~= "" and not file:match("^%a[%w+.-]*:") then
        local parts = {}
        for part in ((dir ~= "" and dir .. "/" or "") .. file):gmatch("[^/]+") do
          if part == ".." then
            if #parts == 0 then parts = nil break end
            parts[#parts] = nil
          elseif part ~= "." then
            parts[#parts + 1] = part
          end
        end
        local f = parts and io.open(root .. "/" .. table.concat(parts, "/"))
        if f then f:close()
        else bad[#bad + 1] = target end
      end
    end
    if #bad == 0 then ok(md .. ": links")
    else
      fail(md, "links to nothing in the repository: " .. table.concat(bad, ", "))
    end
  end
end

---------------------------------------------------------------------------
-- annotations (types/): documented entries annotated, annotations real
---------------------------------------------------------------------------
local function types_file(mname)
  local rel = mname:gsub("%.", "/")
  if mname == "gevent" or mname:find("^[^.]*$") then rel = rel .. "/init" end
  return "types/" .. rel .. ".lua"
end

local annotated = {}      -- owner .. "\0" .. name -> "file:line"
local annotations = {}    -- {owner=, name=, where=, module=}

local function parse_types(mname)
  local rel = types_file(mname)
  local text = readfile(root .. "/" .. rel)
  if not text then
    fail(mname, ("no annotation file %s (lua-language-server ---@meta "
                 .. "file for the module's public API)"):format(rel))
    return
  end
  local vars, cls, meta = {}, nil, nil
  local function owner_of(class)
    if class == mname then return mname end
    return class:match("([%w_]+)$")
  end
  local function add(owner, sep, name, n)
    local where = ("%s:%d"):format(rel, n)
    local key = owner .. "\0" .. name
    if not annotated[key] then
      annotated[key] = where
      annotations[#annotations + 1] = {owner = owner, name = name, sep = sep,
                                       where = where, module = mname}
    end
  end
  -- "queue.dns" -> "gevent.queue.dns" (the first part a known local)
  local function resolve(path, n)
    local head, rest = path:match("^([%w_]+)(.*)$")
    if vars[head] then return vars[head] .. rest end
    fail(("%s:%d"):format(rel, n), ("'%s' is not a local declared after a "
         .. "---@class line"):format(head))
  end
  local chunk, err = load(text, "@" .. rel)
  if not chunk then fail(rel, "not valid Lua: " .. err) end
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local c = line:match("^%-%-%-@class%s+([%w_.]+)")
    local field = line:match("^%-%-%-@field%s+([%w_]+)")
    if line:match("^%-%-%-@meta%s") then
      meta = line:match("^%-%-%-@meta%s+(%S+)")
    elseif c then
      cls = owner_of(c)
    elseif field then
      if cls then add(cls, ".", field, n) end
    elseif not line:match("^%-%-%-") then
      local var = line:match("^local%s+([%w_]+)%s*=")
      if var and cls then vars[var] = cls end
      cls = nil
      local path, sep, name = line:match("^function%s+([%w_.]+)([.:])([%w_]+)%s*%(")
      if not path then
        path, name = line:match("^([%w_.]+)%.([%w_]+)%s*=")
        if not path then path, name = line:match('^([%w_.]+)%["([%w_]+)"%]%s*=') end
        sep = "."
      end
      if path then
        local owner = resolve(path, n)
        if owner then add(owner, sep, name, n) end
      end
    end
  end
  if meta ~= mname then
    fail(rel, ("starts with '---@meta %s', not '---@meta %s'")
              :format(tostring(meta), mname))
  end
end

for _, mod in ipairs(MODULES) do
  local skipped = true
  for _, f in ipairs(mod[2]) do skipped = skipped and skipped_files[f] end
  if not skipped then parse_types(mod[1]) end
end

-- Every documented entry is annotated.
for _, e in ipairs(entries) do
  if not skipped_files[e.file] then
    local label = ("annotation of '%s' (%s)"):format(e.text, e.where)
    if annotated[e.owner .. "\0" .. e.name] then ok(label)
    else
      fail(label, ("none in types/: declare it in the owner's ---@meta "
                   .. "file (a function, or a ---@field of its ---@class)"))
    end
  end
end

-- Every annotation names something that exists.
for _, a in ipairs(annotations) do
  local label = ("annotation %s%s%s (%s)"):format(a.owner, a.sep, a.name,
                                                  a.where)
  if by_key[a.owner .. "\0" .. a.name] then
    ok(label)                         -- documented: checked against the code above
  else
    local recs, found = owners[a.owner], false
    for _, rec in ipairs(recs or {}) do found = found or exists(rec, a.name) end
    if found then ok(label)
    elseif not recs then
      fail(label, ("'%s' is neither a module, a namespace nor a class or "
                   .. "object kind of the docs"):format(a.owner))
    else
      fail(label, ("%s has no '%s' in the code"):format(a.owner, a.name))
    end
  end
end

print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
