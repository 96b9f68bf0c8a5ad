-- chat.lua: a chat server with rooms, over TCP lines (the tutorial's chat
-- server: a Room of users, each user with a queue that the room's messages
-- are put into; here each user is one TCP connection instead of a web page).
--
--   gvlua examples/servers/chat.lua [PORT]      (PORT 0: a free port)
--   nc 127.0.0.1 PORT                          (one per user)
--
-- Commands (one per line): /nick NAME, /join ROOM (leaves the current room),
-- /leave, /who, /quit. Any other line is a message to your room's members,
-- you included: "[ROOM] NICK: text". Lines that start with "*" are from the
-- server.
--
-- gevent concepts shown:
--   * StreamServer: one greenlet per client reads its commands;
--   * gevent.queue.Queue as each client's outbox, drained by a writer
--     greenlet of its own: broadcasting only puts lines into queues, so it
--     never blocks on a slow client, and each client still receives the
--     room's lines in the order they were said;
--   * shared state (rooms, nicks) needs no locks: greenlets switch only
--     where they block, and the code that changes it never blocks;
--   * cleanup in a <close> handler, which also runs when the server kills
--     the handler at shutdown; gevent.signal_handler stops the server on
--     SIGTERM / Ctrl-C.
local gevent = require "gevent"
local Queue = require("gevent.queue").Queue
local StreamServer = require("gevent.server").StreamServer

local port = tonumber(arg[1] or 0)

local rooms = {}      -- room name -> {[client] = true, ...}
local nicks = {}      -- nick -> client
local guests = 0
local CLOSE = {}      -- put into an outbox: the writer stops there

local Client = {}
Client.__index = Client

-- Queues a line for this client; returns at once.
function Client:send(line) self.outbox:put(line) end

local function broadcast(room, line)
  for c in pairs(rooms[room]) do c:send(line) end
end

local function members(room)
  local list = {}
  for c in pairs(rooms[room]) do list[#list + 1] = c.nick end
  table.sort(list)
  return table.concat(list, ", ")
end

local function valid_name(s) return s:match("^[%w_%-]+$") and #s <= 32 end

function Client:leave()
  local room = self.room
  if not room then return end
  broadcast(room, ("* %s left #%s"):format(self.nick, room))
  rooms[room][self] = nil
  if next(rooms[room]) == nil then rooms[room] = nil end
  self.room = nil
end

local commands = {}

function commands.join(c, room)
  if not room or not valid_name(room) then return c:send("* usage: /join ROOM") end
  if c.room == room then return c:send("* you are already in #" .. room) end
  c:leave()
  rooms[room] = rooms[room] or {}
  rooms[room][c] = true
  c.room = room
  broadcast(room, ("* %s joined #%s"):format(c.nick, room))
  c:send(("* in #%s: %s"):format(room, members(room)))
end

function commands.leave(c)
  if not c.room then return c:send("* you are not in a room") end
  c:leave()
end

function commands.nick(c, name)
  if not name or not valid_name(name) then return c:send("* usage: /nick NAME") end
  if nicks[name] then return c:send(("* nick %s is taken"):format(name)) end
  local old = c.nick
  nicks[old], nicks[name], c.nick = nil, c, name
  local line = ("* %s is now known as %s"):format(old, name)
  if c.room then broadcast(c.room, line) else c:send(line) end
end

function commands.who(c)
  if not c.room then return c:send("* you are not in a room") end
  c:send(("* in #%s: %s"):format(c.room, members(c.room)))
end

function commands.quit(c)
  c:leave()
  c:send("* bye")
  return "quit"
end

-- Handles one line from the client; returns "quit" to end the session.
local function dispatch(c, line)
  local cmd, rest = line:match("^/(%S+)%s*(.-)%s*$")
  if cmd then
    local f = commands[cmd:lower()]
    if not f then return c:send("* unknown command /" .. cmd) end
    return f(c, rest ~= "" and rest or nil)
  elseif line:match("%S") then
    if not c.room then return c:send("* join a room first: /join ROOM") end
    broadcast(c.room, ("[%s] %s: %s"):format(c.room, c.nick, line))
  end
end

-- The writer greenlet: sends the outbox's lines until CLOSE (or an error).
local function writer(c)
  while true do
    local line = c.outbox:get()          -- blocks this greenlet only
    if line == CLOSE then return end
    if not c.sock:send(line .. "\n") then return end   -- client gone
  end
end

local function handle(sock)
  repeat guests = guests + 1 until not nicks["guest" .. guests]
  local c = setmetatable({sock = sock, nick = "guest" .. guests,
                          outbox = Queue()}, Client)
  nicks[c.nick] = c
  c.writer = gevent.spawn(writer, c)
  -- runs however this function ends: return, error, or killed at shutdown
  local _ <close> = setmetatable({}, {__close = function()
    c:leave()
    nicks[c.nick] = nil
    c.writer:kill(nil, false)
  end})

  c:send(("* welcome %s! commands: /nick NAME, /join ROOM, /leave, /who, /quit")
         :format(c.nick))
  while true do
    local line = sock:receive("*l")      -- nil: the client disconnected
    if not line or dispatch(c, line) == "quit" then break end
  end
  c:leave()
  c.outbox:put(CLOSE)
  c.writer:join(5)                       -- let it flush what is queued
end

local server = StreamServer({"127.0.0.1", port}, handle):start()
gevent.signal_handler("SIGTERM", function() server:stop() end)
gevent.signal_handler("SIGINT", function() server:stop() end)
print(("listening on %s:%d"):format(server.address[1], server.address[2]))
io.stdout:flush()
server:serve_forever()
