-- gevent.http with workers = N: examples/servers/http_workers.lua run as a
-- child process: workers share the port, a killed worker is replaced,
-- SIGHUP replaces them all while a request in progress finishes, SIGTERM
-- stops everything and the supervisor exits 0.
local gevent = require "gevent"
local gos = require "gevent.os"
local sp = require "gevent.subprocess"

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec"
local child = dofile(here .. "/support/child.lua")
local H = dofile(here .. "/support/http.lua")

local function interpreter()
  return os.getenv("SERVERS_SPEC_LUA") or child.interpreter()
end

-- The pids that answer n fresh connections.
local function answering(port, n)
  local seen, list = {}, {}
  for _ = 1, n do
    local r = H.exchange(port, H.get("/"))
    local pid = tonumber(r.body:match("^worker (%d+)"))
    if not seen[pid] then seen[pid] = true list[#list + 1] = pid end
  end
  table.sort(list)
  return list, seen
end

local function alive(pid) return gos.kill(pid, 0) == true end

describe("gevent.http workers", function()
  it("shares the port, restarts, reloads on SIGHUP, stops on SIGTERM", function()
    local p = sp.Popen({interpreter(), here .. "/../examples/servers/http_workers.lua", "0", "2"},
                       {stdout = sp.PIPE, stderr = sp.DEVNULL})
    local line = gevent.with_timeout(10, p.stdout.readline, p.stdout)
    local port = tonumber(line:match("listening on 127%.0%.0%.1:(%d+)"))
    assert(port, line)
    local ok, err = pcall(gevent.with_timeout, 40, function()
      -- two workers answer (connections spread by the kernel)
      local pids
      for _ = 1, 20 do
        pids = answering(port, 20)
        if #pids == 2 then break end
      end
      assert.equal(2, #pids)
      -- a killed worker is replaced
      gos.kill(pids[1], "SIGKILL")
      local now
      for _ = 1, 100 do
        gevent.sleep(0.05)
        now = answering(port, 20)
        if #now == 2 and now[1] ~= pids[1] and now[2] ~= pids[1] then break end
      end
      assert.is_false(now[1] == pids[1] or now[2] == pids[1])
      assert.equal(2, #now)
      -- SIGHUP: new workers; a request in progress on an old one finishes
      local slow = gevent.spawn(H.exchange, port, H.get("/sleep?s=0.5"))
      gevent.sleep(0.1)
      p:send_signal("SIGHUP")
      local fresh
      for _ = 1, 100 do
        gevent.sleep(0.05)
        fresh = answering(port, 20)
        if #fresh == 2 and not (fresh[1] == now[1] or fresh[1] == now[2] or
                                fresh[2] == now[1] or fresh[2] == now[2]) then
          break
        end
      end
      slow:join(5)
      assert.equal(200, slow.value.status)
      for _, pid in ipairs(fresh) do assert.is_nil(({[now[1]] = 1, [now[2]] = 1})[pid]) end
      -- SIGTERM: everything stops
      p:terminate()
      assert.equal(0, p:wait(15))
      for _, pid in ipairs(fresh) do assert.is_false(alive(pid)) end
    end)
    if p.returncode == nil then p:kill() p:wait() end
    if not ok then error(err, 0) end
  end)
end)
