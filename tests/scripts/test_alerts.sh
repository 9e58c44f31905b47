#!/usr/bin/env bash
# The Prometheus alert rules, their unit tests, the Prometheus config and the
# Grafana dashboard under docker/ are valid, and every qbackup_* metric they
# use is a family in src/metrics.def (a renamed or invented name would leave
# an alert silent or a panel empty without any error).
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || fail "promtool missing (scripts/install-deps --test)"
src=${QB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
prom=$src/docker/prometheus
dash=$src/docker/grafana/qbackup-dashboard.json

promtool check rules "$prom/alerts.yml" || fail "promtool check rules"
(cd "$prom" && promtool test rules alerts.test.yml) || fail "promtool test rules"

# promtool check config wants the scrape token file to exist: check a copy
# that points at a temporary one (the rule file is checked next to it).
tmp=$(mktemp -d /tmp/qbackup-alerts-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$prom/alerts.yml" "$tmp/"
printf 'token' >"$tmp/qbackup.token"
sed "s#/prometheus/qbackup.token#$tmp/qbackup.token#" "$prom/prometheus.yml" >"$tmp/prometheus.yml"
grep -q "credentials_file: $tmp/qbackup.token" "$tmp/prometheus.yml" ||
  fail "prometheus.yml no longer reads the token from /prometheus/qbackup.token"
promtool check config "$tmp/prometheus.yml" || fail "promtool check config"

python3 - "$src/src/metrics.def" "$prom/alerts.yml" "$dash" <<'PY' || fail "metric names"
import json, re, sys
import yaml

families = set(re.findall(r'QB_METRIC\(\w+,\s*"(\w+)"', open(sys.argv[1]).read()))
assert len(families) >= 10, "metrics.def not parsed"

def unknown(expr):
    bad = []
    for name in re.findall(r"\bqbackup_\w+", expr):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in families and base not in families:
            bad.append(name)
    return bad

exprs = []
for group in yaml.safe_load(open(sys.argv[2]))["groups"]:
    for rule in group["rules"]:
        exprs.append(("alerts.yml " + rule["alert"], rule["expr"]))
        for key in ("severity",):
            assert key in rule.get("labels", {}), f"{rule['alert']}: no {key} label"
        for key in ("summary", "description"):
            assert key in rule.get("annotations", {}), f"{rule['alert']}: no {key}"

def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))

dashboard = json.load(open(sys.argv[3]))
for p in panels(dashboard["panels"]):
    for t in p.get("targets", []):
        exprs.append((f"dashboard panel {p['title']!r}", t["expr"]))

assert any("qbackup_" in e for _, e in exprs), "no expressions found"
errors = [f"{where}: {name} is not in src/metrics.def"
          for where, expr in exprs for name in unknown(expr)]
print("\n".join(errors) or f"ok: {len(exprs)} expressions use only known metrics")
sys.exit(1 if errors else 0)
PY
echo "ok: alert rules, their tests, prometheus.yml and the dashboard"
