-- Group's map, imap (results in order) and imap_unordered (results as they
-- come) (seeds 002, 004).
-- Adapted: Python's id(getcurrent()) (an address) becomes minimal_ident.
-- Shortened: intensive sleeps (3 - n) / 10 s instead of 3 - n s.
local gevent = require "gevent"
local Group = require("gevent.pool").Group

local group = Group()

local function hello_from(n)
  print("Size of group " .. #group)
  print("Hello from Greenlet " .. gevent.getcurrent().minimal_ident)
end

group:map(hello_from, {0, 1, 2})

local function intensive(n)
  gevent.sleep((3 - n) / 10)
  return {"task", n}
end

print("Ordered")

local ogroup = Group()
for _, r in ogroup:imap(intensive, {0, 1, 2}) do
  print(table.unpack(r))
end

print("Unordered")

local igroup = Group()
for _, r in igroup:imap_unordered(intensive, {0, 1, 2}) do
  print(table.unpack(r))
end
