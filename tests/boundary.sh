#!/bin/sh
# boundary.sh - the layer boundary, checked mechanically: bindings/ only
# translate between Lua values and the runtime (docs/internals.md). No
# process, thread, resolver, signal, poller or libev call may appear under
# bindings/, no binding includes the runtime's internal header, and no
# binding touches a field gv.h marks as the runtime's. Prints one line per
# check and "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
passed=0 failed=0
check() { # name pattern
  hits=$(grep -nE "$2" bindings/*.c bindings/*.h 2>/dev/null |
         sed 's|/\*.*\*/||g' | grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*\*|\*)' |
         grep -E "$2")
  if [ -z "$hits" ]; then
    echo "ok - bindings make no $1"; passed=$((passed + 1))
  else
    echo "not ok - bindings make $1:"; echo "$hits" | head -10
    failed=$((failed + 1))
  fi
}
call='(^|[^A-Za-z0-9_.>])'
check "libev calls" "${call}ev_[a-z_]+[[:space:]]*\\("
check "process calls" "${call}(posix_spawnp?|fork|vfork|waitpid|wait3|wait4|kill|execv?p?e?|setsid)[[:space:]]*\\("
check "thread calls" "${call}pthread_[a-z_]+[[:space:]]*\\("
check "resolver calls" "${call}(getaddrinfo|getnameinfo|gethostbyname(_r)?|gethostbyaddr(_r)?|res_n?query|res_init)[[:space:]]*\\("
check "signal calls" "${call}(sigaction|signal|sigprocmask|pthread_sigmask|raise|sigaltstack)[[:space:]]*\\("
check "poller calls" "${call}(poll|ppoll|select|pselect|epoll_[a-z]+)[[:space:]]*\\("
check "includes of the runtime's internal header" '#include[[:space:]]+"internal\.h"'
check "reads of runtime-private fields" '(->|\.)(kctx|blocked_L|runner|wait_obj|waiting_fd|waiting_on|runq_[a-z]+|nheap|nalive|fdw|children|heap)\b|(->|\.)k[[:space:]]*(==|!=)|(->|\.)io\.(data|fd)\b|hub\.alive\b'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
