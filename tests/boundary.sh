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

# The layers of bindings/, lowest first (docs/internals.md): a file calls
# only into files of lower layers, never sideways or up, so the files form
# a DAG with aux.c at the bottom and embed.c (gvlua.h) at the top. Calls are read from
# the object files (nm): each undefined symbol of one file that another
# file defines. A new file must be placed here.
LAYERS="aux l_class
l_timeout
l_greenlet
l_callback l_dns l_event l_lock l_monitor l_os l_select l_signal l_socket l_ssl l_subprocess l_threadpool l_waiter
l_http l_queue
l_websocket
l_hub
open
embed"
objdir=${BUILD:-build}/bindings/libgvlua.a.p
layer_check() {
  local o f missing=""
  ls "$objdir"/*.c.o >/dev/null 2>&1 || { echo "no objects in $objdir (build first)"; return 1; }
  for f in bindings/*.c; do
    f=$(basename "$f" .c)
    [ "$f" = module ] && continue # gvlua.so's source: includes gvlua.h only
    echo "$LAYERS" | tr ' ' '\n' | grep -qx "$f" || missing="$missing $f"
  done
  [ -z "$missing" ] || { echo "not placed in a layer:$missing"; return 1; }
  for o in "$objdir"/*.c.o; do
    f=$(basename "$o" .c.o)
    nm --defined-only "$o" | awk -v f="$f" 'NF == 3 && $2 ~ /^[TDBRV]$/ {print "D", $3, f}'
    nm -u "$o" | awk -v f="$f" '{print "U", $NF, f}'
  done | awk -v layers="$LAYERS" '
    BEGIN { n = split(layers, lines, "\n")
            for (i = 1; i <= n; i++) { m = split(lines[i], fs, " ")
              for (j = 1; j <= m; j++) layer[fs[j]] = i } }
    $1 == "D" { def[$2] = $3; next }
    { use[NR] = $2; user[NR] = $3 }
    END { bad = 0
      for (k in use) { d = def[use[k]]; f = user[k]
        if (d == "" || d == f) continue
        if (!(layer[d] < layer[f])) {
          printf "%s calls %s of %s (layer %d, not below its %d)\n", f, use[k], d, layer[d], layer[f]
          bad = 1 } }
      exit bad }'
}
if out=$(layer_check 2>&1); then
  echo "ok - bindings call only into lower layers (a DAG, aux.c to embed.c)"
  passed=$((passed + 1))
else
  echo "not ok - bindings call across layers:"; echo "$out" | head -10
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
