-- Waiting for a child process cooperatively (seeds 002, 004): cron keeps
-- printing while the main greenlet waits in communicate().
-- Shortened: the child sleeps 0.5 s instead of 1 s, so cron prints 3 times
-- (2 to 4 on a slow or busy machine).
local gevent = require "gevent"
local subprocess = require "gevent.subprocess"
local Popen, PIPE = subprocess.Popen, subprocess.PIPE

local function cron()
  while true do
    print("cron")
    gevent.sleep(0.2)
  end
end

local g = gevent.spawn(cron)
local sub = Popen({"sleep 0.5; uname"}, {stdout = PIPE, shell = true})
local out = sub:communicate()
g:kill()
print((out:gsub("%s+$", "")))
