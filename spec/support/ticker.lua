-- ticker(period): a greenlet counting its ticks (t.n) every period seconds
-- (default 0.005) next to a test body, to show that a wait let others run.
-- Kill t.g when done.
local gevent = require "gevent"

return function(period)
  local t = {n = 0}
  t.g = gevent.spawn(function()
    while true do t.n = t.n + 1; gevent.sleep(period or 0.005) end
  end)
  return t
end
