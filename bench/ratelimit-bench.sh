#!/usr/bin/env bash
# bench/ratelimit-bench.sh -- how closely a rate limit holds (issue 13 item 1):
# a backup of one collection through qbackupd (qdrant-emu -> local folder) under a
# plan cap of each rate given, achieved rate vs the rate set.
#
#   achieved = bytes moved / transfer time, as the run reports it (results[].rate);
#   wall     = the whole run (snapshot creation included), for comparison.
#
# Usage: bench/ratelimit-bench.sh [SIZE_MIB [RATE_MIB_S...]]   (default: 256 8 32 64)
# Env:   QB_BENCH_BUILD_DIR (default build-bench), QB_BENCH_NO_BUILD=1 to use it as is.
# Prints a markdown table for docs/benchmarks.md.  Not a test.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MIB=${1:-256}
shift || true
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(8 32 64)
BUILD=${QB_BENCH_BUILD_DIR:-$SRC/build-bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qb-ratelimit-bench.XXXXXX")
EPID='' QPID=''
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
stop_pid() {
  local p=$1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
  stop_pid "$QPID"
  stop_pid "$EPID"
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${QB_BENCH_NO_BUILD:-0}" != 1 ]; then
  log "building qbackupd and qdrant-emu (Release) in $BUILD"
  { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQB_BUILD_TESTS=ON -DQB_SANITIZE=OFF &&
    cmake --build "$BUILD" -j2 --target qbackupd qdrant-emu; } >"$WORK/build.log" 2>&1 ||
    { tail -n 30 "$WORK/build.log" >&2; die build; }
fi
QBD=$BUILD/qbackupd
EMU=$BUILD/tests/emulators/qdrant-emu

api() {
  local code args=()
  [ $# -lt 3 ] || args=(-H 'Content-Type: application/json' --data-binary "$3")
  code=$(curl -sS -m 900 -o "$WORK/resp" -w '%{http_code}' -X "$1" "${args[@]}" "$2") || die "$1 $2: curl"
  [ "${code:0:1}" = 2 ] || { cat "$WORK/resp" >&2; die "$1 $2: HTTP $code"; }
  cat "$WORK/resp"
}

mkdir -p "$WORK/emu" "$WORK/qbd"
"$EMU" --port 0 --data-dir "$WORK/emu" >"$WORK/emu.out" 2>&1 &
EPID=$!
for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/emu.out" && break; sleep 0.1; done
Q=http://$(sed -n 's/^listening on //p' "$WORK/emu.out" | head -1)
[ "$Q" != http:// ] || die "qdrant-emu did not start"
api PUT "$Q/collections/bench" '{"vectors":{"size":4,"distance":"Dot"}}' >/dev/null
api PUT "$Q/collections/bench/points?wait=true" '{"points":[{"id":1,"vector":[0.1,0.2,0.3,0.4]}]}' >/dev/null
api POST "$Q/debug/fill/bench?mb=$SIZE_MIB" >/dev/null

env -u QBACKUP_TOKENS -u QBACKUP_TOKENS_FILE -u QBACKUP_CONFIG "$QBD" serve \
  --listen 127.0.0.1:0 --port-file "$WORK/qbd.port" --data-dir "$WORK/qbd" \
  --qdrant-url "$Q" --log-level warn >"$WORK/qbackupd.log" 2>&1 &
QPID=$!
for _ in $(seq 1 300); do [ -s "$WORK/qbd.port" ] && break; sleep 0.1; done
[ -s "$WORK/qbd.port" ] || die "qbackupd did not start"
B=http://127.0.0.1:$(tr -d '[:space:]' <"$WORK/qbd.port")

echo
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) vCPU; load average at start: $(cut -d' ' -f1 /proc/loadavg)"
echo "Collection: $SIZE_MIB MiB (qdrant-emu), destination: local folder, verify off"
echo
echo "| rate set | bytes | wall s | transfer rate achieved | achieved / set | limited_by |"
echo "|---:|---:|---:|---:|---:|---|"
for r in "${RATES[@]}"; do
  bps=$((r * 1024 * 1024))
  api POST "$B/v1/plans" "{\"name\":\"cap$r\",\"collections\":[\"bench\"],\"verify\":false,\"max_bytes_per_second\":$bps}" >/dev/null
  t0=$(date +%s.%N)
  api POST "$B/v1/plans/cap$r/runs?wait=900" >"$WORK/run.json"
  t1=$(date +%s.%N)
  [ "$(jq -r .state "$WORK/run.json")" = succeeded ] || die "run under $r MiB/s: $(jq -c . "$WORK/run.json")"
  size=$(jq -r '.results[0].size' "$WORK/run.json")
  got=$(jq -r '.results[0].rate.bytes_per_second' "$WORK/run.json")
  by=$(jq -r '.results[0].rate.limited_by' "$WORK/run.json")
  awk -v r="$r" -v bps="$bps" -v size="$size" -v got="$got" -v by="$by" -v t0="$t0" -v t1="$t1" 'BEGIN {
    printf "| %d MiB/s | %d | %.1f | %.2f MiB/s | %.3f | %s |\n", r, size, t1 - t0, got / 1048576, got / bps, by }'
  api DELETE "$B/v1/snapshots/$(jq -r '.results[0].snapshot_id' "$WORK/run.json")" >/dev/null
done
