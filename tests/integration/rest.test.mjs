// rest.test.mjs: the batch state REST API (PROTOCOL.md GET /api/batches,
// /api/batches/{id}, /api/verifications; EVENTS.md), fed by wsgate-sim
// through the gateway's stream, compared with the events in the stream, for
// each publishing mode, and rebuilt from the stream by a restarted gateway.
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, connect, httpGet, fileStreamName, ms } from '../lib/harness.mjs';
import { runSim, gatewayFence, resumeSub, streamLastSeq } from '../lib/resume.mjs';

const STREAM = fileStreamName();
let nats;
let gw;
let pub;

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

const SIZE = 100;
const WORKERS = 5;
const SEED = 4242;

/** Run one small fast batch through wsgate-sim; resolves once the gateway has consumed all of it. */
async function simBatch(prefix, mode, extra = []) {
  const args = ['--nats', nats.url, '--stream', STREAM, '--batches', '1', '--size', String(SIZE), '--workers', String(WORKERS), '--speed', '200'];
  args.push('--fail-rate', '0.3', '--mode', mode, '--batch-prefix', prefix, '--verifications', '100', '--seed', String(SEED), '--quiet', ...extra);
  const r = await runSim(args, { timeoutMs: ms(60000) });
  assert.equal(r.code, 0, `wsgate-sim exited with ${r.code}/${r.signal}: ${r.output}`);
  await gatewayFence(gw.wsUrl, pub.js);
  return `${prefix}-1`;
}

async function getJson(path, status = 200) {
  const res = await httpGet(gw.url + path);
  assert.equal(res.status, status, `GET ${path}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') || '', /application\/json/);
  return res.json();
}

/** Every event of the stream on subjects matching pattern, in order (a replay from seq 0 through a fresh connection). */
async function streamEvents(pattern) {
  const c = await connect(gw.wsUrl, { label: `read ${pattern}` });
  try {
    const { ok, replay } = await resumeSub(c, pattern, 0, c.hello.epoch);
    assert.equal(ok.recovered, true);
    return replay;
  } finally {
    await c.close();
  }
}

/** The fields of a batch that do not depend on the time of the request. */
function stable(b) {
  const { rate, eta_s: eta, history, history_step_ms: step, ...rest } = b;
  assert.equal(typeof rate, 'number');
  return rest;
}

/** Check one completed batch against the events of the stream. */
async function checkBatch(b, id, mode) {
  assert.equal(b.id, id);
  assert.equal(b.kind, 'license_assignment');
  assert.equal(b.state, 'completed', JSON.stringify(b));
  assert.equal(b.total, SIZE);
  assert.equal(b.workers, WORKERS);
  assert.equal(b.done + b.failed, SIZE, `done ${b.done} + failed ${b.failed}`);
  assert.equal(b.processed, SIZE);
  assert.equal(b.percent, 100);
  assert.ok(b.failed > 20, `with --fail-rate 0.3 more than 20 fail (${b.failed})`);
  for (const k of ['started_at', 'updated_at', 'completed_at']) assert.ok(!Number.isNaN(Date.parse(b[k])), `${k} ${b[k]}`);
  assert.ok(Date.parse(b.started_at) <= Date.parse(b.completed_at));
  assert.ok(Number.isInteger(b.duration_ms) && b.duration_ms >= 0);

  const completed = (await streamEvents(`batch.${id}.completed`)).map((f) => f.data);
  assert.equal(completed.length, 1);
  assert.equal(b.done, completed[0].done, 'done as in batch.<id>.completed');
  assert.equal(b.failed, completed[0].failed, 'failed as in batch.<id>.completed');

  if (mode === 'progress') return;
  // per-license events: per-worker counts and the newest failures
  const lic = await streamEvents(`license.${id}.*`);
  assert.equal(lic.length, SIZE);
  assert.equal(b.seq >= lic.at(-1).seq, true, `batch seq ${b.seq}`);
  const perWorker = new Map();
  for (const f of lic) {
    const w = perWorker.get(f.data.worker) ?? { worker: f.data.worker, done: 0, failed: 0 };
    if (f.subject.endsWith('.failed')) w.failed++;
    else w.done++;
    perWorker.set(f.data.worker, w);
  }
  const pw = [...b.per_worker].sort((x, y) => x.worker - y.worker);
  assert.deepEqual(pw, [...perWorker.values()].sort((x, y) => x.worker - y.worker), 'per_worker counts as in the license events');
  assert.equal(pw.reduce((a, w) => a + w.done, 0), b.done);
  assert.equal(pw.reduce((a, w) => a + w.failed, 0), b.failed);
  assert.ok(b.per_worker.length <= WORKERS);

  const failedEvents = lic.filter((f) => f.subject.endsWith('.failed')).map((f) => f.data);
  assert.ok(Array.isArray(b.failures) && b.failures.length > 0 && b.failures.length <= 20, `failures: ${b.failures?.length}`);
  const newestFirst = failedEvents.slice(-b.failures.length).reverse();
  assert.deepEqual(
    b.failures.map((f) => [f.license_id, f.hcp_id, f.worker, f.error]),
    newestFirst.map((f) => [f.license_id, f.hcp_id, f.worker, f.error]),
    'the last failures, newest first',
  );
  for (let i = 1; i < b.failures.length; i++) assert.ok(Date.parse(b.failures[i - 1].ts) >= Date.parse(b.failures[i].ts), 'newest first');
}

/** /api/verifications is consistent with itself and with the verification events of the stream. */
async function checkVerifications() {
  const v = await getJson('/api/verifications');
  const byStatus = Object.values(v.by_status).reduce((a, n) => a + n, 0);
  const byCountry = Object.values(v.by_country).reduce((a, c) => a + c.verified + c.rejected + c.pending, 0);
  assert.ok(v.total > 0, 'some verifications');
  assert.equal(byStatus, v.total, 'total == sum over by_status');
  assert.equal(byCountry, v.total, 'total == sum over countries');
  const info = await pub.jsm.streams.info(STREAM, { subjects_filter: 'verification.>' });
  const expStatus = {};
  const expCountry = {};
  for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
    const [, country, status] = subject.split('.');
    expStatus[status] = (expStatus[status] ?? 0) + n;
    expCountry[country] ??= { verified: 0, rejected: 0, pending: 0 };
    expCountry[country][status] += n;
  }
  for (const s of ['verified', 'rejected', 'pending']) assert.equal(v.by_status[s] ?? 0, expStatus[s] ?? 0, `by_status.${s} vs the stream`);
  assert.deepEqual(v.by_country, expCountry, 'by_country vs the stream');
  return v;
}

const finals = {};

test('a simulated batch (both): /api/batches, /api/batches/{id}, 404, /api/verifications', { timeout: 120000 }, async () => {
  const id = await simBatch('t1', 'both');
  const list = await getJson('/api/batches');
  assert.ok(Array.isArray(list));
  const b = list.find((x) => x.id === id);
  assert.ok(b, `batch ${id} in ${JSON.stringify(list).slice(0, 300)}`);
  await checkBatch(b, id, 'both');
  const one = await getJson(`/api/batches/${id}`);
  assert.deepEqual(stable(one), stable(b), 'GET /api/batches/{id} is the same object');
  // its history: [t_ms, done, failed] in time order, ending on the final counts
  assert.ok(Array.isArray(one.history) && one.history.length >= 1 && one.history.length <= 200, `history of ${one.history?.length}`);
  assert.equal(one.history_step_ms, 5000);
  for (let i = 1; i < one.history.length; i++) assert.ok(one.history[i][0] > one.history[i - 1][0], 'history in time order');
  assert.deepEqual(one.history.at(-1).slice(1), [one.done, one.failed], 'the last point is the final count');
  assert.equal(one.history.at(-1)[0], Date.parse(one.completed_at));
  assert.equal(b.history, undefined, 'lists carry no history');
  await getJson('/api/batches/nope', 404);
  await checkVerifications();
  finals.both = b;
});

test('--mode progress and --mode license give the same final counts', { timeout: 120000 }, async () => {
  const idP = await simBatch('t2', 'progress');
  const idL = await simBatch('t3', 'license');
  const list = await getJson('/api/batches');
  const p = list.find((x) => x.id === idP);
  const l = list.find((x) => x.id === idL);
  assert.ok(p && l, `batches ${idP} and ${idL} listed`);
  await checkBatch(p, idP, 'progress');
  await checkBatch(l, idL, 'license');
  // checkBatch compared each with its batch.<id>.completed event; the final
  // counts have the same shape whichever events the publisher sends. (The
  // simulator draws different random numbers per mode, so done/failed differ
  // between runs even with one seed.)
  const shape = (b) => ({ state: b.state, total: b.total, processed: b.processed, workers: b.workers, sum: b.done + b.failed, percent: b.percent });
  assert.deepEqual(shape(p), shape(l));
  if (finals.both) assert.deepEqual(shape(p), shape(finals.both));
  // --mode license and --mode both draw the same random numbers (the
  // progress mode draws none for the per-license payloads): with one seed the
  // gateway must compute the same counts from license events alone as from
  // license plus progress events.
  if (finals.both) {
    const detail = (b) => ({ done: b.done, failed: b.failed, per_worker: [...b.per_worker].sort((x, y) => x.worker - y.worker), failures: b.failures.map((f) => f.license_id) });
    assert.deepEqual(detail(l), detail(finals.both), 'license-only events give the state that license + progress events give');
  }
  await checkVerifications();
});

test('a restarted gateway rebuilds the same state from the stream', { timeout: 120000 }, async () => {
  const before_ = (await getJson('/api/batches')).map(stable).sort((a, b) => a.id.localeCompare(b.id));
  const verBefore = await getJson('/api/verifications');
  assert.ok(before_.length >= 1);
  const histBefore = (await getJson(`/api/batches/${before_[0].id}`)).history;
  const last = await streamLastSeq(pub.jsm, STREAM);
  await gw.stop();
  gw = null;
  gw = await startGateway({ natsUrl: nats.url, name: 'gw-restarted' });
  // the new process read the stream up to the fence
  const fenceSeq = await gatewayFence(gw.wsUrl, pub.js);
  assert.ok(fenceSeq > last);
  const after_ = (await getJson('/api/batches')).map(stable).sort((a, b) => a.id.localeCompare(b.id));
  assert.deepEqual(after_, before_);
  assert.deepEqual((await getJson(`/api/batches/${before_[0].id}`)).history, histBefore, 'the history is rebuilt from the stream');
  assert.deepEqual(await getJson('/api/verifications'), verBefore);
  await checkVerifications();
});
