#!/usr/bin/env bash
# bench/streamed-bench.sh -- streamed mode next to the one-snapshot path on
# a single node (distributed mode off), through qbackupd to its embedded
# local-folder destination, on one machine in one run:
#
#   qdrant-emu (one collection of N GiB, shard_number 1) --> qbackupd --> local folder
#
# Two plans back up the same collection:
#   snapshot  shard_method "snapshot" (the default): Qdrant writes a
#             collection snapshot to its own disk, qbackupd downloads it,
#             checks Qdrant's size and SHA-256, deletes it
#   stream    shard_method "stream": each shard is read over the streaming
#             route (GET /collections/{c}/shards/{id}/snapshot) as Qdrant
#             produces it; nothing is written on the node
# Both with verify: false, so the runs differ only in how the bytes leave
# Qdrant.  Each round runs both, the order alternating from round to round
# (a slow minute on a shared host does not always hit the same case).  Per
# run: wall time from POST /v1/plans/{p}/runs?wait=3600 to its 200, bytes
# stored, MB/s, the time until the run had stored its first byte (the
# destination's temp file appears), the peak of the node's snapshot folder
# (what Qdrant staged on its disk; sampled every 0.1 s), qbackupd's peak RSS
# (VmHWM, reset before the run through /proc/PID/clear_refs), CPU seconds
# of qbackupd and of qdrant-emu, and how busy the host was.  Prints markdown
# tables for docs/benchmarks.md.  Not a test: it only asserts that every step
# answered as expected.
#
# Usage: bench/streamed-bench.sh [SIZE_GIB]          (default: 1)
# Env:   QB_BENCH_ROUNDS     rounds (default 3)
#        QB_BENCH_BUILD_DIR  CMake build dir (default: build-bench in the repo)
#        QB_BENCH_NO_BUILD   1: use qbackupd and qdrant-emu already built in
#                            QB_BENCH_BUILD_DIR as they are
#        TMPDIR              where the work dir goes (needs ~3 x SIZE_GIB free)
# The emulator and qbackupd are stopped on exit and the work dir deleted.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
SIZE_GIB=${1:-1}
ROUNDS=${QB_BENCH_ROUNDS:-3}
SAMPLER=''
bench_init streamed
bench_need_tools jq
bench_build Release -DQB_BUILD_TESTS=ON

MB=$(awk -v g="$SIZE_GIB" 'BEGIN { printf "%d", g * 1024 + 0.5 }')
[ "$MB" -ge 1 ] || die "SIZE_GIB $SIZE_GIB is too small"
bench_disk_check $((3 * MB + 1024)) MiB

# ------------------------------------------------------------------ setup
log "starting qdrant-emu (single node) with collection 'bench', $MB MiB"
bench_emu_start
EMU_VERSION=$(curl -s "$Q/" | jq -r .version)
[ "$(curl -s "$Q/cluster" | jq -r .result.status)" = disabled ] || die "the node runs in distributed mode"
api PUT "$Q/collections/bench" '{"vectors":{"size":4,"distance":"Dot"}}' >/dev/null
pts=$(jq -nc '{points: [range(1; 601) | {id: ., vector: [(. % 7) / 7, (. % 11) / 11, (. % 13) / 13, 0.5],
               payload: {i: .}}]}')
api PUT "$Q/collections/bench/points?wait=true" "$pts" >/dev/null
api POST "$Q/debug/fill/bench?mb=$MB" >/dev/null

bench_qbd_start --log-level info
api POST "$B/v1/plans" '{"name":"snapshot","collections":["bench"],"shard_method":"snapshot","verify":false}' >/dev/null
api POST "$B/v1/plans" '{"name":"stream","collections":["bench"],"shard_method":"stream","verify":false}' >/dev/null

# sampler T0: every 0.1 s, the node's snapshot folder size (MiB, peak kept in
# $WORK/peak) and when qbackupd first had bytes in the destination
# ($WORK/first: seconds since T0)
sampler() {
  local t0=$1 peak=0 kb
  : >"$WORK/first"
  while :; do
    kb=$(du -sk "$WORK/qdrant/snapshots" 2>/dev/null | cut -f1) || kb=0
    [ "${kb:-0}" -le "$peak" ] || { peak=$kb; echo "$peak" >"$WORK/peak"; }
    if [ ! -s "$WORK/first" ] && [ -n "$(find "$WORK/qbd/backups" -type f -size +0 2>/dev/null | head -1)" ]; then
      secs "$t0" "$(now)" >"$WORK/first"
    fi
    sleep 0.1
  done
}

declare -A LABEL=([snapshot]="shard_method snapshot (one collection snapshot)"
  [stream]="shard_method stream (streamed shard)")
ROWS=()
declare -A WALL FIRST QCPU ECPU SIZE # per plan: the runs' values, space-separated
bench_run() { # bench_run PLAN ROUND
  local plan=$1 round=$2 t0 t1 code q0 e0 h0 h1 s size hwm sid cpu layout peak first
  log "round $round: ${LABEL[$plan]}"
  sync
  reset_hwm "$QPID"
  echo 0 >"$WORK/peak"
  q0=$(ticks "$QPID") e0=$(ticks "$EPID") h0=$(host_jiffies)
  t0=$(now)
  sampler "$t0" &
  SAMPLER=$!
  BENCH_PIDS=("$SAMPLER")
  code=$(curl -sS -m 4000 -o "$WORK/run.json" -w '%{http_code}' -X POST "$B/v1/plans/$plan/runs?wait=3600")
  t1=$(now)
  h1=$(host_jiffies)
  stop_pid "$SAMPLER"
  SAMPLER=''
  hwm=$(hwm_mib "$QPID")
  [ "$code" = 200 ] || { cat "$WORK/run.json" >&2; echo >&2; die "$plan: HTTP $code"; }
  [ "$(jq -r .state "$WORK/run.json")" = succeeded ] || { cat "$WORK/run.json" >&2; die "$plan: state"; }
  s=$(secs "$t0" "$t1")
  size=$(jq -r '.results[0].size' "$WORK/run.json")
  sid=$(jq -r '.results[0].snapshot_id' "$WORK/run.json")
  layout=$(jq -r '.results[0].layout // "snapshot"' "$WORK/run.json")
  case $plan/$layout in snapshot/snapshot | stream/shards) ;; *) die "$plan: layout $layout" ;; esac
  peak=$(awk -v k="$(cat "$WORK/peak")" 'BEGIN { printf "%.0f", k / 1024 }')
  first=$(cat "$WORK/first")
  cpu=$(awk -v q="$(($(ticks "$QPID") - q0))" -v e="$(($(ticks "$EPID") - e0))" -v t="$TCK" \
    'BEGIN { printf "%.1f | %.1f", q / t, e / t }')" | $(host_busy "$h0" "$h1")%"
  ROWS+=("$plan/$(printf '%03d' "$round")|| ${LABEL[$plan]} | $round | $(awk -v b="$size" 'BEGIN { printf "%.2f GiB", b / 1073741824 }') | $s | $(mbps "$size" "$s") | ${first:-?} | $peak | $hwm | $cpu |")
  WALL[$plan]+=" $s" FIRST[$plan]+=" ${first:-0}" SIZE[$plan]=$size
  QCPU[$plan]+=" $(awk -v q="$(($(ticks "$QPID") - q0))" -v t="$TCK" 'BEGIN { printf "%.1f", q / t }')"
  ECPU[$plan]+=" $(awk -v e="$(($(ticks "$EPID") - e0))" -v t="$TCK" 'BEGIN { printf "%.1f", e / t }')"
  log "  ${s}s, $size bytes, $(mbps "$size" "$s") MB/s, first byte stored after ${first:-?}s, node staged $peak MiB, peak RSS $hwm MiB, CPU s qbackupd | emu | host busy: $cpu"
  api DELETE "$B/v1/snapshots/$sid" >/dev/null
}

# ------------------------------------------------------------------ runs
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    bench_run snapshot "$r"
    bench_run stream "$r"
  else
    bench_run stream "$r"
    bench_run snapshot "$r"
  fi
done

# ----------------------------------------------------------------- report
echo
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) vCPU $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
echo "qdrant-emu $EMU_VERSION (single node); qbackupd and qdrant-emu: ${BENCH_BUILD_TYPE:-?} build; destination: local folder (embedded default), verify: false"
echo "Command: bench/streamed-bench.sh $SIZE_GIB (QB_BENCH_ROUNDS=$ROUNDS); $MB MiB filled into the collection's one shard"
echo "Load average (1 min) at start: $LOAD0; at end: $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "Medians of $ROUNDS runs:"
echo
echo "| case | wall s | MB/s | first byte stored s | CPU s qbackupd | CPU s qdrant-emu |"
echo "|---|---:|---:|---:|---:|---:|"
# shellcheck disable=SC2086 # the series are space-separated numbers
for p in snapshot stream; do
  w=$(median ${WALL[$p]})
  echo "| ${LABEL[$p]} | $w | $(mbps "${SIZE[$p]}" "$w") | $(median ${FIRST[$p]}) | $(median ${QCPU[$p]}) | $(median ${ECPU[$p]}) |"
done
echo
echo "Every run:"
echo
echo "| case | round | stored | wall s | MB/s | first byte stored s | staged on the node MiB | qbackupd peak RSS MiB | CPU s qbackupd | CPU s qdrant-emu | host CPU busy |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}" | sort -t'|' -k1,1 -s | sed 's/^[^|]*|//'
