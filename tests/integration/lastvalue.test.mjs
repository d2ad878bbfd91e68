// lastvalue.test.mjs: last-value subjects (PROTOCOL.md "Server to client",
// default `batch.*.progress`): the snapshot a new subscription gets, the same
// snapshot after a gateway restart, conflation for a slow client, and the
// 4001 close of a slow client on other subjects followed by a complete
// resume ("Delivery guarantee").
import assert from 'node:assert/strict';
import {
  test,
  before,
  after,
  startNats,
  startGateway,
  natsClient,
  publishMany,
  connect,
  getMetrics,
  metricValue,
  fileStreamName,
  ms,
} from '../lib/harness.mjs';
import { resumeSub, msgsOf, waitFor, sequenceProblems, gatewayFence, subjectMatches, streamLastSeq, followUntil } from '../lib/resume.mjs';

let nats;
let gw;
let pub;

/** The latest published event of every batch.*.progress subject of the stream: subject -> {seq, data}. */
const latest = new Map();

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, name: 'gw' });
  pub = await natsClient(nats.url);
});

after(async () => {
  await pub?.close();
  if (gw) await gw.stop();
  await nats?.stop();
});

async function open(t, g, label) {
  const c = await connect(g.wsUrl, { label });
  t.after(() => c.close());
  return c;
}

/** Publish events (in order) and remember the latest progress per subject. */
async function pubEvents(evs, opts) {
  const seqs = await publishMany(pub.js, evs, opts);
  evs.forEach((e, i) => {
    if (subjectMatches('batch.*.progress', e.subject)) latest.set(e.subject, { seq: seqs[i], data: e.data });
  });
  return seqs;
}

const progress = (batch, done, failed = 0, total = 100, extra = {}) => ({
  subject: `batch.${batch}.progress`,
  data: { batch_id: batch, total, done, failed, ts: new Date().toISOString(), ...extra },
});
const license = (batch, i, extra = {}) => ({
  subject: `license.${batch}.assigned`,
  data: { batch_id: batch, license_id: `L-${i}`, hcp_id: `H-${i}`, product: 'p', worker: i % 3, duration_ms: 5, ts: new Date().toISOString(), ...extra },
});

/** The expected snapshot of `pattern`: the latest msg of each matching progress subject, by subject. */
function expectedSnapshot(pattern) {
  return [...latest.entries()]
    .filter(([s]) => subjectMatches(pattern, s))
    .map(([subject, { seq, data }]) => ({ subject, seq, data }))
    .sort((a, b) => a.subject.localeCompare(b.subject));
}

/**
 * Subscribe without since and take the snapshot: the msgs that follow ok.
 * To know that nothing else follows, publish a live progress event on
 * `liveSubject` and require it to be the next msg. Resolves {ok, snapshot}
 * (snapshot sorted by subject).
 */
async function subscribeSnapshot(c, pattern, liveSubject) {
  const ok = await c.sub(pattern);
  assert.equal(ok.replayed, undefined);
  const n = expectedSnapshot(pattern).length;
  const snap = n ? await c.collect((f) => f.op === 'msg', n, ms(15000), `snapshot of ${pattern}`) : [];
  for (const f of snap) assert.ok(f.seq <= ok.seq, `snapshot msg ${f.subject} seq ${f.seq} <= ok.seq ${ok.seq}`);
  // live: the next msg is the one published now, nothing was left over
  const live = liveSubject.startsWith('batch.') && liveSubject.endsWith('.progress') ? progress(liveSubject.split('.')[1], 100) : { subject: liveSubject, data: { live: true } };
  const [seq] = await pubEvents([live]);
  const m = await c.next((f) => f.op === 'msg', ms(15000), 'the live msg after the snapshot');
  assert.equal(m.seq, seq, `after the snapshot the next msg is the live one (got ${JSON.stringify(m).slice(0, 200)})`);
  assert.equal(m.subject, live.subject);
  const snapshot = snap.map(({ subject, seq: s, data }) => ({ subject, seq: s, data })).sort((a, b) => a.subject.localeCompare(b.subject));
  return { ok, snapshot };
}

test('last-value snapshot: one msg per matching progress subject, the latest, then live', async (t) => {
  await pubEvents([
    progress('lvb1', 10),
    progress('lvb2', 5),
    license('lvb1', 1),
    { subject: 'batch.lvb1.started', data: { batch_id: 'lvb1', total: 100, workers: 3, kind: 'license_assignment', ts: new Date().toISOString() } },
    progress('lvb1', 20, 1),
    license('lvb2', 2),
    progress('lvb2', 7, 2),
    license('lvb1', 3),
    progress('lvb1', 33, 2),
    license('lvb3', 4),
  ]);
  await gatewayFence(gw.wsUrl, pub.js);

  const c = await open(t, gw, 'snap-all');
  const exp = expectedSnapshot('batch.*.progress');
  const { snapshot } = await subscribeSnapshot(c, 'batch.*.progress', 'batch.lvb2.progress');
  assert.deepEqual(snapshot, exp, 'exactly the latest progress of every batch');
  assert.deepEqual(
    snapshot.filter((f) => f.subject.startsWith('batch.lvb')).map((f) => [f.subject, f.data.done, f.data.failed]),
    [
      ['batch.lvb1.progress', 33, 2],
      ['batch.lvb2.progress', 7, 2],
    ],
  );

  // A pattern that also matches other subjects: only the last-value ones get a snapshot.
  const c1 = await open(t, gw, 'snap-b1');
  const r1 = await subscribeSnapshot(c1, 'batch.lvb1.>', 'batch.lvb1.started');
  assert.deepEqual(r1.snapshot, expectedSnapshot('batch.lvb1.>'));
  assert.deepEqual(r1.snapshot.map((f) => [f.subject, f.data.done]), [['batch.lvb1.progress', 33]], 'only b1 progress, not batch.lvb1.started');

  // No last-value subject under the pattern: no snapshot at all.
  const c2 = await open(t, gw, 'snap-license');
  const r2 = await subscribeSnapshot(c2, 'license.lvb1.>', 'license.lvb1.assigned');
  assert.deepEqual(r2.snapshot, []);

  // With since, a subscription replays instead: no snapshot.
  const c3 = await open(t, gw, 'snap-since');
  const since = await streamLastSeq(pub.jsm, fileStreamName());
  const { ok, replay } = await resumeSub(c3, 'batch.*.progress', since, c3.hello.epoch);
  assert.equal(ok.replayed, 0, JSON.stringify(ok));
  assert.deepEqual(replay, []);
  const [seq] = await pubEvents([progress('lvb3', 1)]);
  const m = await c3.next((f) => f.op === 'msg', ms(15000), 'live msg');
  assert.equal(m.seq, seq, 'no snapshot with since: the next msg is the live one');
});

test('after a gateway restart the snapshot is the same', { timeout: 90000 }, async (t) => {
  await pubEvents([progress('lvr1', 1), progress('lvr2', 2), progress('lvr1', 3), license('lvr1', 9), progress('lvr2', 4)]);
  await gatewayFence(gw.wsUrl, pub.js);
  const a = await open(t, gw, 'restart-before');
  await a.sub('batch.*.progress');
  const exp = expectedSnapshot('batch.*.progress');
  const before_ = (await a.collect((f) => f.op === 'msg', exp.length, ms(15000), 'snapshot before the restart'))
    .map(({ subject, seq, data }) => ({ subject, seq, data }))
    .sort((x, y) => x.subject.localeCompare(y.subject));
  assert.deepEqual(before_, exp);
  await a.close();

  await gw.stop();
  gw = null;
  gw = await startGateway({ natsUrl: nats.url, name: 'gw-restarted' });
  const b = await open(t, gw, 'restart-after');
  const { snapshot } = await subscribeSnapshot(b, 'batch.*.progress', 'batch.lvr1.progress');
  assert.deepEqual(snapshot, before_, 'the new process rebuilt the same snapshot from the stream');
});

test('conflation: a paused client on progress subjects is not closed and ends on the latest values', { timeout: 240000 }, async (t) => {
  const g = await startGateway({ natsUrl: nats.url, name: 'gw-small-queue', args: ['--queue-bytes', '16384'] });
  t.after(() => g.stop());
  const c = await connect(g.wsUrl, { label: 'conflated' });
  t.after(() => c.close());
  await c.sub('batch.*.progress');
  const nSnap = expectedSnapshot('batch.*.progress').length;
  await c.collect((f) => f.op === 'msg', nSnap, ms(15000), 'snapshot');
  const m0 = await getMetrics(g.url);
  const conflated0 = metricValue(m0, 'wsgate_conflated_total') ?? 0;
  const closes0 = metricValue(m0, 'wsgate_slow_consumer_closes_total') ?? 0;

  c.pause();
  const batches = ['lvc1', 'lvc2', 'lvc3'];
  const pad = 'p'.repeat(220); // payloads of about 300 bytes
  const last = new Map();
  let published = 0;
  let conflated = conflated0;
  // Rounds of 2000 events until the gateway reports conflation: the kernel
  // socket buffers absorb a variable amount before the gateway holds anything.
  for (let round = 0; round < 40 && conflated <= conflated0; round++) {
    const evs = Array.from({ length: 2000 }, (_, i) => progress(batches[i % 3], published + i, 0, 1000000, { pad }));
    const seqs = await pubEvents(evs, { window: 128 });
    evs.forEach((e, i) => last.set(e.subject, { seq: seqs[i], data: e.data }));
    published += evs.length;
    conflated = metricValue(await getMetrics(g.url), 'wsgate_conflated_total') ?? 0;
  }
  t.diagnostic(`published ${published} progress events of ~${JSON.stringify(progress('lvc1', 0, 0, 1, { pad }).data).length} bytes; wsgate_conflated_total ${conflated0} -> ${conflated}`);
  assert.ok(conflated > conflated0, `wsgate_conflated_total grew (${conflated0} -> ${conflated}) after ${published} events`);
  assert.equal(c.closeInfo, null, 'not closed while paused');

  c.resume();
  await waitFor(c, () => [...last].every(([subject, { seq }]) => msgsOf(c, subject).some((f) => f.seq === seq)), {
    timeoutMs: ms(60000),
    what: 'the latest value of each batch',
  });
  await c.ping();
  assert.equal(c.closeInfo, null, 'not closed');
  for (const [subject, { seq, data }] of last) {
    const got = msgsOf(c, subject);
    for (let i = 1; i < got.length; i++) assert.ok(got[i].seq > got[i - 1].seq, `${subject}: increasing seq`);
    assert.equal(got.at(-1).seq, seq, `${subject}: ends on the latest`);
    assert.deepEqual(got.at(-1).data, data);
  }
  const total = msgsOf(c).length - nSnap;
  t.diagnostic(`the client received ${total} of ${published} progress msgs`);
  assert.ok(total < published, 'older values were replaced while the client was slow');
  const m1 = await getMetrics(g.url);
  assert.equal(metricValue(m1, 'wsgate_slow_consumer_closes_total') ?? 0, closes0, 'no slow-consumer close');
});

test('a paused client on license.> is closed with 4001 and resumes with since: nothing lost', { timeout: 240000 }, async (t) => {
  const g = await startGateway({ natsUrl: nats.url, name: 'gw-small-queue-2', args: ['--queue-bytes', '16384'] });
  t.after(() => g.stop());
  const c = await connect(g.wsUrl, { label: 'slow-license' });
  t.after(() => c.close());
  const ok1 = await c.sub('license.>');
  const closes0 = metricValue(await getMetrics(g.url), 'wsgate_slow_consumer_closes_total') ?? 0;
  const pad = 'q'.repeat(200);
  // A few events it reads, then it stops reading.
  const published = await pubEvents(Array.from({ length: 20 }, (_, i) => license('lvs0', i, { pad })));
  await waitFor(c, () => msgsOf(c).length === 20, { what: 'the first 20 events' });

  c.pause();
  let closes = closes0;
  for (let round = 0; round < 40 && closes <= closes0; round++) {
    const evs = Array.from({ length: 2000 }, (_, i) => license(`lvs${(published.length + i) % 4}`, published.length + i, { pad }));
    published.push(...(await pubEvents(evs, { window: 128 })));
    closes = metricValue(await getMetrics(g.url), 'wsgate_slow_consumer_closes_total') ?? 0;
  }
  t.diagnostic(`published ${published.length} license events before the slow-consumer close`);
  assert.ok(closes > closes0, `wsgate_slow_consumer_closes_total grew (${closes0} -> ${closes})`);
  c.resume();
  const closed = await c.closed;
  assert.equal(closed.code, 4001, `close: ${JSON.stringify(closed)}`);
  const got1 = msgsOf(c).map((f) => f.seq);
  assert.ok(published[0] > ok1.seq);
  assert.equal(sequenceProblems(got1, published.slice(0, got1.length)), null, 'what it got before the close is a prefix');
  const lastSeen = got1.at(-1) ?? ok1.seq;
  // Some more events after the close.
  published.push(...(await pubEvents(Array.from({ length: 100 }, (_, i) => license('lvs9', i, { pad })))));

  // Resume; a replay this large may itself outgrow the 16 KiB bound when the
  // socket does not take it fast enough (live frames arriving meanwhile):
  // then the client is closed with 4001 again and resumes again, as the
  // protocol says.
  await gatewayFence(g.wsUrl, pub.js);
  const r = await followUntil(g.wsUrl, 'license.>', lastSeen, c.hello.epoch, published.at(-1), { label: 'slow-license-resumed' });
  assert.equal(r.oks[0].recovered, true, JSON.stringify(r.oks[0]));
  const got2 = r.seqs;
  t.diagnostic(`before the close: ${got1.length} msgs; after: ${got2.length} over ${r.conns} connection(s) (4001 closes while resuming: ${r.closes.length}; first replay ${r.oks[0].replayed})`);
  const problem = sequenceProblems([...got1, ...got2], published);
  assert.equal(problem, null, problem);
});
