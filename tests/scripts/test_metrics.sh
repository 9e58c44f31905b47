#!/usr/bin/env bash
# /metrics is valid Prometheus exposition, as promtool (what a Prometheus
# server applies) judges it, after some traffic has filled the series.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || fail "promtool missing (scripts/install-deps --test)"

qbd_start --metrics-public
base="http://127.0.0.1:$QBD_PORT"
curl -fsS "$base/healthz" >/dev/null
curl -sS "$base/v1/nope" >/dev/null
curl -sS -X POST -H 'Content-Type: application/json' -d '{bad' "$base/v1/instances" >/dev/null
curl -fsS "$base/metrics" >"$QBD_DIR/metrics.txt"

promtool check metrics <"$QBD_DIR/metrics.txt" || fail "promtool rejected /metrics"
grep -q '^qbackup_build_info{version="' "$QBD_DIR/metrics.txt" || fail "no build info"
grep -q '^qbackup_http_requests_total{route="/v1/instances",method="POST",status="400"} 1$' \
  "$QBD_DIR/metrics.txt" || fail "the 400 was not counted"
grep -q '^qbackup_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"} 1$' \
  "$QBD_DIR/metrics.txt" || fail "no latency histogram for /healthz"
echo "ok: /metrics passes promtool"
