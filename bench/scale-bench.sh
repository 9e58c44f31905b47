#!/usr/bin/env bash
# bench/scale-bench.sh -- large backups (issue 13 item 7): a backup and a
# restore through qbackupd at growing sizes, raw, compressed and compressed +
# encrypted, to show that time grows linearly with size and qbackupd's peak
# RSS does not grow at all:
#
#   qdrant-emu (a collection of N GiB) --> qbackupd --> Ceph RGW (S3)
#
# For every size N (GiB) and variant, QB_BENCH_REPEAT times (default 1):
#   a backup run (POST /v1/plans/{p}/runs?wait=3600, verify quick) and a
#   restore of its snapshot by method upload (overwrite, no safety snapshot):
#   wall time, MB/s of the archive's raw size, stored/raw ratio, qbackupd's
#   CPU seconds and peak RSS (VmHWM, reset before each call).
# Variants: raw (compression none), zstd (level 3, the default), zstd1
# (level 1), zstd-aes (level 3 and the destination's AES-256-GCM key).  Prints markdown tables for
# docs/benchmarks.md.  Not a test: it only asserts that every step answered
# as expected.
#
# Usage: bench/scale-bench.sh [SIZE_GIB...]            (default: 1 4 16)
# Env:   QB_BENCH_VARIANTS  default "raw zstd zstd-aes"
#        QB_BENCH_REPEAT    runs per size and variant (default 1)
#        QB_BENCH_FILL      query string added to the emulator's fill call
#                           (default "&content=embeddings&dim=768": float32
#                           vectors with JSON payloads, not random bytes)
#        QB_BENCH_DEST_SETTINGS  JSON merged into both destinations' settings,
#                           e.g. '{"download_parts_in_flight":1}' for one GET
#        and those of bench/lib.sh (build dir, RGW dir, TMPDIR).
# Disk: ~3 x the largest size free (the collection, its stored copy, the
# restored collection), plus the RGW's sparse OSD file.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1 4 16)
read -r -a VARIANTS <<<"${QB_BENCH_VARIANTS:-raw zstd zstd-aes}"
REPEAT=${QB_BENCH_REPEAT:-1}
FILL=${QB_BENCH_FILL-"&content=embeddings&dim=768"}

bench_init scale
bench_need_tools aws jq openssl
bench_build
max=0
for g in "${SIZES[@]}"; do [ "$g" -gt "$max" ] && max=$g; done
bench_disk_check $((3 * max + 4))
bench_rgw_start
bench_emu_start
bench_qbd_start --log-level warn
log "qdrant-emu $Q, qbackupd $B, RGW $S3_ENDPOINT"

# The encryption key: a file only qbackupd reads, named by the destination.
openssl rand -base64 32 >"$WORK/backup.key"
chmod 600 "$WORK/backup.key"
dest() { # dest NAME PREFIX EXTRA_JSON
  api POST "$B/v1/destinations" "$(jq -nc --arg n "$1" --arg p "$2" --arg b "$BUCKET" \
    --arg e "$S3_ENDPOINT" --arg a "$AWS_ACCESS_KEY_ID" --arg s "$AWS_SECRET_ACCESS_KEY" \
    --argjson x "$3" --argjson ds "${QB_BENCH_DEST_SETTINGS:-{\}}" '{name:$n, kind:"s3",
     settings:({bucket:$b, prefix:$p, endpoint:$e, region:"us-east-1", path_style:true} + $ds),
     credentials:{access_key:$a, secret_key:$s}} + $x')" >/dev/null
}
dest rgw plain '{}'
dest rgw-enc sealed "$(jq -nc --arg k "$WORK/backup.key" '{encryption:{key_file:$k}}')"

plan_body() { # plan_body NAME COLLECTION VARIANT
  local d=rgw c='{"codec":"zstd","level":3}'
  case $3 in
    raw) c='{"codec":"none"}' ;;
    zstd) ;;
    zstd1) c='{"codec":"zstd","level":1}' ;;
    zstd-aes) d=rgw-enc ;;
    *) die "unknown variant $3" ;;
  esac
  jq -nc --arg n "$1" --arg c "$2" --arg d "$d" --argjson z "$c" \
    '{name:$n, destination:$d, collections:[$c], verify:true, verify_mode:"quick", compression:$z}'
}

# timed POST of qbackupd's API; sets LAST_S LAST_CPU LAST_HWM, body in run.json
timed_post() {
  local t0 t1 code
  sync
  reset_hwm "$QPID"
  cpu_mark "$QPID"
  t0=$(now)
  code=$(curl -sS -m 4000 -o "$WORK/run.json" -w '%{http_code}' -X POST "$1" \
    -H 'Content-Type: application/json' --data-binary "$2")
  t1=$(now)
  [ "$code" = 200 ] || { cat "$WORK/run.json" >&2; echo >&2; die "POST $1: HTTP $code"; }
  LAST_S=$(secs "$t0" "$t1")
  LAST_CPU=$(cpu_since "$QPID")
  LAST_HWM=$(hwm_mib "$QPID")
}

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
for g in "${SIZES[@]}"; do
  c=scale${g}g
  log "== $g GiB: filling collection $c"
  api PUT "$Q/collections/$c" '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null
  api POST "$Q/debug/fill/$c?mb=$((g * 1024))$FILL" >/dev/null
  for v in "${VARIANTS[@]}"; do
    api POST "$B/v1/plans" "$(plan_body "p$g-$v" "$c" "$v")" >/dev/null
    for rep in $(seq 1 "$REPEAT"); do
      log "$g GiB $v #$rep: backup"
      timed_post "$B/v1/plans/p$g-$v/runs?wait=3600" '{}'
      [ "$(jq -r '.results[0].state' "$WORK/run.json")" = succeeded ] || die "run state"
      sid=$(jq -r '.results[0].snapshot_id' "$WORK/run.json")
      stored=$(jq -r '.results[0].size' "$WORK/run.json")
      raw=$(jq -r '.results[0].raw_size // .results[0].size' "$WORK/run.json")
      k=$g-$v
      sample "$k" b_wall "$LAST_S"
      sample "$k" b_cpu "$LAST_CPU"
      sample "$k" b_rss "$LAST_HWM"
      sample "$k" ratio "$(awk -v s="$stored" -v r="$raw" 'BEGIN { printf "%.3f", (r > 0 ? s / r : 1) }')"
      echo "$k $raw" >>"$WORK/raw"
      log "  ${LAST_S}s, $(mbps "$raw" "$LAST_S") MB/s raw, stored $stored of $raw bytes," \
        "CPU ${LAST_CPU}s, peak RSS ${LAST_HWM} MiB"
      log "$g GiB $v #$rep: restore (upload)"
      timed_post "$B/v1/restores?wait=3600" \
        "{\"snapshot_id\":$sid,\"overwrite\":true,\"method\":\"upload\",\"safety_snapshot\":false}"
      [ "$(jq -r .state "$WORK/run.json")" = succeeded ] || die "restore state"
      sample "$k" r_wall "$LAST_S"
      sample "$k" r_cpu "$LAST_CPU"
      sample "$k" r_rss "$LAST_HWM"
      log "  ${LAST_S}s, $(mbps "$raw" "$LAST_S") MB/s raw, CPU ${LAST_CPU}s, peak RSS ${LAST_HWM} MiB"
      api DELETE "$B/v1/snapshots/$sid" >/dev/null
    done
  done
  api DELETE "$Q/collections/$c" >/dev/null
done

echo
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) vCPU $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM; load average (1 min) at start $LOAD0, at end $(cut -d' ' -f1 /proc/loadavg)"
echo "Command: bench/scale-bench.sh ${SIZES[*]}; QB_BENCH_FILL='$FILL'; destination settings ${QB_BENCH_DEST_SETTINGS:-default}; medians of $REPEAT run(s)"
echo
echo "| size | variant | stored / raw | backup s | s per GiB | MB/s (raw) | CPU s | peak RSS MiB | restore s | s per GiB | MB/s (raw) | CPU s | peak RSS MiB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
per() { awk -v s="$1" -v g="$2" 'BEGIN { printf "%.2f", s / g }'; } # per SECONDS GIB
for g in "${SIZES[@]}"; do
  for v in "${VARIANTS[@]}"; do
    k=$g-$v
    raw=$(awk -v k="$k" '$1 == k { print $2; exit }' "$WORK/raw")
    bw=$(med "$k" b_wall) rw=$(med "$k" r_wall)
    echo "| $g GiB | $v | $(med "$k" ratio) | $bw | $(per "$bw" "$g") | $(mbps "$raw" "$bw") | $(med "$k" b_cpu) | $(med "$k" b_rss) | $rw | $(per "$rw" "$g") | $(mbps "$raw" "$rw") | $(med "$k" r_cpu) | $(med "$k" r_rss) |"
  done
done
