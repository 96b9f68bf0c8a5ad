-- Fetching pages synchronously and asynchronously (seed 002).
-- Adapted: fetches from a local server on 127.0.0.1 (no internet) with
-- LuaSocket's socket.http (patched) instead of requests.
local gevent = require "gevent"
require("gevent.monkey").patch_all()
local http = require "socket.http"
local StreamServer = require("gevent.server").StreamServer

local BODY = "<!doctype html><title>Welcome to Python.org</title>"

local function handle(sock, address)
  repeat local line = sock:receive("*l") until not line or line == ""
  sock:send(("HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n"):format(#BODY) .. BODY)
  sock:close()
end

local server = StreamServer({"127.0.0.1", 0}, handle)
server:start()
local url = ("http://127.0.0.1:%d/"):format(server.address[2])

local function fetch(pid)
  local response = assert(http.request(url))
  local result = response:sub(1, 200)

  print(("Process %d: %s"):format(pid, result))
  return result
end

local function synchronous()
  for i = 1, 9 do
    fetch(i)
  end
end

local function asynchronous()
  local threads = {}
  for i = 1, 9 do
    threads[#threads + 1] = gevent.spawn(fetch, i)
  end
  gevent.joinall(threads)
end

print("Synchronous:")
synchronous()

print("Asynchronous:")
asynchronous()
server:stop()
