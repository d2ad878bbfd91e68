// metrics.mjs: read the gateway's Prometheus text exposition (GET /metrics).
import { httpGet } from './util.mjs';

/**
 * GET /metrics; resolves {status, contentType, text, samples, types} where
 * samples is [{name, labels:{...}, value}] and types maps family -> type.
 */
export async function getMetrics(baseUrl) {
  const res = await httpGet(`${baseUrl}/metrics`);
  const samples = [];
  const types = {};
  for (const line of res.text.split('\n')) {
    if (!line.trim()) continue;
    let m;
    if ((m = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line))) {
      types[m[1]] = m[2];
      continue;
    }
    if (line.startsWith('#')) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) {
      samples.push({ name: '__unparsable', line });
      continue;
    }
    const labels = {};
    if (m[3]) {
      for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
    }
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text: res.text, samples, types };
}

/** Sum of the samples named `name` whose labels include `labels` (undefined if none). */
export function metricValue(metrics, name, labels = {}) {
  const hits = metrics.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (!hits.length) return undefined;
  return hits.reduce((a, s) => a + s.value, 0);
}
