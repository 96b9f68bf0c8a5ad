-- Spawn multiple workers and wait for them to complete (seed 000 "原理").
-- Adapted: the three URLs are served by a local server started below on
-- 127.0.0.1 (no internet). LuaSocket's socket.http plays urllib2.
local gevent = require "gevent"
local monkey = require "gevent.monkey"
-- patches LuaSocket (and what is built on it, like socket.http) to
-- cooperate with other greenlets
monkey.patch_all()
local http = require "socket.http"
local StreamServer = require("gevent.server").StreamServer

local PAGES = {
  ["/gevent"] = '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"> gevent',
  ["/baidu"] = "<!DOCTYPE html><!--STATUS OK--><html><head><title>baidu</title></head></html>",
  ["/python"] = '<!doctype html><html class="no-js" lang="en"><title>Python</title></html>',
}

local function handle(sock, address)
  local path = sock:receive("*l"):match("^%S+%s+(%S+)")
  repeat local line = sock:receive("*l") until not line or line == ""
  local body = PAGES[path]
  sock:send(("HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n"):format(#body) .. body)
  sock:close()
end

local server = StreamServer({"127.0.0.1", 0}, handle)
server:start()
local base = ("http://127.0.0.1:%d"):format(server.address[2])
local urls = {base .. "/gevent", base .. "/baidu", base .. "/python"}

local function print_head(url)
  print("Starting " .. url)
  local data = assert(http.request(url))
  print(("%s: %d bytes: %q"):format(url, #data, data:sub(1, 50)))
end

local jobs = {}
for i, url in ipairs(urls) do
  jobs[i] = gevent.spawn(print_head, url)
end
gevent.joinall(jobs)
server:stop()
