-- prefork.lua: a pre-forking server: one listening socket, N worker
-- processes that all accept on it, each running its own hub and
-- StreamServer (gevent's multi-process recipe: create the listener, fork,
-- and start a server on that listener in every child).
--
--   gvlua examples/servers/prefork.lua [PORT [WORKERS]]   (PORT 0: a free
--                                                         port; 4 workers)
--   nc 127.0.0.1 PORT        "hello from worker PID", then echoes lines
--   kill -TERM PARENT_PID    (or Ctrl-C) stops the workers, then the parent
--
-- gevent concepts shown:
--   * gevent.fork: the child's hub keeps working (its event loop is
--     reinitialised), so each worker can run greenlets and servers;
--   * StreamServer(listener, handle) on an already listening socket: the
--     socket is bound once, before forking, and the kernel hands each new
--     connection to whichever worker accepts first;
--   * gevent.signal_handler: the parent turns SIGTERM/SIGINT into "stop the
--     workers"; each worker turns them into server:stop() (finish the
--     current clients, then exit);
--   * gevent.os.waitpid waits for a child cooperatively, one greenlet per
--     worker, so the parent can wait for all of them and still handle signals.
local gevent = require "gevent"
local gos = require "gevent.os"
local socket = require "gevent.socket"
local subprocess = require "gevent.subprocess"
local StreamServer = require("gevent.server").StreamServer

local port = tonumber(arg[1] or 0)
local nworkers = math.tointeger(tonumber(arg[2] or 4)) or 4

local function log(fmt, ...)
  io.stderr:write(("[%d] "):format(gos.getpid()), fmt:format(...), "\n")
end

local worker_pid   -- set in each worker, after the fork

-- What each worker does for a client: says which worker it is, then echoes.
local function handle(sock)
  sock:send(("hello from worker %d\n"):format(worker_pid))
  while true do
    local line = sock:receive("*l")
    if not line then return end
    sock:send(("worker %d: %s\n"):format(worker_pid, line))
  end
end

-- A worker process: serve on the inherited listener until told to stop.
local function worker(listener)
  worker_pid = gos.getpid()
  local server = StreamServer(listener, handle)
  gevent.signal_handler("SIGTERM", function() server:stop() end)
  gevent.signal_handler("SIGINT", function() server:stop() end)
  log("worker serving")
  server:serve_forever()
  log("worker done")
end

-- 1. The listening socket, before any fork: every worker inherits it.
local listener = assert(socket.bind("127.0.0.1", port, 128))
local host, bound_port = listener:getsockname()
print(("listening on %s:%d"):format(host, bound_port))
io.stdout:flush()

-- 2. Fork the workers. A forked child keeps the parent's greenlets, so the
--    parent forks before it spawns any; a child never returns to this loop.
local pids = {}
for i = 1, nworkers do
  local pid = assert(gevent.fork())
  if pid == 0 then
    worker(listener)
    io.stdout:flush()
    gos._exit(0)             -- a worker ends here, never runs the parent's code
  end
  pids[i] = pid
end
listener:close()             -- the parent does not accept connections itself
log("parent of workers %s", table.concat(pids, ", "))

-- 3. The parent: on SIGTERM/SIGINT, ask the workers to stop (SIGTERM), and
--    SIGKILL those still running after a grace period.
local running = {}           -- pid -> true until waitpid has reaped it
for _, pid in ipairs(pids) do running[pid] = true end

-- gevent.os has no kill(); the kill(1) command does it, cooperatively
local function kill(signame, pid)
  subprocess.call({"kill", "-" .. signame, tostring(pid)}, {stderr = subprocess.DEVNULL})
end

local stopping = false
local function stop_workers(signame)
  if stopping then return end
  stopping = true
  log("%s: stopping %d workers", signame, #pids)
  for pid in pairs(running) do kill("TERM", pid) end
  gevent.sleep(5)
  for pid in pairs(running) do kill("KILL", pid) end
end
gevent.signal_handler("SIGTERM", stop_workers, "SIGTERM")
gevent.signal_handler("SIGINT", stop_workers, "SIGINT")

-- 4. Wait for every worker, each in its own greenlet; exit 0 if all of
--    them exited cleanly.
local waiters = {}
for i, pid in ipairs(pids) do
  waiters[i] = gevent.spawn(function()
    local _, how, code = gos.waitpid(pid)
    running[pid] = nil
    log("worker %d %s (%d)", pid, how, code)
    return how == "exited" and code == 0
  end)
end
gevent.joinall(waiters)
local clean = true
for _, g in ipairs(waiters) do clean = clean and g.value end
os.exit(clean and 0 or 1)
