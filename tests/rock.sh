#!/usr/bin/env bash
# rock.sh - gvlua-scm-1.rockspec builds with Debian's luarocks into a
# temporary tree, and what it installs runs: a greenlet under stock lua5.4
# through `luarocks path`, and under the tree's gvlua (with a clean
# environment too); every module of lua/ is in the tree; libev is an
# external dependency LuaRocks looks for; `luarocks remove` takes it all
# back. Dependencies from the network are not fetched (--deps-mode=none:
# LuaSocket is Debian's). The meson build dir build-rock/ is kept between
# runs. Prints "ok"/"FAIL" lines, then "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
root=$PWD
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
pass=0 fail=0
check() { if (eval "$2") >"$tree.out" 2>&1; then echo "ok $1"; pass=$((pass+1)); else echo "FAIL $1"; sed 's/^/    /' "$tree.out" | tail -15; fail=$((fail+1)); fi; rm -f "$tree.out"; }
# the runner sets these for the source tree: this test is about the rock
unset GVLUA_PATH LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4 LUA_INIT LUA_INIT_5_4
rocks() { luarocks --lua-version 5.4 --tree "$tree" "$@"; }

if ! command -v luarocks >/dev/null; then
  echo "FAIL luarocks is not installed (./dev test installs it)"
  echo "0 passed, 1 failed"; exit 1
fi

check "luarocks make builds and installs the rock" \
  "rocks make --deps-mode=none gvlua-scm-1.rockspec"
check "luarocks lists it" "rocks list --porcelain | grep -q '^gvlua	scm-1	installed'"
check "C module in the tree" "test -f '$tree/lib/lua/5.4/gvlua.so'"
check "gvlua in the tree" "test -x '$tree/bin/gvlua'"
want=$(cd lua && find . -name '*.lua' | LC_ALL=C sort)
check "every module of lua/ in the tree" \
  "test \"\$(cd '$tree/share/lua/5.4' && find . -name '*.lua' | LC_ALL=C sort)\" = \"\$want\""

# A greenlet that sleeps (the hub runs) and returns a value; and where
# gevent and gvlua were found, which must be the tree (not /usr/local).
prog='local g = require "gevent"
local v = g.spawn(function(x) g.sleep(0.001); return x * 2 end, 21):get()
print(v, package.searchpath("gevent", package.path) or "builtin",
      package.searchpath("gvlua", package.cpath))'
paths="\$(rocks path)"
check "stock lua5.4 runs a greenlet through luarocks path" \
  "cd / && eval \"$paths\" && lua5.4 -e '$prog' | grep -qx '42	$tree/share/lua/5.4/gevent/init.lua	$tree/lib/lua/5.4/gvlua.so'"
check "the tree's gvlua runs a greenlet through luarocks path" \
  "cd / && eval \"$paths\" && '$tree/bin/gvlua' -e 'local g = require \"gevent\"; print(g.spawn(function() g.sleep(0.001); return 42 end):get())' | grep -qx 42"
check "the tree's gvlua runs a greenlet, clean environment" \
  "cd / && env -i '$tree/bin/gvlua' -e 'local g = require \"gevent\"; print(g.spawn(function() g.sleep(0.001); return 42 end):get())' | grep -qx 42"
check "libev is an external dependency" \
  "rocks make --deps-mode=none gvlua-scm-1.rockspec LIBEV_DIR=/nonexistent 2>&1 | grep -q 'Could not find header file for LIBEV'"
check "luarocks remove takes it all back" \
  "rocks remove gvlua >/dev/null && ! test -e '$tree/bin/gvlua' && ! test -e '$tree/lib/lua/5.4/gvlua.so' && ! test -e '$tree/share/lua/5.4/gevent'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
