-- The same lookups after monkey.patch_socket() (seed 001): now they
-- cooperate. (Without patching, gevent.socket.gethostbyname does the same.)
-- Adapted: resolves 'localhost' three times (no internet).
require("gevent.monkey").patch_socket()
local gevent = require "gevent"
local socket = require "socket"

local urls = {"localhost", "localhost", "localhost"}
local jobs = {}
for i, url in ipairs(urls) do
  jobs[i] = gevent.spawn(socket.dns.toip, url)
end
gevent.joinall(jobs, 5)

for _, job in ipairs(jobs) do
  print(job.value)
end
