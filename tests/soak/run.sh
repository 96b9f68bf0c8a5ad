#!/usr/bin/env bash
# tests/soak/run.sh [SCALE [ROUND...]] - the soak (tests/soak/soak.lua)
# under the tree's gvlua: SCALE 1 (the default) is the full size, ./dev
# test runs 0.05. Its stderr (the greenlets' failure reports it causes on
# purpose, the acceptor's EMFILE lines) goes to build/soak.err. Ends with
# "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
export GVLUA_PATH="$PWD/lua" LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;"
export LUA_CPATH="$PWD/build/bindings/?.so;;"
scale=${1:-1}; shift || true
mkdir -p build
timeout 1800 build/app/gvlua tests/soak/soak.lua "$scale" "$@" 2>build/soak.err
rc=$?
if [ $rc -ne 0 ]; then
  echo "(exit $rc; the last lines of build/soak.err:)"
  tail -5 build/soak.err | sed 's/^/    /'
fi
exit $rc
