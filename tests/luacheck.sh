#!/usr/bin/env bash
# luacheck.sh - luacheck (Debian's lua-check; options in .luacheckrc) over
# every Lua file of lua/, spec/, examples/, bench/ and tests/. A file with a
# warning or an error fails. Prints its warnings, then "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
dirs="lua spec examples bench tests"
if ! command -v luacheck >/dev/null; then
  echo "FAIL luacheck is not installed (./dev test installs lua-check)"
  echo "0 passed, 1 failed"
  exit 1
fi
out=$(luacheck --formatter plain --codes --no-color $dirs 2>&1)
status=$?
[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/FAIL /'
total=$(find $dirs -name '*.lua' -not -path 'tests/cli/lua-tests/*' | wc -l)
failed=$(printf '%s' "$out" | cut -d: -f1 | sort -u | grep -c . || true)
# a failure luacheck reports without a file (a bad .luacheckrc) counts too
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
