#!/usr/bin/env bash
# validate_responses.py (which scripts/test runs over every response the
# integration tests recorded) passes a planted log of conforming responses
# and names each planted mismatch in a bad one.
. "$(dirname "$0")/lib.sh"
cd "$QB_SOURCE_DIR"
tmp=$(mktemp -d /tmp/qbackup-validate.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rid='"x-request-id":"r1","content-type":"application/json"'
prob='"x-request-id":"r1","content-type":"application/problem+json"'
problem() { # status code
  echo "{\"type\":\"urn:qbackup:error:$2\",\"title\":\"t\",\"status\":$1,\"detail\":\"d\",\"code\":\"$2\",\"request_id\":\"r1\"}"
}

cat >"$tmp/good.jsonl" <<JSONL
{"method":"GET","path":"/healthz","status":200,"headers":{$rid},"body":{"status":"ok"},"body_len":15}
{"method":"GET","path":"/v1/plans/nightly","status":404,"headers":{$prob},"body":$(problem 404 not_found),"body_len":120}
{"method":"GET","path":"/v1/nope?x=1","status":404,"headers":{$prob},"body":$(problem 404 route_not_found),"body_len":120}
{"method":"PATCH","path":"/v1/plans","status":405,"headers":{$prob,"allow":"GET, POST"},"body":$(problem 405 method_not_allowed),"body_len":120}
{"method":"DELETE","path":"/v1/plans/nightly","status":204,"headers":{"x-request-id":"r1"},"body_len":0}
{"method":"GET","path":"/metrics","status":200,"headers":{"x-request-id":"r1","content-type":"text/plain; version=0.0.4"},"body_text":"up 1\n","body_len":5}
JSONL
/usr/bin/python3 tests/scripts/validate_responses.py api/openapi.yaml "$tmp/good.jsonl" >"$tmp/good.out" ||
  { cat "$tmp/good.out" >&2; fail "a conforming log was refused"; }

cat >"$tmp/bad.jsonl" <<JSONL
{"method":"GET","path":"/healthz","status":200,"headers":{$rid},"body":{"status":"fine"},"body_len":17}
{"method":"GET","path":"/v1/plans","status":418,"headers":{$prob},"body":$(problem 418 conflict),"body_len":120}
{"method":"GET","path":"/v1/plans","status":200,"headers":{$rid,"idempotent-replayed":"true"},"body":{"items":[]},"body_len":12}
{"method":"GET","path":"/v1/version","status":200,"headers":{"content-type":"application/json"},"body":{"version":"1","api":"v1","schema_version":1,"schema_version_supported":1},"body_len":30}
{"method":"GET","path":"/v1/undocumented","status":200,"headers":{$rid},"body":{},"body_len":2}
{"method":"DELETE","path":"/v1/plans/nightly","status":204,"headers":{"x-request-id":"r1","content-type":"text/plain"},"body_len":3}
{"method":"GET","path":"/healthz","status":200,"headers":{"x-request-id":"r1","content-type":"text/html"},"body_text":"<p>ok</p>","body_len":9}
not json
JSONL
if /usr/bin/python3 tests/scripts/validate_responses.py api/openapi.yaml "$tmp/bad.jsonl" >"$tmp/bad.out"; then
  cat "$tmp/bad.out" >&2
  fail "a log with mismatches passed"
fi
for want in "GET /healthz -> 200: status: 'ok' was expected" \
  "GET /v1/plans -> 418: status 418 (conflict) not documented" \
  "GET /v1/plans -> 200: header idempotent-replayed not documented" \
  "GET /v1/version -> 200: no X-Request-Id" \
  "no operation GET /v1/undocumented in the spec" \
  "DELETE /v1/plans/{name} -> 204: body (text/plain, 3 bytes) where none is documented" \
  "GET /healthz -> 200: content type 'text/html' not documented" \
  "unreadable line" \
  "7 responses checked, 7 with mismatches, 1 unreadable lines"; do
  grep -qF "$want" "$tmp/bad.out" || { cat "$tmp/bad.out" >&2; fail "not reported: $want"; }
done
echo "ok: validate_responses.py accepts the good log and names every planted mismatch"
