#!/usr/bin/env bash
# bench/part-copy-bench.sh -- a server-side copy in parts (UploadPartCopy,
# how a second copy over 5 GiB is made, src/remote/s3_copy.c) with 1, 4 and
# 8 parts in flight, on a Ceph RGW: the server moves the bytes, qbackupd
# only sends one request per part and waits, so parts in flight are what
# the copy's time depends on.  1 in flight is how copies were made before
# they went in parallel.  SIZE_GIB of random bytes (RGW does not compress
# them), parts of PART_MIB; QB_BENCH_REPEAT runs of each, medians.  Prints a
# markdown table for docs/benchmarks.md.  Not a test.
#
# Usage: bench/part-copy-bench.sh
# Env:   SIZE_GIB (default 1), PART_MIB (default "32 8"), QB_BENCH_REPEAT
#        (default 3), QB_BENCH_RGW_DIR (a running RGW; default: a fresh one,
#        see bench/lib.sh), TMPDIR, CC
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
SIZE=${SIZE_GIB:-1}
read -r -a PARTS <<<"${PART_MIB:-32 8}"
REPEAT=${QB_BENCH_REPEAT:-3}
bench_init part-copy
BIN=$WORK/storage_bench
bench_build_storage_bench "$BIN"
bench_rgw_start
head -c $((SIZE << 30)) /dev/urandom >"$WORK/src.bin"
"$BIN" put "s3://$BUCKET/" src.bin "$WORK/src.bin" >/dev/null || die "put"
rm -f "$WORK/src.bin"
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
declare -A T
for rep in $(seq 1 "$REPEAT"); do
  for part in "${PARTS[@]}"; do
    for fl in 1 4 8; do
      t0=$(now)
      QB_PART_SIZE_MIB=$part QB_PARTS_IN_FLIGHT=$fl "$BIN" pcopy "s3://$BUCKET/" src.bin \
        "dst-$part-$fl.bin" || die "pcopy $part MiB x $fl"
      t1=$(now)
      T[$part.$fl]="${T[$part.$fl]:-} $(secs "$t0" "$t1")"
      log "run $rep: ${part} MiB parts, $fl in flight: $(secs "$t0" "$t1") s"
    done
  done
done
echo
echo "Object: $SIZE GiB of random bytes, Ceph RGW on loopback, $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'), load average (1 min) before $LOAD0, after $(cut -d' ' -f1 /proc/loadavg)."
echo
echo "| part size | parts | in flight | seconds (runs) | median | MB/s | vs 1 in flight |"
echo "|---|---:|---:|---|---:|---:|---:|"
for part in "${PARTS[@]}"; do
  # shellcheck disable=SC2086 # space-separated numbers
  one=$(median ${T[$part.1]})
  for fl in 1 4 8; do
    # shellcheck disable=SC2086
    m=$(median ${T[$part.$fl]})
    printf '| %s MiB | %s | %s | %s | %s | %s | %s |\n' "$part" $(((SIZE << 10) / part)) "$fl" \
      "${T[$part.$fl]# }" "$m" "$(mbps $((SIZE << 30)) "$m")" \
      "$(awk -v a="$one" -v b="$m" 'BEGIN { printf "%.1fx", a / b }')"
  done
done
