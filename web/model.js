// model.js: the dashboard's state arithmetic, free of the DOM (unit-tested in node:
// tests/unit-js): batch records built from REST snapshots and the events after
// them, the figures a card shows (never going down while running), the
// effective state (stalled when silent), Prometheus text, number formats.

/** A running batch that shows no progress for this long is shown stalled. */
export const STALL_AFTER_MS = 60000;

export const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
export const int = (v) => (isNum(v) ? Math.max(0, Math.round(v)) : 0);

/** 3m 25s, 1h 02m, 42s, 2d 3h */
export function humanDuration(s) {
  if (!isNum(s) || s < 0) return '–';
  if (s < 1) return '<1s';
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}


export const parseTime = (s) => {
  const t = typeof s === 'string' ? Date.parse(s) : NaN;
  return Number.isFinite(t) ? t : null;
};

export function fmtRate(r) {
  if (!isNum(r)) return '–';
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

export function compact(n) {
  if (!isNum(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e5) return `${(n / 1e3).toFixed(0)}k`;
  return String(Math.round(n));
}

export const pct1 = (x) => Math.round(x * 10) / 10;


export function skeleton(id) {
  return {
    id, kind: null, state: 'running', total: null, done: 0, failed: 0, processed: 0, percent: null,
    workers: null, started_at: null, updated_at: null, completed_at: null, cancelled_at: null, cancel_reason: null, duration_ms: null,
    rate: null, eta_s: null, seq: 0, per_worker: [], failures: [],
  };
}


/** Normalise a REST batch object. */
export function normBatch(o) {
  const b = { ...skeleton(o.id), ...o };
  b.done = int(b.done);
  b.failed = int(b.failed);
  b.processed = b.done + b.failed;
  b.per_worker = Array.isArray(b.per_worker) ? b.per_worker.map((w) => ({ worker: int(w.worker), done: int(w.done), failed: int(w.failed) })) : [];
  b.failures = Array.isArray(b.failures) ? b.failures.slice() : [];
  b.seq = isNum(b.seq) ? b.seq : 0;
  return b;
}

export function workerSlot(view, w) {
  let slot = view.per_worker.find((x) => x.worker === w);
  if (!slot) {
    slot = { worker: w, done: 0, failed: 0 };
    view.per_worker.push(slot);
  }
  return slot;
}

/** Apply one event to a batch view (mutates view). */
export function applyEvent(rec, view, ev) {
  const [family, , what] = ev.subject.split('.');
  const d = ev.data && typeof ev.data === 'object' ? ev.data : {};
  if (family === 'batch') {
    if (isNum(d.total)) view.total = d.total;
    if (what === 'started') {
      if (isNum(d.workers)) view.workers = d.workers;
      if (d.kind) view.kind = d.kind;
      if (d.ts) view.started_at = d.ts;
      if (!ended(view)) view.state = 'running';
    } else if (what === 'progress') {
      view.done = Math.max(view.done, int(d.done));
      view.failed = Math.max(view.failed, int(d.failed));
    } else if (what === 'completed' && view.state !== 'cancelled') {
      if (isNum(d.done)) view.done = int(d.done);
      if (isNum(d.failed)) view.failed = int(d.failed);
      view.state = 'completed';
      view.completed_at = d.ts || view.completed_at;
      if (isNum(d.duration_ms)) view.duration_ms = d.duration_ms;
      view.eta_s = null;
      view.rate = 0;
    } else if (what === 'cancelled' && !ended(view)) { // terminal; the first end wins (EVENTS.md)
      view.state = 'cancelled';
      view.cancelled_at = d.ts || view.cancelled_at;
      view.cancel_reason = typeof d.reason === 'string' ? d.reason : null;
      view.eta_s = null;
      view.rate = 0;
    }
  } else if (family === 'license') {
    const failed = what === 'failed';
    if (isNum(d.worker)) {
      const slot = workerSlot(view, int(d.worker));
      if (failed) slot.failed++;
      else slot.done++;
    }
    if (!rec.hasProgress && view.state !== 'completed') {
      if (failed) view.failed++;
      else view.done++;
    }
    if (failed) {
      view.failures.unshift({ license_id: d.license_id, hcp_id: d.hcp_id, worker: d.worker, error: d.error, ts: d.ts, seq: ev.seq });
      if (view.failures.length > 50) view.failures.length = 50;
    }
  }
  if (view.state === 'stalled' && what !== 'completed') view.state = 'running'; // it moves again
  if (d.ts) view.updated_at = d.ts;
  view.processed = view.done + view.failed;
  view.seq = Math.max(view.seq || 0, ev.seq);
}

/** Completed or cancelled: the batch will not move on. */
export function ended(v) {
  return v.state === 'completed' || v.state === 'cancelled';
}

export function recompute(rec) {
  const view = structuredClone(rec.base);
  for (const ev of rec.pending) applyEvent(rec, view, ev);
  rec.view = view;
  noteProgress(rec);
}

/** Update display floors and the last-change time after view changed. */
export function noteProgress(rec) {
  const v = rec.view;
  const before = rec.shown.done + rec.shown.failed;
  if (v.state === 'completed') {
    rec.shown = { done: v.done, failed: v.failed }; // the final, exact figures
  } else {
    rec.shown = { done: Math.max(rec.shown.done, v.done), failed: Math.max(rec.shown.failed, v.failed) };
    if (isNum(v.total)) {
      // never show more than the total while running (a publisher that sends
      // both progress and per-license events could briefly overcount)
      const over = rec.shown.done + rec.shown.failed - v.total;
      if (over > 0) rec.shown.done = Math.max(0, rec.shown.done - over);
    }
  }
  if (rec.shown.done + rec.shown.failed > before) rec.lastChange = Date.now();
}


export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    out[m[1]] = (out[m[1]] || 0) + v; // sum over label sets
  }
  return out;
}


export function effectiveState(rec) {
  const v = rec.view;
  if (v.state === 'completed') return 'completed';
  if (v.state === 'cancelled') return 'cancelled';
  if (v.state === 'stalled') return 'stalled';
  if (isNum(v.total) && v.total > 0 && rec.shown.done + rec.shown.failed >= v.total) return 'running';
  return Date.now() - rec.lastChange > STALL_AFTER_MS ? 'stalled' : 'running';
}

export function batchNumbers(rec) {
  const v = rec.view;
  const processed = rec.shown.done + rec.shown.failed;
  const total = isNum(v.total) ? v.total : null;
  const st = effectiveState(rec);
  let percent = total ? (processed / total) * 100 : (st === 'completed' ? 100 : 0);
  percent = Math.min(100, pct1(percent));
  let rate = isNum(v.rate) ? v.rate : null;
  if (st !== 'running') rate = 0; // a stalled batch is not moving, whatever the last window said
  let eta = null;
  if (st === 'running') {
    if (isNum(v.eta_s)) eta = Math.max(0, v.eta_s - (Date.now() - rec.fetchedAt) / 1000);
    else if (total && rate > 0) eta = (total - processed) / rate;
  }
  return { processed, done: rec.shown.done, failed: rec.shown.failed, total, percent, rate, eta, state: st };
}

