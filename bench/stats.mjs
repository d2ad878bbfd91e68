// stats.mjs: the shared clock, a log-bucket latency histogram, payloads, table output.
//
// Clock: every process of a run (publisher, client workers) reads the same
// system-wide CLOCK_MONOTONIC through process.hrtime, so a time stamped by the
// publisher can be compared with a receive time in another process.
// performance.now() is cheaper per call; it is also monotonic and differs from
// hrtime by a constant offset per process, computed once here.
import { performance } from 'node:perf_hooks';

const OFFSET_US = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;

/** Microseconds on the system-wide monotonic clock (comparable across processes). */
export function nowUs() {
  return performance.now() * 1000 + OFFSET_US;
}

/** Sleep ms milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- latency histogram ----
// Bucket k holds values v (µs) with floor(ln(v) / ln(1.01)) == k: 1% relative
// resolution from 1 µs to ~1000 s in 2100 buckets; values under 1 µs go to 0.
const GROWTH = 1.01;
const INV_LN_GROWTH = 1 / Math.log(GROWTH);
export const HIST_BUCKETS = 2100;

export function newHist() {
  return { buckets: new Float64Array(HIST_BUCKETS), n: 0, max: 0, min: Infinity, sum: 0 };
}

export function histAdd(h, us) {
  let k = us < 1 ? 0 : Math.floor(Math.log(us) * INV_LN_GROWTH);
  if (k >= HIST_BUCKETS) k = HIST_BUCKETS - 1;
  h.buckets[k]++;
  h.n++;
  h.sum += us;
  if (us > h.max) h.max = us;
  if (us < h.min) h.min = us;
}

/** Add histogram b into a (b may come from another process, as a plain object). */
export function histMerge(a, b) {
  for (let k = 0; k < HIST_BUCKETS; k++) a.buckets[k] += b.buckets[k];
  a.n += b.n;
  a.sum += b.sum;
  if (b.max > a.max) a.max = b.max;
  if (b.min < a.min) a.min = b.min;
  return a;
}

/** The q-quantile (0..1) in µs: the geometric middle of its bucket (within 0.5%). */
export function histQuantile(h, q) {
  if (h.n === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * h.n));
  let seen = 0;
  for (let k = 0; k < HIST_BUCKETS; k++) {
    seen += h.buckets[k];
    if (seen >= rank) {
      const mid = Math.pow(GROWTH, k + 0.5);
      return Math.min(Math.max(mid, h.min), h.max);
    }
  }
  return h.max;
}

/** {n, p50_ms, p99_ms, max_ms, mean_ms} of a histogram. */
export function histSummary(h) {
  const r = (us) => (Number.isFinite(us) ? Math.round(us / 10) / 100 : null);
  return {
    n: h.n,
    p50_ms: r(histQuantile(h, 0.5)),
    p99_ms: r(histQuantile(h, 0.99)),
    max_ms: r(h.n ? h.max : NaN),
    mean_ms: r(h.n ? h.sum / h.n : NaN),
  };
}

// ---- payloads ----
// A license.<batch>.assigned event as EVENTS.md describes it, with two extra
// leading fields the benchmark reads back: "i" (message index) and "t"
// (publish time, µs on the shared clock), padded with "pad" to `size` bytes.
// The receivers find "i" and "t" by byte search, the same way for wsgate
// frames and for NATS payloads.

/** Subject and batch id of message i when spreading over nsubj batches. */
export function subjectOf(i, nsubj) {
  return `license.bench${i % nsubj}.assigned`;
}

const enc = new TextEncoder();
const padCache = new Map();

/** The payload bytes of message i (about `size` bytes; more if size is below the event's own size). */
export function payload(i, nsubj, size, tUs) {
  const b = i % nsubj;
  const head =
    `{"i":${i},"t":${Math.round(tUs)},"batch_id":"bench${b}","license_id":"L${i}","hcp_id":"H${i}",` +
    `"product":"bench","worker":${i % 15},"duration_ms":1,"ts":"2026-01-01T00:00:00.000Z","pad":"`;
  const fill = Math.max(0, size - head.length - 2);
  let pad = padCache.get(fill);
  if (pad === undefined) padCache.set(fill, (pad = 'x'.repeat(fill)));
  return enc.encode(head + pad + '"}');
}

// Realistic license events for the deflate scenario: a padded payload (above)
// is a run of one letter that any compressor shrinks to nothing, so it would
// overstate what permessage-deflate gains. licenseEvent() writes the fields
// EVENTS.md lists for license.<batch>.assigned with varied, realistic values:
// a UUID license id, an HCP id, one of a few products, a worker, a duration
// and an RFC 3339 time (about 215 bytes with "i" and "t"). The values are a
// pure function of `base + i` (and of the stamp t), so a receiver that knows
// `base` can rebuild the exact bytes and check that what it decompressed is
// intact. Give every batch of messages its own `base` (the count sent before
// it): with context takeover a repeated event would be found whole in the
// compressor's window and shrink to a few bytes, which real events never do.

/** A 32-bit hash of (a, b) (murmur3's finalizer over a mix of both). */
function mix32(a, b) {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const hex8 = (x) => x.toString(16).padStart(8, '0');
const PRODUCTS = ['formulary-plus', 'clinical-reference', 'drug-interactions', 'rx-insights-pro', 'cme-portal', 'dosage-calculator'];
const COUNTRIES = ['DE', 'FR', 'IT', 'ES', 'NL', 'AT', 'BE', 'PL'];
const TS0_MS = Date.UTC(2026, 11, 5, 9, 30, 0);

/** The batch id (a subject token) of batch k. */
export function batchIdOf(k) {
  return `bt-${hex8(mix32(k, 0xba7c4))}`;
}

/** Subject of license event i over nsubj batches: license.<batch>.assigned. */
export function licenseSubject(i, nsubj) {
  return `license.${batchIdOf(i % nsubj)}.assigned`;
}

/** The payload of license event i (batch i % nsubj), stamped tUs; pure function of (i, nsubj, round(tUs), base). */
export function licenseEvent(i, nsubj, tUs, base = 0) {
  const g = base + i;
  const h = (k) => mix32(g, k);
  const a = h(1);
  const b = h(2);
  const c = h(3);
  const d = h(4);
  const uuid =
    `${hex8(a)}-${hex8(b).slice(0, 4)}-4${hex8(b).slice(5, 8)}-` +
    `${((c >>> 28) & 3 | 8).toString(16)}${hex8(c).slice(1, 4)}-${hex8(c).slice(4)}${hex8(d).slice(0, 8)}`;
  const e = h(5);
  const hcp = `HCP-${COUNTRIES[e % COUNTRIES.length]}-${String(100000000 + (h(6) % 900000000))}`;
  const product = PRODUCTS[h(7) % PRODUCTS.length];
  const worker = h(8) % 15;
  const duration = 40 + (h(9) % 1900);
  const ts = new Date(TS0_MS + g * 113 + (h(10) % 100)).toISOString();
  return enc.encode(
    `{"i":${i},"t":${Math.round(tUs)},"batch_id":"${batchIdOf(i % nsubj)}","license_id":"${uuid}",` +
      `"hcp_id":"${hcp}","product":"${product}","worker":${worker},"duration_ms":${duration},"ts":"${ts}"}`,
  );
}

const I_NEEDLE = Buffer.from('"i":');
const T_NEEDLE = Buffer.from('"t":');

/** Parse the decimal integer in buf at pos (digits only); -1 when there is none. */
function digitsAt(buf, pos) {
  let v = 0;
  let any = false;
  for (let p = pos; p < buf.length; p++) {
    const c = buf[p];
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    any = true;
  }
  return any ? v : -1;
}

/** Find "i" and "t" of a benchmark payload in buf at or after `from`: sets out.i, out.t; false if absent. */
export function scanPayload(buf, from, out) {
  const ip = buf.indexOf(I_NEEDLE, from);
  if (ip < 0) return false;
  const tp = buf.indexOf(T_NEEDLE, ip);
  if (tp < 0) return false;
  out.i = digitsAt(buf, ip + 4);
  out.t = digitsAt(buf, tp + 4);
  return out.i >= 0 && out.t >= 0;
}

const MSG_PREFIX = Buffer.from('{"op":"msg"');

/** Whether a wsgate frame is a `msg` frame (the gateway writes `op` first; other frames are JSON-parsed). */
export function isMsgFrame(buf) {
  if (buf.length < MSG_PREFIX.length) return false;
  for (let k = 0; k < MSG_PREFIX.length; k++) if (buf[k] !== MSG_PREFIX[k]) return false;
  return true;
}

// ---- output ----

/** Print rows (arrays of cells) as an aligned text table with a header row. */
export function printTable(title, header, rows) {
  const all = [header, ...rows].map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = header.map((_, k) => Math.max(...all.map((r) => r[k].length)));
  const line = (r) => r.map((c, k) => (k === 0 ? c.padEnd(widths[k]) : c.padStart(widths[k]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(all[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of all.slice(1)) console.log(line(r));
}

/** n with thousands separators, or '-'. */
export function fmtInt(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

/** a / b rounded to 2 decimals, or null. */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? Math.round((a / b) * 100) / 100 : null;
}
