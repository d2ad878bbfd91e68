// pool.mjs: the parent's handle on the client worker processes
// (client-worker.mjs). N connections are spread evenly over as few workers
// as the open-file limit allows; every call fans out to all workers and
// merges their answers.
import { fork } from 'node:child_process';
import path from 'node:path';
import { track, stopProc, cpuSeconds } from './servers.mjs';
import { newHist, histMerge } from './stats.mjs';

const WORKER = path.join(import.meta.dirname, 'client-worker.mjs');

class Worker {
  constructor() {
    this.proc = track(fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    this.pending = new Map();
    this.nextId = 0;
    this.onComplete = null;
    this.started = new Promise((resolve, reject) => {
      this.proc.once('error', reject);
      this.proc.once('exit', (code, signal) => {
        const err = new Error(`client worker exited (code ${code}, signal ${signal})`);
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.proc.on('message', (m) => {
        if (m.ev === 'started') return resolve();
        if (m.ev === 'complete') return this.onComplete && this.onComplete(m.stats);
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error) p.reject(new Error(m.error));
        else p.resolve(m.result);
      });
    });
  }

  call(cmd, args = {}) {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send({ ...args, cmd, id });
    });
  }
}

/** Merge the stats of several workers into one. */
function mergeStats(list) {
  const out = {
    conns: 0,
    open: 0,
    received: 0,
    doneConns: 0,
    minCount: Infinity,
    maxCount: 0,
    firstUs: Infinity,
    lastUs: 0,
    outOfOrder: 0,
    duplicates: 0,
    unparsed: 0,
    corrupt: 0,
    wireBytes: 0,
    appBytes: 0,
    extensions: {},
    hist: newHist(),
    closes: {},
    errorCount: 0,
    errors: [],
  };
  for (const s of list) {
    for (const k of ['conns', 'open', 'received', 'doneConns', 'outOfOrder', 'duplicates', 'unparsed', 'corrupt', 'wireBytes', 'appBytes', 'errorCount']) out[k] += s[k];
    out.minCount = Math.min(out.minCount, s.minCount);
    out.maxCount = Math.max(out.maxCount, s.maxCount);
    if (s.firstUs) out.firstUs = Math.min(out.firstUs, s.firstUs);
    out.lastUs = Math.max(out.lastUs, s.lastUs);
    histMerge(out.hist, s.hist);
    for (const [code, n] of Object.entries(s.closes)) out.closes[code] = (out.closes[code] || 0) + n;
    for (const [e, n] of Object.entries(s.extensions)) out.extensions[e] = (out.extensions[e] || 0) + n;
    out.errors.push(...s.errors.slice(0, 5 - out.errors.length));
  }
  if (!Number.isFinite(out.minCount)) out.minCount = 0;
  if (!Number.isFinite(out.firstUs)) out.firstUs = 0;
  return out;
}

export class ClientPool {
  /** Start `procs` worker processes (or as few as hold n connections, perProc each). */
  static async start(n, { perProc = 18000, procs = 0 } = {}) {
    const count = Math.max(1, Math.min(n, procs || Math.ceil(n / perProc))); // every worker gets a connection
    const p = new ClientPool();
    p.workers = Array.from({ length: count }, () => new Worker());
    await Promise.all(p.workers.map((w) => w.started));
    return p;
  }

  get pids() {
    return this.workers.map((w) => w.proc.pid);
  }

  /** CPU seconds used so far by all workers. */
  cpuSeconds() {
    return this.pids.reduce((a, pid) => a + cpuSeconds(pid), 0);
  }

  /**
   * Open n connections of `kind` to url, split over the workers. Resolves {ok, failed, ms, errors}.
   * `deflate`: offer permessage-deflate (`windowBits`: also request server_max_window_bits).
   */
  async connect(kind, url, n, { concurrency = 200, deflate = false, windowBits = 0 } = {}) {
    const k = this.workers.length;
    const per = this.workers.map((_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
    const conc = Math.max(1, Math.ceil(concurrency / k));
    const rs = await Promise.all(this.workers.map((w, i) => w.call('connect', { kind, url, n: per[i], concurrency: conc, deflate, windowBits })));
    return {
      ok: rs.reduce((a, r) => a + r.ok, 0),
      failed: rs.reduce((a, r) => a + r.failed, 0),
      ms: Math.max(...rs.map((r) => r.ms)),
      errors: rs.flatMap((r) => r.errors).slice(0, 5),
    };
  }

  /** Subscribe every connection to subject and wait for every answer. */
  async sub(subject, { concurrency = 500 } = {}) {
    const conc = Math.max(1, Math.ceil(concurrency / this.workers.length));
    const rs = await Promise.all(this.workers.map((w) => w.call('sub', { subject, concurrency: conc })));
    return {
      ok: rs.reduce((a, r) => a + r.ok, 0),
      failed: rs.reduce((a, r) => a + r.failed, 0),
      ms: Math.max(...rs.map((r) => r.ms)),
      errors: rs.flatMap((r) => r.errors).slice(0, 5),
    };
  }

  /**
   * Arm every worker to count `msgs` messages per connection; resolves a
   * promise `done` that settles (merged stats) once every connection has them.
   * `verify`: compare every payload with licenseEvent(i, nsubj, t, base) and count socket bytes from now on.
   */
  async expect(msgs, nsubj, { verify = false, base = 0 } = {}) {
    let left = this.workers.length;
    const parts = [];
    const done = new Promise((resolve) => {
      for (const w of this.workers) {
        w.onComplete = (s) => {
          parts.push(s);
          if (--left === 0) resolve(mergeStats(parts));
        };
      }
    });
    await Promise.all(this.workers.map((w) => w.call('expect', { msgs, nsubj, verify, base })));
    return { done };
  }

  async stats() {
    return mergeStats(await Promise.all(this.workers.map((w) => w.call('stats'))));
  }

  /** Close every connection (close frame, 5 s grace) and stop the workers. */
  async close() {
    await Promise.allSettled(this.workers.map((w) => w.call('close')));
    await Promise.all(this.workers.map((w) => stopProc(w.proc, 3000)));
  }
}
