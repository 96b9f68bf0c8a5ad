#!/usr/bin/env bash
# install.sh - meson install into a staging dir puts everything where a
# host finds it: gvlua.so on lua5.4's cpath layout, gevent/*.lua on its
# path layout, gvlua in bin, the header and gvlua.pc for embedders.
set -u
cd "$(dirname "$0")/.."
top=$PWD
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pass=0 fail=0
check() { if eval "$2" >/dev/null 2>&1; then echo "ok $1"; pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }

DESTDIR="$stage" meson install -C build --quiet >/dev/null 2>&1
prefix=$(meson introspect build --buildoptions | lua5.4 -e 'local s = io.read("a"); print(s:match([["name": "prefix", "value": "([^"]+)"]]))')
root="$stage$prefix"
check "C module installed" "test -f '$root/lib/lua/5.4/gvlua.so' || test -f '$root/lib/$(gcc -print-multiarch)/lua/5.4/gvlua.so'"
check "Lua modules installed" "test -f '$root/share/lua/5.4/gevent/init.lua'"
check "gvlua installed" "test -x '$root/bin/gvlua'"
check "lua-language-server annotations installed" "test -f '$root/share/gvlua/types/gevent/init.lua'"
check "headers installed" "test -f '$root/include/gvlua.h' && test -f '$root/include/gvlua_version.h'"
check "pkg-config file" "PKG_CONFIG_PATH=\$(dirname \$(find '$stage' -name gvlua.pc)) pkg-config --cflags --libs gvlua | grep -q lgvlua"
man1="$root/share/man/man1/gvlua.1"
check "man page installed" "test -f '$man1'"
check "man page renders without warnings" "test -z \"\$(groff -man -Tutf8 -ww -z '$man1' 2>&1)\""
version=$(build/app/gvlua -e 'io.write(require("gevent").version)')
check "man page: the version" "grep -q 'gvlua $version' '$man1'"
# every option of the usage message (".B \-i", ".BI \-e ..."), and the
# environment variables
man_has() { # WORD: a .B/.BI/.BR line of the page starts with WORD
  W=$1 awk '($1 == ".B" || $1 == ".BI" || $1 == ".BR") && $2 == ENVIRON["W"] {f = 1}
            END {exit !f}' "$man1"
}
for o in $(build/app/gvlua -x 2>&1 | grep -Eo '^  -[-a-zA-Z]?' | sort -u); do
  check "man page: option $o" "man_has '${o//-/\\-}'"
done
for v in GVLUA_PATH LUA_INIT LUA_PATH LUA_CPATH; do
  check "man page: $v" "grep -q '^\.BR\\? .*$v' '$man1'"
done
lpath="$root/share/lua/5.4/?.lua;$root/share/lua/5.4/?/init.lua"
cpath="$root/lib/lua/5.4/?.so;$root/lib/$(gcc -print-multiarch)/lua/5.4/?.so"
check "stock lua5.4 host runs gevent" "cd /tmp && LUA_PATH='$lpath' LUA_CPATH='$cpath' lua5.4 -e 'local g = require \"gevent\"; assert(g.spawn(function() g.sleep(0.001); return 7 end):get() == 7)'"
check "installed gvlua runs gevent, clean environment" "cd /tmp && env -i '$root/bin/gvlua' -e 'local g = require \"gevent\"; assert(g.spawn(function() return 8 end):get() == 8)'"
# ./dev run takes FILE from the caller's directory (and its packages are
# there already: ./dev test installed them)
printf 'print(require("gevent").spawn(function() return "from " .. arg[1] end):get())\n' > "$stage/hi.lua"
check "./dev run FILE from another directory" "(cd '$stage' && '$top/dev' run hi.lua there) | grep -qx 'from there'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
