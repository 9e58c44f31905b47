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
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SIZE_MIB=${1:-256}
shift || true
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(8 32 64)

bench_init ratelimit
bench_build
bench_emu_start
api PUT "$Q/collections/bench" '{"vectors":{"size":4,"distance":"Dot"}}' >/dev/null
api PUT "$Q/collections/bench/points?wait=true" '{"points":[{"id":1,"vector":[0.1,0.2,0.3,0.4]}]}' >/dev/null
api POST "$Q/debug/fill/bench?mb=$SIZE_MIB" >/dev/null
bench_qbd_start --log-level warn

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
