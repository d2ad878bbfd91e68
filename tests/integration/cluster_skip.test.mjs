// cluster_skip.test.mjs: a live consumer that delivers a stream-sequence jump
// with a contiguous consumer sequence (what a NATS cluster node delivered
// after a node failure in issue 10 item 16). A fault-injecting proxy between
// the gateway and a real nats-server makes the gateway's first consumer skip
// stream sequences 21-30; the gateway must not send what is past the gap
// before the gap is filled: every client gets every event once, in order.
// The same skip over messages the stream really deleted is let through,
// without recreating consumers in a loop.
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, connect, publishMany, ms } from '../lib/harness.mjs';
import { waitFor, msgsOf, sequenceProblems } from '../lib/resume.mjs';
import { startNatsProxy, consumerSkip } from '../lib/natsproxy.mjs';

let nats, pub;
const closers = [];
before(async () => {
  nats = await startNats();
  pub = await natsClient(nats.url);
});
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  await pub?.close();
  await nats?.stop();
});

/** A gateway on `stream` whose NATS connection goes through a proxy where its first consumer skips [from, to). */
async function skippingGateway(stream, from, to) {
  const fault = consumerSkip(stream, from, to);
  const proxy = await startNatsProxy(nats.port, fault.transform);
  closers.push(() => proxy.close());
  const gw = await startGateway({ natsUrl: proxy.url, stream, name: `gw-${stream}`, args: ['--stream-subjects', `${stream.toLowerCase()}.>`] });
  closers.push(() => gw.stop());
  const c = await connect(gw.wsUrl, { label: `client-${stream}` });
  closers.push(() => c.close());
  await c.sub('>');
  return { fault, gw, c };
}

const events = (stream, n, from = 0) => Array.from({ length: n }, (_, i) => ({ subject: `${stream.toLowerCase()}.s${(from + i) % 3}.assigned`, data: { i: from + i } }));
const gaps = (gw) => gw.jsonLogs().filter((l) => l.event === 'consumer_gap');
const attaches = (gw) => gw.jsonLogs().filter((l) => l.event === 'stream_attached');

test('a consumer skips stream sequences the stream still holds: nothing past the gap goes out first', async () => {
  const stream = 'SKIP_HELD';
  const { fault, gw, c } = await skippingGateway(stream, 21, 31);
  const seqs = await publishMany(pub.js, events(stream, 60));
  assert.deepEqual(seqs, Array.from({ length: 60 }, (_, i) => i + 1));
  await waitFor(c, () => msgsOf(c).some((f) => f.seq === 60), { timeoutMs: ms(20000), what: 'seq 60' });
  assert.deepEqual(fault.skipped, [21, 22, 23, 24, 25, 26, 27, 28, 29, 30], 'the consumer did skip');
  const got = msgsOf(c).map((f) => f.seq);
  console.log(`# skip over held messages: ${got.length} msgs to the client, ${gaps(gw).length} consumer_gap, ${attaches(gw).length} attaches`);
  assert.equal(sequenceProblems(got, seqs), null, 'every event once, in order');
  assert.ok(gaps(gw).length >= 1, 'the gateway noticed the skip');
});

test('a consumer skips sequences the stream deleted: the gap is let through once', async () => {
  const stream = 'SKIP_DELETED';
  const { fault, gw, c } = await skippingGateway(stream, 21, 31);
  const first = await publishMany(pub.js, events(stream, 30));
  // 21-30 never reached the gateway (the proxy dropped them); now the stream
  // deletes them too, so skipping them is right.
  for (let s = 21; s <= 30; s++) assert.ok(await pub.jsm.streams.deleteMessage(stream, s, false));
  const rest = await publishMany(pub.js, events(stream, 30, 30));
  await waitFor(c, () => msgsOf(c).some((f) => f.seq === 60), { timeoutMs: ms(20000), what: 'seq 60' });
  assert.equal(fault.skipped.length, 10, 'the consumer did skip');
  const got = msgsOf(c).map((f) => f.seq);
  const expected = [...first.slice(0, 20), ...rest];
  console.log(`# skip over deleted messages: ${got.length} msgs to the client, ${gaps(gw).length} consumer_gap, ${attaches(gw).length} attaches`);
  assert.equal(sequenceProblems(got, expected), null, 'every event the stream holds, once, in order');
  assert.ok(attaches(gw).length <= 2, `no attach loop (${attaches(gw).length} attaches)`);
});
