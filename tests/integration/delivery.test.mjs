// delivery.test.mjs: hello, sub/unsub/ping and the delivery of published
// events (PROTOCOL.md "Client to server", "Server to client").
//
// "Not delivered" is checked with a fence: after the event that must not
// arrive, the test publishes a fence event the client does receive; the
// gateway consumes the stream in order, so once the fence has arrived the
// unwanted event would have too.
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, publish, connect, fileStreamName } from '../lib/harness.mjs';

let nats;
let gw;
let pub;

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url });
  pub = await natsClient(nats.url);
});

after(async () => {
  await pub?.close();
  if (gw) await gw.stop();
  await nats?.stop();
});

async function open(t, opts) {
  const c = await connect(gw.wsUrl, opts);
  t.after(() => c.close());
  return c;
}

let fenceN = 0;
/** Subscribe c to a fresh fence subject, publish on it, await its msg. */
async function fence(c) {
  const subject = `verification.fence${++fenceN}.done`;
  await c.sub(subject);
  const seq = await publish(pub.js, subject, { fence: fenceN });
  const m = await c.nextMsg(subject);
  assert.equal(m.seq, seq);
  return seq;
}

/** Assert no msg frame is left in c's queue (other than fences already taken). */
function assertNoMsgs(c, why) {
  const extra = c.queue.filter((f) => f.op === 'msg');
  assert.deepEqual(extra, [], `unexpected msg frames (${why})`);
}

test('hello is the first frame and has every field', async (t) => {
  const a = await open(t);
  const b = await open(t);
  assert.equal(a.history[0].op, 'hello', 'first frame is hello');
  for (const h of [a.hello, b.hello]) {
    assert.equal(h.version, 1);
    assert.match(h.server, /^wsgate\/\d+\.\d+\.\d+/);
    assert.equal(typeof h.conn, 'string');
    assert.ok(h.conn.length > 0, 'conn not empty');
    assert.equal(typeof h.epoch, 'string');
    assert.ok(Number.isInteger(h.heartbeat_ms) && h.heartbeat_ms > 0, `heartbeat_ms ${h.heartbeat_ms}`);
    assert.ok(Number.isInteger(h.max_frame) && h.max_frame > 0, `max_frame ${h.max_frame}`);
  }
  assert.notEqual(a.hello.conn, b.hello.conn, 'conn is unique per connection');
  assert.equal(a.hello.epoch, b.hello.epoch, 'one epoch per stream');
  // The epoch is the stream's creation time (compared at millisecond precision).
  const info = await pub.jsm.streams.info(fileStreamName());
  assert.ok(!Number.isNaN(Date.parse(a.hello.epoch)), `epoch ${a.hello.epoch} is an RFC 3339 time`);
  assert.equal(Date.parse(a.hello.epoch), Date.parse(info.created), `epoch ${a.hello.epoch} vs stream created ${info.created}`);
});

test('sub answers ok with the id, subject and seq', async (t) => {
  const c = await open(t);
  const ok = await c.request({ op: 'sub', id: 'sub-1', subject: 'license.bok.>' });
  assert.equal(ok.op, 'ok');
  assert.equal(ok.id, 'sub-1');
  assert.equal(ok.subject, 'license.bok.>');
  assert.ok(Number.isInteger(ok.seq) && ok.seq >= 0, `seq ${ok.seq}`);
  assert.equal(ok.replayed, undefined, 'no replayed without since');
  assert.equal(ok.recovered, undefined, 'no recovered without since');
});

test('a published event arrives as msg with the JetStream seq and JSON data', async (t) => {
  const c = await open(t);
  await c.sub('license.b1.assigned');
  const data = { batch_id: 'b1', license_id: 'L-1', hcp_id: 'H-9', product: 'p', worker: 3, duration_ms: 12, ts: '2026-11-27T05:40:12.118Z', nested: { a: [1, 2, { b: null }], s: 'é ✓ "q"' } };
  const seq = await publish(pub.js, 'license.b1.assigned', data);
  const m = await c.nextMsg('license.b1.assigned');
  assert.equal(m.op, 'msg');
  assert.equal(m.subject, 'license.b1.assigned');
  assert.equal(m.seq, seq, 'msg.seq is the stream sequence of the ack');
  assert.deepEqual(m.data, data);
  assert.equal(m.encoding, undefined);
});

test('any valid JSON payload is embedded as JSON', async (t) => {
  const c = await open(t);
  await c.sub('license.bjson.*');
  const cases = [
    ['license.bjson.array', '[1,"a",{"b":true}]', [1, 'a', { b: true }]],
    ['license.bjson.number', '42', 42],
    ['license.bjson.string', '"quoted"', 'quoted'],
    ['license.bjson.bool', 'true', true],
  ];
  for (const [subject, payload, expected] of cases) {
    const seq = await publish(pub.js, subject, payload);
    const m = await c.nextMsg(subject);
    assert.equal(m.seq, seq);
    assert.deepEqual(m.data, expected, `payload ${payload}`);
    assert.equal(m.encoding, undefined);
  }
});

test('a non-JSON payload is delivered as a string', async (t) => {
  const c = await open(t);
  await c.sub('license.btext.>');
  const seq = await publish(pub.js, 'license.btext.note', 'hello, world {not json');
  const m = await c.nextMsg('license.btext.note');
  assert.equal(m.seq, seq);
  assert.equal(m.data, 'hello, world {not json');
  assert.equal(m.encoding, undefined, 'UTF-8 text has no encoding field');

  const seq2 = await publish(pub.js, 'license.btext.utf8', 'héllo ✓ 😀');
  const m2 = await c.nextMsg('license.btext.utf8');
  assert.equal(m2.seq, seq2);
  assert.equal(m2.data, 'héllo ✓ 😀');
  assert.equal(m2.encoding, undefined);

  const seq3 = await publish(pub.js, 'license.btext.empty', '');
  const m3 = await c.nextMsg('license.btext.empty');
  assert.equal(m3.seq, seq3);
  assert.equal(m3.data, '', 'empty payload is the empty string');
});

test('a payload that is not UTF-8 is delivered as base64', async (t) => {
  const c = await open(t);
  await c.sub('license.bbin.>');
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0xc3, 0x28, 0x80, 0x7b, 0x7d]);
  const seq = await publish(pub.js, 'license.bbin.blob', new Uint8Array(bytes));
  const m = await c.nextMsg('license.bbin.blob');
  assert.equal(m.seq, seq);
  assert.equal(m.encoding, 'base64');
  assert.equal(typeof m.data, 'string');
  assert.deepEqual(Buffer.from(m.data, 'base64'), bytes);
});

test('wildcards: * matches one token, > one or more', async (t) => {
  const star = await open(t);
  const gt = await open(t);
  await star.sub('license.*.assigned');
  await gt.sub('license.bw.>');

  const s1 = await publish(pub.js, 'license.bw.assigned', { n: 1 }); // both
  const s2 = await publish(pub.js, 'license.bw.failed', { n: 2 }); // gt only
  const s3 = await publish(pub.js, 'license.bw.x.assigned', { n: 3 }); // gt only (4 tokens)
  const s4 = await publish(pub.js, 'license.other.assigned', { n: 4 }); // star only
  const s5 = await publish(pub.js, 'batch.bw.started', { n: 5 }); // neither

  const a = await star.collect((f) => f.op === 'msg', 2, undefined, 'star msgs');
  assert.deepEqual(a.map((m) => [m.subject, m.seq]), [['license.bw.assigned', s1], ['license.other.assigned', s4]]);
  const b = await gt.collect((f) => f.op === 'msg', 3, undefined, 'gt msgs');
  assert.deepEqual(b.map((m) => [m.subject, m.seq]), [['license.bw.assigned', s1], ['license.bw.failed', s2], ['license.bw.x.assigned', s3]]);

  await fence(star);
  await fence(gt);
  assertNoMsgs(star, `license.*.assigned got more than seqs ${s1}, ${s4} (s5=${s5})`);
  assertNoMsgs(gt, `license.bw.> got more than seqs ${s1}, ${s2}, ${s3}`);
});

test('unsub stops delivery; unsub of an unknown pattern is ok', async (t) => {
  const c = await open(t);
  await c.sub('license.bu.>');
  const s1 = await publish(pub.js, 'license.bu.assigned', { n: 1 });
  assert.equal((await c.nextMsg('license.bu.assigned')).seq, s1);

  const r = await c.request({ op: 'unsub', id: 'u1', subject: 'license.bu.>' });
  assert.equal(r.op, 'ok');
  assert.equal(r.id, 'u1');
  await publish(pub.js, 'license.bu.assigned', { n: 2 });
  await fence(c);
  assertNoMsgs(c, 'after unsub');

  const r2 = await c.request({ op: 'unsub', id: 'u2', subject: 'license.never.subscribed' });
  assert.equal(r2.op, 'ok', `unknown unsub: ${JSON.stringify(r2)}`);
  assert.equal(r2.id, 'u2');
});

test('subscribing twice is a no-op ok and the event is delivered once', async (t) => {
  const c = await open(t);
  const ok1 = await c.sub('license.btwice.assigned');
  const ok2 = await c.sub('license.btwice.assigned');
  assert.equal(ok2.subject, 'license.btwice.assigned');
  assert.ok(ok2.seq >= ok1.seq);
  const seq = await publish(pub.js, 'license.btwice.assigned', { n: 1 });
  assert.equal((await c.nextMsg('license.btwice.assigned')).seq, seq);
  await fence(c);
  assertNoMsgs(c, 'duplicate delivery after a double sub');
  // One unsub removes it (it was one subscription).
  await c.unsub('license.btwice.assigned');
  await publish(pub.js, 'license.btwice.assigned', { n: 2 });
  await fence(c);
  assertNoMsgs(c, 'after the single unsub of a double sub');
});

test('an event matching two patterns of one connection is delivered once', async (t) => {
  const c = await open(t);
  await c.sub('license.>');
  await c.sub('license.*.assigned');
  await c.sub('license.bdup.assigned');
  const seq = await publish(pub.js, 'license.bdup.assigned', { n: 1 });
  const m = await c.nextMsg('license.bdup.assigned');
  assert.equal(m.seq, seq);
  await fence(c); // fences are on verification.*: none of the three patterns match them
  assertNoMsgs(c, 'overlapping patterns');
  // Dropping one pattern keeps delivery through the others.
  await c.unsub('license.>');
  const seq2 = await publish(pub.js, 'license.bdup.assigned', { n: 2 });
  assert.equal((await c.nextMsg('license.bdup.assigned')).seq, seq2);
  await fence(c);
  assertNoMsgs(c, 'overlapping patterns after one unsub');
});

test('ok.seq follows the stream', async (t) => {
  // ok.seq is the last sequence the gateway itself has received, which may
  // lag the JetStream ack a little: wait until the client has seen the
  // published events, then a new sub must answer a seq at least that high.
  const c = await open(t);
  const first = await c.sub('license.bseq.a');
  let last = 0;
  for (let i = 0; i < 5; i++) last = await publish(pub.js, 'license.bseq.a', { i });
  assert.ok(first.seq < last, `first ok.seq ${first.seq} < last published ${last}`);
  const got = await c.collect((f) => f.op === 'msg', 5);
  assert.equal(got.at(-1).seq, last);
  const second = await c.sub('license.bseq.c');
  assert.ok(second.seq >= last, `ok.seq ${second.seq} >= last published (and delivered) seq ${last}`);
  const info = await pub.jsm.streams.info(fileStreamName());
  assert.ok(second.seq <= info.state.last_seq, `ok.seq ${second.seq} <= stream last_seq ${info.state.last_seq}`);
  // Whatever is published after the ok arrives live with a higher seq.
  const s3 = await publish(pub.js, 'license.bseq.c', { n: 3 });
  const m = await c.nextMsg('license.bseq.c');
  assert.equal(m.seq, s3);
  assert.ok(m.seq > second.seq);
});

test('messages on one subject arrive in seq order', async (t) => {
  const c = await open(t);
  await c.sub('license.border.assigned');
  const seqs = [];
  for (let i = 0; i < 50; i++) seqs.push(await publish(pub.js, 'license.border.assigned', { i }));
  const got = await c.collect((f) => f.op === 'msg', 50);
  assert.deepEqual(got.map((m) => m.seq), seqs);
  assert.deepEqual(got.map((m) => m.data.i), [...seqs.keys()]);
});

test('ping answers pong with the id', async (t) => {
  const c = await open(t);
  const r = await c.request({ op: 'ping', id: 'p-42' });
  assert.equal(r.op, 'pong');
  assert.equal(r.id, 'p-42');
  c.send({ op: 'ping' });
  const r2 = await c.next((f) => f.op === 'pong' || f.op === 'err');
  assert.equal(r2.op, 'pong', 'ping without id');
  assert.equal(r2.id, undefined);
});
