#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [NAME...] - builds each tests/fuzz/fuzz_NAME.c
# with clang's libFuzzer (plus ASan and UBSan) against the runtime files it
# needs, and runs it for SECONDS (default 30) from its seed corpus
# tests/fuzz/corpus/fuzz_NAME/ (new inputs go to build-fuzz/, crashes are
# left there as crash-*). Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
secs=${1:-30}; shift || true
out=build-fuzz
mkdir -p "$out"
# the runtime sources each harness links, and extra libraries
declare -A SRC=([fuzz_http]="runtime/http.c")
declare -A LIBS=([fuzz_http]="-lhttp_parser")
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
fi
pass=0 fail=0
for n in "${names[@]}"; do
  if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
      -Iruntime $(pkg-config --cflags lua5.4) "tests/fuzz/$n.c" ${SRC[$n]:-} \
      ${LIBS[$n]:-} -o "$out/$n"; then
    echo "FAIL $n: does not build"; fail=$((fail + 1)); continue
  fi
  mkdir -p "$out/$n.corpus"
  if (cd "$out" && "./$n" -max_total_time="$secs" -max_len=4096 \
        -artifact_prefix="$n-" "$n.corpus" "../tests/fuzz/corpus/$n" \
        > "$n.log" 2>&1); then
    echo "ok $n ($(grep -Eo 'Done [0-9]+ runs' "$out/$n.log" | head -1))"
    pass=$((pass + 1))
  else
    echo "FAIL $n: see $out/$n.log"; grep -E '^==|SUMMARY' "$out/$n.log" | head -5
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
