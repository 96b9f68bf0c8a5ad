-- DNS lookups in greenlets, without patching (seed 001): LuaSocket's
-- resolver blocks, so the lookups run one after the other.
-- Adapted: the seed resolves three web sites; we resolve 'localhost' three
-- times (no internet).
local gevent = require "gevent"
local socket = require "socket" -- LuaSocket, not patched

local urls = {"localhost", "localhost", "localhost"}
local jobs = {}
for i, url in ipairs(urls) do
  jobs[i] = gevent.spawn(socket.dns.toip, url)
end
gevent.joinall(jobs, 5)

for _, job in ipairs(jobs) do
  print(job.value)
end
