#!/usr/bin/env bash
# bench/restore-s3-bench.sh -- restore from S3 with one GET vs parallel
# ranged GETs (issue 13 item 6), through qbackupd, over a modelled network:
#
#   Ceph RGW --> s3fault (each GET's answer capped at RATE bytes/s per
#     connection) --> qbackupd (restore, method upload) --> qdrant-emu
#
# On loopback one GET is already CPU-bound (qbackupd, radosgw, the OSD and
# the emulator share 2 vCPUs), so more streams cannot help there.  On a real
# network one connection is limited (latency x window; AWS S3 serves one
# connection at the order of 100 MB/s) and connections add up: the fault
# proxy's throttle rule (tests/emulators/s3fault/s3fault.c) models that, per
# connection, for GETs only (the backup's uploads are not capped).  RATE is
# chosen low enough that the sum of a few capped streams stays below what
# the CPU can move, so the cap, not the machine, limits each row.
#
# One backup (compression none, verify off) of a SIZE_GIB collection, then
# QB_BENCH_REPEAT rounds of restores by `method: upload` (overwrite, no
# safety snapshot), one per reader setting, interleaved: "one GET"
# (download_part_size 1 GiB, download_parts_in_flight 1: the head GET covers
# two parts, so the whole object, as the reader before issue 13 did) and
# 16 MiB ranges with 1, 2, 4 and 8 workers (plus the head GET of the first
# two parts); then the same "one GET" and "4 workers" with the cap cleared
# (plain loopback) for reference.  The destination's settings are replaced
# (PUT) between restores.  Reports medians: wall s, MB/s of the archive,
# speed-up over capped one GET, qbackupd CPU s and peak RSS, GETs seen by
# the proxy.  Not a test: it only asserts every step answered as expected.
#
# Usage: bench/restore-s3-bench.sh
# Env:   SIZE_GIB (default 1; SIZE_MIB overrides it), RATE (bytes/s per connection, default
#        25000000), QB_BENCH_REPEAT (default 3), QB_BENCH_WORKERS (default
#        "1 2 4 8"), QB_BENCH_FILL (default "&content=embeddings&dim=768"),
#        and those of bench/lib.sh (QB_BENCH_RGW_DIR for a running RGW, e.g.
#        the shared one; TMPDIR).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

GIB=${SIZE_GIB:-1}
MIB=${SIZE_MIB:-$((GIB * 1024))}
RATE=${RATE:-25000000}
REPEAT=${QB_BENCH_REPEAT:-3}
read -r -a WORKERS <<<"${QB_BENCH_WORKERS:-1 2 4 8}"
FILL=${QB_BENCH_FILL-"&content=embeddings&dim=768"}

bench_init restore-s3
bench_need_tools aws jq
BENCH_TARGETS="qbackupd qdrant-emu s3fault" bench_build
PROXY_BIN=$BUILD/tests/emulators/s3fault
[ -x "$PROXY_BIN" ] || die "no $PROXY_BIN"
bench_disk_check $((3 * MIB / 1024 + 2))
bench_rgw_start
bench_emu_start
bench_qbd_start --log-level warn

"$PROXY_BIN" --upstream "$S3_ENDPOINT" >"$WORK/proxy.out" 2>&1 &
BENCH_PIDS+=($!)
for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/proxy.out" && break; sleep 0.1; done
P=http://$(sed -n 's/^listening on //p' "$WORK/proxy.out" | head -1)
[ "$P" != http:// ] || die "s3fault did not start"
log "qdrant-emu $Q, qbackupd $B, RGW $S3_ENDPOINT behind s3fault $P"

# dest_body PART_BYTES IN_FLIGHT: the destination, through the proxy
dest_body() {
  jq -nc --arg b "$BUCKET" --arg e "$P" --arg a "$AWS_ACCESS_KEY_ID" \
    --arg s "$AWS_SECRET_ACCESS_KEY" --argjson dp "$1" --argjson df "$2" '{name:"rgw", kind:"s3",
     settings:{bucket:$b, prefix:"r", endpoint:$e, region:"us-east-1", path_style:true,
               download_part_size:$dp, download_parts_in_flight:$df},
     credentials:{access_key:$a, secret_key:$s}}'
}
api POST "$B/v1/destinations" "$(dest_body $((16 << 20)) 4)" >/dev/null
api PUT "$Q/collections/big" '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null
log "filling $MIB MiB"
api POST "$Q/debug/fill/big?mb=$MIB$FILL" >/dev/null
api POST "$B/v1/plans" '{"name":"raw","destination":"rgw","collections":["big"],"verify":false,"compression":{"codec":"none"}}' >/dev/null
log "backup"
api POST "$B/v1/plans/raw/runs?wait=3600" '{}' >"$WORK/run.json"
[ "$(jq -r '.results[0].state' "$WORK/run.json")" = succeeded ] || die "backup state"
SID=$(jq -r '.results[0].snapshot_id' "$WORK/run.json")
RAW=$(jq -r '.results[0].raw_size // .results[0].size' "$WORK/run.json")
log "snapshot $SID, $RAW bytes"

gets() { curl -sS "$P/__s3fault/stats" | sed -n 's/.* get=\([0-9]*\) .*/\1/p'; }
cap() { # cap on|off
  api DELETE "$P/__s3fault/rules" >/dev/null
  [ "$1" = off ] || api POST "$P/__s3fault/rules?op=get&action=throttle&rate=$RATE&count=0" >/dev/null
}
# restore KEY PART_BYTES IN_FLIGHT: one timed restore, samples under KEY
restore() {
  local k=$1 t0 t1 g0 code s
  api PUT "$B/v1/destinations/rgw" "$(dest_body "$2" "$3")" >/dev/null
  sync
  reset_hwm "$QPID"
  cpu_mark "$QPID"
  g0=$(gets)
  t0=$(now)
  code=$(curl -sS -m 4000 -o "$WORK/r.json" -w '%{http_code}' -X POST \
    "$B/v1/restores?wait=3600" -H 'Content-Type: application/json' --data-binary \
    "{\"snapshot_id\":$SID,\"overwrite\":true,\"method\":\"upload\",\"safety_snapshot\":false}")
  t1=$(now)
  [ "$code" = 200 ] || { cat "$WORK/r.json" >&2; die "restore: HTTP $code"; }
  [ "$(jq -r .state "$WORK/r.json")" = succeeded ] || die "restore state: $(cat "$WORK/r.json")"
  s=$(secs "$t0" "$t1")
  sample "$k" wall "$s"
  sample "$k" cpu "$(cpu_since "$QPID")"
  sample "$k" rss "$(hwm_mib "$QPID")"
  sample "$k" gets $(($(gets) - g0))
  log "  $k: ${s}s, $(mbps "$RAW" "$s") MB/s"
}

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
H0=$(host_jiffies)
KEYS=(one-capped)
for w in "${WORKERS[@]}"; do KEYS+=("w$w-capped"); done
KEYS+=(one-free w4-free)
for rep in $(seq 1 "$REPEAT"); do
  log "round $rep"
  cap on
  restore one-capped $((1 << 30)) 1
  for w in "${WORKERS[@]}"; do restore "w$w-capped" $((16 << 20)) "$w"; done
  cap off
  restore one-free $((1 << 30)) 1
  restore w4-free $((16 << 20)) 4
done
BUSY=$(host_busy "$H0" "$(host_jiffies)")

echo
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) vCPU, load average (1 min) at start $LOAD0, at end $(cut -d' ' -f1 /proc/loadavg); host CPU busy ${BUSY}% over the restores"
echo "Command: bench/restore-s3-bench.sh; SIZE_MIB=$MIB RATE=$RATE (bytes/s per GET connection); QB_BENCH_FILL='$FILL'; medians of $REPEAT"
echo
echo "| reader | cap per connection | restore s | MB/s | x one GET (capped) | qbackupd CPU s | peak RSS MiB | GETs |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
base=$(med one-capped wall)
for k in "${KEYS[@]}"; do
  case $k in
    one-*) r="one GET (1 GiB part, 1 in flight)" ;;
    *) n=${k%%-*} && r="16 MiB ranges, ${n#w} workers" ;;
  esac
  c="$(awk -v r="$RATE" 'BEGIN { printf "%.0f MB/s", r / 1e6 }')"
  [ "${k##*-}" = capped ] || c=none
  w=$(med "$k" wall)
  echo "| $r | $c | $w | $(mbps "$RAW" "$w") | $(awk -v a="$base" -v b="$w" 'BEGIN { printf "%.2f", a / b }') | $(med "$k" cpu) | $(med "$k" rss) | $(med "$k" gets) |"
done
