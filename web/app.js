// wsgate dashboard: batches, workers, failures and verifications, live.
//
// Data flow
//  - REST is the truth: GET /api/batches (paged, up to MAX_BATCHES batches),
//    GET /api/summary and GET /api/verifications on load and on every `reset`
//    from the client library (plus a list refresh every 30 s, every 5 s while
//    events arrive).
//  - WebSocket events (batch.>, license.>, verification.>) are applied to local
//    state at once, so the screen moves in real time, and trigger throttled
//    refetches (GET /api/batches/{id} of the selected batch at most 2/s, with
//    its history; GET /api/summary and /api/verifications at most every 2 s)
//    so the display converges exactly on the server's own computation.
//  - The list is virtualised: only the rows in view exist in the DOM, so
//    hundreds of batches cost what a screenful does.
//  - A batch's REST object carries `seq`, the last stream sequence it reflects.
//    Events with a higher seq are kept in a per-batch buffer and re-applied on
//    top of every REST snapshot, so an event is never counted twice or lost.
//  - The display never goes backwards: processed/done/failed shown are the
//    maximum ever computed for a running batch (a completed batch shows its
//    final figures).
//  - With JWT auth on the gateway, the token comes from a token-URL hook
//    (<meta name="wsgate-token-url">, or window.WSGATE_TOKEN_URL), else from
//    ?token= in the page's URL (see "auth" below and docs/client.md).

import { WsGate } from './wsgate.js';
import {
  STALL_AFTER_MS,
  applyEvent,
  batchNumbers,
  compact,
  effectiveState,
  ended,
  fmtRate,
  humanDuration,
  int,
  isNum,
  normBatch,
  noteProgress,
  parseMetrics,
  parseTime,
  pct1,
  recompute,
  skeleton,
  workerSlot,
} from './model.js';
import { throttled } from './throttle.js';

const BATCH_MIN_INTERVAL_MS = 500; // <= 2 requests/s per batch
const VERIF_MIN_INTERVAL_MS = 2000;
const FULL_REFRESH_MS = 30000;
const LIST_REFRESH_MS = 5000; // while events arrive
const SUMMARY_MIN_INTERVAL_MS = 2000;
const MAX_BATCHES = 2000; // batches the page keeps (the server pages beyond)
const PAGE_LIMIT = 1000;
const ROW_H = 86; // px: a batch row (78, style.css) and the gap (8); rows all have this height
const OVERSCAN = 6;
const METRICS_EVERY_MS = 5000;
const HISTORY_S = 300;
const PENDING_CAP = 20000;
const FAILURES_SHOWN = 12;
const TOP_COUNTRIES = 15;

// ------------------------------------------------------------------ helpers

const $ = (id) => document.getElementById(id);

/** Create an element: h('div', {class: 'x', dataset: {a: 1}}, 'text', child). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

function setText(el, v) {
  const s = v === null || v === undefined ? '' : String(v);
  if (el.textContent !== s) el.textContent = s;
}

function setAttr(el, name, v) {
  const s = String(v);
  if (el.getAttribute(name) !== s) el.setAttribute(name, s);
}

function setWidth(el, pct) {
  const w = `${Math.max(0, Math.min(100, pct)).toFixed(2)}%`;
  if (el.style.width !== w) el.style.width = w;
}

function ago(ms) {
  if (!isNum(ms)) return '';
  const s = (Date.now() - ms) / 1000;
  if (s < 5) return 'just now';
  return `${humanDuration(s)} ago`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
function clock(ms) {
  if (!isNum(ms)) return '–';
  const d = new Date(ms);
  const today = new Date();
  const t = timeFmt.format(d);
  return d.toDateString() === today.toDateString() ? t : `${dayFmt.format(d)} ${t}`;
}
let regionNames = null;
try { regionNames = new Intl.DisplayNames(['en'], { type: 'region' }); } catch { /* old browser */ }
function countryName(code) {
  try { return (regionNames && regionNames.of(code)) || code; } catch { return code; }
}

// ------------------------------------------------------------------ auth
//
// Where the page's JWT comes from (docs/client.md "The dashboard with JWT auth"):
//  1. the token-URL hook: <meta name="wsgate-token-url" content="/my-app/wsgate-token">
//     in index.html, or window.WSGATE_TOKEN_URL set before app.js runs. The URL
//     (relative to the page) is fetched, with the page's cookies, before each
//     WebSocket connection attempt and again when a REST call answers 401; its
//     body is the token, as text or as JSON {"token": "..."}.
//  2. else ?token=<jwt> in the page's own URL: read once, then removed from the
//     address bar (history.replaceState) so it is not bookmarked or shared.
//  3. else none (a gateway without auth).
// The token goes to the WebSocket as ?token= (wsgate.js) and to every REST
// call as Authorization: Bearer. A token the gateway refuses (401, or a 4002
// close of a static token) shows as "unauthorized" on the pill, with a banner.

const auth = {
  url: null, // the token URL, absolute; null: no hook
  token: null, // the current token
  refreshing: null, // the Promise of the token URL fetch in flight
  refused: null, // why the gateway (or the token URL) refused us, or null
  gate: null, // the WsGate, closed while a static token is refused
  closedGate: false,
};

function tokenUrl() {
  const meta = document.querySelector('meta[name="wsgate-token-url"]');
  const v = (meta && meta.getAttribute('content')) || (typeof window.WSGATE_TOKEN_URL === 'string' ? window.WSGATE_TOKEN_URL : '');
  return v ? new URL(v, location.href).href : null;
}

/** ?token= of the page's URL (null when absent), removed from the address bar. */
function takeUrlToken() {
  const u = new URL(location.href);
  if (!u.searchParams.has('token')) return null;
  const t = u.searchParams.get('token');
  u.searchParams.delete('token');
  history.replaceState(history.state, '', u.pathname + u.search + u.hash);
  return t || null;
}

function setRefused(why) {
  if (auth.refused === why) return;
  auth.refused = why;
  const gate = auth.gate;
  // A static token (or none) will not get better by retrying: stop the
  // client. The token URL may give a good one later: keep trying there.
  if (why && !auth.url && gate && gate.status !== 'live') { auth.closedGate = true; gate.close(); }
  if (!why && auth.closedGate && gate) { auth.closedGate = false; gate.connect(); }
  schedule();
}

/** A fresh token from the token URL (one fetch at a time): resolves it, or null. */
function refreshToken() {
  if (!auth.url) return Promise.resolve(auth.token);
  if (!auth.refreshing) {
    auth.refreshing = (async () => {
      try {
        const res = await fetch(auth.url, { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json, text/plain' } });
        if (!res.ok) {
          if (res.status === 401 || res.status === 403) setRefused(`the token URL answered ${res.status}`);
          return null;
        }
        const text = (await res.text()).trim();
        let tok = text;
        if (text.startsWith('{')) {
          try { tok = JSON.parse(text).token; } catch { tok = null; }
        }
        auth.token = typeof tok === 'string' && tok ? tok : null;
        if (!auth.token) setRefused('the token URL gave no token');
        return auth.token;
      } catch {
        return null; // network: try again at the next attempt
      } finally {
        auth.refreshing = null;
      }
    })();
  }
  return auth.refreshing;
}

/** The token function or string for WsGate (undefined: no auth). */
function wsToken() {
  if (auth.url) {
    return async () => {
      const t = await refreshToken();
      if (!t) throw new Error(`no token from ${auth.url}`);
      return t;
    };
  }
  return auth.token || undefined;
}

function withAuth(opts) {
  const headers = { ...(opts.headers || {}) };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  return { cache: 'no-store', ...opts, headers };
}

/**
 * fetch() of a gateway URL (/api/..., /metrics) with the token. A 401 asks
 * the token URL (if any) for a fresh token and tries once more; a 401 left
 * marks the page unauthorized, a 2xx of /api/ clears that.
 */
async function apiFetch(url, opts = {}) {
  if (auth.url && !auth.token) await refreshToken();
  let res = await fetch(url, withAuth(opts));
  if (res.status === 401 && auth.url) {
    await refreshToken();
    res = await fetch(url, withAuth(opts));
  }
  if (res.status === 401) setRefused('the gateway refused the token');
  else if (res.ok && url.startsWith('/api/')) setRefused(null);
  return res;
}

/** Fetch JSON; returns null on any failure (network, non-2xx, bad JSON). */
async function getJson(url) {
  try {
    const res = await apiFetch(url, { headers: { accept: 'application/json' } });
    if (!res.ok) return { status: res.status, body: null };
    return { status: res.status, body: await res.json() };
  } catch {
    return { status: 0, body: null };
  }
}

// ------------------------------------------------------------------ state

/**
 * @typedef {object} BatchRec
 * @property {string} id
 * @property {object} base     last REST object (or a skeleton before the first)
 * @property {object[]} pending events newer than base.seq, re-applied on each snapshot
 * @property {object} view     base + pending: the current computed state
 * @property {{done:number, failed:number}} shown  display floors (never decrease)
 * @property {boolean} hasProgress publisher sends batch.<id>.progress
 * @property {number} lastChange local time processed last increased
 * @property {number} fetchedAt local time of the last REST snapshot
 * @property {{t:number, p:number}[]} history processed, sampled every second (selected batch)
 * @property {{t:number, p:number}[]|null} serverHistory from GET /api/batches/{id}
 */

const state = {
  /** @type {Map<string, BatchRec>} */
  batches: new Map(),
  selected: null,
  wanted: null, // batch asked for by the URL hash or a click
  filter: 'all', // all | running | stalled | completed | failed
  search: '',
  summary: null, // GET /api/summary
  listDirty: false,
  verif: { total: 0, by_status: { verified: 0, rejected: 0, pending: 0 }, by_country: {} },
  verifEventsSinceRequest: 0,
  conn: { status: 'connecting', delayMs: null, retryAt: null },
  lastEventAt: null,
  lastSeq: null,
  hello: null,
  metrics: null,
  metricsPrev: null,
  metricsEnabled: true,
  apiDown: false,
};

function getBatch(id) {
  let rec = state.batches.get(id);
  if (!rec) {
    const base = skeleton(id);
    rec = {
      id, base, pending: [], view: structuredClone(base), shown: { done: 0, failed: 0 },
      hasProgress: false, lastChange: Date.now(), fetchedAt: 0, history: [], serverHistory: null, fresh: true,
      fetch: throttled(BATCH_MIN_INTERVAL_MS, () => fetchBatch(id)),
    };
    state.batches.set(id, rec);
  }
  return rec;
}

function applySnapshot(obj) {
  if (!obj || typeof obj.id !== 'string') return;
  const rec = getBatch(obj.id);
  const b = normBatch(obj);
  if (rec.awaitSnapshot) {
    rec.awaitSnapshot = false;
    rec.shown = { done: 0, failed: 0 };
    rec.fresh = true;
  }
  rec.base = b;
  rec.pending = rec.pending.filter((e) => e.seq > b.seq);
  rec.fetchedAt = Date.now();
  recompute(rec);
  if (rec.fresh) {
    // first snapshot: "last progress" is the server's last update, not now
    rec.fresh = false;
    const upd = parseTime(rec.view.updated_at);
    if (upd !== null) rec.lastChange = Math.min(Date.now(), upd);
  }
}

function onBatchEvent(msg) {
  const parts = msg.subject.split('.');
  const id = parts[1];
  if (!id) return;
  const rec = getBatch(id);
  if (parts[0] === 'batch' && parts[2] === 'progress') rec.hasProgress = true;
  if (msg.seq <= (rec.base.seq || 0)) return; // already in the snapshot
  rec.pending.push(msg);
  if (rec.pending.length > PENDING_CAP) rec.pending.splice(0, rec.pending.length - PENDING_CAP);
  if (!rec.awaitSnapshot) {
    applyEvent(rec, rec.view, msg);
    noteProgress(rec);
  }
  if (id === state.selected || rec.base.seq === 0) requestBatch(id);
  else state.listDirty = true;
  requestSummary();
  noteEvent(msg);
  schedule();
}

function onVerifEvent(msg) {
  const [, c0, s0] = msg.subject.split('.');
  const d = msg.data && typeof msg.data === 'object' ? msg.data : {};
  const country = typeof d.country === 'string' && d.country ? d.country : c0;
  const status = typeof d.status === 'string' && d.status ? d.status : s0;
  const v = state.verif;
  v.total++;
  v.by_status[status] = (v.by_status[status] || 0) + 1;
  const c = v.by_country[country] || (v.by_country[country] = { verified: 0, rejected: 0, pending: 0 });
  c[status] = (c[status] || 0) + 1;
  state.verifEventsSinceRequest++;
  requestVerif();
  noteEvent(msg);
  schedule();
}

function noteEvent(msg) {
  state.lastEventAt = Date.now();
  state.lastSeq = Math.max(state.lastSeq || 0, msg.seq);
}

// ------------------------------------------------------------------ REST

function requestBatch(id) {
  state.batches.get(id)?.fetch();
}

/** GET /api/batches/{id} into its record (through the record's throttle). */
async function fetchBatch(id) {
  if (!state.batches.get(id)) return;
  const { status, body } = await getJson(`/api/batches/${encodeURIComponent(id)}`);
  const rec = state.batches.get(id);
  if (!rec) return;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    applySnapshot(body);
    if (Array.isArray(body.history)) {
      rec.serverHistory = body.history.filter((p) => Array.isArray(p) && isNum(p[0])).map((p) => ({ t: p[0], p: int(p[1]) + int(p[2]) }));
      // local samples older than the server's last point are covered by it
      const last = rec.serverHistory.length ? rec.serverHistory[rec.serverHistory.length - 1].t : 0;
      rec.history = rec.history.filter((x) => x.t > last);
      chartDirty = true;
    }
    schedule();
  } else if (status === 404 && rec.pending.length === 0 && rec.base.seq === 0) {
    // unknown to the server and nothing local: forget it
    state.batches.delete(id);
    schedule();
  }
}

/** One page of GET /api/batches: {list, next (URL of the next page or null)}, or null. */
async function getPage(url) {
  try {
    const res = await apiFetch(url, { headers: { accept: 'application/json' } });
    if (!res.ok) return null;
    const list = await res.json();
    if (!Array.isArray(list)) return null;
    const cursor = res.headers.get('x-next-cursor');
    const next = cursor ? `/api/batches?limit=${PAGE_LIMIT}&cursor=${encodeURIComponent(cursor)}` : null;
    return { list, next };
  } catch {
    return null;
  }
}

/** GET /api/summary into state.summary. */
async function fetchSummary() {
  const { body } = await getJson('/api/summary');
  if (body && typeof body === 'object' && !Array.isArray(body)) { state.summary = { ...body, at: Date.now() }; schedule(); }
}
const requestSummary = throttled(SUMMARY_MIN_INTERVAL_MS, fetchSummary);

let batchesInflight = false;
let batchesAgain = false;
async function fetchAllBatches() {
  if (batchesInflight) { batchesAgain = true; return; }
  batchesInflight = true;
  const startedAt = Date.now();
  state.listDirty = false;
  const body = [];
  let ok = true;
  let complete = true;
  for (let url = `/api/batches?limit=${PAGE_LIMIT}`; url;) {
    const page = await getPage(url);
    if (!page) { ok = false; break; }
    body.push(...page.list);
    url = page.next && body.length < MAX_BATCHES ? page.next : null;
    if (page.next && !url) complete = false;
  }
  batchesInflight = false;
  state.listTruncated = !complete;
  if (ok) {
    state.apiDown = false;
    state.listLoaded = true;
    const ids = new Set();
    for (const o of body) {
      if (o && typeof o.id === 'string') { ids.add(o.id); applySnapshot(o); }
    }
    // forget batches the server no longer knows, unless events arrived meanwhile
    for (const [id, rec] of state.batches) {
      if (!ids.has(id) && id !== state.selected && rec.lastChange < startedAt && rec.pending.length === 0) state.batches.delete(id);
    }
  } else {
    state.apiDown = true;
  }
  schedule();
  if (batchesAgain) { batchesAgain = false; fetchAllBatches(); }
}

/** GET /api/verifications into state.verif; resolves true to ask again. */
async function fetchVerif() {
  state.verifEventsSinceRequest = 0;
  const force = state.verifForce;
  const { body } = await getJson('/api/verifications');
  let again = false;
  if (body && force) state.verifForce = false;
  if (body && typeof body === 'object') {
    const r = {
      total: int(body.total),
      by_status: { verified: 0, rejected: 0, pending: 0, ...(body.by_status || {}) },
      by_country: body.by_country && typeof body.by_country === 'object' ? body.by_country : {},
    };
    // The server is the truth. Its answer may be lower than what we show only
    // if it has not yet counted events we already received (then keep ours
    // and ask again) or if we counted something twice (then correct).
    if (r.total >= state.verif.total || state.verifEventsSinceRequest === 0 || state.verifForce) state.verif = r;
    else again = true;
    schedule();
  }
  return again;
}
const requestVerif = throttled(VERIF_MIN_INTERVAL_MS, fetchVerif);

function reloadAll() {
  fetchAllBatches();
  requestVerif();
  requestSummary();
}

// ------------------------------------------------------------------ metrics

async function pollMetrics() {
  if (!state.metricsEnabled) return;
  try {
    const res = await apiFetch('/metrics');
    if (res.status === 404) { state.metricsEnabled = false; renderStats(); return; }
    if (!res.ok) return;
    const m = parseMetrics(await res.text());
    state.metricsPrev = state.metrics;
    state.metrics = { at: Date.now(), values: m };
    renderStats();
  } catch { /* gateway down: the pill already says so */ }
}

// Delivery latency, JetStream store to socket write, over the last minute (GET /api/stats).
function fmtSeconds(s) {
  if (!isNum(s)) return '–';
  if (s < 0.01) return `${(s * 1000).toFixed(1)} ms`;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  return `${s.toFixed(s < 10 ? 1 : 0)} s`;
}

// What permessage-deflate saved of the bytes sent to clients (GET /api/stats "compression").
function renderCompression(z) {
  const el = $('deflate-stat');
  el.hidden = !z || !isNum(z.saved);
  if (el.hidden) return;
  setText(el.querySelector('dd'), `${Math.round(z.saved * 100)}%`);
  setAttr(el, 'title', `permessage-deflate: ${compact(z.deflate_in_bytes)} B compressed to ${compact(z.deflate_out_bytes)} B; ` +
    `${z.connections} compressed connections, ${z.groups} shared compressors (${z.members} members)`);
}

async function pollLatency() {
  const el = $('latency-stat');
  try {
    const res = await apiFetch('/api/stats');
    if (!res.ok) return;
    const stats = await res.json();
    renderCompression(stats.compression);
    const st = stats.delivery_stored_latency_seconds;
    el.hidden = !st || !isNum(st.p50);
    if (el.hidden) return;
    setText(el.querySelector('dd'), `${fmtSeconds(st.p50)} / ${fmtSeconds(st.p99)}`);
    setAttr(el, 'title', `stored-to-sent latency over the last minute: p50 ${st.p50} s, p99 ${st.p99} s (${st.count} deliveries)`);
  } catch { /* gateway down: the pill already says so */ }
}

// ------------------------------------------------------------------ derived

/**
 * Every batch as a row {rec, st (effective state)}, in the server's list
 * order: running and stalled first, newest started first; then completed and
 * cancelled, newest ended first; then by id.
 */
function sortedBatches() {
  const rows = [];
  for (const rec of state.batches.values()) {
    const st = effectiveState(rec);
    const g = st === 'completed' || st === 'cancelled' ? 1 : 0;
    const t = parseTime(st === 'completed' ? rec.view.completed_at : st === 'cancelled' ? rec.view.cancelled_at : rec.view.started_at) ?? 0;
    rows.push({ rec, st, g, t });
  }
  rows.sort((a, b) => a.g - b.g || b.t - a.t || (a.rec.id < b.rec.id ? -1 : a.rec.id > b.rec.id ? 1 : 0));
  return rows;
}

/** The rows the filter and the search let through. */
function visibleRows(rows) {
  const f = state.filter;
  const q = state.search.trim().toLowerCase();
  return rows.filter((r) => {
    if (q && !r.rec.id.toLowerCase().includes(q)) return false;
    if (f === 'all') return true;
    if (f === 'failed') return r.rec.shown.failed > 0;
    return r.st === f;
  });
}

// ------------------------------------------------------------------ render

let renderQueued = false;
function schedule() {
  if (renderQueued) return;
  renderQueued = true;
  // rAF when visible; the timeout covers hidden tabs (rAF is paused there)
  const run = () => { if (renderQueued) { renderQueued = false; render(); } };
  requestAnimationFrame(run);
  setTimeout(run, 250);
}

function render() {
  const all = sortedBatches();
  const rows = visibleRows(all);
  // the batch named in the URL (#/batch/b42) or clicked, once known; else the first one
  if (state.wanted && state.batches.has(state.wanted)) state.selected = state.wanted;
  else if (!state.selected || !state.batches.has(state.selected)) state.selected = rows.length ? rows[0].rec.id : all.length ? all[0].rec.id : null;
  if (state.selected && state.selected !== state.detailFor) {
    state.detailFor = state.selected;
    requestBatch(state.selected); // its failures, workers and history
  }
  renderSummary(all);
  renderBatches(rows);
  renderDetail();
  renderVerif();
  renderConn();
  renderFooter();
  renderFleet();
  const running = all.filter((r) => r.st !== 'completed' && r.st !== 'cancelled').length;
  const title = running ? `wsgate · ${running} running` : 'wsgate';
  if (document.title !== title) document.title = title;
}

const cards = new Map(); // id -> {el, f: fields}

function makeCard(id) {
  const f = {};
  const el = h('li', { class: 'batch', role: 'option', tabindex: '-1', 'aria-selected': 'false', dataset: { batchId: id } });
  f.id = h('span', { class: 'batch-id' }, id);
  f.kind = h('span', { class: 'batch-kind' });
  f.state = h('span', { class: 'badge', dataset: { field: 'state' } });
  f.fillDone = h('span', { class: 'bar-fill' });
  f.fillFailed = h('span', { class: 'bar-fill failed' });
  f.bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0', 'aria-label': `progress of ${id}`, dataset: { field: 'progress' } }, f.fillDone, f.fillFailed);
  f.pct = h('span', { class: 'batch-pct' });
  f.processed = h('b', { dataset: { field: 'processed' } }, '0');
  f.total = h('b', { dataset: { field: 'total' } }, '–');
  f.failed = h('b', { dataset: { field: 'failed' } }, '0');
  f.failWrap = h('span', { class: 'fail' }, f.failed, ' failed');
  f.rate = h('span', { class: 'rate' });
  f.eta = h('span', { class: 'eta' });
  f.started = h('span', { class: 'started' });
  el.append(
    h('div', { class: 'batch-top' }, f.id, f.kind, f.state),
    h('div', { class: 'batch-bar' }, f.bar, f.pct),
    h('div', { class: 'batch-meta' }, h('span', { class: 'count' }, f.processed, ' / ', f.total), f.failWrap, f.rate, f.eta, f.started),
  );
  el.addEventListener('click', () => select(id, true));
  return { el, f };
}

/** Render the rows in view (and a few around): the list is virtualised. */
function renderBatches(rows) {
  const ul = $('batch-list');
  const box = $('batch-scroll'); // the scrolling viewport of the list
  const n = rows.length;
  if (state.scrollTo) {
    const idx = rows.findIndex((r) => r.rec.id === state.scrollTo);
    if (idx >= 0 && !rows[idx].rec.fresh && state.listLoaded) { // its place is known once the list is in
      // make the list tall enough first, then scroll the row into view
      ul.style.paddingTop = '0px';
      ul.style.paddingBottom = `${n * ROW_H}px`;
      const top = idx * ROW_H;
      if (top < box.scrollTop || top + ROW_H > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, top - ROW_H);
      state.scrollTo = null;
    }
  }
  const viewH = Math.min(box.clientHeight || window.innerHeight, window.innerHeight);
  const first = Math.max(0, Math.min(n, Math.floor(box.scrollTop / ROW_H) - OVERSCAN));
  const last = Math.min(n, Math.ceil((box.scrollTop + viewH) / ROW_H) + OVERSCAN);
  const padTop = `${first * ROW_H}px`;
  const padBottom = `${Math.max(0, n - last) * ROW_H}px`;
  if (ul.style.paddingTop !== padTop) ul.style.paddingTop = padTop;
  if (ul.style.paddingBottom !== padBottom) ul.style.paddingBottom = padBottom;
  setAttr(ul, 'data-rows', n);
  const seen = new Set();
  for (let i = first; i < last; i++) {
    const rec = rows[i].rec;
    seen.add(rec.id);
    let card = cards.get(rec.id);
    if (!card) { card = makeCard(rec.id); cards.set(rec.id, card); }
    const at = i - first;
    if (ul.children[at] !== card.el) ul.insertBefore(card.el, ul.children[at] || null);
    updateCard(card, rec, rows[i].st);
  }
  for (const [id, card] of cards) {
    if (!seen.has(id)) { card.el.remove(); cards.delete(id); }
  }
  const any = state.batches.size > 0;
  $('batch-empty').hidden = n > 0;
  if (state.apiDown && !any) setText($('batch-empty'), 'Cannot reach the gateway API; retrying…');
  else if (any) setText($('batch-empty'), 'No batch matches the filter.');
  else setText($('batch-empty'), 'Waiting for batches…');
  setText($('batch-summary'), any ? `${n} of ${state.batches.size}${state.listTruncated ? '+' : ''} shown` : '');
}

function updateCard(card, rec, st) {
  const { f, el } = card;
  const n = batchNumbers(rec);
  const v = rec.view;
  setAttr(el, 'data-state', n.state);
  const sel = rec.id === state.selected;
  setAttr(el, 'aria-selected', sel ? 'true' : 'false');
  setAttr(el, 'tabindex', sel ? '0' : '-1');
  setText(f.kind, (v.kind || '').replace(/_/g, ' '));
  setText(f.state, n.state);
  setAttr(f.state, 'data-state', n.state);
  setText(f.processed, n.processed);
  setText(f.total, n.total === null ? '–' : n.total);
  setText(f.failed, n.failed);
  f.failWrap.classList.toggle('zero', n.failed === 0);
  setAttr(f.bar, 'aria-valuenow', n.percent);
  f.bar.classList.toggle('indeterminate', n.total === null);
  if (n.total) {
    setWidth(f.fillDone, (n.done / n.total) * 100);
    setWidth(f.fillFailed, (n.failed / n.total) * 100);
  } else {
    setWidth(f.fillDone, n.state === 'completed' ? 100 : 0);
    setWidth(f.fillFailed, 0);
  }
  setText(f.pct, n.total ? `${n.percent.toFixed(1)}%` : '');
  if (n.state === 'completed') {
    setText(f.rate, '');
    setText(f.eta, isNum(v.duration_ms) ? `took ${humanDuration(v.duration_ms / 1000)}` : 'done');
  } else if (n.state === 'cancelled') {
    setText(f.rate, '');
    setText(f.eta, v.cancel_reason ? `cancelled: ${v.cancel_reason}` : 'cancelled');
  } else {
    setText(f.rate, n.rate === null || n.state === 'stalled' ? '' : `${fmtRate(n.rate)}/s`);
    setText(f.eta, n.state === 'stalled' ? `no progress for ${humanDuration((Date.now() - rec.lastChange) / 1000)}` : n.eta === null ? '' : `ETA ${humanDuration(n.eta)}`);
  }
  const t = parseTime(n.state === 'completed' ? v.completed_at : n.state === 'cancelled' ? v.cancelled_at : v.started_at);
  setText(f.started, t === null ? '' : `${n.state === 'completed' ? 'finished' : n.state === 'cancelled' ? 'cancelled' : 'started'} ${clock(t)}`);
}

/** The strip above the panels: the server's counts over every batch (GET /api/summary). */
function renderSummary(all) {
  const local = { running: 0, stalled: 0, completed: 0, failed: 0, rate: 0, eta: null };
  for (const r of all) {
    local[r.st]++;
    local.failed += r.rec.shown.failed;
    if (r.st === 'running') {
      const n = batchNumbers(r.rec);
      if (isNum(n.rate)) local.rate += n.rate;
      if (isNum(n.eta)) local.eta = Math.max(local.eta ?? 0, n.eta);
    }
  }
  const sm = state.summary;
  const pick = (k, l) => (sm && isNum(sm[k]) ? sm[k] : l);
  const eta = sm ? (isNum(sm.eta_s) ? Math.max(0, sm.eta_s - (Date.now() - sm.at) / 1000) : null) : local.eta;
  const vals = {
    running: compact(pick('running', local.running)),
    stalled: compact(pick('stalled', local.stalled)),
    completed: compact(pick('completed', local.completed)),
    failed: compact(pick('failed', local.failed)),
    rate: `${fmtRate(pick('rate', local.rate))}/s`,
    eta: eta === null ? '–' : humanDuration(eta),
  };
  for (const el of $('summary').querySelectorAll('[data-k]')) setText(el.querySelector('dd'), vals[el.dataset.k]);
  // the filter chips count what the page holds
  const counts = { all: all.length, running: local.running, stalled: local.stalled, completed: local.completed, failed: all.filter((r) => r.rec.shown.failed > 0).length };
  for (const b of $('batch-filter').querySelectorAll('button[data-filter]')) {
    setText(b.querySelector('.n'), counts[b.dataset.filter]);
    setAttr(b, 'aria-pressed', b.dataset.filter === state.filter ? 'true' : 'false');
  }
}

function select(id, byUser) {
  if (!state.batches.has(id)) return;
  state.selected = id;
  if (byUser) {
    state.wanted = id;
    const hash = `#/batch/${encodeURIComponent(id)}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
  }
  render();
}

function renderDetail() {
  const rec = state.selected ? state.batches.get(state.selected) : null;
  $('detail-empty').hidden = !!rec;
  $('detail-body').hidden = !rec;
  $('detail-state').hidden = !rec;
  setAttr($('detail'), 'data-selected', rec ? rec.id : '');
  if (!rec) { setText($('detail-id'), '–'); setText($('detail-kind'), ''); return; }
  const v = rec.view;
  const n = batchNumbers(rec);
  setText($('detail-id'), rec.id);
  setText($('detail-kind'), (v.kind || '').replace(/_/g, ' '));
  setText($('detail-state'), n.state);
  setAttr($('detail-state'), 'data-state', n.state);

  setText($('d-processed'), n.total === null ? `${n.processed}` : `${n.processed} / ${n.total}`);
  setText($('d-percent'), n.total ? `${n.percent.toFixed(1)}%` : 'total unknown');
  setText($('d-done'), n.done);
  setText($('d-failed'), n.failed);
  setText($('d-failrate'), n.processed ? `${((n.failed / n.processed) * 100).toFixed(1)}% of processed` : '');
  setText($('d-rate'), n.state === 'running' ? fmtRate(n.rate) : '–');
  const started = parseTime(v.started_at);
  if (n.state === 'completed') {
    setText($('d-eta-label'), 'duration');
    const dur = isNum(v.duration_ms) ? v.duration_ms / 1000 : null;
    setText($('d-eta'), humanDuration(dur));
    const done = parseTime(v.completed_at);
    setText($('d-eta-sub'), done === null ? '' : `finished ${clock(done)}`);
  } else if (n.state === 'cancelled') {
    setText($('d-eta-label'), 'cancelled');
    const at = parseTime(v.cancelled_at);
    setText($('d-eta'), at === null ? '–' : clock(at));
    setText($('d-eta-sub'), v.cancel_reason || '');
  } else {
    setText($('d-eta-label'), 'eta');
    setText($('d-eta'), n.state === 'stalled' ? 'stalled' : humanDuration(n.eta));
    setText($('d-eta-sub'), n.state === 'stalled' ? `idle ${humanDuration((Date.now() - rec.lastChange) / 1000)}` : started !== null ? `elapsed ${humanDuration((Date.now() - started) / 1000)}` : '');
  }
  setText($('d-started'), started === null ? '–' : clock(started));
  setText($('d-started-sub'), started === null ? '' : ago(started));

  renderWorkers(rec);
  renderFailures(rec);
  // the chart moves once a second (new sample), or when the batch changes
  if (chartFor !== rec.id || chartDirty) {
    chartFor = rec.id;
    chartDirty = false;
    drawChart(rec);
  }
}

let chartFor = null;
let chartDirty = true;

const WORKERS_SHOWN = 64; // the server counts workers 64 and up together

function renderWorkers(rec) {
  const v = rec.view;
  const count = Math.max(isNum(v.workers) ? v.workers : 0, ...v.per_worker.map((w) => w.worker + 1), 0);
  const rows = [];
  for (let i = 0; i < Math.min(count, WORKERS_SHOWN); i++) rows.push(v.per_worker.find((w) => w.worker === i) || { worker: i, done: 0, failed: 0 });
  const others = v.per_worker_others;
  if (count > WORKERS_SHOWN) {
    let done = 0;
    let failed = 0;
    if (others && typeof others === 'object') { done = int(others.done); failed = int(others.failed); } else {
      for (const w of v.per_worker) if (w.worker >= WORKERS_SHOWN) { done += w.done; failed += w.failed; }
    }
    rows.push({ worker: `${WORKERS_SHOWN}+`, label: `w${WORKERS_SHOWN}–${count - 1}`, done, failed });
  }
  const max = Math.max(1, ...rows.map((w) => w.done + w.failed));
  setText($('workers-count'), count ? `${count}` : '');
  const ol = $('workers');
  while (ol.children.length > rows.length) ol.lastChild.remove();
  rows.forEach((w, i) => {
    let li = ol.children[i];
    if (!li) {
      li = h('li', { class: 'worker' },
        h('span', { class: 'worker-name' }),
        h('div', { class: 'bar' }, h('span', { class: 'bar-fill' }), h('span', { class: 'bar-fill failed' })),
        h('span', { class: 'worker-count' }, h('span', { class: 'w-done' }), h('span', { class: 'bad w-failed' })));
      ol.append(li);
    }
    setText(li.querySelector('.worker-name'), w.label || `w${w.worker}`);
    const fills = li.querySelectorAll('.bar-fill');
    setWidth(fills[0], (w.done / max) * 100);
    setWidth(fills[1], (w.failed / max) * 100);
    setText(li.querySelector('.w-done'), w.done);
    const wf = li.querySelector('.w-failed');
    setText(wf, w.failed ? `${w.failed}✕` : '');
    setAttr(li, 'title', `worker ${w.worker}: ${w.done} assigned, ${w.failed} failed`);
  });
}

let failuresKey = '';
function renderFailures(rec) {
  const list = rec.view.failures.slice(0, FAILURES_SHOWN);
  const key = rec.id + '|' + list.map((x) => `${x.license_id}:${x.ts}`).join(',');
  setText($('failures-count'), rec.view.failures.length ? `latest ${Math.min(FAILURES_SHOWN, rec.view.failures.length)}` : '');
  $('failures-empty').hidden = list.length > 0;
  $('failures-wrap').hidden = list.length === 0;
  if (key === failuresKey) return;
  const prev = new Set(failuresKey.startsWith(rec.id + '|') ? failuresKey.slice(rec.id.length + 1).split(',') : []);
  const animate = failuresKey.startsWith(rec.id + '|');
  failuresKey = key;
  const tbody = $('failures');
  tbody.replaceChildren(...list.map((x) => {
    const t = parseTime(x.ts);
    const k = `${x.license_id}:${x.ts}`;
    return h('tr', { class: animate && !prev.has(k) ? 'fresh' : null },
      h('td', { title: x.ts || '' }, t === null ? '–' : clock(t)),
      h('td', { class: 'mono' }, x.license_id ?? '–'),
      h('td', { class: 'mono' }, x.hcp_id ?? '–'),
      h('td', null, isNum(x.worker) ? `w${x.worker}` : '–'),
      h('td', { class: 'err' }, x.error ?? ''));
  }));
}

// ---- rate chart

/** A local sample a second of the selected batch, on top of its server history. */
function sampleHistory() {
  const rec = state.selected ? state.batches.get(state.selected) : null;
  if (!rec || rec.fresh || rec.awaitSnapshot) return; // no snapshot yet: the count is not meaningful
  if (effectiveState(rec) === 'completed') return; // the server's history is complete
  rec.history.push({ t: Date.now(), p: rec.shown.done + rec.shown.failed });
  if (rec.history.length > HISTORY_S + 1) rec.history.splice(0, rec.history.length - HISTORY_S - 1);
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function drawChart(rec) {
  const canvas = $('rate-chart');
  const w = canvas.clientWidth;
  const hgt = canvas.clientHeight;
  if (!w || !hgt) return;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  const col = { accent: cssVar('--accent'), soft: cssVar('--chart-bar'), grid: cssVar('--border'), text: cssVar('--faint') };
  const font = `11px ${cssVar('--font') || 'sans-serif'}`;

  // the server's history (every 5 s or more of the batch's life) and the
  // local samples since; bars: processed/s per interval; line: a moving average
  const now = Date.now();
  const server = rec.serverHistory || [];
  const hist = server.concat(rec.history.filter((x) => !server.length || x.t > server[server.length - 1].t));
  const pts = [];
  for (let i = 1; i < hist.length; i++) {
    const dt = (hist[i].t - hist[i - 1].t) / 1000;
    if (dt <= 0) continue;
    pts.push({ t0: hist[i - 1].t, t: hist[i].t, r: Math.max(0, hist[i].p - hist[i - 1].p) / dt });
  }
  const avg = pts.map((p, i) => {
    let n = 0;
    let dt = 0;
    for (let j = i; j >= 0 && p.t - pts[j].t0 <= 10000; j--) { n += pts[j].r * (pts[j].t - pts[j].t0); dt += pts[j].t - pts[j].t0; }
    return { t: p.t, r: dt > 0 ? n / dt : p.r };
  });
  const st = effectiveState(rec);
  const lastAvg = avg.length ? avg[avg.length - 1].r : null;
  setText($('chart-now'), lastAvg === null || st === 'completed' ? '' : `${fmtRate(lastAvg)}/s`);
  // the time axis: the batch's whole life (ending now while it runs), at least a minute
  const end = st === 'completed' && hist.length ? hist[hist.length - 1].t : now;
  const begin = Math.min(hist.length ? hist[0].t : end, end - 60000);
  setText($('chart-span'), hist.length > 1 ? `${humanDuration((end - begin) / 1000)}` : '');
  canvas.dataset.points = String(hist.length);
  canvas.dataset.serverPoints = String(server.length);
  canvas.dataset.from = hist.length ? String(hist[0].t) : '';

  const padL = 30;
  const padR = 6;
  const padT = 8;
  const padB = 18;
  const cw = w - padL - padR;
  const ch = hgt - padT - padB;
  // scale on the smoothed line (bursty bars may be clipped)
  const maxBar = Math.max(0, ...pts.map((p) => p.r));
  const maxAvg = Math.max(0, ...avg.map((p) => p.r), isNum(rec.view.rate) ? rec.view.rate : 0);
  const maxR = Math.max(1, Math.min(maxBar, maxAvg * 1.6));
  const top = niceCeil(maxR);
  const x = (t) => padL + cw * ((t - begin) / Math.max(1, end - begin));
  const y = (r) => padT + ch * (1 - r / top);

  ctx.font = font;
  ctx.textBaseline = 'middle';
  ctx.lineWidth = 1;
  for (const g of [0, top / 2, top]) {
    const yy = Math.round(y(g)) + 0.5;
    ctx.strokeStyle = col.grid;
    ctx.beginPath();
    ctx.moveTo(padL, yy);
    ctx.lineTo(w - padR, yy);
    ctx.stroke();
    ctx.fillStyle = col.text;
    ctx.textAlign = 'right';
    ctx.fillText(g % 1 ? g.toFixed(1) : String(g), padL - 6, yy);
  }
  ctx.textBaseline = 'alphabetic';
  for (const [frac, align] of [[0, 'left'], [0.5, 'center'], [1, 'right']]) {
    const t = begin + (end - begin) * frac;
    ctx.textAlign = align;
    ctx.fillStyle = col.text;
    ctx.fillText(frac === 1 && st !== 'completed' ? 'now' : timeFmt.format(new Date(t)), padL + cw * frac, hgt - 4);
  }

  if (pts.length === 0) {
    ctx.textAlign = 'center';
    ctx.fillStyle = col.text;
    ctx.fillText('collecting samples…', padL + cw / 2, padT + ch / 2);
    return;
  }
  ctx.fillStyle = col.soft;
  for (const p of pts) {
    const x0 = Math.max(padL, x(p.t0));
    const x1 = x(p.t);
    if (x1 < padL) continue;
    const yy = Math.max(padT, y(p.r));
    ctx.fillRect(x0 + 0.3, yy, Math.max(1, x1 - x0 - 0.6), padT + ch - yy);
  }
  ctx.strokeStyle = col.accent;
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  let started = false;
  for (const p of avg) {
    const xx = x(p.t);
    if (xx < padL) continue;
    if (!started) { ctx.moveTo(xx, y(p.r)); started = true; } else ctx.lineTo(xx, y(p.r));
  }
  ctx.stroke();
}

function niceCeil(v) {
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 3, 4, 5, 6, 8, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

// ---- verifications

function renderVerif() {
  const v = state.verif;
  const st = v.by_status || {};
  const total = int(v.total);
  setText($('verif-total'), total);
  const segs = $('verif-stack').children;
  ['verified', 'rejected', 'pending'].forEach((k, i) => {
    const n = int(st[k]);
    setText($(`verif-${k}`), n);
    setText($(`verif-${k}-pct`), total ? `${((n / total) * 100).toFixed(1)}%` : '');
    setWidth(segs[i], total ? (n / total) * 100 : 0);
  });

  const rows = Object.entries(v.by_country || {}).map(([code, c]) => {
    const verified = int(c.verified);
    const rejected = int(c.rejected);
    const pending = int(c.pending);
    return { code, verified, rejected, pending, total: verified + rejected + pending };
  }).sort((a, b) => b.total - a.total || (a.code < b.code ? -1 : 1));
  const top = rows.slice(0, TOP_COUNTRIES);
  const rest = rows.slice(TOP_COUNTRIES);
  if (rest.length) {
    const o = { code: null, others: rest.length, verified: 0, rejected: 0, pending: 0, total: 0 };
    for (const r of rest) { o.verified += r.verified; o.rejected += r.rejected; o.pending += r.pending; o.total += r.total; }
    top.push(o);
  }
  const max = Math.max(1, ...top.map((r) => r.total));
  const ol = $('countries');
  while (ol.children.length > top.length) ol.lastChild.remove();
  top.forEach((r, i) => {
    let li = ol.children[i];
    if (!li) {
      li = h('li', { class: 'country' },
        h('span', { class: 'country-code' }), h('span', { class: 'country-name' }),
        h('div', { class: 'bar' }, h('span', { class: 'seg ok' }), h('span', { class: 'seg bad' }), h('span', { class: 'seg warn' })),
        h('span', { class: 'country-total' }), h('span', { class: 'country-pct' }));
      ol.append(li);
    }
    li.classList.toggle('others', r.code === null);
    setAttr(li, 'data-country', r.code === null ? 'others' : r.code);
    setText(li.children[0], r.code === null ? '…' : r.code);
    setText(li.children[1], r.code === null ? `${r.others} others` : countryName(r.code));
    const s = li.children[2].children;
    setWidth(s[0], (r.verified / max) * 100);
    setWidth(s[1], (r.rejected / max) * 100);
    setWidth(s[2], (r.pending / max) * 100);
    setText(li.children[3], r.total);
    setText(li.children[4], r.total ? `${Math.round((r.verified / r.total) * 100)}%` : '');
    setAttr(li, 'title', `${r.code === null ? `${r.others} other countries` : countryName(r.code)}: ${r.verified} verified, ${r.rejected} rejected, ${r.pending} pending`);
  });
  $('countries-empty').hidden = rows.length > 0;
}

// ---- header, connection, footer

function uiStatus() {
  if (typeof navigator !== 'undefined' && navigator.onLine === false) return 'offline';
  const s = state.conn.status;
  if (s === 'live') return 'live';
  if (auth.refused) return 'unauthorized';
  if (s === 'closed') return 'offline';
  return 'reconnecting'; // connecting | reconnecting
}

function renderConn() {
  const pill = $('conn-status');
  const s = uiStatus();
  setAttr(pill, 'data-status', s);
  let text = s;
  if (s === 'reconnecting') {
    if (state.conn.status === 'connecting') text = 'connecting…';
    else if (state.conn.retryAt && state.conn.retryAt - Date.now() > 1000) text = `reconnecting in ${Math.ceil((state.conn.retryAt - Date.now()) / 1000)}s`;
    else text = 'reconnecting…';
  }
  setText(pill.querySelector('.pill-text'), text);
  setAttr(pill, 'title', s === 'unauthorized' ? `unauthorized: ${auth.refused}` : 'WebSocket connection to the gateway');
  const banner = $('banner');
  const showBanner = s === 'unauthorized' || (s !== 'live' && state.conn.wasLive);
  banner.hidden = !showBanner;
  if (s === 'unauthorized') {
    setText(banner, auth.url
      ? `Unauthorized: ${auth.refused}. The dashboard asks ${auth.url} for a new token at each attempt.`
      : `Unauthorized: ${auth.refused}. Open the dashboard with a valid token (/?token=...) or set up a token URL (docs/client.md).`);
  } else if (showBanner) {
    setText(banner, s === 'offline'
      ? 'Offline: showing the last known data. The dashboard reconnects and catches up when the network is back.'
      : 'Connection to the gateway lost: showing the last known data while reconnecting. Nothing is lost: missed events are replayed on reconnect.');
  }
}

function renderStats() {
  const box = $('gw-stats');
  if (!state.metricsEnabled || !state.metrics) { box.hidden = true; return; }
  box.hidden = false;
  const m = state.metrics.values;
  const prev = state.metricsPrev;
  for (const el of box.querySelectorAll('[data-metric]')) {
    const name = el.dataset.metric;
    const val = m[name];
    el.hidden = !isNum(val);
    if (!isNum(val)) continue;
    const dd = el.querySelector('dd');
    let rate = '';
    if (name.endsWith('_total') && prev && isNum(prev.values[name])) {
      const dt = (state.metrics.at - prev.at) / 1000;
      if (dt > 0) rate = `${fmtRate(Math.max(0, (val - prev.values[name]) / dt))}/s`;
    }
    const text = compact(val);
    if (dd.dataset.v !== text + rate) {
      dd.dataset.v = text + rate;
      dd.replaceChildren(text, ...(rate ? [h('small', null, rate)] : []));
    }
    setAttr(el, 'title', `${name} = ${val}`);
  }
  if (![...box.querySelectorAll('[data-metric]')].some((el) => !el.hidden)) box.hidden = true;
}

/** Which gateway instance the page talks to, and that instance's clients (GET /metrics). */
function renderFleet() {
  const hl = state.hello;
  setText($('fleet-instance'), hl ? (hl.instance || hl.server_id || location.host) : location.host);
  setAttr($('fleet-instance'), 'title', hl && hl.server ? `${hl.server} at ${location.host}` : location.host);
  setText($('fleet-server'), hl && hl.server ? hl.server : '');
  setText($('fleet-conn'), hl && hl.conn ? String(hl.conn).slice(0, 12) : '–');
  const m = state.metrics && state.metrics.values;
  setText($('fleet-clients'), m && isNum(m.wsgate_connections) ? compact(m.wsgate_connections) : '–');
}

function renderFooter() {
  const hl = state.hello;
  setText($('foot-server'), hl && hl.server ? hl.server : 'wsgate');
  setText($('foot-conn'), hl && hl.conn ? `conn ${String(hl.conn).slice(0, 12)}` : '');
  setText($('foot-epoch'), hl && hl.epoch ? `stream epoch ${hl.epoch}` : '');
  setText($('foot-seq'), state.lastSeq ? `last seq ${state.lastSeq}` : '');
  setText($('foot-last'), state.lastEventAt ? `last event ${ago(state.lastEventAt)}` : '');
}

// ------------------------------------------------------------------ keyboard

function onListKey(ev) {
  const ids = visibleRows(sortedBatches()).map((r) => r.rec.id);
  if (!ids.length) return;
  let i = Math.max(0, ids.indexOf(state.selected));
  if (ev.key === 'ArrowDown') i = Math.min(ids.length - 1, i + 1);
  else if (ev.key === 'ArrowUp') i = Math.max(0, i - 1);
  else if (ev.key === 'Home') i = 0;
  else if (ev.key === 'End') i = ids.length - 1;
  else return;
  ev.preventDefault();
  state.scrollTo = ids[i];
  select(ids[i], true);
  const card = cards.get(ids[i]);
  if (card) card.el.focus();
}

// ------------------------------------------------------------------ start

/** The batch named by the URL: #/batch/ID (or the older #ID), else null. */
function hashBatch() {
  const hsh = location.hash;
  let id = hsh.startsWith('#/batch/') ? hsh.slice(8) : hsh.startsWith('#/') ? '' : hsh.slice(1);
  try { id = decodeURIComponent(id); } catch { id = ''; }
  return id || null;
}

function start() {
  const hashId = hashBatch();
  if (hashId) {
    state.wanted = hashId;
    state.scrollTo = hashId;
    getBatch(hashId); // fetched at once, even if it is not on the first pages
  }
  $('batch-list').addEventListener('keydown', onListKey);
  $('batch-scroll').addEventListener('scroll', schedule, { passive: true });
  for (const b of $('batch-filter').querySelectorAll('button[data-filter]')) {
    b.addEventListener('click', () => { state.filter = b.dataset.filter; $('batch-scroll').scrollTop = 0; render(); });
  }
  $('batch-search').addEventListener('input', (ev) => { state.search = ev.target.value; $('batch-scroll').scrollTop = 0; render(); });

  auth.url = tokenUrl();
  const urlToken = takeUrlToken();
  if (!auth.url) auth.token = urlToken;
  const gate = new WsGate({ token: wsToken() });
  auth.gate = gate;
  window.wsgate = gate; // handy from the console
  let resetTimer = null;
  gate.on('status', (s) => {
    state.conn.status = s.status;
    state.conn.retryAt = s.delayMs ? Date.now() + s.delayMs : null;
    if (s.status === 'live') {
      // the REST API was unreachable while we were away: load it now
      if (state.conn.wasLive && state.apiDown) reloadAll();
      state.conn.wasLive = true;
    }
    schedule();
  });
  gate.on('hello', (hl) => { state.hello = hl; setRefused(null); schedule(); });
  gate.on('close', (e) => {
    // 4002: the token expired (wsgate.js reconnects only with a token URL).
    if (e.code === 4002 && !auth.url) setRefused('the token expired');
    // A refused upgrade looks like 1006 to a page: ask the REST API, which
    // says 401 when it is the token (requestSummary is throttled).
    else if (gate.status !== 'live') requestSummary();
  });
  gate.on('reset', (r) => {
    if (r.reason === 'epoch') {
      // sequence numbers restart in a new stream: buffered events are meaningless
      // (and the display floors go too: the stream, hence the truth, was replaced)
      // Until a new snapshot arrives, keep showing the old figures and only
      // buffer new events.
      for (const rec of state.batches.values()) {
        rec.pending = [];
        rec.base.seq = 0;
        rec.awaitSnapshot = true;
      }
      state.lastSeq = null;
    }
    state.verifForce = true;
    clearTimeout(resetTimer);
    resetTimer = setTimeout(reloadAll, 100); // several subscriptions may report it
  });
  gate.on('error', (e) => {
    // not fatal for the dashboard; visible from the console for whoever debugs
    console.warn(`wsgate: ${e.code}${e.subject ? ` on ${e.subject}` : ''}: ${e.message}`);
  });
  gate.subscribe('batch.>', onBatchEvent);
  gate.subscribe('license.>', onBatchEvent);
  gate.subscribe('verification.>', onVerifEvent);
  gate.connect();
  reloadAll();

  setInterval(() => { sampleHistory(); chartDirty = true; render(); }, 1000);
  window.addEventListener('resize', () => { chartDirty = true; schedule(); });
  setInterval(fetchAllBatches, FULL_REFRESH_MS);
  setInterval(() => { if (state.listDirty) fetchAllBatches(); }, LIST_REFRESH_MS);
  setInterval(requestSummary, LIST_REFRESH_MS); // states change with time too (stalled, expired)
  pollMetrics();
  setInterval(pollMetrics, METRICS_EVERY_MS);
  pollLatency();
  setInterval(pollLatency, METRICS_EVERY_MS);
  window.addEventListener('online', schedule);
  window.addEventListener('offline', schedule);
  window.addEventListener('hashchange', () => {
    const id = hashBatch();
    if (!id) return;
    state.wanted = id;
    state.scrollTo = id;
    if (state.batches.has(id)) select(id, false);
    else { getBatch(id); requestBatch(id); }
  });
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { chartDirty = true; schedule(); });
  render();
}

start();
