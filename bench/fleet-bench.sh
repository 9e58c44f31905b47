#!/usr/bin/env bash
# bench/fleet-bench.sh -- the cost of a shared catalogue (issue 16): API
# requests per second and the scheduler's pass time with one qbackupd on
# SQLite, one on PostgreSQL and a fleet of three on one PostgreSQL.
#
#   wrk --> node 1..N (/v1/status, /v1/runs)      the leader's scheduler pass
#           node 1..N --> one catalogue           (qbackup_scheduler_tick_seconds)
#
# For each set-up: a fresh catalogue (a SQLite file, or a database on a
# throw-away PostgreSQL from tests/pg/pg-start.sh), PLANS plans with a
# schedule that does not fire during the run, RUNS backup runs of a small
# collection made through the API (so the runs table is not empty), then
# wrk on every node at once (CONNS connections shared out among the nodes,
# DURATION s) per route: total req/s and the worst node's p99; and the
# leader's scheduler pass, sampled once a second for TICK_SAMPLES s
# (median).  Prints a markdown table for docs/benchmarks.md.  Not a test.
#
# Usage: bench/fleet-bench.sh
# Env:   QB_FLEET_PLANS     plans (default 200)
#        QB_FLEET_RUNS      runs made before measuring (default 100)
#        QB_FLEET_CONNS     wrk connections in all (default 32)
#        QB_FLEET_DURATION  seconds of each wrk run (default 10)
#        QB_FLEET_TICKS     scheduler samples (default 10)
#        QB_BENCH_PG_DIR    a PostgreSQL already running (its pg.env is used)
#        and lib.sh's settings (QB_BENCH_BUILD_DIR, QB_BENCH_NO_BUILD, TMPDIR)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PLANS=${QB_FLEET_PLANS:-200}
RUNS=${QB_FLEET_RUNS:-100}
CONNS=${QB_FLEET_CONNS:-32}
DURATION=${QB_FLEET_DURATION:-10}
TICKS=${QB_FLEET_TICKS:-10}
ROUTES=(/v1/status "/v1/runs?limit=20")
OWN_PG=0 PGDIR=''

bench_init fleet
bench_need_tools wrk jq
bench_build
bench_emu_start
curl -fsS -X PUT -H 'Content-Type: application/json' "$Q/collections/users" \
  --data '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null || die "emulator collection"

PGDIR=${QB_BENCH_PG_DIR:-$WORK/pg}
if [ -z "${QB_BENCH_PG_DIR:-}" ]; then
  OWN_PG=1
  "$SRC/tests/pg/pg-start.sh" "$PGDIR" >"$WORK/pg-start.log" 2>&1 || { cat "$WORK/pg-start.log" >&2; die pg-start; }
fi
set -a
# shellcheck disable=SC1091
. "$PGDIR/pg.env"
set +a
stop_pg() { [ "$OWN_PG" = 0 ] || "$SRC/tests/pg/pg-stop.sh" "$PGDIR" --purge >/dev/null 2>&1 || true; }
trap 'rc=$?; stop_pg; (exit $rc); bench_cleanup' EXIT

head -c 32 /dev/urandom | base64 >"$WORK/secrets.key"
chmod 600 "$WORK/secrets.key"
mkdir -p "$WORK/shared"

NODES_B=() NODES_PID=() DB=''
export PGOPTIONS='-c client_min_messages=warning'
# start_set MODE N: N qbackupd on a fresh catalogue of MODE (sqlite|postgres)
start_set() {
  local mode=$1 n=$2 i cat db
  NODES_B=() NODES_PID=() DB=''
  db=qb_fleet_bench_$$_${mode}_$n
  if [ "$mode" = postgres ]; then
    psql -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    DB=$db
    cat=${QB_PG_URL%/*}/$db
  else
    cat=$WORK/$db.sqlite
  fi
  for i in $(seq 1 "$n"); do
    bench_qbd_start_as "node-$mode-$n-$i" --log-level warn --catalogue "$cat" \
      --secrets-key-file "$WORK/secrets.key" --backup-dir "$WORK/shared" \
      --node-name "node-$i" --max-connections-per-ip 0 --max-connections 1024
    NODES_B+=("$B") NODES_PID+=("$QPID")
  done
  B=${NODES_B[0]}
}

stop_set() {
  local p
  for p in "${NODES_PID[@]}"; do stop_pid "$p"; done
  [ -z "$DB" ] || psql -q -c "DROP DATABASE IF EXISTS $DB" >/dev/null
}

# seed: PLANS plans (one fires a backup of "users" RUNS times through the API)
seed() {
  local i id
  for i in $(seq 1 "$PLANS"); do
    api POST "$B/v1/plans" "{\"name\":\"p$i\",\"collections\":[\"users\"],\"schedule\":\"0 3 1 1 *\"}" >/dev/null
  done
  for i in $(seq 1 "$RUNS"); do
    api POST "${NODES_B[$((i % ${#NODES_B[@]}))]}/v1/plans/p1/runs" >/dev/null
  done
  for _ in $(seq 1 600); do
    id=$(api GET "$B/v1/runs?plan=p1&state=queued&limit=1" | jq '.items | length')
    [ "$id" = 0 ] && id=$(api GET "$B/v1/runs?plan=p1&state=running&limit=1" | jq '.items | length')
    [ "$id" = 0 ] && return 0
    sleep 0.5
  done
  die "runs did not finish"
}

# load ROUTE -> "total_req/s worst_p99_ms non2xx"
load() {
  local route=$1 n=${#NODES_B[@]} i per pids=() total=0 worst=0 bad=0 rps p50 p99 b
  per=$(((CONNS + n - 1) / n))
  for i in $(seq 0 $((n - 1))); do
    wrk -t 1 -c "$per" -d "${DURATION}s" --latency "${NODES_B[$i]}$route" >"$WORK/wrk$i.txt" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  for i in $(seq 0 $((n - 1))); do
    read -r rps p50 p99 b <<<"$(wrk_parse "$WORK/wrk$i.txt")"
    total=$((total + rps))
    bad=$((bad + b))
    worst=$(awk -v a="$worst" -v b="$p99" 'BEGIN { print (b > a ? b : a) }')
  done
  echo "$total $worst $bad"
}

# tick_ms: median of the leader's last scheduler pass, sampled TICKS times
tick_ms() {
  local b v vals=()
  for _ in $(seq 1 "$TICKS"); do
    for b in "${NODES_B[@]}"; do
      if curl -fsS "$b/metrics" | grep -q '^qbackup_fleet_leader 1$'; then
        v=$(curl -fsS "$b/metrics" | awk '/^qbackup_scheduler_tick_seconds / { printf "%.2f", $2 * 1000 }')
        vals+=("$v")
      fi
    done
    sleep 1
  done
  median "${vals[@]}"
}

ROWS=()
for set in "sqlite 1" "postgres 1" "postgres 3"; do
  read -r mode n <<<"$set"
  log "$mode, $n node(s): starting, $PLANS plans, $RUNS runs"
  start_set "$mode" "$n"
  seed
  row="| $mode | $n |"
  for r in "${ROUTES[@]}"; do
    log "$mode x$n: wrk $r ($CONNS connections in all, ${DURATION}s)"
    read -r rps p99 bad <<<"$(load "$r")"
    [ "$bad" = 0 ] || log "  $bad non-2xx answers"
    row+=" $rps | $p99 |"
  done
  row+=" $(tick_ms) |"
  ROWS+=("$row")
  stop_set
done

echo
echo "fleet bench: $(nproc) cores, $PLANS plans, $RUNS runs, $CONNS wrk connections, ${DURATION}s per route, build ${BENCH_BUILD_TYPE:-?}"
echo
echo "| catalogue | nodes | /v1/status req/s | p99 ms | /v1/runs?limit=20 req/s | p99 ms | scheduler pass ms ($PLANS plans) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
