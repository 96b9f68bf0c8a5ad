#!/usr/bin/env bash
# gdb.sh - debugger backtraces work inside greenlets: from a breakpoint in
# a greenlet (running on a runner stack), gdb walks up through Lua and the
# scheduler to gv__ctx_entry and stops there cleanly (its CFI marks the
# end of the stack), without "corrupt stack" or "previous frame" errors.
set -u
cd "$(dirname "$0")/.."
gvlua=${1:-build/app/gvlua}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/g.lua" <<'LUA'
local gevent = require "gevent"
gevent.spawn(function() gevent.sleep(0.001) end):join()
LUA
pass=0 fail=0
if ! command -v gdb >/dev/null; then
  echo "FAIL gdb not installed"; echo "0 passed, 1 failed"; exit 1
fi
GVLUA_PATH=$PWD/lua gdb -batch -nx -ex "break gv_sleep" -ex "run" -ex "bt" \
  --args "$gvlua" "$tmp/g.lua" >"$tmp/bt" 2>&1
check() { if eval "$2"; then echo "ok $1"; pass=$((pass+1)); else echo "FAIL $1"; sed 's/^/    /' "$tmp/bt" | grep -E '^    #|Backtrace|corrupt' | head -20; fail=$((fail+1)); fi; }
check "breakpoint hit in a greenlet" "grep -q '^#0 .*gv_sleep' '$tmp/bt'"
check "backtrace reaches the scheduler" "grep -q 'sched_loop' '$tmp/bt'"
check "backtrace ends at gv__ctx_entry" "grep '^#' '$tmp/bt' | tail -1 | grep -q gv__ctx_entry"
check "no unwinding errors" "! grep -Eq 'corrupt stack|previous frame (identical|inner)' '$tmp/bt'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
