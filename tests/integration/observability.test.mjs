// observability.test.mjs: the metrics operators alert on (docs/operations.md): the
// stored-to-write latency histogram, /api/stats, wsgate_ready and the batch gauges.
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, publish, connect, httpGet, getMetrics, metricValue, pollUntil } from '../lib/harness.mjs';

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

const STORED = 'wsgate_delivery_stored_latency_seconds';
const RECEIPT = 'wsgate_delivery_latency_seconds';

test('every live delivery is counted in the stored-to-write histogram, beside receipt-to-write', async (t) => {
  const m0 = await getMetrics(gw.url);
  assert.equal(m0.types[STORED], 'histogram');
  const stored0 = metricValue(m0, `${STORED}_count`);
  const receipt0 = metricValue(m0, `${RECEIPT}_count`);

  const c = await connect(gw.wsUrl);
  t.after(() => c.close());
  await c.sub('license.obs1.>');
  for (let i = 0; i < 3; i++) await publish(pub.js, `license.obs1.assigned`, { license_id: `L${i}` });
  for (let i = 0; i < 3; i++) assert.equal((await c.nextMsg('license.obs1.assigned')).data.license_id, `L${i}`);

  let m;
  await pollUntil(async () => {
    m = await getMetrics(gw.url);
    return metricValue(m, `${STORED}_count`) === stored0 + 3;
  }, { message: `${STORED}_count grows by the 3 deliveries` });
  assert.equal(metricValue(m, `${RECEIPT}_count`), receipt0 + 3, 'both histograms count the same deliveries');
  assert.equal(metricValue(m, `${STORED}_bucket`, { le: '+Inf' }), stored0 + 3);
  assert.ok(metricValue(m, `${STORED}_sum`) >= 0);
});

test('GET /api/stats: p50 and p99 of both histograms from the last minute', async (t) => {
  const c = await connect(gw.wsUrl);
  t.after(() => c.close());
  await c.sub('license.obs2.>');
  await publish(pub.js, 'license.obs2.assigned', { license_id: 'L' });
  await c.nextMsg('license.obs2.assigned');
  let s;
  await pollUntil(async () => {
    const r = await httpGet(`${gw.url}/api/stats`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /json/);
    s = r.json();
    return s.delivery_stored_latency_seconds.count >= 1;
  }, { message: '/api/stats counts the delivery' });
  assert.ok(Number.isInteger(s.window_s) && s.window_s >= 0, `window_s ${s.window_s}`);
  for (const name of ['delivery_latency_seconds', 'delivery_stored_latency_seconds']) {
    const h = s[name];
    assert.ok(h.count >= 1, `${name}.count`);
    assert.equal(typeof h.p50, 'number', `${name}.p50`);
    assert.equal(typeof h.p99, 'number', `${name}.p99`);
    assert.ok(h.p50 >= 0 && h.p50 <= h.p99, `${name}: 0 <= p50 ${h.p50} <= p99 ${h.p99}`);
  }
});

test('wsgate_ready follows /readyz; wsgate_batches_stalled counts silent running batches', async () => {
  let m = await getMetrics(gw.url);
  assert.equal(m.types.wsgate_ready, 'gauge');
  await pollUntil(async () => metricValue(await getMetrics(gw.url), 'wsgate_ready') === 1, { message: 'wsgate_ready 1 while /readyz is 200' });
  assert.equal((await httpGet(`${gw.url}/readyz`)).status, 200);

  // The gauge is refreshed once a second; /api/batches computes states per request.
  const agree = async (want) => {
    const m = await getMetrics(gw.url);
    const list = (await httpGet(`${gw.url}/api/batches`)).json();
    const obs3 = list.find((b) => b.id === 'obs3');
    return obs3?.state === want &&
      metricValue(m, 'wsgate_batches') === list.length &&
      metricValue(m, 'wsgate_batches_stalled') === list.filter((b) => b.state === 'stalled').length;
  };
  await publish(pub.js, 'batch.obs3.started', { batch_id: 'obs3', total: 10, workers: 1, kind: 'license_assignment' });
  await pollUntil(() => agree('stalled'), { message: 'obs3 stalls (--batch-stall 1s) and the gauges agree with /api/batches' });
  await publish(pub.js, 'batch.obs3.completed', { batch_id: 'obs3', total: 10, done: 10, failed: 0, duration_ms: 5 });
  await pollUntil(() => agree('completed'), { message: 'a completed batch is not stalled' });
});
