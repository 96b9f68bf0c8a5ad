-- Monkey patching replaces LuaSocket's blocking functions with cooperative
-- ones (seed 000 "猴子补丁"; Python patches socket.socket and select.select,
-- LuaSocket's are socket.tcp and socket.select).
local socket = require "socket"
print(socket.tcp)

print("After monkey patch")
local monkey = require "gevent.monkey"
monkey.patch_socket()
print(socket.tcp)

print(socket.select)

monkey.patch_select()
print("After monkey patch")
print(socket.select)
