// stream.test.mjs: the JetStream stream as the gateway finds or creates it
// (README "Configuration", docs/operations.md "NATS cluster and the stream"):
// an existing stream whose subjects do not cover --stream-subjects is a
// warning in the log and in /readyz; a stream the gateway creates has
// retention by default (7 days).
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, httpGet, pollUntil } from '../lib/harness.mjs';

let nats;
let nc;

before(async () => {
  nats = await startNats();
  nc = await natsClient(nats.url);
});

after(async () => {
  await nc?.close();
  await nats?.stop();
});

test('a stream that exists with narrower subjects: a warning in the log and in /readyz (200)', async (t) => {
  const stream = `NARROW_${process.pid}`;
  await nc.jsm.streams.add({ name: stream, subjects: ['batch.>', 'license.b1.*'] });
  const gw = await startGateway({ natsUrl: nats.url, stream });
  t.after(async () => {
    await gw.stop();
    await nc.jsm.streams.delete(stream); // streams may not share subjects
  });
  const line = await pollUntil(() => gw.jsonLogs().find((l) => l.event === 'stream_subjects_uncovered'), { message: 'a stream_subjects_uncovered log line' });
  assert.equal(line.level, 'warn');
  assert.equal(line.stream, stream);
  assert.equal(line.warning, 'stream subjects do not cover license.>, verification.>');
  assert.equal(line.stream_subjects, 'batch.>,license.b1.*');
  const r = await httpGet(gw.url + '/readyz');
  assert.equal(r.status, 200, 'still serving what the stream holds');
  assert.equal(r.json().status, 'ready');
  assert.equal(r.json().warning, 'stream subjects do not cover license.>, verification.>');
});

test('a stream that covers --stream-subjects (and more): no warning', async (t) => {
  const stream = `WIDE_${process.pid}`;
  await nc.jsm.streams.add({ name: stream, subjects: ['verification.>', 'batch.>', 'license.>', 'other.>'] });
  const gw = await startGateway({ natsUrl: nats.url, stream });
  t.after(async () => {
    await gw.stop();
    await nc.jsm.streams.delete(stream); // streams may not share subjects
  });
  const r = await httpGet(gw.url + '/readyz');
  assert.equal(r.status, 200);
  assert.equal(r.json().warning, undefined, r.text);
  assert.ok(gw.jsonLogs().some((l) => l.event === 'stream_attached'), 'attached');
  assert.equal(gw.jsonLogs().find((l) => l.event === 'stream_subjects_uncovered'), undefined);
});

test('a stream the gateway creates has retention by default: max age 7 days (--stream-max-age 0: none)', async (t) => {
  const made = `MADE_${process.pid}`;
  const g = await startGateway({ natsUrl: nats.url, stream: made });
  t.after(async () => {
    await g.stop();
    await nc.jsm.streams.delete(made);
  });
  assert.ok(g.jsonLogs().some((l) => l.event === 'stream_created' && l.stream === made), 'the gateway created it');
  const info = await nc.jsm.streams.info(made);
  assert.equal(info.config.max_age, 7 * 24 * 3600 * 1e9, 'max_age in ns');
  assert.equal(info.config.max_bytes, -1);
  assert.equal(info.config.max_msgs, -1);
  assert.equal(info.config.num_replicas, 1);
  assert.equal(info.config.storage, 'file');
});

test('--stream-max-age 0 creates a stream without an age limit', async (t) => {
  const made = `UNLIMITED_${process.pid}`;
  const g = await startGateway({ natsUrl: nats.url, stream: made, args: ['--stream-max-age', '0'] });
  t.after(async () => {
    await g.stop();
    await nc.jsm.streams.delete(made);
  });
  assert.equal((await nc.jsm.streams.info(made)).config.max_age, 0);
});
