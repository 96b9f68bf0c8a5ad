#!/usr/bin/env bash
# arch.sh - the context switch on every path we ship: the aarch64 assembly
# (cross-compiled, run under qemu-user) and the ucontext fallback (native).
# test_ctx checks entry on a new stack, 100,000 round trips keeping
# callee-saved and floating-point state, and 150 KiB of frames.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
srcs="tests/test_ctx.c runtime/ctx.c runtime/stack.c"
# the warnings of the meson build (warning_level=2), as errors
warn="-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror"
run() { # name command...
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1 && grep -q ' 0 failed' "$tmp/out"; then
    echo "ok $name"; pass=$((pass + 1))
  else
    echo "FAIL $name"; sed 's/^/    /' "$tmp/out" | head -20; fail=$((fail + 1))
  fi
}
# Debian's luaconf.h includes a multiarch header only the host arch has.
mkdir -p "$tmp/inc"
echo '#define DEB_HOST_MULTIARCH "aarch64-linux-gnu"' > "$tmp/inc/lua5.4-deb-multiarch.h"
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
  run "aarch64 context switch (qemu)" bash -c "
    aarch64-linux-gnu-gcc -O2 $warn -static -D_GNU_SOURCE -I '$tmp/inc' -I runtime \
      -I /usr/include/lua5.4 -I /usr/include -I tests -o '$tmp/ctx_arm64' \
      $srcs runtime/ctx_aarch64.S && qemu-aarch64 '$tmp/ctx_arm64'"
else
  echo "FAIL aarch64 context switch: gcc-aarch64-linux-gnu or qemu-user missing"
  fail=$((fail + 1))
fi
run "ucontext fallback" bash -c "
  cc -O2 $warn -D_GNU_SOURCE -DGV_CTX_UCONTEXT=1 -I runtime \$(pkg-config --cflags lua5.4) \
    -I tests -o '$tmp/ctx_uc' $srcs && '$tmp/ctx_uc'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
