#!/usr/bin/env bash
# luasocket.sh [GVLUA] - LuaSocket's own test suite (its testclnt.lua
# against its testsrvr.lua) with gvlua on one end and stock lua5.4 +
# LuaSocket on the other: the client patched (gevent.monkey.patch_all), the
# server patched, and both. 127.0.0.1 only, each run bounded in time.
# The files stay where they are (never copied into the tree); looked for in
# $GVLUA_LUASOCKET_TESTS, <repo>/../shared/luasocket-tests, then
# /work/shared/luasocket-tests. Without them the suite is reported skipped.
# What cannot run here is left out by tests/luasocket/client.lua.
set -u
cd "$(dirname "$0")/.."
gvlua=${1:-build/app/gvlua}
if [ -x "$gvlua" ]; then gvlua=$(cd "$(dirname "$gvlua")" && pwd)/$(basename "$gvlua")
else gvlua=lua5.4; fi
dir=
for d in "${GVLUA_LUASOCKET_TESTS:-}" "$PWD/../shared/luasocket-tests" \
         /work/shared/luasocket-tests; do
  if [ -n "$d" ] && [ -f "$d/testclnt.lua" ] && [ -f "$d/testsrvr.lua" ]; then
    dir=$(cd "$d" && pwd); break
  fi
done
if [ -z "$dir" ]; then
  echo "skip: LuaSocket's test suite not found (set GVLUA_LUASOCKET_TESTS)"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
patched=(-e "require('gevent.monkey').patch_all()")

free_port() {
  lua5.4 -e 'local s = require("socket").bind("127.0.0.1", 0)
             local _, p = s:getsockname() print(p) s:close()'
}

# one run: name, client patched (0/1), server patched (0/1)
run() {
  local name=$1 out="$tmp/$1" port i
  local -a client=(lua5.4) server=(lua5.4)
  [ "$2" = 1 ] && client=("$gvlua" "${patched[@]}")
  [ "$3" = 1 ] && server=("$gvlua" "${patched[@]}")
  for i in 1 2 3; do  # a probed port can be taken meanwhile: try another
    port=$(free_port)
    (ulimit -n 256; cd "$dir" && exec timeout 45 "${server[@]}" \
       -e "host = '127.0.0.1' port = $port" testsrvr.lua) >"$out.srv" 2>&1 &
    local srv=$!
    # the server is up when it accepts (it drops a control connection that
    # closes at once and waits for the next)
    local up=0
    for _ in $(seq 50); do
      if lua5.4 -e "assert(require('socket').connect('127.0.0.1', $port))" \
           2>/dev/null; then up=1; break; fi
      kill -0 $srv 2>/dev/null || break
      sleep 0.1
    done
    if [ $up = 1 ]; then break; fi
    kill $srv 2>/dev/null; wait $srv 2>/dev/null
  done
  (ulimit -n 256; exec timeout 45 "${client[@]}" \
     -e "host = '127.0.0.1' port = $port" tests/luasocket/client.lua "$dir") \
     >"$out.cli" 2>&1
  local rc=$?
  kill $srv 2>/dev/null; wait $srv 2>/dev/null
  if [ $rc = 0 ] && ! grep -q '^ERROR:' "$out.cli" &&
     grep -q 'testing: done in' "$out.cli"; then
    echo "ok $name ($(grep -o 'done in [0-9.]*s' "$out.cli"))" >"$out.res"
  else
    { echo "FAIL $name (exit $rc)"
      grep -v 'match$' "$out.cli" | tail -15 | sed 's/^/    /'
      echo "    server:"; tail -5 "$out.srv" | sed 's/^/    /'
    } >"$out.res"
  fi
}

export LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;"
export LUA_CPATH="$PWD/build/bindings/?.so;;"
run client-patched 1 0 & pids+=($!)
run server-patched 0 1 & pids+=($!)
run both-patched 1 1 & pids+=($!)
wait "${pids[@]}"
pids=()
pass=0 fail=0
for n in client-patched server-patched both-patched; do
  cat "$tmp/$n.res"
  if grep -q '^ok' "$tmp/$n.res"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
