// slow.test.mjs: a client that stops reading is closed with 4001 once the
// bytes the gateway holds for it exceed --queue-bytes; a client that reads
// is not.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test, before, after, startNats, startGateway, natsClient, publishMany, connect, getMetrics, metricValue, pollUntil, withTimeout, ms } from '../lib/harness.mjs';

let nats;
let gw;
let pub;

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, args: ['--queue-bytes', '65536'] });
  pub = await natsClient(nats.url);
});

after(async () => {
  await pub?.close();
  if (gw) await gw.stop();
  await nats?.stop();
});

// Incompressible padding: permessage-deflate (on by default, and offered by
// ws) must not let the kernel's socket buffers absorb what should queue.
const pad = () => crypto.randomBytes(2048).toString('base64').slice(0, 2048);
const events = (tag, from, n) => Array.from({ length: n }, (_, i) => ({ subject: `license.${tag}.assigned`, data: { batch_id: tag, i: from + i, pad: pad() } }));

test('a paused client is closed with 4001 and counted', { timeout: 180000 }, async (t) => {
  const slow = await connect(gw.wsUrl, { label: 'slow' });
  t.after(() => slow.close());
  await slow.sub('license.>');
  const before_ = metricValue(await getMetrics(gw.url), 'wsgate_slow_consumer_closes_total') ?? 0;

  slow.pause();
  // Publish 2 KB events in rounds of 250 until the gateway reports a
  // slow-consumer close: the kernel socket buffers absorb a variable amount.
  let published = 0;
  let closes = before_;
  while (published < 40000) { // 80 MB at most: far beyond any loopback socket buffers
    await publishMany(pub.js, events('bslow', published, 250), { window: 64 });
    published += 250;
    closes = metricValue(await getMetrics(gw.url), 'wsgate_slow_consumer_closes_total') ?? 0;
    if (closes > before_) break;
  }
  t.diagnostic(`published ${published} events of 2 KB before the slow-consumer close (metric ${before_} -> ${closes})`);
  assert.ok(closes >= before_ + 1, `wsgate_slow_consumer_closes_total grew (${before_} -> ${closes}) after ${published} events`);

  slow.resume();
  const closed = await withTimeout(slow.closed, ms(20000), 'the slow client to see its close after resuming');
  assert.equal(closed.code, 4001, `slow client close: ${JSON.stringify(closed)}`);
  const msgs = slow.history.filter((f) => f.op === 'msg');
  t.diagnostic(`slow client received ${msgs.length} msg frames before the close`);
  for (let i = 1; i < msgs.length; i++) assert.ok(msgs[i].seq > msgs[i - 1].seq, 'what it got was in order');
  await pollUntil(async () => metricValue(await getMetrics(gw.url), 'wsgate_connections') === 0, {
    message: 'wsgate_connections to drop to 0 after the slow close',
  });
});

test('a client that keeps reading is not closed', { timeout: 180000 }, async (t) => {
  // 2000 events of 2 KB (4 MB, 64 x --queue-bytes), one at a time:
  // a client that reads as they come never has 64 KB waiting.
  const c = await connect(gw.wsUrl, { label: 'reader' });
  t.after(() => c.close());
  const ok = await c.sub('license.bread.>');
  const seqs = await publishMany(pub.js, events('bread', 0, 2000), { window: 1 });
  const got = await c.collect((f) => f.op === 'msg', seqs.length, ms(60000), 'reader msgs');
  assert.deepEqual(got.map((m) => m.seq), seqs, 'every event, in order');
  assert.ok(got[0].seq > ok.seq);
  assert.equal((await c.request({ op: 'ping' })).op, 'pong');
  assert.equal(c.closeInfo, null, 'still open');
});
