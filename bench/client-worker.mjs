// client-worker.mjs: a child process holding many WebSocket client
// connections, driven by the parent over IPC (see pool.mjs). Two kinds:
//   wsgate  the wsgate protocol (PROTOCOL.md): ready on `hello`, `sub` -> `ok`
//   nats    raw NATS text protocol over nats-server's WebSocket listener:
//           CONNECT + PING -> PONG is ready, SUB + PING -> PONG is subscribed
// For a fan-out run it counts deliveries per connection, checks order per
// subject, and records latency (publish stamp in the payload vs receipt).
// With `deflate` at connect, every connection offers permessage-deflate; with
// `verify` at expect, every delivered payload and subject is compared byte for
// byte with the license event rebuilt from its index and `base` (stats.licenseEvent), and
// the bytes read from the sockets are counted from the expect on.
import WebSocket from 'ws';
import { nowUs, newHist, histAdd, scanPayload, isMsgFrame, licenseEvent, licenseSubject } from './stats.mjs';

const WS_OPTS = {
  perMessageDeflate: false,
  skipUTF8Validation: true,
  handshakeTimeout: 30000,
  maxPayload: 64 * 1024 * 1024,
};

const conns = [];
let seqId = 0;

/** Fan-out bookkeeping, reset by `expect`. */
const run = {
  expect: 0,
  nsubj: 1,
  hist: newHist(),
  received: 0,
  doneConns: 0,
  firstUs: 0,
  lastUs: 0,
  outOfOrder: 0,
  duplicates: 0,
  unparsed: 0,
  completeSent: false,
  verify: false,
  base: 0,
  corrupt: 0,
  appBytes: 0,
};

/** Expected payload and subject per message index of the current run (verify). */
const expected = new Map();

/** Unexpected closes: code -> count; errors: first few messages. */
const closes = {};
const errors = [];
let errorCount = 0;
function noteError(msg) {
  errorCount++;
  if (errors.length < 5) errors.push(msg);
}

const tmp = { i: 0, t: 0 };

/** Whether payload and subject are exactly license event tmp.i (stamped tmp.t) and its subject. */
function intact(payload, subject) {
  let e = expected.get(tmp.i);
  if (!e || e.t !== tmp.t) {
    e = { t: tmp.t, payload: Buffer.from(licenseEvent(tmp.i, run.nsubj, tmp.t, run.base)), subject: Buffer.from(licenseSubject(tmp.i, run.nsubj)) };
    expected.set(tmp.i, e);
  }
  return payload.equals(e.payload) && subject !== null && subject.equals(e.subject);
}

/** One delivered benchmark message in buf (payload at or after `from`; with verify, buf is the payload alone). */
function deliver(c, buf, from, subject = null) {
  if (!scanPayload(buf, from, tmp)) {
    run.unparsed++;
    return;
  }
  if (run.verify && !intact(buf, subject)) {
    if (run.corrupt++ < 3) noteError(`not intact: subject ${subject} payload ${buf.toString('utf8', 0, 160)}`);
  }
  const now = nowUs();
  if (run.firstUs === 0) run.firstUs = now;
  run.lastUs = now;
  histAdd(run.hist, now - tmp.t);
  if (c.lastI) {
    const s = tmp.i % run.nsubj;
    if (tmp.i === c.lastI[s]) run.duplicates++;
    else if (tmp.i < c.lastI[s]) run.outOfOrder++;
    c.lastI[s] = tmp.i;
  }
  run.received++;
  if (++c.count === run.expect) {
    run.doneConns++;
    if (run.doneConns === conns.length && !run.completeSent) {
      run.completeSent = true;
      process.send({ ev: 'complete', stats: stats() });
    }
  }
}

// ---- wsgate protocol ----

const SUBJECT_KEY = Buffer.from('"subject":"');
const DATA_KEY = Buffer.from(',"data":');

/** A msg frame's payload and subject: {"op":"msg","subject":"S","seq":N,"data":PAYLOAD} (PROTOCOL.md). */
function deliverFrame(c, buf) {
  const s = buf.indexOf(SUBJECT_KEY);
  const d = buf.indexOf(DATA_KEY);
  if (s < 0 || d < 0 || buf[buf.length - 1] !== 125) return deliver(c, buf, 0); // counted as not intact
  const s0 = s + SUBJECT_KEY.length;
  return deliver(c, buf.subarray(d + DATA_KEY.length, buf.length - 1), 0, buf.subarray(s0, buf.indexOf(34, s0)));
}

function onGatewayFrame(c, buf) {
  run.appBytes += buf.length;
  if (isMsgFrame(buf)) return run.verify ? deliverFrame(c, buf) : deliver(c, buf, 0);
  let f;
  try {
    f = JSON.parse(buf.toString('utf8'));
  } catch {
    return noteError(`not JSON: ${buf.toString('utf8', 0, 80)}`);
  }
  if (f.op === 'msg') return deliver(c, buf, 0);
  if (f.op === 'hello' || f.op === 'ok' || f.op === 'err') {
    if (f.op === 'err') noteError(`err ${f.code}: ${f.message}`);
    const w = c.waiters.shift();
    if (w) w(f.op === 'err' ? new Error(`${f.code}: ${f.message}`) : null);
  }
}

// ---- NATS protocol over WebSocket ----
// Server frames are a byte stream: a frame may hold several protocol
// messages or part of one, so unparsed bytes carry over to the next frame.

function onNatsData(c, buf) {
  run.appBytes += buf.length;
  if (c.rest) {
    buf = Buffer.concat([c.rest, buf]);
    c.rest = null;
  }
  let p = 0;
  const n = buf.length;
  while (p < n) {
    const nl = buf.indexOf(10, p);
    if (nl < 0) break;
    const c0 = buf[p];
    if (c0 === 77 || c0 === 109) {
      // MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n
      let q = nl - 1;
      if (buf[q] === 13) q--;
      let size = 0;
      let mul = 1;
      while (q > p && buf[q] >= 48 && buf[q] <= 57) {
        size += (buf[q] - 48) * mul;
        mul *= 10;
        q--;
      }
      const start = nl + 1;
      const end = start + size;
      if (end + 2 > n) break; // the rest of this message is in a later frame
      if (run.verify) {
        const s0 = p + 4; // after "MSG "
        deliver(c, buf.subarray(start, end), 0, buf.subarray(s0, buf.indexOf(32, s0)));
      } else {
        deliver(c, buf.subarray(start, end), 0);
      }
      p = end + 2;
      continue;
    }
    if (c0 === 80 || c0 === 112) {
      if (buf[p + 1] === 73 || buf[p + 1] === 105) {
        c.ws.send('PONG\r\n'); // PING from the server
      } else {
        const w = c.waiters.shift(); // PONG: answers our PING
        if (w) w(null);
      }
    } else if (c0 === 45) {
      const line = buf.toString('utf8', p, nl).trim();
      noteError(line);
      const w = c.waiters.shift();
      if (w) w(new Error(line));
    }
    p = nl + 1; // INFO, +OK, PING, PONG, -ERR
  }
  if (p < n) c.rest = buf.subarray(p);
}

// ---- connections ----

/**
 * The ws client's permessage-deflate option: false (no offer), or an offer with
 * client context takeover and, when windowBits is set, server_max_window_bits.
 */
function deflateOption(deflate, windowBits) {
  if (!deflate) return false;
  return windowBits ? { serverMaxWindowBits: windowBits } : true;
}

/** Bytes read from a connection's socket so far (frame headers included; the handshake too). */
const socketBytes = (c) => c.ws._socket?.bytesRead ?? c.bytesLast;

/** Open one connection; resolves it once ready (hello / PONG), rejects on failure. */
function open(kind, url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...WS_OPTS, perMessageDeflate: deflateOption(opts.deflate, opts.windowBits) });
    const c = { ws, kind, count: 0, lastI: null, waiters: [], rest: null, closing: false, id: ++seqId, bytes0: 0, bytesLast: 0 };
    let settled = false;
    const fail = (e) => {
      if (settled) return;
      settled = true;
      try {
        ws.terminate();
      } catch {
        /* ignore */
      }
      reject(e);
    };
    c.waiters.push((err) => {
      if (settled) return;
      if (err) return fail(err);
      settled = true;
      resolve(c);
    });
    if (kind === 'wsgate') {
      ws.on('message', (data) => onGatewayFrame(c, data));
    } else {
      ws.on('message', (data) => onNatsData(c, data));
      ws.once('open', () => {
        ws.send('CONNECT {"verbose":false,"protocol":1}\r\n');
        ws.send('PING\r\n');
      });
    }
    ws.on('error', (e) => fail(e));
    ws.once('upgrade', (res) => (c.extHeader = res.headers['sec-websocket-extensions'] || ''));
    ws.on('unexpected-response', (req, res) => fail(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    ws.on('close', (code) => {
      c.bytesLast = ws._socket?.bytesRead ?? c.bytesLast;
      if (!settled) return fail(new Error(`closed ${code} before ready`));
      if (!c.closing) closes[code] = (closes[code] || 0) + 1;
      for (const w of c.waiters.splice(0)) w(new Error(`closed ${code}`));
    });
  });
}

/** Run fn over items with at most `limit` in flight; resolves {ok, failed}. */
async function pool(items, limit, fn) {
  let next = 0;
  let ok = 0;
  let failed = 0;
  async function lane() {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
        ok++;
      } catch (e) {
        failed++;
        noteError(e.message);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return { ok, failed };
}

/** Subscribe one connection and wait for the answer. */
function subscribe(c, subject) {
  return new Promise((resolve, reject) => {
    c.waiters.push((err) => (err ? reject(err) : resolve()));
    if (c.kind === 'wsgate') c.ws.send(JSON.stringify({ op: 'sub', id: 's', subject }));
    else c.ws.send(`SUB ${subject} 1\r\nPING\r\n`);
  });
}

function stats() {
  const counts = conns.map((c) => c.count);
  let wireBytes = 0;
  const extensions = {};
  for (const c of conns) {
    c.bytesLast = socketBytes(c);
    wireBytes += c.bytesLast - c.bytes0;
    const e = c.extHeader || '(none)';
    extensions[e] = (extensions[e] || 0) + 1;
  }
  return {
    conns: conns.length,
    open: conns.filter((c) => c.ws.readyState === WebSocket.OPEN).length,
    received: run.received,
    doneConns: run.doneConns,
    minCount: counts.length ? Math.min(...counts) : 0,
    maxCount: counts.length ? Math.max(...counts) : 0,
    firstUs: run.firstUs,
    lastUs: run.lastUs,
    outOfOrder: run.outOfOrder,
    duplicates: run.duplicates,
    unparsed: run.unparsed,
    corrupt: run.corrupt,
    wireBytes,
    appBytes: run.appBytes,
    extensions,
    hist: run.hist,
    closes,
    errorCount,
    errors,
  };
}

const handlers = {
  async connect({ kind, url, n, concurrency, deflate = false, windowBits = 0 }) {
    const t0 = Date.now();
    const r = await pool(Array.from({ length: n }), concurrency, async () => {
      conns.push(await open(kind, url, { deflate, windowBits }));
    });
    return { ...r, ms: Date.now() - t0, errors };
  },
  async sub({ subject, concurrency }) {
    const t0 = Date.now();
    const r = await pool(conns, concurrency, (c) => subscribe(c, subject));
    return { ...r, ms: Date.now() - t0, errors };
  },
  async expect({ msgs, nsubj, verify = false, base = 0 }) {
    Object.assign(run, { expect: msgs, nsubj, hist: newHist(), received: 0, doneConns: 0, firstUs: 0, lastUs: 0 });
    Object.assign(run, { outOfOrder: 0, duplicates: 0, unparsed: 0, completeSent: false, verify, base, corrupt: 0, appBytes: 0 });
    expected.clear();
    for (const c of conns) {
      c.count = 0;
      c.lastI = new Int32Array(nsubj).fill(-1);
      c.bytes0 = c.bytesLast = socketBytes(c);
    }
    return {};
  },
  async stats() {
    return stats();
  },
  async close() {
    const all = conns.splice(0);
    await Promise.all(
      all.map(
        (c) =>
          new Promise((resolve) => {
            c.closing = true;
            if (c.ws.readyState === WebSocket.CLOSED) return resolve();
            const t = setTimeout(() => {
              c.ws.terminate();
              resolve();
            }, 5000);
            c.ws.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            c.ws.close(1000);
          }),
      ),
    );
    return {};
  },
};

process.on('message', async (m) => {
  try {
    const result = await handlers[m.cmd](m);
    process.send({ id: m.id, result });
  } catch (e) {
    process.send({ id: m.id, error: e.stack || String(e) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ev: 'started' });
