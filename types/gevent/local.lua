---@meta gevent.local
-- lua-language-server annotations for gevent.local (reference:
-- docs/api/local.md).

---@class gevent.local
local M = {}

---A table whose fields are seen only by the greenlet that set them.
---@class gevent.local.Local: table

---A new `Local` object; `init(loc)` runs the first time each greenlet
---uses it, to set its defaults.
---@param init? fun(loc: gevent.local.Local)
---@return gevent.local.Local
function M.Local(init) end

---The same function as `Local`, under gevent's name (`local` is a Lua
---keyword: `require("gevent.local")["local"]`).
M["local"] = M.Local

---Drops the current greenlet's fields of `loc` (`init` runs again on the
---next use).
---@param loc gevent.local.Local
function M.clear(loc) end

return M
