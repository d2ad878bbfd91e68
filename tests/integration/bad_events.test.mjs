// bad_events.test.mjs: events batch state refuses (EVENTS.md "What the gateway
// refuses") published through JetStream: still delivered to clients, counted in
// wsgate_bad_events_total{reason}, logged at warn with subject, seq, reason and
// field, at most 10 lines a second plus a bad_events_suppressed count; and
// batch.<id>.cancelled, a terminal state that is never stalled.
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, publish, publishMany, connect, httpGet, getMetrics, metricValue, pollUntil, delay } from '../lib/harness.mjs';
import { gatewayFence } from '../lib/resume.mjs';

let nats;
let gw;
let pub;

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, args: ['--batch-stall', '1s'] });
  pub = await natsClient(nats.url);
});

after(async () => {
  await pub?.close();
  if (gw) await gw.stop();
  await nats?.stop();
});

const REASONS = ['not_json', 'not_object', 'missing_field', 'wrong_type', 'out_of_range', 'bad_value', 'batch_id_mismatch', 'unknown_event'];
const now = () => new Date().toISOString(); // ended batches are kept --batch-retention after their ts
const badLines = () => gw.jsonLogs().filter((l) => l.event === 'bad_event');
const suppressed = () => gw.jsonLogs().filter((l) => l.event === 'bad_events_suppressed').reduce((n, l) => n + l.count, 0);
let published = 0; // bad events published so far (every test adds its own)

test('every reason is a series from the start, at 0', async () => {
  const m = await getMetrics(gw.url);
  assert.equal(m.types.wsgate_bad_events_total, 'counter');
  for (const reason of REASONS) assert.equal(metricValue(m, 'wsgate_bad_events_total', { reason }), 0, reason);
  assert.equal(m.samples.filter((s) => s.name === 'wsgate_bad_events_total').length, REASONS.length);
});

test('a refused event is delivered, counted by reason and logged at warn with its field', async (t) => {
  const c = await connect(gw.wsUrl);
  t.after(() => c.close());
  for (const p of ['batch.be1.>', 'license.be1.>', 'verification.FR.>']) await c.sub(p);
  // one subject each: batch.*.progress is a last-value subject (a newer one replaces a queued older one)
  const cases = [
    ['batch.be1.started', 'not json', 'not_json', null],
    ['batch.be1.completed', [1, 2], 'not_object', null],
    ['license.be1.assigned', { batch_id: 'be1', worker: 0 }, 'missing_field', 'license_id'],
    ['license.be1.failed', { batch_id: 'be1', license_id: 'L1', worker: '3' }, 'wrong_type', 'worker'],
    ['batch.be1.progress', { batch_id: 'be1', done: -1 }, 'out_of_range', 'done'],
    ['verification.FR.verified', { hcp_id: 'H', status: 'maybe' }, 'bad_value', 'status'],
    ['batch.be1.cancelled', { batch_id: 'be2' }, 'batch_id_mismatch', 'batch_id'],
    ['batch.be1.paused', { batch_id: 'be1' }, 'unknown_event', null],
  ];
  const seqs = [];
  for (const [subject, data] of cases) seqs.push(await publish(pub.js, subject, data));
  published += cases.length;
  // clients get what was published, bad or not
  for (let i = 0; i < cases.length; i++) {
    const m = await c.nextMsg(cases[i][0]);
    assert.equal(m.seq, seqs[i], `${cases[i][0]} ${JSON.stringify(m)}`);
    if (typeof cases[i][1] !== 'string') assert.deepEqual(m.data, cases[i][1]);
  }
  let m;
  await pollUntil(async () => {
    m = await getMetrics(gw.url);
    return REASONS.every((reason) => metricValue(m, 'wsgate_bad_events_total', { reason }) === 1);
  }, { message: 'each reason counted once' });
  for (let i = 0; i < cases.length; i++) {
    const [subject, , reason, field] = cases[i];
    const line = badLines().find((l) => l.seq === seqs[i]);
    assert.ok(line, `a bad_event line for seq ${seqs[i]} (${reason})`);
    assert.deepEqual({ level: line.level, subject: line.subject, reason: line.reason, field: line.field }, { level: 'warn', subject, reason, field });
  }
  // batch state ignored them: be1 never got a state, nothing claims be2
  assert.equal((await httpGet(`${gw.url}/api/batches/be1`)).status, 404);
  assert.equal((await httpGet(`${gw.url}/api/batches/be2`)).status, 404);
});

test('a burst of refusals: at most 10 warn lines a second, the rest in bad_events_suppressed', async () => {
  const N = 200;
  const events = Array.from({ length: N }, (_, i) => ({ subject: `batch.burst${i % 4}.progress`, data: { done: -1 - i } }));
  await publishMany(pub.js, events);
  published += N;
  await gatewayFence(gw.wsUrl, pub.js);
  assert.equal(metricValue(await getMetrics(gw.url), 'wsgate_bad_events_total', { reason: 'out_of_range' }), 1 + N);
  // every refusal is either a line or in a suppressed count, once the counts are reported (hub_tick)
  await pollUntil(() => badLines().length + suppressed() === published, { message: `lines + suppressed = ${published}` });
  assert.ok(suppressed() > 0, 'some lines were suppressed');
  // no second saw more than 10 lines
  const perSecond = new Map();
  for (const l of badLines()) perSecond.set(l.ts.slice(0, 19), (perSecond.get(l.ts.slice(0, 19)) || 0) + 1);
  // a window is a second from its first line, not a calendar second: at most 2 windows touch one
  for (const [sec, n] of perSecond) assert.ok(n <= 20, `${n} lines in ${sec}`);
  assert.ok(badLines().length < published, `${badLines().length} lines for ${published} refusals`);
  for (const l of gw.jsonLogs().filter((x) => x.event === 'bad_events_suppressed')) assert.equal(l.level, 'warn');
});

test('batch.<id>.cancelled ends a batch: state cancelled, never stalled, listed by state', async () => {
  await publish(pub.js, 'batch.bc1.started', { batch_id: 'bc1', total: 10, workers: 1, kind: 'license_assignment', ts: now() });
  await publish(pub.js, 'license.bc1.assigned', { batch_id: 'bc1', license_id: 'L1', hcp_id: 'H1', product: 'P', worker: 0, duration_ms: 5, ts: now() });
  const cancelledAt = now();
  await publish(pub.js, 'batch.bc1.cancelled', { batch_id: 'bc1', reason: 'aborted by operator', ts: cancelledAt });
  await publish(pub.js, 'batch.bc2.started', { batch_id: 'bc2', total: 10, workers: 1, kind: 'license_assignment' }); // goes silent
  await gatewayFence(gw.wsUrl, pub.js);
  await delay(1500); // past --batch-stall 1s
  // the gauge is refreshed once a second; it agrees with /api/batches once bc2 stalls
  await pollUntil(async () => {
    const list = (await httpGet(`${gw.url}/api/batches`)).json();
    const stalled = list.filter((b) => b.state === 'stalled').map((b) => b.id);
    return stalled.includes('bc2') && metricValue(await getMetrics(gw.url), 'wsgate_batches_stalled') === stalled.length;
  }, { message: 'bc2 stalls and wsgate_batches_stalled counts it' });
  const b = (await httpGet(`${gw.url}/api/batches/bc1`)).json();
  assert.equal(b.state, 'cancelled');
  assert.equal(b.cancelled_at, cancelledAt);
  assert.equal(b.cancel_reason, 'aborted by operator');
  assert.equal(b.completed_at, null);
  assert.equal(b.eta_s, null);
  assert.equal(b.done, 1);
  const cancelled = (await httpGet(`${gw.url}/api/batches?state=cancelled`)).json().map((x) => x.id);
  assert.deepEqual(cancelled, ['bc1']);
  const stalled = (await httpGet(`${gw.url}/api/batches?state=stalled`)).json().map((x) => x.id);
  assert.ok(!stalled.includes('bc1') && stalled.includes('bc2'), `stalled: ${stalled}`);
  const summary = (await httpGet(`${gw.url}/api/summary`)).json();
  assert.equal(summary.cancelled, 1);
  // a valid cancelled event is not a bad one
  assert.equal(badLines().filter((l) => l.subject.startsWith('batch.bc')).length, 0);
});
