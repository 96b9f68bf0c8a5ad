#!/bin/sh
# Tests of the gvlua executable: Lua's own testes/main.lua (the stand-alone
# interpreter suite, see lua-tests/main.lua) and gvlua-specific checks
# (exit status, -e, -v, stdin scripts, the main greenlet, -i with greenlets
# running in the background while the prompt waits for input).
#
# usage: tests/cli/run.sh [path/to/gvlua]     (default: build/app/gvlua)
# GVLUA_PATH defaults to the source tree's lua/ directory, so that
# require "gevent" finds the modules without installing them.
# Prints "ok - name" / "FAIL - name" lines, then "N passed, N failed";
# exits non-zero if a check failed.

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
GVLUA=${1:-$root/build/app/gvlua}
case $GVLUA in
  /*) ;;
  *) GVLUA=$(pwd)/$GVLUA ;;
esac
if [ ! -x "$GVLUA" ]; then
  echo "FAIL - no executable at $GVLUA"
  echo "0 passed, 1 failed"
  exit 1
fi
GVLUA_PATH=${GVLUA_PATH:-$root/lua}
export GVLUA_PATH

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gvlua-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
  failed=$((failed + 1)); echo "FAIL - $1"
  if [ -n "$2" ]; then printf '%s\n' "$2" | sed 's/^/    /'; fi
}

# check NAME EXPECTED ACTUAL
check() {
  if [ "$2" = "$3" ]; then ok "$1"
  else fail "$1" "expected: [$2]
got:      [$3]"; fi
}

# check_match NAME GREP-PATTERN TEXT  (extended regexp, any line)
check_match() {
  if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"
  else fail "$1" "no line matching /$2/ in:
$3"; fi
}

# line number of the first line matching an extended regexp (0 if none)
line_of() {
  n=$(printf '%s\n' "$2" | grep -En -- "$1" | head -n 1 | cut -d: -f1)
  echo "${n:-0}"
}


# --- Lua's stand-alone interpreter test suite -------------------------------
out=$("$GVLUA" "$here/lua-tests/main.lua" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ "$(printf '%s\n' "$out" | tail -n 1)" = "OK" ]; then
  ok "lua-tests/main.lua"
else
  fail "lua-tests/main.lua (exit $rc)" "$(printf '%s\n' "$out" | tail -n 15)"
fi


# --- options and exit status ------------------------------------------------
check "-e runs a statement" "2" "$("$GVLUA" -e 'print(1 + 1)' 2>&1)"
check "-e several times, in order" "1
3" "$("$GVLUA" -e 'print(1)' -e 'a = 3' -e 'print(a)' 2>&1)"

out=$("$GVLUA" -v 2>&1)
version=$("$GVLUA" -e 'print(require("gevent").version)' 2>&1)
check_match "-v names gvlua and its version first" "^gvlua $version\$" "$(printf '%s\n' "$out" | head -n 1)"
check_match "-v then prints Lua's version line" '^Lua 5\.4\.[0-9]+  Copyright \(C\) 1994-20[0-9][0-9] Lua\.org, PUC-Rio$' "$out"
if command -v lua5.4 >/dev/null 2>&1; then
  check "-v: Lua's line is lua5.4 -v's" "$(lua5.4 -v 2>&1)" "$(printf '%s\n' "$out" | tail -n 1)"
fi

printf 'error("boom")\n' > err.lua
out=$("$GVLUA" err.lua 2>&1)
check "error in a script: exit status 1" "1" "$?"
check_match "error message names the program" "^$GVLUA: err\.lua:1: boom\$" "$out"
check_match "error message has a traceback" '^stack traceback:$' "$out"

printf 'x = = 1\n' > syn.lua
out=$("$GVLUA" syn.lua 2>&1)
check "syntax error: exit status 1" "1" "$?"
check_match "syntax error message" "^$GVLUA: syn\.lua:1: unexpected symbol near '='\$" "$out"

printf 'os.exit(7)\n' > exit7.lua
"$GVLUA" exit7.lua >/dev/null 2>&1
check "os.exit(7): exit status 7" "7" "$?"

"$GVLUA" -e 'local x = 1' >/dev/null 2>&1
check "success: exit status 0" "0" "$?"

out=$("$GVLUA" -x 2>&1)
check "bad option: exit status 1" "1" "$?"
check_match "bad option: message" "^$GVLUA: unrecognized option '-x'\$" "$out"

out=$("$GVLUA" nosuchfile.lua 2>&1)
check "missing script: exit status 1" "1" "$?"
check_match "missing script: message" "cannot open nosuchfile\.lua" "$out"

check "stdin script via -" "a	b" "$(echo 'print(...)' | "$GVLUA" - a b 2>&1)"
check "stdin script when no argument" "10" "$(echo 'print(10)' | "$GVLUA" 2>&1)"

printf 'print(arg[-2], arg[-1], arg[0], arg[1], #arg)\n' > args.lua
check "arg table with negative indices" "-e	x=1	args.lua	a	1" \
  "$("$GVLUA" -e x=1 args.lua a 2>&1)"

check "-l g=mod" "ALO	2" "$("$GVLUA" -l s=string -lm=math -e 'print(s.upper("alo"), m.max(1, 2))' 2>&1)"

printf 'print("init", arg[1])\n' > init.lua
check "LUA_INIT=@file runs first, sees arg" "init	q" \
  "$(LUA_INIT="@init.lua" "$GVLUA" args.lua q 2>&1 | head -n 1)"
check "LUA_INIT_5_4 wins over LUA_INIT" "54" \
  "$(LUA_INIT_5_4='x = 54' LUA_INIT='x = 1' "$GVLUA" -e 'print(x)' 2>&1)"

check "-E ignores LUA_INIT" "ok" "$(LUA_INIT='error("x")' "$GVLUA" -E -e 'print("ok")' 2>&1)"

check "require 'gvlua' (linked in)" "table" \
  "$("$GVLUA" -e 'print(type(require "gvlua"))' 2>&1)"

check "GVLUA_PATH is first in package.path" "$GVLUA_PATH/?.lua" \
  "$("$GVLUA" -e 'print((package.path:match("^[^;]*")))' 2>&1)"

# --- built-in modules: no environment, no install, any directory -------------
# env -i: no GVLUA_PATH, LUA_PATH or LUA_INIT; the script is in this
# temporary directory, far from the source tree.
cat > hello.lua <<'EOF'
local gevent = require "gevent"
local Queue = require("gevent.queue").Queue
local q = Queue()
gevent.spawn(function () gevent.sleep(0.001); q:put("hello") end)
print(q:get(), debug.getinfo(gevent.joinall, "S").source)
EOF
check "clean environment, other directory: built-in modules" \
  "hello	@gvlua:gevent/init.lua" "$(env -i "$GVLUA" hello.lua 2>&1)"
check "-E uses the built-in modules" "@gvlua:gevent/init.lua" \
  "$("$GVLUA" -E -e 'print(debug.getinfo(require("gevent").joinall, "S").source)' 2>&1)"
check "GVLUA_PATH replaces the built-in modules" "@$GVLUA_PATH/gevent/init.lua	nil" \
  "$("$GVLUA" -e 'print(debug.getinfo(require("gevent").joinall, "S").source, package.preload.gevent)' 2>&1)"
# Every module of the source tree is built in, and nothing else: a module
# added to lua/ and missing here means the build is stale.
want=$(cd "$root/lua" && find . -name '*.lua' | sed 's|^\./||; s|\.lua$||; s|/init$||; s|/|.|g' | LC_ALL=C sort | tr '\n' ' ')
got=$(env -i "$GVLUA" -e 'local t = {} for k in pairs(package.preload) do if k ~= "gvlua" then t[#t + 1] = k end end table.sort(t) print(table.concat(t, " ") .. " ")' 2>&1)
check "every module of lua/ is built in" "$want" "$got"


# --- the main chunk is the main greenlet ------------------------------------
cat > main_greenlet.lua <<'EOF'
local gevent = require "gevent"
local g = gevent.spawn(function (a, b) gevent.sleep(0.01); return a + b end, 40, 2)
gevent.sleep(0.02)          -- blocks the main greenlet, g runs meanwhile
print(g:get(), gevent.getcurrent() ~= nil)
EOF
check "main chunk blocks cooperatively" "42	true" "$("$GVLUA" main_greenlet.lua 2>&1)"


# --- interactive mode ---------------------------------------------------------
# Output lines may start with prompts: with readline the input is echoed
# after the prompt (as lua5.4 does), without it the output follows it.
P='^(>>? )*'
out=$(printf 'print(1)\n' | "$GVLUA" -i 2>&1)
rc=$?
check "-i from a pipe: exit status 0" "0" "$rc"
check_match "-i from a pipe: runs the line" "${P}1\$" "$out"
check_match "-i prints the version" '^Lua 5\.4' "$out"

out=$(printf '1 + 1\n=2 * 3\nfor i = 1, 2 do\nprint("i", i)\nend\n' \
      | "$GVLUA" -e "_PROMPT='' _PROMPT2=''" -i 2>&1)
check_match "-i: expressions are printed" '^2$' "$out"
check_match "-i: =expr" '^6$' "$out"
check_match "-i: continuation lines" '^i	2$' "$out"

out=$(printf 'error("bad")\nprint("next")\n' | "$GVLUA" -i 2>&1)
check_match "-i: errors are reported without the program name" "${P}stdin:1: bad\$" "$out"
check_match "-i: goes on after an error" "${P}next\$" "$out"

# A greenlet started by the script prints while the prompt waits on a pipe
# that is fed slowly: its output comes before the next line's.
cat > bg.lua <<'EOF'
gevent = require "gevent"
gevent.spawn(function ()
  gevent.sleep(0.1)
  print("from greenlet")
end)
EOF
out=$( (sleep 0.6; echo 'print("after" .. "wards")') | "$GVLUA" -i bg.lua 2>&1)
a=$(line_of "${P}from greenlet\$" "$out")
b=$(line_of "${P}afterwards\$" "$out")
if [ "$a" -gt 0 ] && [ "$b" -gt "$a" ]; then
  ok "-i: background greenlet runs while waiting for input"
else
  fail "-i: background greenlet runs while waiting for input" "$out"
fi

# The same with the greenlet spawned from the prompt, and a timer.
out=$( (echo 'gevent = require "gevent"'
        echo 'gevent.spawn_later(0.1, print, "late" .. "r")'
        sleep 0.6
        echo 'print("x" .. "y")') | "$GVLUA" -i 2>&1)
a=$(line_of "${P}later\$" "$out")
b=$(line_of "${P}xy\$" "$out")
if [ "$a" -gt 0 ] && [ "$b" -gt "$a" ]; then
  ok "-i: greenlet spawned at the prompt runs while waiting"
else
  fail "-i: greenlet spawned at the prompt runs while waiting" "$out"
fi

# Input arriving in several writes, and many lines at once.
out=$( (printf 'x = 1'; sleep 0.2; printf '0\nprint(x)\nprint(x + 1)\n') \
       | "$GVLUA" -i 2>&1)
check_match "-i: a line written in pieces" "${P}10\$" "$out"
check_match "-i: several lines in one write" "${P}11\$" "$out"


echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
