#!/usr/bin/env bash
# check-ops.sh: check the operations files offline (CI runs it).
#   promtool check rules docs/prometheus/alerts.yml, and its unit tests (alerts.test.yml);
#   docs/grafana/wsgate.json: JSON, every metric exported and on it, its PromQL parsed by promtool;
#   docs/k8s/*.yaml against the Kubernetes API schemas bundled in the npm package
#   kubernetes-models, plus what wsgate relies on (scripts/ops-check/validate-k8s.mjs);
#   the HAProxy and nginx snippets of docs/operations.md with `haproxy -c` and `nginx -t`.
# Installs Debian's prometheus (for promtool), haproxy and nginx-light when missing
# (their services are not started here: only the binaries are used).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH=$PATH:/usr/sbin
pkgs=()
command -v promtool >/dev/null || pkgs+=(prometheus)
command -v haproxy >/dev/null || pkgs+=(haproxy)
command -v nginx >/dev/null || pkgs+=(nginx-light)
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "== installing ${pkgs[*]}"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
if [ ! -d scripts/ops-check/node_modules ] || [ scripts/ops-check/package-lock.json -nt scripts/ops-check/node_modules ]; then
  (cd scripts/ops-check && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

passed=0 failed=0
step() { # step NAME COMMAND...: run it, count it
  local name=$1; shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; echo "$out" | sed 's/^/     /'
  fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}')"
step "promtool check rules docs/prometheus/alerts.yml" promtool check rules docs/prometheus/alerts.yml
step "promtool test rules docs/prometheus/alerts.test.yml" promtool test rules docs/prometheus/alerts.test.yml
step "grafana/alerts metric names (check-metrics.mjs)" node scripts/ops-check/check-metrics.mjs "$tmp/grafana-queries.yml"
step "promtool check rules: the Grafana dashboard's queries" promtool check rules "$tmp/grafana-queries.yml"
echo "== load balancer snippets in docs/operations.md"
# the fenced ```haproxy and ```nginx blocks, each written to a file
awk -v dir="$tmp" '/^```(haproxy|nginx)$/ { f = dir "/" substr($0, 4) ".conf"; next } /^```/ { f = "" } f { print > f }' docs/operations.md
step "haproxy -c: the HAProxy snippet" haproxy -c -q -f "$tmp/haproxy.conf"
printf 'pid %s/nginx.pid;\nerror_log %s/nginx-error.log;\nevents {}\nhttp {\n  access_log off;\n  include %s/nginx.conf;\n}\n' \
  "$tmp" "$tmp" "$tmp" > "$tmp/nginx-main.conf"
step "nginx -t: the nginx snippet" nginx -q -t -c "$tmp/nginx-main.conf" -p "$tmp/"
echo "== docs/k8s"
node scripts/ops-check/validate-k8s.mjs && passed=$((passed + 1)) || failed=$((failed + 1))
echo "ops-check: $passed passed, $failed failed"
[ "$failed" = 0 ]
