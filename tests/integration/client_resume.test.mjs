// client_resume.test.mjs: web/wsgate.js under Node (docs/client.md "Resume
// state across restarts", "subscribe() is also a promise"), against a real
// gateway and nats-server:
//  1. a client subscribes, receives events, exports resumeState() (JSON),
//     closes; more events are published; a new client object given that
//     state gets exactly the missed ones, in order, then live ones: no
//     duplicate, no gap, no reset; per pattern (two patterns, at different
//     points);
//  2. subscribe(pattern, fn, {since, epoch}) and importResumeState() before
//     connect() start from that point: exactly the events after it;
//  3. a state from another stream epoch: reset (reason epoch) and a plain,
//     live subscription (the foreign seqs are not used as a floor);
//  4. the promise: resolves with the ok; rejects with WsGateError forbidden
//     (gateway with --jwt-secret), and immediately for a later handler of the
//     failed pattern; rejects `unsubscribed` when unsubscribed before ok; a
//     refusal nobody awaits is not an unhandled rejection.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { test, before, after, publishMany, pollUntil, withTimeout, delay, ms } from '../lib/harness.mjs';
import { mint } from '../lib/jwt.mjs';
import { startGatewayPair } from '../lib/pair.mjs';
import { gatewayFence } from '../lib/resume.mjs';
import { WsGate, WsGateError } from '../../web/wsgate.js';

let nats;
let gw;
let gwAuth;
let pub;
let dir;
let secret;

let pair;

before(async () => {
  pair = await startGatewayPair('client-resume');
  ({ dir, secret, nats, gw, gwAuth, pub } = pair);
});

after(async () => {
  await pair?.stop();
});

/** A client on `gw` whose every received message and event is recorded. */
function client(t, opts = {}) {
  const gate = new WsGate({ url: gw.wsUrl, WebSocket, ...opts });
  const rec = { gate, resets: [], errors: [], got: new Map() };
  gate.on('reset', (r) => rec.resets.push(r));
  gate.on('error', (e) => rec.errors.push(e));
  rec.sub = (pattern, subOpts) => {
    rec.got.set(pattern, []);
    return gate.subscribe(pattern, (m) => rec.got.get(pattern).push(m.seq), subOpts);
  };
  rec.seqs = (pattern) => rec.got.get(pattern);
  t.after(() => gate.close());
  return rec;
}

/** Wait until `pattern` has received at least n messages. */
const received = (rec, pattern, n, what) =>
  pollUntil(() => rec.seqs(pattern).length >= n, { timeoutMs: ms(15000), intervalMs: 20, message: `${what}: ${n} msgs on ${pattern} (have ${JSON.stringify(rec.seqs(pattern))})` });

/** A ping round trip: whatever the gateway queued before it has been received. */
const settle = async (rec) => {
  await rec.gate.ping();
  await delay(100);
};

/** Events alternating between license.<tag>.assigned, batch.<tag>.started and an unrelated subject. */
function events(tag, n) {
  const subjects = [`license.${tag}.assigned`, `batch.${tag}.started`, `license.${tag}x.failed`]; // not batch.*.progress: a last-value subject is conflated
  return Array.from({ length: n }, (_, i) => ({ subject: subjects[i % 3], data: { batch_id: tag, i } }));
}
const seqsOf = (evs, seqs, prefix) => seqs.filter((_, i) => evs[i].subject.startsWith(prefix));

test('resumeState across client objects: exactly the missed events per pattern, then live; no duplicate, no reset', async (t) => {
  const tag = 'rs1';
  const L = `license.${tag}.>`;
  const B = `batch.${tag}.*`;
  const a = client(t);
  a.gate.connect();
  const [okL, okB] = await Promise.all([a.sub(L), a.sub(B)]);
  assert.equal(okL.subject, L);
  assert.equal(okB.subject, B);
  const ev1 = events(tag, 9);
  const s1 = await publishMany(pub.js, ev1);
  await received(a, L, 3, 'first client');
  await received(a, B, 3, 'first client');
  await settle(a);
  assert.deepEqual(a.seqs(L), seqsOf(ev1, s1, `license.${tag}.`));
  assert.deepEqual(a.seqs(B), seqsOf(ev1, s1, `batch.${tag}.`));
  const saved = JSON.stringify(a.gate.resumeState()); // what a service writes to disk
  const state = JSON.parse(saved);
  assert.deepEqual(state, { version: 1, epoch: a.gate.epoch, subs: { [L]: a.seqs(L).at(-1), [B]: a.seqs(B).at(-1) } });
  a.gate.close();

  // while no client runs: more events, and the license pattern gets some the batch one does not
  const ev2 = events(tag, 12);
  const s2 = await publishMany(pub.js, ev2);
  const ev2b = [{ subject: `license.${tag}.failed`, data: { i: 'x' } }];
  const s2b = await publishMany(pub.js, ev2b);
  // the gateway has them all before the resume (a JetStream ack comes before its push to us):
  // else the last one may come live after a replay that counted one fewer
  await gatewayFence(gw.wsUrl, pub.js);

  const b = client(t, { resumeState: saved });
  b.gate.connect();
  const [rL, rB] = await Promise.all([b.sub(L), b.sub(B)]);
  const missedL = [...seqsOf(ev2, s2, `license.${tag}.`), ...s2b];
  const missedB = seqsOf(ev2, s2, `batch.${tag}.`);
  assert.equal(rL.recovered, true);
  assert.equal(rL.replayed, missedL.length);
  assert.equal(rB.replayed, missedB.length);
  const ev3 = events(tag, 6);
  const s3 = await publishMany(pub.js, ev3);
  const wantL = [...missedL, ...seqsOf(ev3, s3, `license.${tag}.`)];
  const wantB = [...missedB, ...seqsOf(ev3, s3, `batch.${tag}.`)];
  await received(b, L, wantL.length, 'second client');
  await received(b, B, wantB.length, 'second client');
  await settle(b);
  assert.deepEqual(b.seqs(L), wantL, 'license pattern: the missed events then the live ones, once each');
  assert.deepEqual(b.seqs(B), wantB, 'batch pattern: the missed events then the live ones, once each');
  assert.deepEqual(b.resets, []);
  assert.deepEqual(b.errors, []);
  assert.deepEqual(b.gate.resumeState().subs, { [L]: wantL.at(-1), [B]: wantB.at(-1) });
});

test('subscribe {since, epoch} and importResumeState() before connect(): the events after that point', async (t) => {
  const tag = 'rs2';
  const L = `license.${tag}.>`;
  const B = `batch.${tag}.*`;
  const ev = events(tag, 15);
  const seqs = await publishMany(pub.js, ev);
  const lic = seqsOf(ev, seqs, `license.${tag}.`);
  const bat = seqsOf(ev, seqs, `batch.${tag}.`);
  // the epoch: from a throwaway connection's hello
  const probe = client(t);
  probe.gate.connect();
  await withTimeout(new Promise((r) => probe.gate.on('hello', r)), ms(10000), 'hello');
  const epoch = probe.gate.epoch;
  probe.gate.close();

  const c = client(t);
  c.gate.importResumeState({ version: 1, epoch, subs: { [B]: bat[1] } });
  c.sub(L, { since: lic[2], epoch });
  c.sub(B); // resumes from the imported point
  c.gate.connect();
  await received(c, L, lic.length - 3, 'since');
  await received(c, B, bat.length - 2, 'imported');
  await settle(c);
  assert.deepEqual(c.seqs(L), lic.slice(3));
  assert.deepEqual(c.seqs(B), bat.slice(2));
  assert.deepEqual(c.resets, []);

  // bad input is refused at once
  assert.throws(() => c.gate.subscribe('x.>', () => {}, { since: -1 }), TypeError);
  assert.throws(() => c.gate.subscribe('x.>', () => {}, { since: 1.5 }), TypeError);
  assert.throws(() => c.gate.importResumeState({ version: 2, epoch, subs: {} }), TypeError);
  assert.throws(() => c.gate.importResumeState({ version: 1, epoch, subs: { 'a.>': 'x' } }), TypeError);
});

test('a resume state of another stream epoch: reset (epoch), then a live subscription', async (t) => {
  const tag = 'rs3';
  const L = `license.${tag}.>`;
  const before = await publishMany(pub.js, events(tag, 3));
  await gatewayFence(gw.wsUrl, pub.js); // ok.seq below is the gateway's position: it has them
  const c = client(t, { resumeState: { version: 1, epoch: '2001-01-01T00:00:00Z', subs: { [L]: 999999 } } });
  c.gate.connect();
  const ok = await c.sub(L);
  assert.equal(ok.replayed, undefined, 'sent without since');
  assert.ok(ok.seq >= before.at(-1));
  assert.equal(c.resets.length, 1, JSON.stringify(c.resets));
  assert.deepEqual({ ...c.resets[0], epoch: undefined }, { reason: 'epoch', subjects: [L], epoch: undefined, previousEpoch: '2001-01-01T00:00:00Z' });
  const ev = events(tag, 6);
  const seqs = await publishMany(pub.js, ev);
  const want = seqsOf(ev, seqs, `license.${tag}.`);
  await received(c, L, want.length, 'live after the reset');
  await settle(c);
  assert.deepEqual(c.seqs(L), want, 'seqs below the foreign since are delivered');
  assert.equal(c.gate.resumeState().epoch, c.gate.epoch);
});

test('the promise: forbidden rejects (now and for later handlers), unsubscribe before ok rejects, an ignored refusal is not unhandled', async (t) => {
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));

  const token = mint({ sub: 'resume-test', subs: ['license.>'] }, { key: secret });
  const gate = new WsGate({ url: gwAuth.wsUrl, WebSocket, token });
  t.after(() => gate.close());
  const errors = [];
  gate.on('error', (e) => errors.push(e));
  gate.subscribe('verification.>', () => {}); // refused, promise ignored
  const early = gate.subscribe('license.early.>', () => {});
  early(); // before connect(): never reaches the gateway
  // (assert.rejects would call it: it is a function; `.ready` is a real Promise)
  await assert.rejects(early.ready, (e) => e instanceof WsGateError && e.code === 'unsubscribed');
  gate.connect();
  const ok = await gate.subscribe('license.>', () => {});
  assert.equal(ok.subject, 'license.>');
  let refusal = null;
  try {
    await gate.subscribe('batch.>', () => {}); // the thenable itself
  } catch (e) {
    refusal = e;
  }
  assert.ok(refusal instanceof WsGateError, `rejected with ${refusal}`);
  assert.equal(refusal.code, 'forbidden');
  assert.equal(refusal.subject, 'batch.>');
  // a second handler of the failed pattern: rejected at once, nothing sent
  await assert.rejects(gate.subscribe('batch.>', () => {}).ready, (e) => e.code === 'forbidden');
  await pollUntil(() => errors.filter((e) => e.code === 'forbidden').length === 2, { message: 'two forbidden error events (verification.>, batch.>)' });
  assert.deepEqual(
    gate.subscriptions().filter((s) => s.state === 'failed').map((s) => s.pattern).sort(),
    ['batch.>', 'verification.>'],
  );
  // a handler added to a live pattern: resolves at once with its ok
  assert.equal((await gate.subscribe('license.>', () => {})).subject, 'license.>');
  await delay(50);
  assert.deepEqual(unhandled, []);
});
