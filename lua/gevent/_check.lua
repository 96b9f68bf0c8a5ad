-- gevent._check (private, not part of the API): argument errors in Lua's
-- own voice, shared by gevent's Lua modules.
local M = {}

-- Raises "bad argument #n to 'fname' (msg)", naming the public function.
-- level is the caller of the function that raises, as error's levels count
-- (default 2: argerror is called by the public function itself).
function M.argerror(n, fname, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg),
        (level or 2) + 1)
end

-- v's type for messages: its metatable's __name (gevent.Event, ...), else
-- its Lua type; "no value" for nil.
function M.typename(v)
  if v == nil then return "no value" end
  local mt = getmetatable(v)
  return type(mt) == "table" and type(mt.__name) == "string" and mt.__name
         or type(v)
end

return M
