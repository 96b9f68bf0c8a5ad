-- Runs every examples/**/*.lua that has a .expected file beside it and
-- compares what it prints with that file (format: tests/examples/README.md).
--
--   lua5.4 tests/examples/run.lua [GVLUA] [NAME-FILTER ...]
--
-- GVLUA defaults to build/app/gvlua in the source tree. With filters, only
-- the examples whose path contains one of them are run.
-- Prints `ok <name>` or `FAIL <name>` with a short diff for each, then
-- `N passed, N failed`; exits 1 if any failed, 2 if it could not start.

local TIME_LIMIT = 30 -- seconds, per example

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local root = here:match("^(.*)/tests/examples$") or (here == "tests/examples" and ".") or (here .. "/../..")
local gvlua = arg[1] or (root .. "/build/app/gvlua")
local filters = table.pack(table.unpack(arg, 2))
-- gvlua finds gevent's Lua modules in the source tree through GVLUA_PATH
local env = os.getenv("GVLUA_PATH") and "" or ("GVLUA_PATH=%s "):format(quote(root .. "/lua"))

local function readfile(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function lines_of(s)
  local t = {}
  for line in s:gmatch("([^\n]*)\n") do t[#t + 1] = line end
  local rest = s:match("([^\n]+)$")
  if rest then t[#t + 1] = rest end
  return t
end

-- The expected file becomes a spec: items to match against stdout lines
-- in order (each item is a literal, a pattern, a repeat, or an unordered
-- group), the exit status, and patterns stderr must contain.
local function parse(text)
  local spec = {items = {}, exit = 0, stderr = {}}
  local group, rep
  local function add(item)
    if rep then
      item.min, item.max, rep = rep[1], rep[2], nil
      assert(not group, "#repeat inside #unordered")
    end
    table.insert(group or spec.items, item)
  end
  for n, line in ipairs(lines_of(text)) do
    local dir, rest = line:match("^#([%w%-]*) ?(.*)$")
    local function bad() error(("line %d: bad directive %q"):format(n, line), 0) end
    if not dir then
      add({lit = line})
    elseif dir == "" then -- luacheck: ignore 542
      -- "# ..." is a comment
    elseif dir == "text" then
      add({lit = rest})
    elseif dir == "match" then
      add({pat = "^" .. rest .. "$"})
    elseif dir == "unordered" then
      if group then bad() end
      group = {}
    elseif dir == "end" then
      if not group then bad() end
      local g = group
      group = nil
      add({group = g})
    elseif dir == "repeat" then
      local lo, hi = rest:match("^(%d+) (%d+)$")
      if not lo then bad() end
      rep = {tonumber(lo), tonumber(hi)}
    elseif dir == "exit" then
      spec.exit = tonumber(rest) or bad()
    elseif dir == "stderr-match" then
      spec.stderr[#spec.stderr + 1] = rest
    else
      bad()
    end
  end
  if group or rep then error("unterminated #unordered or #repeat", 0) end
  return spec
end

local function matches(item, line)
  if item.lit then return line == item.lit end
  return line:find(item.pat) ~= nil
end

local function show(item)
  return item.lit or ("#match " .. item.pat:sub(2, -2))
end

-- Returns nil when stdout fits the items, or a list of diff lines.
local function compare(items, got)
  local i = 1
  local function context(msg, wants)
    local d = {msg}
    for _, want in ipairs(wants or {}) do d[#d + 1] = "  - " .. want end
    for k = i, math.min(i + 2, #got) do d[#d + 1] = "  + " .. got[k] end
    if i > #got then d[#d + 1] = "  + <end of output>" end
    return d
  end
  for _, item in ipairs(items) do
    if item.group then
      local left = {table.unpack(item.group)}
      local first = i
      while #left > 0 do
        local line = got[i]
        local hit
        for k, it in ipairs(left) do -- exact lines first, then patterns
          if line and it.lit == line then hit = k break end
        end
        for k, it in ipairs(left) do
          if not hit and line and it.pat and line:find(it.pat) then hit = k end
        end
        if not hit then
          local wants = {}
          for _, it in ipairs(left) do wants[#wants + 1] = show(it) end
          return context(("stdout line %d: not one of the %d unordered lines still expected:"):format(i, #left), wants)
        end
        table.remove(left, hit)
        i = i + 1
      end
      assert(i - first == #item.group)
    else
      local lo, hi, count = item.min or 1, item.max or 1, 0
      while count < hi and got[i] and matches(item, got[i]) do
        count, i = count + 1, i + 1
      end
      if count < lo then
        local times = item.min and (" (%d to %d times, got %d)"):format(lo, hi, count) or ""
        return context(("stdout line %d differs%s:"):format(i, times), {show(item)})
      end
    end
  end
  if got[i] then return context(("stdout line %d: more output than expected:"):format(i)) end
  return nil
end

local function run(script, expected_path)
  local ok, spec = pcall(parse, readfile(expected_path))
  if not ok then return {"bad expected file: " .. spec} end
  local errfile = os.tmpname()
  local cmd = ("%stimeout %d %s %s 2>%s </dev/null"):format(env, TIME_LIMIT,
    quote(gvlua), quote(script), quote(errfile))
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, how, code = p:close()
  local err = readfile(errfile) or ""
  os.remove(errfile)
  local status = how == "exit" and code or 128 + (code or 0)
  local diff = compare(spec.items, lines_of(out)) or {}
  if status ~= spec.exit then
    table.insert(diff, 1, ("exit status %d, expected %d%s"):format(status, spec.exit,
      status == 124 and (" (timed out after %ds)"):format(TIME_LIMIT) or ""))
  end
  for _, pat in ipairs(spec.stderr) do
    if not err:find(pat) then diff[#diff + 1] = "stderr has no match for: " .. pat end
  end
  if #diff == 0 then return nil end
  local errlines = lines_of(err)
  if #errlines > 0 then
    diff[#diff + 1] = "stderr:"
    for k = 1, math.min(#errlines, 6) do diff[#diff + 1] = "  | " .. errlines[k] end
    if #errlines > 6 then diff[#diff + 1] = ("  | ... (%d more lines)"):format(#errlines - 6) end
  end
  return diff
end

if gvlua:find("/") and not io.open(gvlua, "rb") then
  io.stderr:write("run.lua: no interpreter at ", gvlua, " (build it, or pass its path)\n")
  os.exit(2)
end

local scripts = {}
local find = assert(io.popen("find " .. quote(root .. "/examples") .. " -name '*.lua' -type f"))
for path in find:lines() do
  local base = path:sub(1, -5)
  local wanted = filters.n == 0
  for k = 1, filters.n do
    if path:find(filters[k], 1, true) then wanted = true end
  end
  if wanted and io.open(base .. ".expected", "rb") then scripts[#scripts + 1] = base end
end
find:close()
table.sort(scripts)

-- pending.txt names examples waiting for a module that is not written
-- yet ("examples/x/NN_name  reason"). They still run: a pending example
-- that fails is reported as skipped, one that passes is an error (take it
-- off the list).
local pending = {}
local pf = io.open(here .. "/pending.txt", "r")
if pf then
  for line in pf:lines() do
    local name, why = line:match("^(%S+)%s*(.*)$")
    if name and name:sub(1, 1) ~= "#" then pending[name] = why end
  end
  pf:close()
end

local passed, failed, skipped = 0, 0, 0
for _, base in ipairs(scripts) do
  local name = base:sub(#root + 2)
  local diff = run(base .. ".lua", base .. ".expected")
  if pending[name] then
    if diff then
      skipped = skipped + 1
      print("skip " .. name .. " (pending: " .. pending[name] .. ")")
    else
      failed = failed + 1
      print("FAIL " .. name .. " passes but is listed in pending.txt")
    end
  elseif diff then
    failed = failed + 1
    print("FAIL " .. name)
    for _, line in ipairs(diff) do print("    " .. line) end
  else
    passed = passed + 1
    print("ok " .. name)
  end
  io.stdout:flush()
end
-- The servers (examples/servers/*.lua) have no fixed output: a busted spec
-- beside this file drives each with clients (not with name filters).
if filters.n == 0 then
  local cmd = ("cd %s && LUA_PATH=%s LUA_CPATH=%s %s /usr/bin/busted -o TAP "
               .. "tests/examples/servers_spec.lua 2>&1"):format(
    quote(root), quote(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"),
    quote((os.getenv("LUA_CPATH") or "") .. ";" .. root .. "/build/bindings/?.so;;"),
    quote(gvlua))
  local tap = io.popen(cmd)
  local out = tap:read("a")
  tap:close()
  local ok_n, bad_n = 0, 0
  for line in out:gmatch("[^\n]+") do
    if line:match("^ok ") then ok_n = ok_n + 1
    elseif line:match("^not ok ") then bad_n = bad_n + 1; print("FAIL servers: " .. line) end
  end
  if ok_n + bad_n == 0 then
    bad_n = 1
    print("FAIL servers: the spec did not run\n" .. out:sub(-2000))
  end
  print(("servers: %d ok, %d failed"):format(ok_n, bad_n))
  passed, failed = passed + ok_n, failed + bad_n
end
print(("%d passed, %d failed, %d skipped"):format(passed, failed, skipped))
os.exit(failed == 0 and 0 or 1)
