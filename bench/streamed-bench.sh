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
# (bench/backup-bench.sh runs its whole benchmark when sourced, so its
# helpers are not reused here; these few follow bench/cluster-bench.sh.)
#
# Usage: bench/streamed-bench.sh [SIZE_GIB]          (default: 1)
# Env:   QB_BENCH_ROUNDS     rounds (default 3)
#        QB_BENCH_BUILD_DIR  CMake build dir (default: build-bench in the repo)
#        QB_BENCH_NO_BUILD   1: use qbackupd and qdrant-emu already built in
#                            QB_BENCH_BUILD_DIR as they are
#        TMPDIR              where the work dir goes (needs ~3 x SIZE_GIB free)
# The emulator and qbackupd are stopped on exit and the work dir deleted.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SIZE_GIB=${1:-1}
ROUNDS=${QB_BENCH_ROUNDS:-3}
BUILD=${QB_BENCH_BUILD_DIR:-$SRC/build-bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qb-streamed-bench.XXXXXX")
TCK=$(getconf CLK_TCK)
EPID='' QPID='' SAMPLER=''
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
stop_pid() { # stop_pid PID: SIGTERM, wait up to 30 s, then SIGKILL
  local p=$1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$? f
  if [ $rc != 0 ]; then
    for f in "$WORK/qbackupd.log" "$WORK/emu.out"; do
      [ -s "$f" ] && { echo "--- tail $f" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  stop_pid "$SAMPLER"
  stop_pid "$QPID"
  stop_pid "$EPID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v jq >/dev/null || {
  log "installing jq"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null
}

# ------------------------------------------------------------------ build
if [ "${QB_BENCH_NO_BUILD:-0}" = 1 ]; then
  log "using the existing build in $BUILD"
else
  log "building qbackupd and qdrant-emu (Release) in $BUILD"
  if ! { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQB_BUILD_TESTS=ON -DQB_SANITIZE=OFF &&
    cmake --build "$BUILD" -j2 --target qbackupd qdrant-emu; } >"$WORK/build.log" 2>&1; then
    tail -n 30 "$WORK/build.log" >&2
    die "build"
  fi
fi
QBD=$BUILD/qbackupd
EMU=$BUILD/tests/emulators/qdrant-emu
{ [ -x "$QBD" ] && [ -x "$EMU" ]; } || die "no $QBD or $EMU"
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)

MB=$(awk -v g="$SIZE_GIB" 'BEGIN { printf "%d", g * 1024 + 0.5 }')
[ "$MB" -ge 1 ] || die "SIZE_GIB $SIZE_GIB is too small"
need=$((3 * MB + 1024))
avail=$(df -Pk "$WORK" | awk 'NR==2 {print int($4 / 1024)}')
log "disk: $(df -h "$WORK" | awk 'NR==2 {print $4 " free on " $6}'); $MB MiB of data"
[ "$avail" -ge "$need" ] || die "need ~$need MiB free under $WORK, have $avail MiB"

# api METHOD URL [JSON] -> body on stdout; dies unless 2xx
api() {
  local code args=()
  [ $# -lt 3 ] || args=(-H 'Content-Type: application/json' --data-binary "$3")
  code=$(curl -sS -m 600 -o "$WORK/resp" -w '%{http_code}' -X "$1" "${args[@]}" "$2") || die "$1 $2: curl"
  [ "${code:0:1}" = 2 ] || { cat "$WORK/resp" >&2; echo >&2; die "$1 $2: HTTP $code"; }
  cat "$WORK/resp"
}

# ------------------------------------------------------------------ setup
log "starting qdrant-emu (single node) with collection 'bench', $MB MiB"
mkdir -p "$WORK/emu"
"$EMU" --port 0 --data-dir "$WORK/emu" >"$WORK/emu.out" 2>&1 &
EPID=$!
for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/emu.out" && break; sleep 0.1; done
Q=http://$(sed -n 's/^listening on //p' "$WORK/emu.out" | head -1)
[ "$Q" != http:// ] || die "qdrant-emu did not start"
EMU_VERSION=$(curl -s "$Q/" | jq -r .version)
[ "$(curl -s "$Q/cluster" | jq -r .result.status)" = disabled ] || die "the node runs in distributed mode"
api PUT "$Q/collections/bench" '{"vectors":{"size":4,"distance":"Dot"}}' >/dev/null
pts=$(jq -nc '{points: [range(1; 601) | {id: ., vector: [(. % 7) / 7, (. % 11) / 11, (. % 13) / 13, 0.5],
               payload: {i: .}}]}')
api PUT "$Q/collections/bench/points?wait=true" "$pts" >/dev/null
api POST "$Q/debug/fill/bench?mb=$MB" >/dev/null

mkdir -p "$WORK/qbd"
env -u QBACKUP_TOKENS -u QBACKUP_TOKENS_FILE -u QBACKUP_CONFIG "$QBD" serve \
  --listen 127.0.0.1:0 --port-file "$WORK/qbd.port" --data-dir "$WORK/qbd" \
  --qdrant-url "$Q" --log-level info >"$WORK/qbackupd.log" 2>&1 &
QPID=$!
for _ in $(seq 1 300); do [ -s "$WORK/qbd.port" ] && break; sleep 0.1; done
[ -s "$WORK/qbd.port" ] || die "qbackupd did not start"
B=http://127.0.0.1:$(tr -d '[:space:]' <"$WORK/qbd.port")
api POST "$B/v1/plans" '{"name":"snapshot","collections":["bench"],"shard_method":"snapshot","verify":false}' >/dev/null
api POST "$B/v1/plans" '{"name":"stream","collections":["bench"],"shard_method":"stream","verify":false}' >/dev/null

# ------------------------------------------------------------ measuring
now() { date +%s.%N; }
ticks() { # CPU ticks (user+system) of a pid
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
# "busy total" jiffies of the whole host (all CPUs), from /proc/stat
host_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / (s > 0 ? s : 0.01) }'; }

# sampler T0: every 0.1 s, the node's snapshot folder size (MiB, peak kept in
# $WORK/peak) and when qbackupd first had bytes in the destination
# ($WORK/first: seconds since T0)
sampler() {
  local t0=$1 peak=0 kb
  : >"$WORK/first"
  while :; do
    kb=$(du -sk "$WORK/emu/snapshots" 2>/dev/null | cut -f1) || kb=0
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
  echo 5 >"/proc/$QPID/clear_refs"
  echo 0 >"$WORK/peak"
  q0=$(ticks "$QPID") e0=$(ticks "$EPID") h0=$(host_jiffies)
  t0=$(now)
  sampler "$t0" &
  SAMPLER=$!
  code=$(curl -sS -m 4000 -o "$WORK/run.json" -w '%{http_code}' -X POST "$B/v1/plans/$plan/runs?wait=3600")
  t1=$(now)
  h1=$(host_jiffies)
  stop_pid "$SAMPLER"
  SAMPLER=''
  hwm=$(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$QPID/status")
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
    -v h0="$h0" -v h1="$h1" 'BEGIN { split(h0, a, " "); split(h1, b, " ")
      printf "%.1f | %.1f | %.0f%%", q / t, e / t, 100 * (b[1] - a[1]) / (b[2] - a[2] > 0 ? b[2] - a[2] : 1) }')
  ROWS+=("$plan/$(printf '%03d' "$round")|| ${LABEL[$plan]} | $round | $(awk -v b="$size" 'BEGIN { printf "%.2f GiB", b / 1073741824 }') | $s | $(mbps "$size" "$s") | ${first:-?} | $peak | $hwm | $cpu |")
  WALL[$plan]+=" $s" FIRST[$plan]+=" ${first:-0}" SIZE[$plan]=$size
  QCPU[$plan]+=" $(awk -v q="$(($(ticks "$QPID") - q0))" -v t="$TCK" 'BEGIN { printf "%.1f", q / t }')"
  ECPU[$plan]+=" $(awk -v e="$(($(ticks "$EPID") - e0))" -v t="$TCK" 'BEGIN { printf "%.1f", e / t }')"
  log "  ${s}s, $size bytes, $(mbps "$size" "$s") MB/s, first byte stored after ${first:-?}s, node staged $peak MiB, peak RSS $hwm MiB, CPU s qbackupd | emu | host busy: $cpu"
  api DELETE "$B/v1/snapshots/$sid" >/dev/null
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

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
echo "qdrant-emu $EMU_VERSION (single node); qbackupd and qdrant-emu: ${BUILD_TYPE:-?} build; destination: local folder (embedded default), verify: false"
echo "Command: bench/streamed-bench.sh $SIZE_GIB (QB_BENCH_ROUNDS=$ROUNDS); $MB MiB filled into the collection's one shard"
echo "Load average (1 min) at start: $LOAD0; at end: $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "Medians of $ROUNDS runs:"
echo
echo "| case | wall s | MB/s | first byte stored s | CPU s qbackupd | CPU s qdrant-emu |"
echo "|---|---:|---:|---:|---:|---:|"
for p in snapshot stream; do
  w=$(median <<<"${WALL[$p]}")
  echo "| ${LABEL[$p]} | $w | $(mbps "${SIZE[$p]}" "$w") | $(median <<<"${FIRST[$p]}") | $(median <<<"${QCPU[$p]}") | $(median <<<"${ECPU[$p]}") |"
done
echo
echo "Every run:"
echo
echo "| case | round | stored | wall s | MB/s | first byte stored s | staged on the node MiB | qbackupd peak RSS MiB | CPU s qbackupd | CPU s qdrant-emu | host CPU busy |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}" | sort -t'|' -k1,1 -s | sed 's/^[^|]*|//'
