// shutdown.test.mjs: SIGTERM closes every client with 1001 and the process
// exits 0 within 5 s.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test, before, after, startNats, startGateway, natsClient, publish, connect, withTimeout, ms } from '../lib/harness.mjs';

let nats;

before(async () => {
  nats = await startNats();
});

after(async () => {
  await nats?.stop();
});

test('SIGTERM: every client gets 1001, exit 0 within 5 s', { timeout: 60000 }, async (t) => {
  const gw = await startGateway({ natsUrl: nats.url });
  t.after(() => gw.kill());
  const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => connect(gw.wsUrl, { label: `c${i}` })));
  t.after(() => clients.forEach((c) => c.terminate()));
  await Promise.all(clients.map((c, i) => c.sub(i % 2 ? 'license.>' : 'batch.bshut.*')));
  // Some traffic in flight is fine.
  const pub = await natsClient(nats.url);
  t.after(() => pub.close());
  const seq = await publish(pub.js, 'license.bshut.assigned', { n: 1 });
  await clients[1].nextMsg('license.bshut.assigned');

  const t0 = performance.now();
  gw.proc.kill('SIGTERM');
  const { code, signal } = await withTimeout(gw.exitedPromise, ms(15000), 'wsgate to exit after SIGTERM');
  const elapsed = performance.now() - t0;
  t.diagnostic(`exited ${Math.round(elapsed)} ms after SIGTERM (code ${code}, signal ${signal})`);

  const closes = await withTimeout(Promise.all(clients.map((c) => c.closed)), ms(10000), 'every client to see the close');
  assert.deepEqual(closes.map((c) => c.code), clients.map(() => 1001), 'every client closed with 1001');
  assert.equal(signal, null, 'exited by itself, not by a signal');
  assert.equal(code, 0, 'exit code 0');
  assert.ok(elapsed < 5000, `exited within 5 s of SIGTERM (${Math.round(elapsed)} ms)`);
  assert.ok(seq > 0);
});

test('SIGTERM with no client: exit 0 within 5 s', { timeout: 60000 }, async (t) => {
  const gw = await startGateway({ natsUrl: nats.url });
  t.after(() => gw.kill());
  const t0 = performance.now();
  gw.proc.kill('SIGTERM');
  const { code, signal } = await withTimeout(gw.exitedPromise, ms(15000), 'wsgate to exit after SIGTERM');
  const elapsed = performance.now() - t0;
  assert.deepEqual({ code, signal }, { code: 0, signal: null });
  assert.ok(elapsed < 5000, `exited within 5 s of SIGTERM (${Math.round(elapsed)} ms)`);
});
