#!/usr/bin/env bash
# The status page (GET /) in a real headless browser (Debian's chromium):
# the real daemon and the Qdrant emulator, a plan with a success and a
# plan whose run failed with an error Qdrant chose (it carries markup: the
# page must show it as text), then
#   - the DOM Chromium built (--dump-dom), and the page as served (what a
#     browser with JavaScript off renders: Chromium's --dump-dom and
#     --screenshot need scripts on), checked alike: the plan rows and their
#     states, the failure row, the reachability rows, and no element
#     injected by the error text; a screenshot is saved and its path
#     printed;
#   - with JavaScript on (driven over the DevTools protocol): the page opens
#     /v1/events, and a run queued after it loaded shows up, succeeded,
#     without a reload (DOM and screenshot saved too);
#   - browser sign-in: without tokens the page opens; with tokens a GET
#     needs a token (Basic, password = token) and a browser asking for HTML
#     gets the Basic prompt, while Basic credentials never allow a POST.
. "$(dirname "$0")/lib.sh"

chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || fail "chromium is not installed (scripts/install-deps --test)"
out_dir=${QB_TEST_OUTPUT_DIR:-$QB_BUILD_DIR/test-output}/status_page
mkdir -p "$out_dir"

# Headless Chromium, as root in CI: no sandbox, no GPU, a throwaway profile.
browser() { # browser [flags...] URL
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$QBD_DIR/profile" "$@" 2>>"$QBD_DIR/chromium.log"
}

# The Qdrant emulator, with one collection.
emu_dir=$(mktemp -d /tmp/qbackup-page-emu.XXXXXX)
"$QB_BUILD_DIR/tests/emulators/qdrant-emu" --port 0 --data-dir "$emu_dir/data" >"$emu_dir/log" 2>&1 &
emu_pid=$!
cleanup() {
  kill "$emu_pid" 2>/dev/null || true
  wait "$emu_pid" 2>/dev/null || true
  rm -rf "$emu_dir"
  qbd_stop
}
trap cleanup EXIT
for _ in $(seq 1 500); do
  grep -q "listening on" "$emu_dir/log" && break
  sleep 0.02
done
emu=$(sed -n 's/.*listening on \([0-9.:]*\).*/http:\/\/\1/p' "$emu_dir/log" | head -1)
[ -n "$emu" ] || fail "the emulator did not start"
curl -fsS -X PUT "$emu/collections/products" -H 'Content-Type: application/json' \
  -d '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null || fail "create collection"
curl -fsS -X PUT "$emu/collections/products/points?wait=true" -H 'Content-Type: application/json' \
  -d '{"points":[{"id":1,"vector":[0.1,0.2,0.3,0.4]},{"id":2,"vector":[0.4,0.3,0.2,0.1]}]}' \
  >/dev/null || fail "upsert points"

QBD_DIR=$(mktemp -d /tmp/qbackup-page-test.XXXXXX)
qbd_launch --qdrant-url "$emu" --retry-base-ms 20 --max-attempts 1
base="http://127.0.0.1:$QBD_PORT"
api() { curl -fsS -H 'Content-Type: application/json' "$@"; }

api -X POST "$base/v1/plans" -d '{"name":"shop","instance":"default","destination":"local",
  "collections":["products"],"schedule":"0 3 * * *"}' >/dev/null || fail "create plan shop"
api -X POST "$base/v1/plans" -d '{"name":"broken","instance":"default","destination":"local",
  "collections":["products"]}' >/dev/null || fail "create plan broken"
state=$(api -X POST "$base/v1/plans/shop/runs?wait=60" | jq -r .state)
[ "$state" = succeeded ] || fail "run of shop: $state"
# Qdrant refuses the snapshot with an error text that is markup.
xss='<img src=x onerror="document.title=1"><script>document.title=2</script>'
api -X POST "$emu/debug/faults" -d "$(jq -nc --arg m "$xss" \
  '{kind:"fail",method:"POST",path_prefix:"/collections/products/snapshots",status:400,message:$m,count:0}')" \
  >/dev/null || fail "arm fault"
api -X POST "$base/v1/plans/broken/runs?wait=60" >/dev/null 2>&1 || true
failed=$(api "$base/v1/runs?plan=broken" | jq -r '.items[0].state')
[ "$failed" = failed ] || fail "run of broken: $failed"
api "$base/v1/runs?plan=broken" | jq -r '.items[0].error' | grep -qF '<img src=x' ||
  fail "the failed run's error does not carry Qdrant's text (the test's premise)"
curl -fsS -X DELETE "$emu/debug/faults" >/dev/null

# ---- The rendered page, and the page as served (JavaScript off) -------------
served="$out_dir/served.html"
curl -fsS "$base/" >"$served" || fail "GET /"
dom="$out_dir/dom.html"
browser --dump-dom "$base/" >"$dom" || fail "chromium --dump-dom"
check_page() { # check_page FILE
  python3 - "$1" <<'EOF' || fail "page checks, see $1"
import sys
from html.parser import HTMLParser

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.tags, self.text = [], [], []
        self.row = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr" and "class" in a:
            self.row = {"class": a["class"], **a, "text": ""}
            self.rows.append(self.row)
    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None
    def handle_data(self, data):
        self.text.append(data)
        if self.row is not None:
            self.row["text"] += data

p = Page()
p.feed(open(sys.argv[1], encoding="utf-8").read())
def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)

plans = {r["data-plan"]: r for r in p.rows if r["class"] == "plan"}
check(set(plans) == {"shop", "broken"}, f"plan rows: {sorted(plans)}")
check(plans["shop"]["data-state"] == "ok", f"shop state {plans['shop']['data-state']}")
check("succeeded" in plans["shop"]["text"], "shop shows its success")
check("1d" in plans["shop"]["text"] or "2d" in plans["shop"]["text"],
      "shop shows its alert threshold (twice a daily schedule)")
check(plans["broken"]["data-state"] == "failing", f"broken state {plans['broken']['data-state']}")
check("failed" in plans["broken"]["text"], "broken shows its failed run")
fails = [r for r in p.rows if r["class"] == "failure"]
check(len(fails) == 1 and fails[0]["data-state"] == "failed", f"failure rows: {fails}")
# The error is there as text, and it made no element.
check('<img src=x onerror="document.title=1">' in fails[0]["text"], "error text shown verbatim")
check(not any(t == "img" for t, _ in p.tags), "an <img> was injected")
check(sum(1 for t, _ in p.tags if t == "script") == 1, "a <script> was injected")
check(not any(k.startswith("on") for _, a in p.tags for k in a), "an on* attribute was injected")
targets = {(r["data-kind"], r["data-name"]): r["data-ok"] for r in p.rows if r["class"] == "target"}
check(targets.get(("instance", "default")) == "true", f"instance default reachable: {targets}")
check(targets.get(("destination", "local")) == "true", f"destination local writable: {targets}")
check(any("Nothing running" in t for t in p.text), "nothing running")
EOF
}
check_page "$served"
check_page "$dom"
shot="$out_dir/status-page.png"
rm -f "$shot"
browser --window-size=1280,900 --hide-scrollbars --screenshot="$shot" "$base/" >/dev/null ||
  fail "chromium --screenshot"
[ -s "$shot" ] || fail "no screenshot written"
echo "screenshot: $shot"

# ---- JavaScript on: live from /v1/events ------------------------------------
# Chromium's --dump-dom cannot wait for events (its virtual time never ends
# while a stream is open), so a small DevTools client drives the browser.
node --experimental-websocket --no-warnings "$QB_SOURCE_DIR/tests/scripts/status_page_live.mjs" \
  "$chromium" "$base" "$out_dir" "$QBD_DIR/profile-live" 2>>"$QBD_DIR/chromium.log" ||
  { tail -20 "$QBD_DIR/chromium.log" >&2; fail "the page did not follow /v1/events"; }

# ---- Signing in from a browser ----------------------------------------------
qbd_halt
viewer=viewer-token-0123456789abcdef
admin=admin-token-0123456789abcdef
QBACKUP_TOKENS="ops:viewer:$viewer,root:admin:$admin" qbd_launch --qdrant-url "$emu"
base="http://127.0.0.1:$QBD_PORT"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$base/")" = 401 ] || fail "the page without a token is not 401"
hdrs=$(curl -s -D - -o /dev/null -H 'Accept: text/html' "$base/")
grep -qi '^WWW-Authenticate: Basic realm="qbackup"' <<<"$hdrs" || fail "no Basic prompt for a browser: $hdrs"
hdrs=$(curl -s -D - -o /dev/null "$base/v1/status")
grep -qi '^WWW-Authenticate: Basic' <<<"$hdrs" && fail "an API client got a Basic prompt"
[ "$(code -u "me:$viewer" "$base/")" = 200 ] || fail "the page with Basic (viewer token)"
[ "$(code -u "me:wrong" "$base/")" = 401 ] || fail "the page with a wrong Basic password"
[ "$(code -H "Authorization: Bearer $viewer" "$base/")" = 200 ] || fail "the page with a bearer token"
# Basic is read-only, also with an admin token (a browser replays it).
[ "$(code -u "me:$admin" -X POST "$base/v1/plans/shop/runs")" = 401 ] ||
  fail "a POST with Basic credentials was not refused"
[ "$(code -H "Authorization: Bearer $admin" -X POST "$base/v1/plans/shop/runs")" = 202 ] ||
  fail "a POST with the admin bearer token"
grep -q -e "$viewer" -e "$admin" "$QBD_DIR/log" && fail "a token is in the log"
# The page says what it is, and nothing else may run in it.
hdrs=$(curl -s -D - -o /dev/null -u "me:$viewer" "$base/")
grep -qi "^Content-Type: text/html; charset=utf-8" <<<"$hdrs" || fail "content type: $hdrs"
grep -qi "^Content-Security-Policy: default-src 'none'" <<<"$hdrs" || fail "no CSP: $hdrs"
echo "ok: status page renders in headless Chromium, escapes, follows events, signs in"
