// dashboard.test.mjs: the dashboard's DOM-free parts in node: its state arithmetic (web/model.js) and its request throttle (web/throttle.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyEvent, batchNumbers, compact, effectiveState, humanDuration, noteProgress, normBatch,
  parseMetrics, recompute, skeleton, STALL_AFTER_MS,
} from '../../web/model.js';

/** A batch record as app.js keeps one: a REST snapshot (base), the events after it (pending). */
function record(base, pending = []) {
  const rec = { id: base.id, base: normBatch(base), pending, shown: { done: 0, failed: 0 }, hasProgress: false, lastChange: Date.now(), fetchedAt: Date.now() };
  recompute(rec);
  return rec;
}
const ev = (subject, seq, data) => ({ subject, seq, data });

test('events on top of a snapshot: license events count, progress never lowers, completed is exact', () => {
  const rec = record({ id: 'b1', total: 10, done: 2, failed: 1, seq: 5 }, [
    ev('license.b1.assigned', 6, { worker: 3 }),
    ev('license.b1.failed', 7, { worker: 3, license_id: 'L7', error: 'no seat' }),
    ev('batch.b1.progress', 8, { done: 1, failed: 0 }), // older counts: ignored
  ]);
  assert.equal(rec.view.done, 3);
  assert.equal(rec.view.failed, 2);
  assert.deepEqual(rec.view.per_worker, [{ worker: 3, done: 1, failed: 1 }]);
  assert.equal(rec.view.failures[0].license_id, 'L7');
  assert.equal(rec.view.seq, 8);
  assert.equal(effectiveState(rec), 'running');
  const n = batchNumbers(rec);
  assert.equal(n.processed, 5);
  assert.equal(n.percent, 50);
  rec.pending.push(ev('batch.b1.completed', 9, { done: 8, failed: 2, ts: '2026-12-08T00:00:00Z', duration_ms: 1000 }));
  recompute(rec);
  assert.equal(effectiveState(rec), 'completed');
  assert.deepEqual(rec.shown, { done: 8, failed: 2 });
  assert.equal(batchNumbers(rec).percent, 100);
});

test('the first terminal event wins; cancelled is never stalled', () => {
  const rec = record({ id: 'b2', total: 5 }, [ev('batch.b2.cancelled', 3, { reason: 'operator', ts: '2026-12-08T00:00:01Z' }), ev('batch.b2.completed', 4, { done: 5, failed: 0 })]);
  assert.equal(rec.view.state, 'cancelled');
  assert.equal(rec.view.cancel_reason, 'operator');
  rec.lastChange = Date.now() - 2 * STALL_AFTER_MS;
  assert.equal(effectiveState(rec), 'cancelled');
  assert.equal(batchNumbers(rec).rate, 0);
});

test('shown figures never go down while running, and never above the total', () => {
  const rec = record({ id: 'b3', total: 4, done: 3, failed: 0 });
  assert.deepEqual(rec.shown, { done: 3, failed: 0 });
  rec.base = normBatch({ id: 'b3', total: 4, done: 1, failed: 0 }); // an older snapshot
  recompute(rec);
  assert.deepEqual(rec.shown, { done: 3, failed: 0 });
  rec.view.done = 9; // a publisher that overcounts
  noteProgress(rec);
  assert.equal(rec.shown.done + rec.shown.failed, 4);
});

test('a running batch silent for longer than STALL_AFTER_MS is shown stalled, with no rate or ETA', () => {
  const rec = record({ id: 'b4', total: 100, done: 10, rate: 2, eta_s: 45 });
  assert.equal(effectiveState(rec), 'running');
  assert.ok(batchNumbers(rec).eta > 0);
  rec.lastChange = Date.now() - STALL_AFTER_MS - 1;
  assert.equal(effectiveState(rec), 'stalled');
  const n = batchNumbers(rec);
  assert.equal(n.rate, 0);
  assert.equal(n.eta, null);
});

test('Prometheus text and number formats', () => {
  const m = parseMetrics('# HELP x y\nwsgate_a 3\nwsgate_b{code="x"} 2\nwsgate_b{code="y"} 5\nbad line\nwsgate_c NaN\n');
  assert.deepEqual(m, { wsgate_a: 3, wsgate_b: 7 });
  assert.equal(compact(1234567), '1.2M');
  assert.equal(compact(99999), '99999');
  assert.equal(humanDuration(3725), '1h 02m');
  assert.equal(humanDuration(0.5), '<1s');
  assert.equal(skeleton('z').state, 'running');
});

test('throttled: one run at a time, one start per interval, none lost', async (t) => {
  const { throttled } = await import('../../web/throttle.js');
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const starts = [];
  let release;
  const run = () => {
    starts.push(Date.now());
    return new Promise((r) => (release = r));
  };
  const request = throttled(500, run);
  request();
  request(); // during the run: one more after it
  request();
  assert.equal(starts.length, 1);
  release();
  await new Promise(setImmediate);
  assert.equal(starts.length, 1, 'not before the interval');
  t.mock.timers.tick(499);
  assert.equal(starts.length, 1);
  t.mock.timers.tick(1);
  assert.equal(starts.length, 2);
  assert.equal(starts[1] - starts[0], 500);
  release();
  await new Promise(setImmediate);
  t.mock.timers.tick(10000);
  assert.equal(starts.length, 2, 'nothing asked since: no run');
  // a run that resolves true asks again
  const again = [];
  const r2 = throttled(100, async () => again.push(Date.now()) < 3);
  r2();
  for (let i = 0; i < 5; i++) {
    await new Promise(setImmediate);
    t.mock.timers.tick(100);
  }
  assert.equal(again.length, 3);
});
