-- luacheck configuration (Debian's lua-check), run over lua/, spec/,
-- examples/, bench/ and tests/ by tests/luacheck.sh in ./dev test.
std = "lua54"
-- Callbacks keep their full signature (handle(sock, address), methods
-- taking self): an unused argument documents the interface.
unused_args = false
-- A function run by a ThreadPool runs in a Lua state of its own and
-- requires its modules again, under the names the file uses outside.
ignore = {"431"}  -- shadowing an upvalue
exclude_files = {
  "tests/cli/lua-tests/",     -- Lua's own test suite, kept as shipped
  "types/",                   -- declarations for lua-language-server
  "build/", "build-*/",
}
files["spec"] = {std = "+busted"}
files["tests/examples/servers_spec.lua"] = {std = "+busted"}
-- As in gevent's tutorial, the worker loops forever and LoopExit ends the
-- program: the line after the loop is never reached.
files["examples/tutorial/1[456]_queue_*.lua"] = {ignore = {"511"}}

-- A `local x <close>` is used by being closed, but luacheck 1.1 parses
-- the attribute and forgets it: per file, the names declared <close> are
-- not reported as unused variables. Read from the files, so new code
-- needs nothing here.
do
  local find = io.popen("find lua spec examples bench tests -name '*.lua' 2>/dev/null")
  for path in find:lines() do
    local f = io.open(path)
    local names = {}
    for name in f:read("*a"):gmatch("local%s+([%a_][%w_]*)%s*<%s*close%s*>") do
      names[#names + 1] = "211/" .. name
    end
    f:close()
    if #names > 0 then files[path] = {ignore = names} end
  end
  find:close()
end
