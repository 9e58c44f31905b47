#!/usr/bin/env bash
# bench/catalogue-scale.sh -- does the API stay flat as the catalogue grows?
#
# For each size (snapshot rows; default 10k, 100k and 1M):
# 1. Fills a catalogue with bench/catalogue_tool.c (`gen`): 10 hourly plans
#    over 50 collections, runs going back as far as the size needs, 3%
#    failed and 1% partial runs, one plan's rows backup sets; the schema is
#    qbackupd's own migrations (the tool migrates first), and the rows a
#    first start writes (instance `default`, destination `local`) come from
#    a real first start of qbackupd.
# 2. Start-up: starts the real qbackupd on it STARTS times (migrations
#    check, secrets, crash recovery, config upserts, listening) and takes
#    the median time until /readyz answers 200.
# 3. Routes: each route alone: qbackupd's CPU time per request over 200
#    sequential requests (/proc/PID/stat; the cost of the route, which
#    other load on the machine hardly moves), then polled by bench/openloop.c at RATE req/s for
#    DURATION s (latency counted from when each request was due), then at
#    MAX_RATE req/s to find the answered req/s under overload.  "deep"
#    routes pass a cursor from the middle of the list (the page a client
#    walking the whole list reaches halfway).
# 4. Retention of one plan (5 collections: retention_apply_target in dry
#    run, best of 5) and a scheduler tick (scheduler_tick with nothing due,
#    best of 5; and the store calls of a tick with all 10 plans due), both
#    through catalogue_tool.c on the daemon's own code, qbackupd stopped.
# Prints a markdown table for docs/benchmarks.md.  Not a test: it asserts
# only that every step answered as expected.
#
# Usage: bench/catalogue-scale.sh [SIZE...]     (default: 10000 100000 1000000)
# Env:   QB_SCALE_RATE       req/s for the latency columns (default: 50, a few dashboards)
#        QB_SCALE_MAX_RATE   req/s offered for the throughput column (default: 5000)
#        QB_SCALE_DURATION   seconds per route and rate (default: 5)
#        QB_SCALE_CONNS      openloop connections (default: 16)
#        QB_SCALE_STARTS     start-ups measured per size (default: 3)
#        QB_BENCH_BUILD_DIR  CMake build dir (default: build-load in the repo)
#        TMPDIR              where the work dir goes (1M rows need ~2.5 GB)
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000 1000000)
RATE=${QB_SCALE_RATE:-50}
MAX_RATE=${QB_SCALE_MAX_RATE:-5000}
DURATION=${QB_SCALE_DURATION:-5}
CONNS=${QB_SCALE_CONNS:-16}
STARTS=${QB_SCALE_STARTS:-3}
QB_BENCH_BUILD_DIR=${QB_BENCH_BUILD_DIR:-$SRC/build-load}
# shellcheck disable=SC2034 # read by bench_build
BENCH_TARGETS="qbackupd catalogue-tool"
bench_init catalogue-scale
bench_need_tools sqlite3
bench_build Release -DQB_WERROR=OFF
cc -O2 -o "$BUILD/openloop" "$SRC/bench/openloop.c" 2>>"$WORK/build.log" || die "build openloop"
TOOL=$BUILD/catalogue-tool
stop_qbd() {
  stop_pid "$QPID"
  QPID=''
}

# start_qbd DIR: starts qbackupd on DIR; sets QPID, B and START_MS (ms
# until /readyz answered 200).  Not in $(...): QPID must reach this shell.
# No Qdrant: port 9 refuses, and nothing here needs one (no plan is due).
start_qbd() {
  local t0 t1
  rm -f "$1/port"
  t0=$(date +%s.%N)
  env -u QBACKUP_TOKENS -u QBACKUP_TOKENS_FILE -u QBACKUP_CONFIG "$QBD" serve \
    --listen 127.0.0.1:0 --port-file "$1/port" --data-dir "$1" --qdrant-url http://127.0.0.1:9 \
    --log-level warn --max-connections $((4 * CONNS + 64)) --max-connections-per-ip 0 \
    >>"$WORK/qbackupd.log" 2>&1 &
  QPID=$!
  for _ in $(seq 1 6000); do
    if [ -s "$1/port" ]; then
      B=http://127.0.0.1:$(tr -d '[:space:]' <"$1/port")
      [ "$(curl -s -o /dev/null -w '%{http_code}' "$B/readyz")" = 200 ] && break
    fi
    kill -0 "$QPID" 2>/dev/null || die "qbackupd exited"
    sleep 0.005
  done
  t1=$(date +%s.%N)
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$B/readyz")" = 200 ] || die "qbackupd not ready"
  START_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }')
}

# The rows a first start writes (instance, destination, secrets key).
log "first start of qbackupd on an empty data dir"
mkdir -p "$WORK/base"
start_qbd "$WORK/base"
stop_qbd

ROWS=()
for size in "${SIZES[@]}"; do
  D=$WORK/s$size
  rm -rf "$D" "$WORK"/s[0-9]*
  cp -a "$WORK/base" "$D"
  DB=$D/qbackup.db
  log "generating $size snapshot rows"
  t0=$(date +%s)
  gen=$("$TOOL" gen "$DB" "$size") || die "gen"
  log "  $gen ($(($(date +%s) - t0)) s, $(du -m "$DB" | cut -f1) MB)"
  runs=$(sqlite3 "$DB" 'SELECT count(*) FROM runs')
  half_snap=$(sqlite3 "$DB" "SELECT created_at || '.' || id FROM snapshots
    ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET $((size / 2))")
  half_plan=$(sqlite3 "$DB" "SELECT s.created_at || '.' || s.id FROM snapshots s
    JOIN plans p ON p.id = s.plan_id WHERE p.name = 'scale-03'
    ORDER BY s.created_at DESC, s.id DESC LIMIT 1 OFFSET $((size / 20))")
  half_run=$(sqlite3 "$DB" "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET $((runs / 2))")

  starts=()
  for _ in $(seq 1 "$STARTS"); do
    start_qbd "$D"
    stop_qbd
    starts+=("$START_MS")
  done
  start_ms=$(median "${starts[@]}")
  log "  start-up ms: ${starts[*]} (median $start_ms)"

  start_qbd "$D"
  routes=("/v1/status" "/v1/snapshots" "/v1/snapshots?cursor=$half_snap"
    "/v1/snapshots?plan=scale-03&cursor=$half_plan" "/v1/snapshots?collection=c03_1"
    "/v1/runs" "/v1/runs?cursor=$half_run" "/v1/runs?plan=scale-03&state=failed")
  names=("/v1/status" "/v1/snapshots" "/v1/snapshots deep cursor" "/v1/snapshots?plan deep cursor"
    "/v1/snapshots?collection" "/v1/runs" "/v1/runs deep cursor" "/v1/runs?plan&state=failed")
  for i in "${!routes[@]}"; do
    code=$(curl -s -o "$WORK/resp" -w '%{http_code}' "$B${routes[$i]}")
    [ "$code" = 200 ] || { cat "$WORK/resp" >&2; die "${routes[$i]}: HTTP $code"; }
    "$BUILD/openloop" -u "$B${routes[$i]}" -r "$RATE" -d "$DURATION" -c "$CONNS" >"$WORK/lat.txt" 2>&1 ||
      die "openloop ${routes[$i]}: $(cat "$WORK/lat.txt")"
    "$BUILD/openloop" -u "$B${routes[$i]}" -r "$MAX_RATE" -d "$DURATION" -c "$CONNS" >"$WORK/max.txt" 2>&1 ||
      die "openloop ${routes[$i]}: $(cat "$WORK/max.txt")"
    # CPU the daemon spends per request (200 sequential requests): what
    # the route costs, unlike latency, hardly moved by other work on the
    # machine.  utime + stime of qbackupd, in clock ticks.
    for _ in $(seq 1 200); do printf 'url = "%s"\noutput = /dev/null\n' "$B${routes[$i]}"; done >"$WORK/curl.cfg"
    c0=$(awk '{ print $14 + $15 }' "/proc/$QPID/stat")
    curl -s -K "$WORK/curl.cfg" || die "curl ${routes[$i]}"
    c1=$(awk '{ print $14 + $15 }' "/proc/$QPID/stat")
    cpu_us=$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) * 1e6 / hz / 200 }')
    kv() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$1"; }
    bad=$(($(kv "$WORK/lat.txt" non2xx) + $(kv "$WORK/lat.txt" errors)))
    ROWS+=("| $size | ${names[$i]} | $cpu_us | $(kv "$WORK/max.txt" rps) | $(kv "$WORK/lat.txt" p50) | $(kv "$WORK/lat.txt" p99) | $bad |")
    log "  ${names[$i]}: $cpu_us us CPU/req; max $(kv "$WORK/max.txt" rps) req/s; at $RATE req/s p50 $(kv "$WORK/lat.txt" p50) p99 $(kv "$WORK/lat.txt" p99) ms"
  done
  stop_qbd

  ret=$("$TOOL" retention "$DB" scale-03) || die "retention"
  tick=$("$TOOL" tick "$DB") || die "tick"
  log "  $ret; $tick"
  kv2() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
  ROWS+=("| $size | start-up (median of $STARTS) | | | $start_ms | | |")
  ROWS+=("| $size | retention of one plan (5 targets, $((size / 10)) rows) | | | $(kv2 "$ret" retention_ms) | | |")
  ROWS+=("| $size | scheduler tick, none due / all 10 due | | | $(kv2 "$tick" tick_idle_ms) / $(kv2 "$tick" tick_due_ms) | | |")
done

printf '\nCatalogue scale (10 hourly plans, 50 collections; openloop -c %s -d %s: req/s answered when offered %s/s; latency at %s req/s, from when each request was due):\n\n' \
  "$CONNS" "$DURATION" "$MAX_RATE" "$RATE"
echo "| snapshot rows | route / operation | CPU µs/req | max req/s | p50 ms (or ms) | p99 ms | non-2xx + errors |"
echo "|---:|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
