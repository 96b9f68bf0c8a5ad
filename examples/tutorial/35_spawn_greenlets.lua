-- Three ways to start a greenlet (seeds 002, 003).
-- Shortened: sleeps of 1 s and 2 s become 0.1 s and 0.2 s.
-- Added: print the anonymous function's result.
local gevent = require "gevent"
local Greenlet = gevent.Greenlet

-- Each thread will be passed the message, and n arguments
-- in its initialization.
local function foo(message, n)
  gevent.sleep(n)
  print(message)
end

-- Initialize a new Greenlet instance running the named function foo
local thread1 = Greenlet.spawn(foo, "Hello", 0.1)

-- Wrapper for creating and running a new Greenlet from the named
-- function foo, with the passed arguments
local thread2 = gevent.spawn(foo, "I live!", 0.2)

-- Anonymous functions
local thread3 = gevent.spawn(function(x) return x + 1 end, 2)

local threads = {thread1, thread2, thread3}

-- Block until all threads complete.
gevent.joinall(threads)
print(thread3.value)
