-- echo_server.lua: a line-based TCP echo server. The tutorial's "Simple
-- Servers" handler greets and writes a few lines; this one is gevent's own
-- echoserver.py: greet, then send back each line until "quit".
--
--   gvlua examples/servers/echo_server.lua [PORT]     (PORT 0: a free port)
--   nc 127.0.0.1 PORT
--
-- gevent concepts shown:
--   * gevent.server.StreamServer runs handle(sock, address) in a new greenlet
--     for every connection, so each client gets its own straight-line code;
--   * sock:receive("*l") and sock:send block only the calling greenlet
--     (gevent.socket has LuaSocket's API, made cooperative), so one slow
--     client never holds up the others;
--   * the server closes the client socket when handle returns;
--   * serve_forever() keeps the main greenlet waiting while the hub serves;
--   * gevent.signal_handler runs server:stop() in a new greenlet on SIGTERM
--     or Ctrl-C, so the program ends cleanly (exit status 0).
local gevent = require "gevent"
local StreamServer = require("gevent.server").StreamServer

local port = tonumber(arg[1] or 0)

local function log(fmt, ...)
  io.stderr:write(fmt:format(...), "\n")   -- stdout is kept for "listening on"
end

-- One greenlet per client runs this.
local function echo(sock, address)
  log("new connection from %s:%d", address[1], address[2])
  sock:send("Welcome to the echo server! Type quit to exit.\r\n")
  while true do
    -- "*l" reads one line; the "\n" (and any "\r") is not part of it
    local line, err = sock:receive("*l")
    if not line then
      log("client %s:%d disconnected (%s)", address[1], address[2], err)
      break
    end
    if line:lower():match("^%s*quit%s*$") then
      log("client %s:%d quit", address[1], address[2])
      break
    end
    sock:send(line .. "\n")
  end
end

local server = StreamServer({"127.0.0.1", port}, echo)
server:start()                       -- binds now, so the port is known
-- Ctrl-C or SIGTERM: stop accepting, give running handlers a second, exit
gevent.signal_handler("SIGTERM", function() server:stop() end)
gevent.signal_handler("SIGINT", function() server:stop() end)
print(("listening on %s:%d"):format(server.address[1], server.address[2]))
io.stdout:flush()
server:serve_forever()
