#!/usr/bin/env bash
# bench/api-load.sh -- the read API under load while a backup streams:
#
#   wrk --> qbackupd (/v1/status, /v1/snapshots, /metrics)
#           qbackupd --> backup of a collection of N GiB (qdrant-emu --> local dir)
#
# 1. Builds qbackupd and qdrant-emu (Release, no sanitizers), starts the
#    emulator and qbackupd (max_connections_per_ip raised: every wrk
#    connection comes from 127.0.0.1), a local destination, and a catalogue
#    like one a long test leaves: PLANS plans with a schedule in a tzdata
#    zone, RUNS backup runs and SNAPS snapshots spread over them (written
#    with sqlite3 into qbackupd's catalogue; runs carry a ~2 KiB `results`
#    and `request`, as real ones do; a quarter of the plans never
#    succeeded, the worst case for "last success").
# 2. Idle: wrk against each route alone (DURATION s, CONNS connections).
# 3. The backup of the N GiB collection without load: wall time, MB/s.
# 4. The same backup again with one wrk per route running during the whole
#    backup (started before it, stopped with SIGINT when it ends): req/s,
#    p50, p99 per route, and the backup's MB/s next to step 3's.
# 5. Open loop (bench/openloop.c), for each rate in OPEN_RATES: the backup
#    again with every route polled at that fixed rate, latency counted from
#    when each request was due (what a dashboard polling at that rate sees;
#    wrk's closed loop in step 4 measures saturation instead).
# Prints markdown tables for docs/benchmarks.md.  Not a test: it asserts
# only that every step answered as expected (non-2xx in wrk are reported).
#
# Usage: bench/api-load.sh [SIZE_GIB]            (default: 1)
# Env:   QB_LOAD_CONNS      wrk connections per route (default: 64)
#        QB_LOAD_THREADS    wrk threads per route (default: 2)
#        QB_LOAD_DURATION   seconds of each idle wrk run (default: 10)
#        QB_LOAD_PLANS      seeded plans (default: 20)
#        QB_LOAD_RUNS       seeded runs (default: 5000)
#        QB_LOAD_SNAPS      seeded snapshots (default: 5000)
#        QB_LOAD_ROUTES     routes, space-separated (default: /v1/status /v1/snapshots /metrics)
#        QB_LOAD_IDLE_ONLY  1: stop after step 2 (no backup)
#        QB_LOAD_OPEN_RATES req/s per route for step 5, space-separated
#                           (default: "100 1000"; "" skips step 5)
#        QB_BENCH_BUILD_DIR CMake build dir (default: build-load in the repo)
#        TMPDIR             where the work dir goes (needs ~2 x SIZE_GIB free)
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
GIB=${1:-1}
CONNS=${QB_LOAD_CONNS:-64}
THREADS=${QB_LOAD_THREADS:-2}
DURATION=${QB_LOAD_DURATION:-10}
PLANS=${QB_LOAD_PLANS:-20}
RUNS=${QB_LOAD_RUNS:-5000}
SNAPS=${QB_LOAD_SNAPS:-5000}
QB_BENCH_BUILD_DIR=${QB_BENCH_BUILD_DIR:-$SRC/build-load}
read -r -a ROUTES <<<"${QB_LOAD_ROUTES:-/v1/status /v1/snapshots /metrics}"
read -r -a OPEN_RATES <<<"${QB_LOAD_OPEN_RATES-100 1000}"
bench_init api-load
bench_need_tools wrk jq sqlite3

# QB_WERROR=OFF: a benchmark build must not stop on a warning that only a
# newer compiler's -O2 analysis emits; CI builds with -Werror.
bench_build Release -DQB_WERROR=OFF
cc -O2 -o "$BUILD/openloop" "$SRC/bench/openloop.c" 2>>"$WORK/build.log" || die "build openloop"
bench_disk_check $((2 * GIB + 2))

bench_emu_start
mkdir -p "$WORK/dest"
# Every wrk connection comes from 127.0.0.1: lift the per-address cap
# (default 32) and the total cap (default 128) above 3 x CONNS.
bench_qbd_start --log-level warn --max-connections $((4 * CONNS + 64)) --max-connections-per-ip 0
DB=$(find "$WORK/qbd" -maxdepth 2 -name '*.db' | head -1)
[ -n "$DB" ] || die "catalogue file not found under $WORK/qbd"
log "qdrant-emu $Q (pid $EPID), qbackupd $B (pid $QPID), catalogue $DB"

# ----------------------------------------------------------- catalogue
C=load${GIB}g
api PUT "$Q/collections/$C" '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null
api PUT "$Q/collections/$C/points?wait=true" \
  '{"points":[{"id":1,"vector":[0.05,0.61,0.76,0.74],"payload":{"n":1}},{"id":2,"vector":[0.19,0.81,0.75,0.11],"payload":{"n":2}}]}' >/dev/null
api POST "$Q/debug/fill/$C?mb=$((GIB * 1024))" >/dev/null
api POST "$B/v1/destinations" "$(jq -nc --arg p "$WORK/dest" '{name:"loaddest", kind:"local", settings:{path:$p}}')" >/dev/null
api POST "$B/v1/plans" "{\"name\":\"load\",\"destination\":\"loaddest\",\"collections\":[\"$C\"],\"verify\":false}" >/dev/null
# Seeded plans fire daily twelve hours from now, so none fires during the run.
hour=$(((10#$(date -u +%H) + 12) % 24))
zones=(Europe/Berlin America/New_York Asia/Tokyo UTC Australia/Sydney)
for i in $(seq 1 "$PLANS"); do
  api POST "$B/v1/plans" "$(jq -nc --arg n "seed-$i" --arg c "$C" --arg s "0 $hour * * *" \
    --arg z "${zones[$((i % ${#zones[@]}))]}" \
    '{name:$n, destination:"loaddest", collections:[$c], schedule:$s, timezone:$z}')" >/dev/null
done
log "seeding $RUNS runs and $SNAPS snapshots over $PLANS plans"
# Plans seed-1.. get runs round robin; plans whose number is 0 mod 4 only
# ever failed.  results/request are ~2 KiB of JSON, like a multi-collection run's.
sqlite3 "$DB" <<SQL
.bail on
.timeout 10000
BEGIN;
CREATE TEMP TABLE seed AS SELECT id, name, CAST(substr(name, 6) AS INTEGER) - 1 AS k,
  (CAST(substr(name, 6) AS INTEGER) % 4 = 0) AS bad
  FROM plans WHERE name LIKE 'seed-%';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $RUNS)
INSERT INTO runs (kind, plan_id, plan_name, trigger, state, bytes_done, bytes_total, request,
                  results, queued_at, started_at, finished_at)
SELECT 'backup', s.id, s.name, 'api',
       CASE WHEN s.bad OR i % 7 = 0 THEN 'failed' ELSE 'succeeded' END, 1048576, 1048576,
       json_object('pad', printf('%.2000c', 'r')),
       json_array(json_object('collection', '$C', 'pad', printf('%.2000c', 'x'))),
       strftime('%s', 'now') - 86400 * 30 + i, strftime('%s', 'now') - 86400 * 30 + i,
       strftime('%s', 'now') - 86400 * 30 + i + 5
FROM n JOIN seed s ON s.k = n.i % $PLANS;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $SNAPS)
INSERT INTO snapshots (plan_id, instance_id, instance_name, destination_id, kind, collection,
                       qdrant_name, location, storage_key, size_bytes, sha256, created_at)
SELECT s.id, (SELECT id FROM instances LIMIT 1), 'default', (SELECT id FROM destinations LIMIT 1),
       'collection', '$C', 'seed-' || i || '.snapshot', '$WORK/dest/seed/' || i, 'seed/' || i,
       1048576, printf('%064d', i), strftime('%s', 'now') - 86400 * 30 + i
FROM n JOIN seed s ON s.k = n.i % $PLANS;
COMMIT;
SQL

# ------------------------------------------------------------------ wrk
wrk_run() { # wrk_run ROUTE OUTFILE [DURATION]
  wrk -t "$THREADS" -c "$CONNS" -d "${3:-$DURATION}s" --latency "$B$1" >"$2" 2>&1
}
for r in "${ROUTES[@]}"; do api GET "$B$r" >/dev/null; done
log "status body: $(api GET "$B/v1/status" | wc -c) bytes, $(api GET "$B/v1/status" | jq '.plans | length') plans"

IROWS=()
for r in "${ROUTES[@]}"; do
  log "idle: wrk -t$THREADS -c$CONNS -d${DURATION}s $r"
  wrk_run "$r" "$WORK/idle.txt"
  read -r rps p50 p99 bad <<<"$(wrk_parse "$WORK/idle.txt")"
  IROWS+=("| \`$r\` | $rps | $p50 | $p99 | $bad |")
  log "  $rps req/s, p50 $p50 ms, p99 $p99 ms, non-2xx $bad"
done
if [ "${QB_LOAD_IDLE_ONLY:-0}" = 1 ]; then
  printf '\nIdle (%s plans, %s runs, %s snapshots; %s connections per route):\n\n' \
    "$PLANS" "$RUNS" "$SNAPS" "$CONNS"
  echo "| route | req/s | p50 ms | p99 ms | non-2xx |"
  echo "|---|---:|---:|---:|---:|"
  printf '%s\n' "${IROWS[@]}"
  exit 0
fi

# -------------------------------------------------------------- backups
backup() { # backup -> "seconds MB/s"; runs plan "load" and waits
  local t0 t1 size
  sync
  t0=$(now)
  api POST "$B/v1/plans/load/runs?wait=3600" '{}' >"$WORK/run.json"
  t1=$(now)
  [ "$(jq -r .state "$WORK/run.json")" = succeeded ] || { cat "$WORK/run.json" >&2; die "backup run"; }
  size=$(jq -r '.results[0].size' "$WORK/run.json")
  api DELETE "$B/v1/snapshots/$(jq -r '.results[0].snapshot_id' "$WORK/run.json")" >/dev/null
  awk -v a="$t0" -v b="$t1" -v s="$size" 'BEGIN { printf "%.1f %.0f\n", b - a, s / 1e6 / (b - a) }'
}
log "backup of $GIB GiB without load"
read -r S0 MB0 <<<"$(backup)"
log "  ${S0}s, $MB0 MB/s"

log "backup of $GIB GiB with wrk on ${ROUTES[*]} ($CONNS connections each)"
BENCH_PIDS=()
# wrk itself in the background (not a function's subshell, which would
# ignore SIGINT): SIGINT makes wrk stop and print what it measured.
for i in "${!ROUTES[@]}"; do
  wrk -t "$THREADS" -c "$CONNS" -d 3600s --latency "$B${ROUTES[$i]}" >"$WORK/load$i.txt" 2>&1 &
  BENCH_PIDS+=($!)
done
sleep 1 # let every wrk connect before the backup starts
read -r S1 MB1 <<<"$(backup)"
for p in "${BENCH_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
for p in "${BENCH_PIDS[@]}"; do wait "$p" || true; done
BENCH_PIDS=()
log "  ${S1}s, $MB1 MB/s"
LROWS=()
for i in "${!ROUTES[@]}"; do
  read -r rps p50 p99 bad <<<"$(wrk_parse "$WORK/load$i.txt")"
  LROWS+=("| \`${ROUTES[$i]}\` | $rps | $p50 | $p99 | $bad |")
done

# Step 5: open loop.  openloop ends on SIGINT and prints key=value pairs.
OROWS=()
for rate in "${OPEN_RATES[@]}"; do
  log "backup of $GIB GiB with ${ROUTES[*]} each polled at $rate req/s (open loop)"
  BENCH_PIDS=()
  for i in "${!ROUTES[@]}"; do
    "$BUILD/openloop" -u "$B${ROUTES[$i]}" -r "$rate" -d 3600 -c "$CONNS" >"$WORK/open$i.txt" 2>&1 &
    BENCH_PIDS+=($!)
  done
  sleep 1
  read -r S2 MB2 <<<"$(backup)"
  for p in "${BENCH_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do wait "$p" || true; done
  BENCH_PIDS=()
  log "  ${S2}s, $MB2 MB/s"
  for i in "${!ROUTES[@]}"; do
    kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$WORK/open$i.txt"; }
    OROWS+=("| $rate | \`${ROUTES[$i]}\` | $(kv rps) | $(kv p50) | $(kv p99) | $(kv max) | $(kv non2xx) / $(kv errors) | $S2 | $MB2 |")
  done
done

printf '\nIdle, one route at a time (%s plans, %s runs, %s snapshots; wrk -t%s -c%s -d%ss):\n\n' \
  "$PLANS" "$RUNS" "$SNAPS" "$THREADS" "$CONNS" "$DURATION"
echo "| route | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${IROWS[@]}"
printf '\nDuring the %s GiB backup, all routes at once (%s connections each):\n\n' "$GIB" "$CONNS"
echo "| route | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${LROWS[@]}"
printf '\n| %s GiB backup | wall s | MB/s |\n|---|---:|---:|\n' "$GIB"
echo "| without load | $S0 | $MB0 |"
echo "| under load | $S1 | $MB1 |"
awk -v a="$MB0" -v b="$MB1" 'BEGIN { printf "\nthroughput under load: %.0f%% of unloaded\n", 100 * b / (a > 0 ? a : 1) }'
if [ ${#OROWS[@]} -gt 0 ]; then
  printf '\nOpen loop during the %s GiB backup (every route polled at the rate; latency from when each request was due):\n\n' "$GIB"
  echo "| req/s per route | route | answered req/s | p50 ms | p99 ms | max ms | non-2xx / errors | backup s | backup MB/s |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${OROWS[@]}"
fi
