#!/usr/bin/env bash
# bench/cluster-bench.sh -- a cluster backup (one object per shard, shards
# pulled from several peers at once) next to the same amount of data backed
# up from one node, through qbackupd to its embedded local-folder
# destination, on one machine in one run.  Three setups, all running at once:
#
#   c3  3-peer qdrant-emu cluster (127.0.0.1/2/3, one port, shared
#       --cluster-dir), collection shard_number 6, replication 1, N GiB in
#       total; plans with shard_method "snapshot" and "stream"
#   c1  control: a cluster of 1 peer (distributed mode), the same collection
#       and bytes, the same two plans: the same backup-set code path with
#       nothing to pull in parallel
#   n1  one single-node qdrant-emu (no cluster), one collection of the same
#       N GiB; one plan (one plain collection snapshot)
#
# each with its own qbackupd (--qdrant-url its peer 0).  Every round runs all
# five cases one after the other; the order of the setups rotates from round
# to round, so a slow minute on a shared host does not always hit the same
# case.  For every run it measures the wall time from
# POST /v1/plans/{p}/runs?wait=3600 to its 200, the bytes stored (the run's
# results[0].size), MB/s, how many distinct peers the shards came from
# (results[0].shards[].peer_url, cross-checked with .peer_id), qbackupd's
# peak RSS during the run (VmHWM from /proc/PID/status, reset just before the
# run through /proc/PID/clear_refs), CPU seconds of that qbackupd and of that
# setup's emulator process(es), and how busy the host was.  Every plan has
# the default verify: true (each object is read back and hashed).  Prints
# markdown tables for docs/benchmarks.md.  Not a test: it only asserts that
# every step answered as expected.
#
# How the data is made big: the emulator's POST /debug/fill/{c}?mb=M writes
# M MiB into the first local shard *of the peer it is sent to*.  With 6
# shards over 3 peers (shard s on peer s mod 3) every peer is filled with
# N/3 GiB, which lands in shards 0, 1 and 2 (one per peer); shards 3-5 hold
# only points.  Each peer therefore serves one big and one small shard; the
# bytes per peer are even, the bytes per shard are not.  (c1: all of it in
# shard 0; n1: in its one shard.)
#
# Usage: bench/cluster-bench.sh [TOTAL_GIB]              (default: 1)
# Env:   QB_BENCH_ROUNDS     rounds (default 2)
#        QB_BENCH_STREAM     0: skip the shard_method "stream" cases
#        QB_BENCH_ONE_PEER   0: skip the 1-peer cluster (c1)
#        QB_BENCH_BUILD_DIR  CMake build dir (default: build-bench in the repo)
#        QB_BENCH_NO_BUILD   1: use qbackupd and qdrant-emu already built in
#                            QB_BENCH_BUILD_DIR as they are
#        TMPDIR              where the work dir goes (needs ~4 x TOTAL_GIB
#                            free: the three setups' data plus one run's copy)
# The emulators and qbackupd are stopped on exit and the work dir deleted.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
TOTAL_GIB=${1:-1}
ROUNDS=${QB_BENCH_ROUNDS:-2}
STREAM=${QB_BENCH_STREAM:-1}
ONE_PEER=${QB_BENCH_ONE_PEER:-1}
PEERS=3
declare -A EP QP BU # per setup: emulator pids, qbackupd pid, qbackupd URL
bench_init cluster
bench_need_tools jq
bench_build Release -DQB_BUILD_TESTS=ON

# N GiB split evenly over the peers; the others get the same total
PER_PEER_MB=$(awk -v g="$TOTAL_GIB" -v n=$PEERS 'BEGIN { printf "%d", g * 1024 / n + 0.5 }')
[ "$PER_PEER_MB" -ge 1 ] || die "TOTAL_GIB $TOTAL_GIB is too small"
TOTAL_MB=$((PER_PEER_MB * PEERS))
SETUPS=(c3)
[ "$ONE_PEER" = 0 ] || SETUPS+=(c1)
SETUPS+=(n1)
bench_disk_check $(((${#SETUPS[@]} + 2) * TOTAL_MB + 2048)) MiB

# start_emu SETUP NAME HOST PORT [ARGS...]: pid added to EP[SETUP];
# "HOST:PORT" in EMU_ADDR
start_emu() {
  local setup=$1 name=$2 host=$3 port=$4
  shift 4
  mkdir -p "$WORK/$name"
  "$EMU" --port "$port" --host "$host" --data-dir "$WORK/$name/data" "$@" \
    >"$WORK/emu-$name.out" 2>&1 &
  BENCH_PIDS+=($!)
  EP[$setup]="${EP[$setup]:-} $!"
  for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/emu-$name.out" && break; sleep 0.1; done
  EMU_ADDR=$(sed -n 's/^listening on //p' "$WORK/emu-$name.out" | head -1)
  [ -n "$EMU_ADDR" ] || die "qdrant-emu $name did not start"
}

# start_qbd SETUP QDRANT_URL: QP[SETUP], BU[SETUP]
start_qbd() {
  local s=$1
  mkdir -p "$WORK/qbd-$s"
  env -u QBACKUP_TOKENS -u QBACKUP_TOKENS_FILE -u QBACKUP_CONFIG "$QBD" serve \
    --listen 127.0.0.1:0 --port-file "$WORK/qbd-$s.port" --data-dir "$WORK/qbd-$s" \
    --qdrant-url "$2" --log-level info >"$WORK/qbackupd-$s.log" 2>&1 &
  BENCH_PIDS+=($!)
  QP[$s]=$!
  for _ in $(seq 1 300); do [ -s "$WORK/qbd-$s.port" ] && break; sleep 0.1; done
  [ -s "$WORK/qbd-$s.port" ] || die "qbackupd $s did not start"
  BU[$s]=http://127.0.0.1:$(tr -d '[:space:]' <"$WORK/qbd-$s.port")
}

# create_collection QDRANT_URL NAME EXTRA_JSON: 4-dim collection + 600 points
create_collection() {
  local q=$1 c=$2 pts
  api PUT "$q/collections/$c" "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"}$3}" >/dev/null
  pts=$(jq -nc '{points: [range(1; 601) | {id: ., vector: [(. % 7) / 7, (. % 11) / 11, (. % 13) / 13, 0.5],
                 payload: {i: .}}]}')
  api PUT "$q/collections/$c/points?wait=true" "$pts" >/dev/null
}

# setup_cluster SETUP N: N peers on 127.0.0.1..N (one port, shared
# --cluster-dir), collection bench (6 shards, replication 1), TOTAL_MB MiB
# filled evenly over the peers, qbackupd, plans set-snapshot and set-stream
setup_cluster() {
  local s=$1 n=$2 i port q mb=$((TOTAL_MB / $2))
  log "setting up $s: $n peer(s), collection 'bench' shard_number 6 replication 1, $mb MiB per peer"
  start_emu "$s" "$s-p0" 127.0.0.1 0 --cluster-dir "$WORK/$s-cluster"
  port=${EMU_ADDR##*:}
  for i in $(seq 1 $((n - 1))); do
    start_emu "$s" "$s-p$i" "127.0.0.$((i + 1))" "$port" --cluster-dir "$WORK/$s-cluster"
  done
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 1 300); do
      [ "$(curl -s "http://127.0.0.$((i + 1)):$port/cluster" | jq '.result.peers | length' 2>/dev/null)" = "$n" ] && break
      sleep 0.1
    done
    [ "$(curl -s "http://127.0.0.$((i + 1)):$port/cluster" | jq '.result.peers | length')" = "$n" ] ||
      die "$s: peer $i does not see $n peers"
  done
  q=http://127.0.0.1:$port
  EMU_VERSION=$(curl -s "$q/" | jq -r .version)
  create_collection "$q" bench ',"shard_number":6,"replication_factor":1'
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 1 100); do
      [ "$(curl -s "http://127.0.0.$((i + 1)):$port/collections/bench/exists" | jq -r .result.exists)" = true ] && break
      sleep 0.1
    done
    api POST "http://127.0.0.$((i + 1)):$port/debug/fill/bench?mb=$mb" >/dev/null
  done
  start_qbd "$s" "$q"
  api POST "${BU[$s]}/v1/plans" '{"name":"set-snapshot","collections":["bench"],"shard_method":"snapshot"}' >/dev/null
  api POST "${BU[$s]}/v1/plans" '{"name":"set-stream","collections":["bench"],"shard_method":"stream"}' >/dev/null
}

# setup_single SETUP: one node without cluster, collection bench, TOTAL_MB MiB
setup_single() {
  local s=$1 q
  log "setting up $s: single node, collection 'bench', $TOTAL_MB MiB"
  start_emu "$s" "$s" 127.0.0.1 0
  q=http://$EMU_ADDR
  create_collection "$q" bench ''
  api POST "$q/debug/fill/bench?mb=$TOTAL_MB" >/dev/null
  start_qbd "$s" "$q"
  api POST "${BU[$s]}/v1/plans" '{"name":"single","collections":["bench"]}' >/dev/null
}

# ------------------------------------------------------------ measuring
declare -A LABEL=(
  [c3/set-snapshot]="3 peers, 6 shards, shard_method snapshot"
  [c3/set-stream]="3 peers, 6 shards, shard_method stream"
  [c1/set-snapshot]="1 peer (distributed), 6 shards, shard_method snapshot"
  [c1/set-stream]="1 peer (distributed), 6 shards, shard_method stream"
  [n1/single]="single node, collection snapshot"
)
ROWS=()
declare -A ORDER=([c3]=1 [c1]=2 [n1]=3) # table order
# bench_run SETUP PLAN ROUND: one timed run; appends a row, deletes the snapshot
bench_run() {
  local s=$1 plan=$2 round=$3 t0 t1 code q0 e0 h0 h1 secs_ size hwm peers shards sid cpu
  local qpid=${QP[$s]} b=${BU[$s]} what="${LABEL[$s/$plan]}"
  local -a epids
  read -r -a epids <<<"${EP[$s]}"
  log "round $round: $what"
  sync
  reset_hwm "$qpid"
  q0=$(ticks "$qpid") e0=$(ticks "${epids[@]}") h0=$(host_jiffies)
  t0=$(now)
  code=$(curl -sS -m 4000 -o "$WORK/run.json" -w '%{http_code}' -X POST "$b/v1/plans/$plan/runs?wait=3600")
  t1=$(now)
  h1=$(host_jiffies)
  hwm=$(hwm_mib "$qpid")
  [ "$code" = 200 ] || { cat "$WORK/run.json" >&2; echo >&2; die "$what: HTTP $code"; }
  [ "$(jq -r .state "$WORK/run.json")" = succeeded ] || { cat "$WORK/run.json" >&2; die "$what: state"; }
  secs_=$(secs "$t0" "$t1")
  size=$(jq -r '.results[0].size' "$WORK/run.json")
  sid=$(jq -r '.results[0].snapshot_id' "$WORK/run.json")
  shards=$(jq -r '.results[0].shards // [] | length' "$WORK/run.json")
  if [ "$shards" -gt 0 ]; then
    # Distinct peers by REST URL, cross-checked with peer_id.  (Peer ids
    # exceed 2^53; jq 1.6 reads them as doubles, which still tells apart
    # the emulator's random ids in [2^60, 2^63).)
    peers=$(jq -r '[.results[0].shards[].peer_url] | unique | length' "$WORK/run.json")
    [ "$peers" = "$(jq -r '[.results[0].shards[].peer_id | tostring] | unique | length' "$WORK/run.json")" ] ||
      die "$what: peer ids and peer URLs disagree"
    jq -r '.results[0].shards[] | "    shard \(.shard_id) from \(.peer_url): \(.size) bytes"' "$WORK/run.json" >&2
  else
    peers=1 shards=1
  fi
  cpu=$(awk -v q="$(($(ticks "$qpid") - q0))" -v e="$(($(ticks "${epids[@]}") - e0))" -v t="$TCK" \
    'BEGIN { printf "%.1f | %.1f", q / t, e / t }')" | $(host_busy "$h0" "$h1")%"
  ROWS+=("$(printf '%s/%s/%03d' "${ORDER[$s]}" "$plan" "$round")|| $what | $round | $(awk -v b="$size" 'BEGIN { printf "%.2f GiB", b / 1073741824 }') | $shards | $secs_ | $(mbps "$size" "$secs_") | $peers | $hwm | $cpu |")
  log "  ${secs_}s, $size bytes, $(mbps "$size" "$secs_") MB/s, $shards object(s) from $peers peer(s), peak RSS $hwm MiB, CPU s qbackupd | emu | host busy: $cpu"
  api DELETE "$b/v1/snapshots/$sid" >/dev/null
}
run_setup() { # run_setup SETUP ROUND: every plan of the setup once
  case $1 in
  n1) bench_run n1 single "$2" ;;
  *)
    bench_run "$1" set-snapshot "$2"
    [ "$STREAM" = 0 ] || bench_run "$1" set-stream "$2"
    ;;
  esac
}

# Reference: the local destination fsyncs every object, so every case ends
# up writing TOTAL_MB to this disk; how fast does the disk take that alone?
DISK_REF=()
disk_ref() {
  local t0 t1
  sync
  t0=$(now)
  dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$TOTAL_MB" conv=fdatasync status=none
  t1=$(now)
  rm -f "$WORK/dd.bin"
  DISK_REF+=("$(mbps $((TOTAL_MB * 1048576)) "$(secs "$t0" "$t1")")")
  log "disk reference: dd $TOTAL_MB MiB of zeros + fdatasync: $(secs "$t0" "$t1")s, ${DISK_REF[-1]} MB/s"
}

# ------------------------------------------------------------------ runs
setup_cluster c3 $PEERS
[ "$ONE_PEER" = 0 ] || setup_cluster c1 1
setup_single n1
for s in "${SETUPS[@]}"; do log "$s: qbackupd ${BU[$s]} (pid ${QP[$s]}), emulator pid(s)${EP[$s]}"; done
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
disk_ref
for r in $(seq 1 "$ROUNDS"); do
  n=${#SETUPS[@]}
  for k in $(seq 0 $((n - 1))); do
    run_setup "${SETUPS[$(((r - 1 + k) % n))]}" "$r"
  done
done
disk_ref

# ----------------------------------------------------------------- report
echo
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) vCPU $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
echo "qdrant-emu $EMU_VERSION; qbackupd and qdrant-emu: ${BENCH_BUILD_TYPE:-?} build; destination: local folder (embedded default), verify: true"
echo "Command: bench/cluster-bench.sh $TOTAL_GIB (QB_BENCH_ROUNDS=$ROUNDS); $TOTAL_MB MiB filled per setup ($PER_PEER_MB MiB per peer on the 3-peer cluster)"
echo "Load average (1 min) at start: $LOAD0; at end: $(cut -d' ' -f1 /proc/loadavg)"
echo "Disk reference (dd $TOTAL_MB MiB of zeros with conv=fdatasync into the work dir), before / after: ${DISK_REF[0]} / ${DISK_REF[1]} MB/s"
echo
echo "| case | round | stored | objects | wall s | MB/s | peers used | qbackupd peak RSS MiB | CPU s qbackupd | CPU s qdrant-emu (all peers) | host CPU busy |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
# grouped by case (setup, plan), rounds in order
printf '%s\n' "${ROWS[@]}" | sort -t'|' -k1,1 -s | sed 's/^[^|]*|//'
