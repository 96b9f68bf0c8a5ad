#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS [SEED [NAME...]]] - runs the fuzz harnesses of
# tests/fuzz/, each for SECONDS (default 30) with SEED (default: the time,
# printed), every harness when no NAME is given. Each kind is picked up by
# its name:
#   fuzz_NAME.c    a libFuzzer harness, built with clang (plus ASan and
#                  UBSan) against the runtime files SRC lists for it, run
#                  from its seed corpus tests/fuzz/corpus/fuzz_NAME/ (new
#                  inputs go to build-fuzz/, crashes are left there as
#                  NAME-crash-*);
#   fuzz_NAME.lua  a Lua harness, run by the ASan+UBSan gvlua (build-asan/)
#                  as `gvlua fuzz_NAME.lua SECONDS SEED LOG` in network and
#                  pid namespaces of its own (unshare -n -p -f, loopback up,
#                  gvlua as their init, so that no fuzzed signal, pid or
#                  address reaches anything else); without unshare it runs
#                  with GVLUA_FUZZ_UNSAFE=1 (the harness then sends no
#                  signals). It must end with "NAME: ok"; a sanitizer
#                  report, a crash or running SECONDS + 60 s fails it (a
#                  hang leaves gdb's stacks in build-fuzz/NAME.hang). Its
#                  LOG (the calls, in order) is build-fuzz/NAME.calls.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
secs=${1:-30}; shift || true
seed=$(date +%s)
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then seed=$1; shift; fi
out=build-fuzz
mkdir -p "$out"
# the runtime sources each libFuzzer harness links, and extra libraries
declare -A SRC=([fuzz_http]="runtime/http.c")
declare -A LIBS=([fuzz_http]="-lhttp_parser")
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c tests/fuzz/fuzz_*.lua; do
    [ -e "$f" ] && names+=("$(basename "${f%.*}")")
  done
fi
echo "fuzz: $secs s each, seed $seed"
pass=0 fail=0

run_c() { # NAME
  local n=$1
  if ! command -v clang >/dev/null; then
    echo "FAIL $n: clang is not installed (./dev fuzz installs it)"
    fail=$((fail + 1)); return
  fi
  if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
      -Iruntime $(pkg-config --cflags lua5.4) "tests/fuzz/$n.c" ${SRC[$n]:-} \
      ${LIBS[$n]:-} -o "$out/$n"; then
    echo "FAIL $n: does not build"; fail=$((fail + 1)); return
  fi
  mkdir -p "$out/$n.corpus"
  if (cd "$out" && "./$n" -max_total_time="$secs" -max_len=4096 \
        -seed="$seed" -artifact_prefix="$n-" "$n.corpus" \
        "../tests/fuzz/corpus/$n" > "$n.log" 2>&1); then
    echo "ok $n ($(grep -Eo 'Done [0-9]+ runs' "$out/$n.log" | head -1))"
    pass=$((pass + 1))
  else
    echo "FAIL $n: see $out/$n.log"; grep -E '^==|SUMMARY' "$out/$n.log" | head -5
    fail=$((fail + 1))
  fi
}

asan_gvlua() { # the ASan+UBSan build's gvlua, built if needed
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
      >/dev/null || return 1
  fi
  ninja -C build-asan >/dev/null || return 1
  echo "$PWD/build-asan/app/gvlua"
}

run_lua() { # NAME
  local n=$1 gv log="$out/$1.calls" res="$out/$1.out" err="$out/$1.err"
  if ! gv=$(asan_gvlua); then
    echo "FAIL $n: the ASan build (build-asan/) does not build"
    fail=$((fail + 1)); return
  fi
  local limit=$((secs + ${GVLUA_FUZZ_GRACE:-60}))
  local env=(GVLUA_PATH="$PWD/lua" LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;"
    LUA_CPATH="$PWD/build-asan/bindings/?.so;;"
    ASAN_OPTIONS=detect_leaks=1:handle_abort=1:allocator_may_return_null=1:log_path="$PWD/$out/$n.asan"${GVLUA_FUZZ_ASAN:+:$GVLUA_FUZZ_ASAN}
    LSAN_OPTIONS=suppressions="$PWD/tests/fuzz/lsan.supp":print_suppressions=0
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path="$PWD/$out/$n.asan")
  local script="$PWD/tests/fuzz/$n.lua" rc
  # sanitizer reports go to files (the fuzz may close the process's stderr)
  rm -f "$out/$n.asan".*
  rm -f "$out/$n.hang"
  if unshare -n -p -f --kill-child true 2>/dev/null; then
    # gvlua is the namespaces' init: signals from inside them (the fuzz
    # sends some, to -1 too) neither kill it nor reach anything else. It
    # leads a session of its own (setsid): a kill(0, ...) reaches the
    # caller's process group wherever it is, and ours (unshare, this
    # script, ./dev test) is outside the namespace.
    env "${env[@]}" unshare -n -p -f --kill-child sh -c \
      'ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null
       exec setsid "$1" "$2" "$3" "$4" "$5"' sh "$gv" "$script" "$secs" \
      "$seed" "$log" >"$res" 2>"$err" &
  else
    env "${env[@]}" GVLUA_FUZZ_UNSAFE=1 \
      "$gv" "$script" "$secs" "$seed" "$log" >"$res" 2>"$err" &
  fi
  # The watchdog is out here, where the fuzz cannot kill it or take its
  # signal: past the limit, gdb writes every thread's stack to NAME.hang
  # (what hung, not only the last call), a SIGINT has the harness write
  # the Lua traceback to its LOG, then the run is killed.
  local job=$! end=$((SECONDS + limit))
  while kill -0 "$job" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 1; done
  if kill -0 "$job" 2>/dev/null; then
    local victim
    victim=$(awk '{print $1}' "/proc/$job/task/$job/children" 2>/dev/null)
    echo "hung: still running after $limit s" >"$out/$n.hang"
    command -v gdb >/dev/null || echo "(gdb is not installed)" >>"$out/$n.hang"
    timeout 60 gdb -batch -nx -p "${victim:-$job}" -ex "thread apply all bt 40" \
      >>"$out/$n.hang" 2>&1
    # then Ctrl-C: the harness writes the Lua traceback to its LOG
    kill -INT "${victim:-$job}" 2>/dev/null
    end=$((SECONDS + 5))
    while kill -0 "$job" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 1; done
    kill -KILL "$job" "${victim:-$job}" 2>/dev/null
  fi
  { wait "$job"; } 2>/dev/null
  rc=$?
  cat "$out/$n.asan".* >>"$err" 2>/dev/null
  if [ $rc = 0 ] && grep -q "^$n: ok" "$res" "$log" &&
     ! grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$err"; then
    echo "ok $n ($(grep -Eo '^[0-9]+' "$log" | tail -1) calls, seed $seed)"
    pass=$((pass + 1))
  else
    echo "FAIL $n (exit $rc, seed $seed): the last calls ($log):"
    grep -E '^[0-9]+ ' "$log" | tail -5 | sed 's/^/    /'
    grep -A12 '^hung here' "$log" | sed 's/^/    /'
    grep -E '^FAIL|ERROR|SUMMARY|runtime error|^    #[0-9] ' "$res" "$err" |
      head -25 | sed 's/^/    /'
    [ ! -f "$out/$n.hang" ] || { echo "    it hung; its stacks ($out/$n.hang):"
      grep -E '^(hung|Thread|#[0-9]+ )' "$out/$n.hang" | head -40 | sed 's/^/    /'; }
    fail=$((fail + 1))
  fi
}

for n in "${names[@]}"; do
  if [ -f "tests/fuzz/$n.c" ]; then run_c "$n"
  elif [ -f "tests/fuzz/$n.lua" ]; then run_lua "$n"
  else echo "FAIL $n: no tests/fuzz/$n.c or .lua"; fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
