#!/usr/bin/env bash
# bench/ranged-get-bench.sh -- read throughput of one S3 object through
# storage_read (src/remote/s3_download.c): one GET (as before issue 13) next
# to parallel ranged GETs with 1, 2, 4 and 8 workers, each straight to
# /dev/null ("get") and through a restore's bridge ring ("bget",
# src/storage/bridge.c), with wall time, peak RSS, and the CPU seconds the
# reader, radosgw and the Ceph OSDs spent (when they run on this host).  Prints a markdown table for docs/benchmarks.md.
# Not a test: it asserts only that every read succeeded and one of them
# matches the source.
#
# Usage: bench/ranged-get-bench.sh [SIZE_GIB...]     (default: 1)
# Env:   an S3 server's S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#        AWS_DEFAULT_REGION (e.g. `set -a; . /tmp/rgw/s3.env; set +a` after
#        tests/s3/rgw-start.sh /tmp/rgw); QB_BENCH_PART_MIB (range size,
#        default 16); QB_BENCH_ROUNDS (reads per cell, best kept; default 2);
#        TMPDIR (needs 2 x the largest size); CC (default cc);
#        QB_BENCH_CONN_RATE (bytes/s): read through the fault proxy
#        (tests/emulators/s3fault) with every GET's answer capped at that rate
#        per connection, a model of a network where one stream is limited
#        (see bench/restore-s3-bench.sh); QB_BENCH_MODES (default "get bget")
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1)
: "${S3_ENDPOINT:?set the S3 server environment (see the header)}"
PART=${QB_BENCH_PART_MIB:-16}
ROUNDS=${QB_BENCH_ROUNDS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qb-rbench.XXXXXX")
BUCKET=qb-rbench-$$
cleanup() {
  for gib in "${SIZES[@]}"; do "$WORK/storage_bench" del "s3://$BUCKET/b" "obj$gib" - 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT # its own: the objects live in the caller's S3 server

BIN=$WORK/storage_bench
bench_build_storage_bench "$BIN"
read -r -a MODES <<<"${QB_BENCH_MODES:-get bget}"
if [ -n "${QB_BENCH_CONN_RATE:-}" ]; then
  ${CC:-cc} -std=c11 -O2 -o "$WORK/s3fault" "$SRC/tests/emulators/s3fault/s3fault.c" -lpthread
  "$WORK/s3fault" --upstream "$S3_ENDPOINT" --conn-rate "$QB_BENCH_CONN_RATE" >"$WORK/proxy.out" 2>&1 &
  PROXY_PID=$!
  trap 'cleanup; kill "$PROXY_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do grep -q '^listening on' "$WORK/proxy.out" && break; sleep 0.1; done
  S3_ENDPOINT=http://$(sed -n 's/^listening on //p' "$WORK/proxy.out" | head -1)
  export S3_ENDPOINT
  log "reading through s3fault $S3_ENDPOINT, answers capped at $QB_BENCH_CONN_RATE bytes/s per connection"
fi

# CPU seconds (user + system) the processes named $1 (radosgw, ceph-osd)
# have used so far; 0 when there are none on this host.
cpu_of() {
  local pids
  pids=$(pgrep -x "$1" || true)
  [ -n "$pids" ] || { echo 0; return; }
  # shellcheck disable=SC2086
  (cd /proc && cat $(printf '%s/stat ' $pids)) |
    awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.2f", t / hz }'
}

# One read: prints "seconds max_rss_kib cpu_s radosgw_cpu_s osd_cpu_s".
one_read() { # mode file parts(0 = one GET)
  local mode=$1 key=$2 parts=$3 part=$PART r0 r1 o0 o1
  if [ "$parts" = 0 ]; then part=5120; parts=1; fi # two ranges of 5 GiB: one GET
  r0=$(cpu_of radosgw)
  o0=$(cpu_of ceph-osd)
  QB_DOWNLOAD_PART_SIZE_MIB=$part QB_DOWNLOAD_PARTS=$parts /usr/bin/time -f '%e %M %U %S' \
    -o "$WORK/time" "$BIN" "$mode" "s3://$BUCKET/b" "$key" "$WORK/out"
  r1=$(cpu_of radosgw)
  o1=$(cpu_of ceph-osd)
  read -r wall rss user sys <"$WORK/time"
  echo "$wall $rss $(echo "$user + $sys" | bc) $(echo "$r1 - $r0" | bc) $(echo "$o1 - $o0" | bc)"
}

echo "| size | reader | mode | MB/s | s | peak RSS MiB | reader CPU s | radosgw CPU s | ceph-osd CPU s |"
echo "|---|---|---|---|---|---|---|---|---|"
for gib in "${SIZES[@]}"; do
  log "${gib} GiB: generating and uploading"
  head -c $((gib * 1024 * 1024 * 1024)) /dev/urandom >"$WORK/src"
  QB_BENCH_CREATE=1 "$BIN" put "s3://$BUCKET/b" "obj$gib" "$WORK/src" >/dev/null
  for mode in "${MODES[@]}"; do
    for parts in 0 1 2 4 8; do
      best=
      for _ in $(seq 1 "$ROUNDS"); do
        r=$(one_read "$mode" "obj$gib" "$parts")
        if [ -z "$best" ] || awk -v a="${r%% *}" -v b="${best%% *}" 'BEGIN{exit !(a < b)}'; then
          best=$r
        fi
      done
      if [ "$mode" = get ] && [ "$parts" = 4 ]; then
        cmp -s "$WORK/src" "$WORK/out" || { echo "read differs from the source" >&2; exit 1; }
      fi
      read -r wall rss cpu rcpu ocpu <<<"$best"
      label=$([ "$parts" = 0 ] && echo "one GET" || echo "$parts x ${PART} MiB")
      mbs=$(awk -v g="$gib" -v s="$wall" 'BEGIN{printf "%.0f", g * 1073.741824 / s}')
      echo "| ${gib} GiB | $label | $mode | $mbs | $wall | $((rss / 1024)) | $cpu | $rcpu | $ocpu |"
      log "${gib} GiB $mode $label: ${wall}s"
    done
  done
  rm -f "$WORK/src" "$WORK/out"
done
