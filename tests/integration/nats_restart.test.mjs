// nats_restart.test.mjs: the gateway survives its NATS server going away:
// /readyz turns 503 while clients stay connected, and delivery resumes after
// the server is back (same port, same JetStream store).
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, publish, connect, httpGet, pollUntil, getMetrics, metricValue, freePort, delay, ms } from '../lib/harness.mjs';

let nats;
let gw;

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url });
});

after(async () => {
  if (gw) await gw.stop();
  await nats?.stop();
});

test('NATS killed: not ready, clients kept; NATS back: ready, delivery resumes', { timeout: 120000 }, async (t) => {
  const c = await connect(gw.wsUrl);
  t.after(() => c.close());
  await c.sub('license.brestart.>');

  let pub = await natsClient(nats.url);
  const before_ = await publish(pub.js, 'license.brestart.assigned', { n: 1 });
  assert.equal((await c.nextMsg('license.brestart.assigned')).seq, before_);
  await pub.close();

  await nats.kill('SIGKILL');
  const notReady = await pollUntil(async () => {
    const r = await httpGet(`${gw.url}/readyz`);
    return r.status === 503 ? r : null;
  }, { timeoutMs: ms(30000), message: 'GET /readyz == 503 after NATS was killed' });
  assert.ok(notReady.text.length > 0, '503 carries a reason');
  assert.doesNotThrow(() => JSON.parse(notReady.text), `503 body is JSON: ${notReady.text}`);
  assert.equal((await httpGet(`${gw.url}/healthz`)).status, 200, 'still serving while NATS is down');
  assert.equal(metricValue(await getMetrics(gw.url), 'wsgate_nats_connected'), 0);
  // Each failed pass over the servers is a warn line with its attempt number.
  const unreachable = () => gw.jsonLogs().filter((l) => l.event === 'nats_unreachable');
  await pollUntil(() => unreachable().length >= 2, { timeoutMs: ms(15000), message: 'nats_unreachable lines after the kill' });
  assert.deepEqual(unreachable().slice(0, 2).map((l) => [l.level, l.attempt, l.servers]), [
    ['warn', 1, nats.url.replace('nats://', '')],
    ['warn', 2, nats.url.replace('nats://', '')],
  ]);

  // The WebSocket client stays connected and is answered.
  assert.equal((await c.request({ op: 'ping', id: 'during-outage' })).op, 'pong');
  assert.equal(c.closeInfo, null, 'client still connected');
  // A new client can still connect (hello) while NATS is down.
  const d = await connect(gw.wsUrl);
  t.after(() => d.close());

  await nats.restart();
  await pollUntil(async () => (await httpGet(`${gw.url}/readyz`)).status === 200, {
    timeoutMs: ms(60000),
    message: 'GET /readyz == 200 after NATS came back',
  });
  assert.equal(metricValue(await getMetrics(gw.url), 'wsgate_nats_connected'), 1);

  pub = await natsClient(nats.url);
  t.after(() => pub.close());
  const afterSeq = await publish(pub.js, 'license.brestart.assigned', { n: 2 });
  assert.ok(afterSeq > before_, `stream kept its messages: seq ${afterSeq} > ${before_}`);
  const m = await c.nextMsg('license.brestart.assigned', ms(30000));
  assert.equal(m.seq, afterSeq, 'the event published after the restart reaches the same client');
  assert.deepEqual(m.data, { n: 2 });
  assert.equal(c.history.filter((f) => f.op === 'msg').length, 2, 'nothing duplicated');
  assert.equal(c.closeInfo, null);
});

test('NATS never reachable: each failed attempt at warn with its count and the servers without credentials, rate-limited', { timeout: 60000 }, async (t) => {
  const port = await freePort(); // nothing listens there
  const g = await startGateway({ natsUrl: `nats://wsgate:s3cr3t-pw@127.0.0.1:${port}`, wait: 'healthz' });
  t.after(() => g.stop());
  const unreachable = () => g.jsonLogs().filter((l) => l.event === 'nats_unreachable');
  await pollUntil(() => unreachable().length >= 3, { timeoutMs: ms(15000), message: '3 nats_unreachable lines' });
  const first = unreachable();
  assert.deepEqual(first.slice(0, 3).map((l) => l.attempt), [1, 2, 3]);
  for (const l of first) {
    assert.equal(l.level, 'warn');
    assert.equal(l.servers, `127.0.0.1:${port}`);
  }
  assert.ok(!g.logs.some((l) => l.includes('s3cr3t-pw')), 'the password is never logged');
  // About 2 attempts a second, but past the third at most one line per 10 s.
  await delay(4000); // not scaled: the window is 10 s whatever the build
  assert.equal(unreachable().length, 3, `rate-limited: ${JSON.stringify(unreachable())}`);
  assert.equal((await httpGet(`${g.url}/readyz`)).status, 503);
});
