#!/usr/bin/env bash
# bench/codec-backup-bench.sh -- what compression and encryption cost a
# backup run end to end (issue 13 items 2 and 3):
#
#   qdrant-emu (SIZE_MIB of float32 embeddings + JSON payloads) --> qbackupd
#     --> a local folder, or Ceph RGW when QB_BENCH_S3=1 (s3.env of a running RGW)
#
# Plans on the same collection, verify off, interleaved QB_BENCH_REPEAT
# times: compression none, zstd level 3 (the default), zstd level 3 +
# AES-256-GCM, and zstd level 1 when QB_BENCH_PLANS names zstd1.  Reports per
# run the wall time of POST /v1/plans/{p}/runs?wait and MB/s of archive
# (10^6 bytes of what Qdrant made per second), the stored / raw ratio, and
# the medians as a share of the uncompressed run (the issue's goal:
# compression keeps >= 90% of uncompressed throughput), and the median of
# each round's share (a run over the uncompressed run just before it, so
# neighbours that come and go between rounds cancel out); and the CPU seconds
# per GB of archive of qbackupd and of the emulator, with the host's busy
# share during the runs: on a shared 2-core machine wall rates measure the
# neighbours too, CPU seconds per GB do not.  Then a restore (method upload)
# of each plan's last snapshot, timed the same way.  Prints a markdown table
# for docs/benchmarks.md.  Not a test.
#
# Usage: bench/codec-backup-bench.sh
# Env:   SIZE_MIB (default 256), DIM (default 384), QB_BENCH_REPEAT (default 3),
#        QB_BENCH_PLANS (default "none zstd zenc"; "zstd1" adds level 1),
#        QB_BENCH_BUILD_DIR (default build: a Release build with qbackupd and
#        qdrant-emu; QB_BENCH_NO_BUILD=0 builds it), QB_BENCH_S3=1 for the S3
#        destination, with QB_BENCH_RGW_DIR (or QB_BENCH_RGW_ENV, its s3.env)
#        naming a running Ceph RGW, else one is started (bench/lib.sh).
#        QB_BENCH_S3_SETTINGS adds settings to the S3 destination's, e.g.
#        '"part_size":8388608,"parts_in_flight":4'.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
SIZE=${SIZE_MIB:-256}
DIM=${DIM:-384}
REPEAT=${QB_BENCH_REPEAT:-3}
read -r -a PLANS <<<"${QB_BENCH_PLANS:-none zstd zenc}"
# Every share is of the uncompressed rate measured in the same rounds.
[[ " ${PLANS[*]} " == *" none "* ]] || PLANS=(none "${PLANS[@]}")
# An existing build, as before lib.sh: QB_BENCH_NO_BUILD=0 builds one.
QB_BENCH_BUILD_DIR=${QB_BENCH_BUILD_DIR:-$SRC/build}
QB_BENCH_NO_BUILD=${QB_BENCH_NO_BUILD:-1}
[ -z "${QB_BENCH_RGW_ENV:-}" ] || QB_BENCH_RGW_DIR=${QB_BENCH_RGW_DIR:-$(dirname "$QB_BENCH_RGW_ENV")}
bench_init codec-backup
bench_build Release
bench_emu_start
bench_qbd_start
mkdir -p "$WORK/qbd/out"

curl -sf -X PUT "$Q/collections/emb" -H 'Content-Type: application/json' \
  -d "{\"vectors\":{\"size\":$DIM,\"distance\":\"Cosine\"}}" >/dev/null || die "create collection"
log "filling $SIZE MiB of $DIM-dim embeddings + payloads"
curl -sf -X POST "$Q/debug/fill/emb?mb=$SIZE&content=embeddings&dim=$DIM" >/dev/null || die fill
head -c 32 /dev/urandom | base64 >"$WORK/backup.key"

if [ "${QB_BENCH_S3:-0}" = 1 ]; then
  bench_rgw_start
  settings="{\"bucket\":\"$BUCKET\",\"endpoint\":\"$S3_ENDPOINT\",\"region\":\"${AWS_DEFAULT_REGION:-us-east-1}\",\"path_style\":true${QB_BENCH_S3_SETTINGS:+,$QB_BENCH_S3_SETTINGS}}"
  creds=",\"credentials\":{\"access_key\":\"$AWS_ACCESS_KEY_ID\",\"secret_key\":\"$AWS_SECRET_ACCESS_KEY\"}"
  kind=s3
  where="Ceph RGW (loopback)"
else
  settings="{\"path\":\"$WORK/qbd/out\"}"
  creds=
  kind=local
  where="local folder"
fi
api POST "$B/v1/destinations" "{\"name\":\"plain\",\"kind\":\"$kind\",\"settings\":$settings$creds}" >/dev/null
api POST "$B/v1/destinations" "{\"name\":\"sealed\",\"kind\":\"$kind\",\"settings\":$settings$creds,\"encryption\":{\"key_file\":\"$WORK/backup.key\"}}" >/dev/null
api POST "$B/v1/plans" '{"name":"none","destination":"plain","collections":["emb"],"compression":{"codec":"none"},"verify":false}' >/dev/null
api POST "$B/v1/plans" '{"name":"zstd","destination":"plain","collections":["emb"],"verify":false}' >/dev/null
api POST "$B/v1/plans" '{"name":"zenc","destination":"sealed","collections":["emb"],"verify":false}' >/dev/null
api POST "$B/v1/plans" '{"name":"zstd1","destination":"plain","collections":["emb"],"compression":{"codec":"zstd","level":1},"verify":false}' >/dev/null

declare -A RATES RATIO RESTORE QCPU ECPU BUSY PAIRS
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
for rep in $(seq 1 "$REPEAT"); do
  for p in "${PLANS[@]}"; do
    q0=$(ticks "$QPID") e0=$(ticks "$EPID") h0=$(host_jiffies)
    t0=$(now)
    out=$(api POST "$B/v1/plans/$p/runs?wait=3600")
    t1=$(now)
    q1=$(ticks "$QPID") e1=$(ticks "$EPID") h1=$(host_jiffies)
    read -r raw stored < <(echo "$out" | python3 -c \
      'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["raw_size"], r["size"])')
    mbs=$(awk -v b="$raw" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", b / (z - a) / 1e6 }')
    RATES[$p]="${RATES[$p]:-} $mbs"
    # this round's rate over the uncompressed run's of the same round: the
    # rounds see different neighbours, a round's two runs nearly the same
    [ "$p" = none ] && NONE_NOW=$mbs
    [ "$p" = none ] || [ -z "${NONE_NOW:-}" ] ||
      PAIRS[$p]="${PAIRS[$p]:-} $(awk -v a="$mbs" -v b="$NONE_NOW" 'BEGIN { printf "%.3f", a / b }')"
    RATIO[$p]=$(awk -v s="$stored" -v r="$raw" 'BEGIN { printf "%.3f", s / r }')
    # CPU seconds per GB (10^9 bytes) of archive
    qc=$(awk -v t=$((q1 - q0)) -v h="$TCK" -v b="$raw" 'BEGIN { printf "%.2f", t / h / (b / 1e9) }')
    ec=$(awk -v t=$((e1 - e0)) -v h="$TCK" -v b="$raw" 'BEGIN { printf "%.2f", t / h / (b / 1e9) }')
    QCPU[$p]="${QCPU[$p]:-} $qc"
    ECPU[$p]="${ECPU[$p]:-} $ec"
    BUSY[$p]="${BUSY[$p]:-} $(host_busy "$h0" "$h1")"
    log "$p run $rep: $raw bytes -> $stored, $mbs MB/s, qbackupd $qc CPU s/GB, emulator $ec"
  done
done
LOAD1=$(cut -d' ' -f1 /proc/loadavg)
for p in "${PLANS[@]}"; do
  id=$(api GET "$B/v1/snapshots?plan=$p&limit=1" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  t0=$(now)
  api POST "$B/v1/restores?wait=3600" "{\"snapshot_id\":$id,\"target_collection\":\"r_$p\"}" >/dev/null
  t1=$(now)
  RESTORE[$p]=$(awk -v b="$raw" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", b / (z - a) / 1e6 }')
  curl -sf -X DELETE "$Q/collections/r_$p" >/dev/null || true
done
# shellcheck disable=SC2086 # the series are space-separated numbers
base=$(median ${RATES[none]})
echo
echo "Archive: $((raw >> 20)) MiB ($DIM-dim float32 embeddings + JSON payloads), destination: $where, $(nproc) cores."
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average (1 min) before the backups $LOAD0, after $LOAD1; build ${BENCH_BUILD_TYPE:-?}"
echo
echo "| plan | codec | stored / raw | backup MB/s (runs) | median | share of none | share per round (median) | qbackupd CPU s/GB | emulator CPU s/GB | host busy % | restore (upload) MB/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for p in "${PLANS[@]}"; do
  # shellcheck disable=SC2086
  m=$(median ${RATES[$p]})
  case $p in
    none) c=none ;;
    zstd) c="zstd (3)" ;;
    zstd1) c="zstd (1)" ;;
    *) c="zstd (3) + aes256gcm" ;;
  esac
  # shellcheck disable=SC2086
  pr=$(median ${PAIRS[$p]:-1})
  # shellcheck disable=SC2086
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$p" "$c" "${RATIO[$p]}" "${RATES[$p]# }" "$m" \
    "$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.0f%%", 100 * a / b }')" \
    "$(awk -v r="$pr" 'BEGIN { printf "%.0f%%", 100 * r }')" "$(median ${QCPU[$p]})" \
    "$(median ${ECPU[$p]})" "$(median ${BUSY[$p]})" "${RESTORE[$p]}"
done
