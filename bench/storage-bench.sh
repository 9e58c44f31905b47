#!/usr/bin/env bash
# bench/storage-bench.sh -- storage throughput and peak RSS: qbackup's storage
# layer (src/storage/storage*.c) next to `aws s3 cp` (Debian's awscli) and
# `rclone` (Debian's), on the same throw-away Ceph RGW in the same run.
# Each tool uploads a file of N GiB and downloads it again, with its own
# defaults; /usr/bin/time measures wall time and maximum RSS.  Prints a
# markdown table for docs/benchmarks.md.  Not a test: it asserts only that
# every transfer succeeded and every download matches its source.
#
# Usage: bench/storage-bench.sh [SIZE_GIB...]        (default: 1 4)
# Env:   QB_BENCH_RGW_DIR  RGW data dir (default: a fresh one in the work dir,
#                       stopped and purged on exit; a named one is left running.
#                       A fresh one runs next to any other on the host, on free
#                       ports, sharing the CPU); QB_BENCH_RGW is its older name
#        TMPDIR         where the work dir goes (needs ~3 x the largest size
#                       plus the RGW's sparse OSD file); CC (default cc)
# Needs root only to install rclone / awscli / time when they are missing.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1 4)
QB_BENCH_RGW_DIR=${QB_BENCH_RGW_DIR:-${QB_BENCH_RGW:-}} # QB_BENCH_RGW: its older name
bench_init storage
bench_need_tools aws rclone time
BIN=$WORK/storage_bench
bench_build_storage_bench "$BIN"
bench_rgw_start
export RCLONE_CONFIG_QBB_TYPE=s3 RCLONE_CONFIG_QBB_PROVIDER=Ceph \
  RCLONE_CONFIG_QBB_ENDPOINT=$S3_ENDPOINT RCLONE_CONFIG_QBB_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
  RCLONE_CONFIG_QBB_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RCLONE_CONFIG_QBB_REGION=$AWS_REGION
# rclone's S3 SDK refuses to start when AWS_CA_BUNDLE is set in the
# environment ("LoadCustomCABundleError"); the endpoint is plain http.
RCLONE=(env -u AWS_CA_BUNDLE rclone)

# ------------------------------------------------------------- transfers
# timed OUT_VAR CMD...: runs CMD, sets OUT_VAR to "seconds max_rss_kib".
timed() {
  local var=$1
  shift
  if ! /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err"; then
    log "FAILED: $*"
    cat "$WORK/err" >&2
    exit 1
  fi
  printf -v "$var" '%s' "$(tail -n 1 "$WORK/time")"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

rows=()
for g in "${SIZES[@]}"; do
  f=$WORK/src-${g}g.bin
  bytes=$((g * 1024 * 1024 * 1024))
  log "generating $g GiB of random data"
  head -c "$bytes" /dev/urandom >"$f"
  for tool in qbackup aws rclone; do
    key=bench/$tool-${g}g.bin
    dl=$WORK/download.bin
    up='' down=''
    sync
    log "$tool: upload $g GiB"
    case $tool in
      qbackup) timed up "$BIN" put "s3://$BUCKET/bench" "$tool-${g}g.bin" "$f" ;;
      aws) timed up "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$f" "s3://$BUCKET/$key" ;;
      rclone) timed up "${RCLONE[@]}" copyto "$f" "qbb:$BUCKET/$key" ;;
    esac
    sync
    log "$tool: download $g GiB"
    case $tool in
      qbackup) timed down "$BIN" get "s3://$BUCKET/bench" "$tool-${g}g.bin" "$dl" ;;
      aws) timed down "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "s3://$BUCKET/$key" "$dl" ;;
      rclone) timed down "${RCLONE[@]}" copyto "qbb:$BUCKET/$key" "$dl" ;;
    esac
    cmp -s "$f" "$dl" || { log "$tool: downloaded bytes differ from the source"; exit 1; }
    rm -f "$dl"
    "$AWS" --endpoint-url "$S3_ENDPOINT" s3 rm --only-show-errors --recursive "s3://$BUCKET/bench/"
    read -r us ur <<<"$up"
    read -r ds dr <<<"$down"
    rows+=("| $g GiB | $tool | $(mbps "$bytes" "$us") | $(mib "$ur") | $(mbps "$bytes" "$ds") | $(mib "$dr") |")
    log "$tool $g GiB: up ${us}s, down ${ds}s"
  done
  rm -f "$f"
done

# ----------------------------------------------------------------- report
echo
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) vCPU $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
echo "Server: $(radosgw --version | awk '{print "Ceph", $3}') RGW (1 mon, 1 bluestore OSD on a sparse file) on 127.0.0.1"
echo "Tools: qbackup storage layer (32 MiB parts x 4 in flight, single-stream GET);" \
  "$("$AWS" --version 2>&1 | awk '{print $1}') (defaults: 8 MiB parts, 10 requests);" \
  "$(rclone version 2>/dev/null | head -1) (defaults: 5 MiB chunks x 4, 4 download streams)"
echo
echo "| object | tool | upload MB/s | upload peak RSS (MiB) | download MB/s | download peak RSS (MiB) |"
echo "|---|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
