// bounds.test.mjs: what one client can make the gateway hold is bounded: a
// client that never reads is dropped within seconds (counted once), resumes
// are fed in windows as the client drains (no whole-stream copies), and the
// resumes of a client that leaves are cancelled.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { test, before, after, startNats, startGateway, natsClient, publishMany, connect, getMetrics, metricValue, pollUntil, delay, ms } from '../lib/harness.mjs';

let nats;
let gw;
let pub;
const EVENTS = 5000;
// Incompressible padding: permessage-deflate (on by default, and offered by
// ws) must not let the kernel's socket buffers absorb what should queue.
const pad = () => crypto.randomBytes(2000).toString('base64').slice(0, 2000);
let seqs;

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const metric = async (name) => metricValue(await getMetrics(gw.url), name) ?? 0;

before(async () => {
  nats = await startNats();
  // A 10-message ring: resumes come from JetStream. A small queue bound.
  gw = await startGateway({ natsUrl: nats.url, args: ['--queue-bytes', '65536', '--ring-msgs', '10'] });
  pub = await natsClient(nats.url);
  const events = Array.from({ length: EVENTS }, (_, i) => ({ subject: `license.bnd${i % 50}.assigned`, data: { batch_id: `bnd${i % 50}`, i, pad: pad() } }));
  seqs = await publishMany(pub.js, events, { window: 128 });
  await pollUntil(async () => (await metric('wsgate_stream_last_seq')) >= seqs.at(-1), { message: 'gateway caught up' });
});

after(async () => {
  await pub?.close();
  if (gw) await gw.stop();
  await nats?.stop();
});

test('resumes of a paused client are bounded, and complete once it reads', { timeout: 180000 }, async (t) => {
  const c = await connect(gw.wsUrl, { label: 'paused-resumer' });
  t.after(() => c.close());
  const rss0 = rssKiB(gw.pid);
  for (const [i, subject] of ['license.>', 'license.*.assigned', '>'].entries()) c.send({ op: 'sub', id: `r${i}`, subject, since: 0 });
  c.pause();
  await delay(3000); // the gateway reads what it may in that time
  const grown = (rssKiB(gw.pid) - rss0) / 1024;
  const queued = metricValue(await getMetrics(gw.url), 'wsgate_queued_bytes');
  t.diagnostic(`for 3 resumes of a ${(EVENTS * 2) / 1000} MB stream by a client that does not read: ${queued} bytes queued, gateway RSS +${grown.toFixed(1)} MiB`);
  assert.ok(queued !== undefined && queued <= 2 * 65536, `queued bytes ${queued}: within the 64 KiB bound (and a window)`);
  // RSS says the same without the gateway's word for it (not under ASan, whose quarantine keeps freed memory)
  if (!process.env.WSGATE_SANITIZED) assert.ok(grown < 16, `RSS grew by ${grown.toFixed(1)} MiB (3 whole-stream replays would be > 30)`);

  c.resume();
  const oks = await c.collect((f) => f.op === 'ok', 3, ms(60000), 'three oks');
  for (const ok of oks) assert.equal(ok.replayed, EVENTS, `ok ${ok.id}: replayed`);
  const msgs = await c.collect((f) => f.op === 'msg', 3 * EVENTS, ms(120000), 'every replayed frame');
  const perSeq = new Map();
  for (const m of msgs) perSeq.set(m.seq, (perSeq.get(m.seq) ?? 0) + 1);
  assert.deepEqual([...perSeq.keys()].sort((a, b) => a - b), seqs, 'every stored event');
  assert.ok([...perSeq.values()].every((n) => n === 3), 'each once per resumed subscription');
  await pollUntil(async () => (await metric('wsgate_replays_running')) === 0, { message: 'replays finished' });
});

test('the resumes of a client that leaves are cancelled; another client resumes fully', { timeout: 180000 }, async (t) => {
  const a = await connect(gw.wsUrl, { label: 'leaver' });
  a.pause();
  const resumes0 = await metric('wsgate_resumes_total');
  const cancelled0 = await metric('wsgate_resumes_cancelled_total');
  for (let i = 0; i < 90; i++) a.send({ op: 'sub', id: `s${i}`, subject: `license.bnd${i % 50}.${i < 50 ? '>' : '*'}`, since: 0 });
  // Registered, not all still pending: the first ones may finish into the
  // paused client's socket buffers (megabytes on loopback) meanwhile.
  await pollUntil(async () => (await metric('wsgate_resumes_total')) - resumes0 >= 90, { message: '90 resumes registered' });
  const running = await metric('wsgate_replays_running'), waiting = await metric('wsgate_replays_waiting');
  t.diagnostic(`running ${running}, waiting ${waiting}`);
  assert.ok(running <= 4, 'at most 4 resumes of one connection run at once');
  a.ws.terminate();
  await pollUntil(async () => (await metric('wsgate_replays_running')) + (await metric('wsgate_replays_waiting')) === 0, { message: 'the leaver\'s resumes gone' });
  const cancelled = (await metric('wsgate_resumes_cancelled_total')) - cancelled0;
  t.diagnostic(`cancelled ${cancelled} of the leaver's 90 resumes`);
  assert.ok(cancelled >= Math.min(1, running + waiting), 'the resumes still pending when it left were cancelled, not run');

  const b = await connect(gw.wsUrl, { label: 'resumer' });
  t.after(() => b.close());
  b.send({ op: 'sub', id: 'b', subject: 'license.bnd7.>', since: 0 });
  const ok = await b.next((f) => f.op === 'ok', ms(30000), 'ok');
  assert.equal(ok.replayed, EVENTS / 50);
  const got = await b.collect((f) => f.op === 'msg', EVENTS / 50, ms(60000), 'replay');
  assert.deepEqual(got.map((m) => m.seq), seqs.filter((_, i) => i % 50 === 7));
});

test('a client that never reads is dropped within seconds and counted once', { timeout: 180000 }, async (t) => {
  // Its own gateway with the default 1 MiB bound, fed at a pace that fills the
  // socket first and then stays between the bound and four times it: the
  // close is decided by the one-second grace while the socket takes nothing,
  // so the close frame cannot be written either.
  const g = await startGateway({ natsUrl: nats.url });
  t.after(() => g.stop());
  const m = async (name) => metricValue(await getMetrics(g.url), name) ?? 0;
  await pollUntil(async () => (await m('wsgate_stream_last_seq')) >= seqs.at(-1), { message: 'second gateway caught up' });
  const c = await connect(g.wsUrl, { label: 'never-reads' });
  await c.sub('license.bndlive.>');
  c.pause();
  const live = (n, from) => Array.from({ length: n }, (_, i) => ({ subject: 'license.bndlive.assigned', data: { batch_id: 'bndlive', i: from + i, pad: pad() } }));
  let published = 0;
  while ((await m('wsgate_slow_consumer_closes_total')) === 0 && published < 40000) {
    await publishMany(pub.js, live(50, published), { window: 50 });
    published += 50;
    await delay(100);
  }
  t.diagnostic(`closed as slow after ${published} events of 2 KB`);
  assert.equal(await m('wsgate_slow_consumer_closes_total'), 1, 'closed as a slow consumer');
  // It never reads its close frame: the socket must still go, within seconds.
  await pollUntil(async () => (await m('wsgate_connections')) === 0, { timeoutMs: ms(30000), message: 'the silent slow consumer dropped' });
  await delay(2500);
  assert.equal(await m('wsgate_slow_consumer_closes_total'), 1, 'counted once');
  c.ws.terminate();
});
