#!/usr/bin/env bash
# The fault proxy's answer cap (tests/emulators/s3fault/s3fault.c:
# --conn-rate and the throttle rule) holds roughly, per connection: the
# restore-from-S3 bench (bench/restore-s3-bench.sh) models a real network
# with it.  Upstream is a plain HTTP file server (python3 -m http.server), not
# S3: the cap does not care what it relays.  Lower bounds are what the pacing
# guarantees (never faster than the cap); upper bounds are loose, as the
# machine may be busy (the proxy sleeps, it hardly computes).
. "$(dirname "$0")/lib.sh"
PROXY=$QB_BUILD_DIR/tests/emulators/s3fault
[ -x "$PROXY" ] || fail "no s3fault binary under $QB_BUILD_DIR/tests/emulators"

dir=$(mktemp -d /tmp/qb-s3fault-rate.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
head -c $((4 * 1024 * 1024)) /dev/urandom >"$dir/obj"
SIZE=$(stat -c %s "$dir/obj")

# wait_line FILE PATTERN -> the first matching line, once it is there
wait_line() {
  local l
  for _ in $(seq 1 500); do
    l=$(grep -m1 "$2" "$1" 2>/dev/null || true)
    [ -n "$l" ] && { echo "$l"; return 0; }
    sleep 0.02
  done
  fail "no '$2' in $1: $(cat "$1" 2>/dev/null)"
}

(cd "$dir" && exec /usr/bin/python3 -u -m http.server --bind 127.0.0.1 0 >"$dir/http.out" 2>/dev/null) &
pids+=($!)
UP=$(wait_line "$dir/http.out" "port " | sed -n 's/.* port \([0-9]*\).*/\1/p')

proxy() { # proxy NAME [ARGS...]: starts one; its address in $NAME.addr
  local name=$1
  shift
  "$PROXY" --upstream "http://127.0.0.1:$UP" "$@" >"$dir/$name.out" 2>&1 &
  pids+=($!)
  wait_line "$dir/$name.out" '^listening on ' | sed 's/^listening on //' >"$dir/$name.addr"
}

# get ADDR OUT -> seconds the GET took; fails unless the bytes are the object's
get() {
  local t
  t=$(curl -sS -m 60 -o "$2" -w '%{time_total}' "http://$1/obj") || fail "GET through $1"
  cmp -s "$dir/obj" "$2" || fail "GET through $1: the bytes differ"
  echo "$t"
}
# within T LOW HIGH: LOW <= T <= HIGH
within() { awk -v t="$1" -v a="$2" -v b="$3" 'BEGIN { exit !(t >= a && t <= b) }'; }

# The rates are low so that the paced time (seconds) dwarfs what a busy
# machine adds; the checks compare with it.
# 1. --conn-rate: one GET of 4 MiB at 2 MB/s takes ~2.1 s.
RATE=2000000
proxy capped --conn-rate "$RATE"
C=$(cat "$dir/capped.addr")
want=$(awk -v s="$SIZE" -v r="$RATE" 'BEGIN { printf "%.3f", s / r }')
t=$(get "$C" "$dir/a")
within "$t" "$(awk -v w="$want" 'BEGIN { print w * 0.9 }')" "$(awk -v w="$want" 'BEGIN { print w * 4 + 2 }')" ||
  fail "one capped GET took ${t}s, the cap makes it ~${want}s"
echo "ok: one GET at --conn-rate $RATE: ${t}s (cap: ${want}s)"

# 2. The cap is per connection: two GETs at once each take ~2.1 s, so two
#    connections carry twice the bytes in about the same time (a cap shared
#    by the connections would take ~4.2 s).
t0=$(date +%s.%N)
get "$C" "$dir/b" >"$dir/tb" &
b=$!
get "$C" "$dir/c" >"$dir/tc" &
c=$!
wait "$b" || fail "parallel GET b"
wait "$c" || fail "parallel GET c"
wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
for f in tb tc; do
  within "$(cat "$dir/$f")" "$(awk -v w="$want" 'BEGIN { print w * 0.9 }')" 60 ||
    fail "a parallel capped GET took $(cat "$dir/$f")s, faster than the cap (${want}s)"
done
within "$wall" 0 "$(awk -v w="$want" 'BEGIN { print w * 1.8 }')" ||
  fail "two capped GETs at once took ${wall}s in all: the cap is not per connection (one: ${want}s)"
echo "ok: two GETs at once: ${wall}s in all"

# 3. A throttle rule (no --conn-rate): the one GET it matches is paced at
#    rate=, the next is not.
proxy free
F=$(cat "$dir/free.addr")
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST \
  "http://$F/__s3fault/rules?op=get&action=throttle&rate=1000000&count=1")
[ "$code" = 200 ] || fail "arming throttle: HTTP $code"
want=$(awk -v s="$SIZE" 'BEGIN { printf "%.3f", s / 1000000 }')
t=$(get "$F" "$dir/d")
within "$t" "$(awk -v w="$want" 'BEGIN { print w * 0.9 }')" "$(awk -v w="$want" 'BEGIN { print w * 4 + 2 }')" ||
  fail "the throttled GET took ${t}s, rate=1000000 makes it ~${want}s"
t2=$(get "$F" "$dir/e")
within "$t2" 0 "$(awk -v w="$want" 'BEGIN { print w / 2 }')" ||
  fail "the GET after the throttle rule ran out took ${t2}s (throttled: ${t}s)"
stats=$(curl -sS "http://$F/__s3fault/stats")
grep -q 'fired=1 ' <<<"$stats" || fail "stats after one throttle: $stats"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://$F/__s3fault/rules?op=get&action=throttle&rate=0")
[ "$code" = 400 ] || fail "throttle with rate=0 armed (HTTP $code)"
echo "ok: throttle rule: ${t}s (cap: ${want}s), then ${t2}s unthrottled"
