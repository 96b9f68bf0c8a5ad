-- ThreadPool runs functions in OS threads (seed 000).
-- Adapted: each line is written with one call so lines from the two threads
-- cannot interleave inside a line (the seed's output shows they do).
require "gevent"
local ThreadPool = require("gevent.threadpool").ThreadPool
local gettime = require("gevent.socket").gettime

-- runs in an OS thread, in a Lua state of its own: it uses only its
-- arguments and the standard libraries
local function my_func(text, num)
  io.write(("%s %d\n"):format(text, num))
end

local pool = ThreadPool(2)
local start = gettime()
for i = 0, 9 do
  pool:spawn(my_func, "Hello", i)
end
pool:join()
local delay = gettime() - start
print(("Take %.3f seconds"):format(delay))
