// resume.mjs: helpers for the resume, last-value, crash and REST tests
// (PROTOCOL.md `since`, `epoch`, "Delivery guarantee"): waiting on a client's
// frames by condition, resuming a subscription, checking that a sequence of
// received seqs is exactly the expected one, pacing a publisher, fences and
// running wsgate-sim.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { connect } from './client.mjs';
import { publish, publishMany } from './nats.mjs';
import { exited, onLines, track, withTimeout, delay, ms } from './util.mjs';

export const WSGATE_SIM_BIN = process.env.WSGATE_SIM_BIN || path.resolve(import.meta.dirname ?? '.', '../../build/wsgate-sim');

/** NATS subject matching: `*` one token, final `>` one or more tokens. */
export function subjectMatches(pattern, subject) {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i === p.length - 1 && s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/**
 * Resolve once cond() is truthy, re-checking on every frame the client
 * receives and on its close (no polling). Rejects on timeout, or when the
 * connection closed and cond() is still false (unless allowClosed).
 */
export async function waitFor(client, cond, { timeoutMs = ms(30000), what = 'condition', allowClosed = false } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (client.closeInfo && !allowClosed) {
      throw new Error(`${client.label}: connection closed (${client.closeInfo.code} ${client.closeInfo.reason}) while waiting for ${what}`);
    }
    if (client.closeInfo) return v;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${client.label}: timeout after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, left);
      client.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** The msg frames a client received so far (history, not queue), optionally only those matching `pattern`. */
export function msgsOf(client, pattern) {
  return client.history.filter((f) => f.op === 'msg' && (pattern === undefined || subjectMatches(pattern, f.subject)));
}

/**
 * Subscribe with `since` (and `epoch` when given) and take the ok plus the
 * ok.replayed msg frames that follow it. Resolves {ok, replay}.
 */
export async function resumeSub(client, subject, since, epoch, { timeoutMs = ms(30000) } = {}) {
  const extra = { since };
  if (epoch !== undefined) extra.epoch = epoch;
  const ok = await client.sub(subject, extra);
  if (!Number.isInteger(ok.replayed)) throw new Error(`${client.label}: ok without replayed: ${JSON.stringify(ok)}`);
  const replay = ok.replayed
    ? await client.collect((f) => f.op === 'msg' && subjectMatches(subject, f.subject), ok.replayed, timeoutMs, `replay of ${subject} since ${since}`)
    : [];
  return { ok, replay };
}

/**
 * Compare the received seqs with the expected ones, exactly: same length,
 * same values, same order. Resolves null when equal, else a description of
 * the first problems (gap, duplicate, reordering) for an assertion message.
 */
export function sequenceProblems(got, expected) {
  const problems = [];
  const seen = new Map();
  for (let i = 0; i < got.length; i++) {
    if (seen.has(got[i])) problems.push(`duplicate seq ${got[i]} at positions ${seen.get(got[i])} and ${i}`);
    else seen.set(got[i], i);
    if (i > 0 && got[i] <= got[i - 1] && problems.length < 20) problems.push(`out of order at ${i}: ${got[i - 1]} then ${got[i]}`);
  }
  const exp = new Set(expected);
  const missing = expected.filter((s) => !seen.has(s));
  if (missing.length) problems.push(`missing ${missing.length} seq(s): ${missing.slice(0, 20).join(',')}${missing.length > 20 ? ',…' : ''}`);
  const extra = got.filter((s) => !exp.has(s));
  if (extra.length) problems.push(`${extra.length} unexpected seq(s): ${extra.slice(0, 20).join(',')}${extra.length > 20 ? ',…' : ''}`);
  if (!problems.length && (got.length !== expected.length || got.some((s, i) => s !== expected[i]))) {
    problems.push(`sequences differ (got ${got.length}, expected ${expected.length})`);
  }
  return problems.length ? `${problems.slice(0, 25).join('; ')} [got ${got.length} msgs, expected ${expected.length}]` : null;
}

/**
 * Publish `events` ([{subject, data}]) in order, `chunk` at a time with a
 * pause of `pauseMs` between chunks (pacing, so that the publishing overlaps
 * what the test does meanwhile). onProgress(publishedSoFar, seqs) after each
 * chunk. Resolves the stream seqs, index for index.
 */
export async function pacedPublish(js, events, { chunk = 10, pauseMs = 5, onProgress = () => {} } = {}) {
  const seqs = [];
  for (let i = 0; i < events.length; i += chunk) {
    const part = await publishMany(js, events.slice(i, i + chunk), { window: chunk });
    seqs.push(...part);
    await onProgress(seqs.length, seqs);
    if (pauseMs && i + chunk < events.length) await delay(pauseMs);
  }
  for (let i = 1; i < seqs.length; i++) {
    if (!(seqs[i] > seqs[i - 1])) throw new Error(`pacedPublish: stream order broken at ${i}: ${seqs[i - 1]} then ${seqs[i]}`);
  }
  return seqs;
}

let fenceN = 0;
/**
 * A fence: subscribe `client` to a fresh subject under `prefix` (a subject
 * of the stream that batch state ignores), publish one event there and
 * wait for its msg. The gateway consumes the stream in order, so every event
 * published before the fence has been processed by then. Resolves the
 * fence's seq. The fence msg is taken from the queue.
 */
export async function fence(client, js, prefix = 'batch.fence.') {
  // four tokens: batch.<id>.<x> with an x EVENTS.md lacks would be refused
  // (unknown_event) and logged as a bad event
  const subject = `${prefix}${process.pid}x${++fenceN}.done`;
  await client.sub(subject);
  const seq = await publish(js, subject, { fence: fenceN });
  const m = await client.nextMsg(subject);
  if (m.seq !== seq) throw new Error(`fence: got seq ${m.seq}, published ${seq}`);
  await client.unsub(subject);
  return seq;
}

/** A fence through a fresh connection to the gateway at wsUrl (closed after). */
export async function gatewayFence(wsUrl, js) {
  const c = await connect(wsUrl, { label: 'fence' });
  try {
    return await fence(c, js);
  } finally {
    await c.close();
  }
}

/** The last sequence of stream `name` (0 when empty). */
export async function streamLastSeq(jsm, name) {
  const info = await jsm.streams.info(name);
  return info.state.last_seq;
}

/** A small seeded PRNG (mulberry32): reproducible random choices in tests. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Run wsgate-sim to completion with `args`; resolves {code, signal, output}.
 * Rejects after timeoutMs (and kills it).
 */
export async function runSim(args, { timeoutMs = ms(60000) } = {}) {
  const proc = track(spawn(WSGATE_SIM_BIN, args, { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const lines = [];
  onLines(proc.stdout, (l) => lines.push(l));
  onLines(proc.stderr, (l) => lines.push(`[stderr] ${l}`));
  const spawnError = new Promise((_, reject) => proc.once('error', (e) => reject(new Error(`cannot run WSGATE_SIM_BIN=${WSGATE_SIM_BIN}: ${e.message}`))));
  try {
    const { code, signal } = await withTimeout(Promise.race([exited(proc), spawnError]), timeoutMs, `wsgate-sim ${args.join(' ')} to exit`);
    return { code, signal, output: lines.join('\n') };
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}\n${lines.slice(-20).join('\n')}`);
  }
}

/**
 * Follow `pattern` from `since` on the gateway at wsUrl until the msg with
 * seq `finalSeq` has arrived, reconnecting with since = the last seq seen
 * whenever the gateway closes the connection with 4001 (what PROTOCOL.md
 * tells a client to do). Resolves {seqs, conns, closes, oks}: every msg seq
 * received, over all connections, in arrival order.
 */
export async function followUntil(wsUrl, pattern, since, epoch, finalSeq, { label = 'follower', maxConns = 50, timeoutMs = ms(60000) } = {}) {
  const seqs = [];
  const closes = [];
  const oks = [];
  let conns = 0;
  let last = since;
  while (last < finalSeq) {
    if (conns >= maxConns) throw new Error(`${label}: still at seq ${last} < ${finalSeq} after ${conns} connections (closes: ${closes.join(',')})`);
    const c = await connect(wsUrl, { label: `${label}/conn${conns}` });
    conns++;
    try {
      const ok = await c.sub(pattern, { since: last, epoch });
      oks.push(ok);
      await waitFor(c, () => (msgsOf(c).at(-1)?.seq ?? last) >= finalSeq, { timeoutMs, what: `seq ${finalSeq}`, allowClosed: true });
      const got = msgsOf(c).map((f) => f.seq);
      // ok.replayed frames with seq <= ok.seq come first (when all arrived)
      const nReplay = got.filter((s) => s <= ok.seq).length;
      if (got.some((s) => s > ok.seq) && nReplay !== ok.replayed) {
        throw new Error(`${c.label}: ${nReplay} msgs with seq <= ok.seq before live ones, ok ${JSON.stringify(ok)}`);
      }
      seqs.push(...got);
      if (got.length) last = got.at(-1);
      if (c.closeInfo) {
        if (c.closeInfo.code !== 4001) throw new Error(`${c.label}: closed with ${c.closeInfo.code} ${c.closeInfo.reason}`);
        closes.push(c.closeInfo.code);
      }
    } finally {
      await c.close();
    }
  }
  return { seqs, conns, closes, oks };
}
