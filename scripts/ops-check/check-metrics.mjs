// check-metrics.mjs: the alert rules and the Grafana dashboard use the metrics the gateway has.
//   node scripts/ops-check/check-metrics.mjs RULES_OUT
// Reads the metric names src/metrics.c exports, docs/prometheus/alerts.yml and
// docs/grafana/wsgate.json. Checks: the dashboard is JSON with unique panel ids; every
// wsgate_* name in the alerts and the dashboard is exported; every exported metric is
// on the dashboard. Writes every dashboard query (variables substituted) to RULES_OUT
// as recording rules, so that `promtool check rules RULES_OUT` parses their PromQL.
// Prints "metrics: N passed, N failed"; exits 1 on any failure.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const out = process.argv[2];
if (!out) {
  console.error('usage: check-metrics.mjs RULES_OUT');
  process.exit(2);
}
let passed = 0;
let failed = 0;
const check = (what, cond) => {
  if (cond) passed++;
  else {
    failed++;
    console.log(`FAIL ${what}`);
  }
};

const src = fs.readFileSync(path.join(root, 'src/metrics.c'), 'utf8');
const exported = new Set([...src.matchAll(/\b(wsgate_[a-z_]+)/g)].map((m) => m[1]));
const histograms = new Set([...src.matchAll(/metrics_histogram\(\s*out,\s*"(wsgate_[a-z_]+)"/g)].map((m) => m[1]));
check('src/metrics.c exports wsgate_* metrics', exported.size > 5 && histograms.size >= 2);
const base = (name) => {
  const h = name.replace(/_(bucket|sum|count)$/, '');
  return histograms.has(h) ? h : name;
};
const namesIn = (text) => new Set([...text.matchAll(/\bwsgate_[a-z_]+/g)].map((m) => base(m[0])));

const alerts = fs.readFileSync(path.join(root, 'docs/prometheus/alerts.yml'), 'utf8');
for (const n of namesIn(alerts)) check(`alerts.yml: ${n} is exported by src/metrics.c`, exported.has(n));

let dash;
try {
  dash = JSON.parse(fs.readFileSync(path.join(root, 'docs/grafana/wsgate.json'), 'utf8'));
  check('grafana/wsgate.json parses', true);
} catch (e) {
  check(`grafana/wsgate.json parses: ${e.message}`, false);
  console.log(`metrics: ${passed} passed, ${failed} failed`);
  process.exit(1);
}
const exprs = [];
const ids = [];
const walk = (panels) => {
  for (const p of panels || []) {
    ids.push(p.id);
    for (const t of p.targets || []) if (t.expr) exprs.push({ title: p.title, expr: t.expr });
    walk(p.panels);
  }
};
walk(dash.panels);
check('grafana: panel ids are unique', new Set(ids).size === ids.length);
check('grafana: has queries', exprs.length > 10);
const used = new Set();
for (const { title, expr } of exprs) {
  for (const n of namesIn(expr)) {
    used.add(n);
    check(`grafana "${title}": ${n} is exported by src/metrics.c`, exported.has(n));
  }
}
for (const n of exported) check(`grafana: ${n} is on the dashboard`, used.has(n));

const rules = exprs.map(({ expr }, i) => {
  const e = expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'wsgate').replaceAll('$instance', '.*');
  return `      - record: grafana_query_${i + 1}\n        expr: ${JSON.stringify(e)}\n`;
});
fs.writeFileSync(out, `groups:\n  - name: grafana-queries\n    rules:\n${rules.join('')}`);
console.log(`metrics: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
