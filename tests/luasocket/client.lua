-- client.lua DIR - runs LuaSocket's own test client (DIR/testclnt.lua,
-- unmodified, read from where it is) with what cannot run here left out,
-- as DIR/README.md says:
--   * socket._DEBUG: the client refuses to start without a LuaSocket built
--     with LUASOCKET_DEBUG; Debian's is not, so the flag is set, and the
--     sections from "total timeout on send" on, which read the debug
--     build's extra return values, are cut (the server is still shut down);
--   * connect_timeout(): it connects to 10.0.0.1, and only 127.0.0.1 may be
--     a target here.
-- The "select function" section runs: socket._SETSIZE tells the truth
-- after patching (the process's file limit), so run it under a low
-- `ulimit -n`. Each edit must match exactly once, so that a change in the
-- upstream file fails here instead of silently skipping more.
local dir = assert(arg[1], "usage: client.lua DIR")
local path = dir .. "/testclnt.lua"
local f = assert(io.open(path))
local src = f:read("a")
f:close()

local function edit(pattern, repl)
  local n
  src, n = src:gsub(pattern, repl)
  assert(n == 1, ("%s: %d matches for %q"):format(path, n, pattern))
end
edit("\nconnect_timeout%(%)\n",
     '\nio.stderr:write("connect_timeout: skipped (connects to 10.0.0.1)\\n")\n')
local cut = assert(src:find('\ntest%("total timeout on send"%)'),
                   "no 'total timeout on send' section")
src = src:sub(1, cut) .. [[
io.stderr:write("timeout sections: skipped (need a LUASOCKET_DEBUG build)\n")
test("shutting server down")
reconnect()
remote("os.exit()")
test(string.format("done in %.2fs", socket.gettime() - start))
]]
require("socket")._DEBUG = true
assert(load(src, "@" .. path))()
