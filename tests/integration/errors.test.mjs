// errors.test.mjs: every error code of PROTOCOL.md, the abuse close (4003)
// and the frame size limit (1009).
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, connect, getMetrics, metricValue, withTimeout, ms } from '../lib/harness.mjs';

let nats;
let gw; // defaults
let gwSmall; // --max-subs 5 --max-frame 1024
let gwRate; // --ops-rate 5 --ops-burst 10

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, name: 'wsgate-default' });
  [gwSmall, gwRate] = await Promise.all([
    startGateway({ natsUrl: nats.url, name: 'wsgate-small', args: ['--max-subs', '5', '--max-frame', '1024'] }),
    startGateway({ natsUrl: nats.url, name: 'wsgate-rate', args: ['--ops-rate', '5', '--ops-burst', '10'] }),
  ]);
});

after(async () => {
  for (const g of [gw, gwSmall, gwRate]) if (g) await g.stop();
  await nats?.stop();
});

async function open(t, g = gw) {
  const c = await connect(g.wsUrl);
  t.after(() => c.close());
  return c;
}

const isReply = (f) => f.op === 'ok' || f.op === 'err' || f.op === 'pong';

/** Send `frame` (string/object/Buffer) and return the next reply frame. */
async function reply(c, frame, opts) {
  c.send(frame, opts);
  return c.next(isReply, undefined, `reply to ${typeof frame === 'string' ? frame.slice(0, 80) : JSON.stringify(frame)?.slice(0, 80)}`);
}

/** Send `frame`, assert an err with `code` (and the id when given, else no id). */
async function expectErr(c, frame, code, { id, binary = false } = {}) {
  const r = await reply(c, frame, { binary });
  const shown = typeof frame === 'string' ? frame : Buffer.isBuffer(frame) ? '<binary>' : JSON.stringify(frame);
  assert.equal(r.op, 'err', `${shown.slice(0, 120)} should be an err ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.code, code, `${shown.slice(0, 120)}: code`);
  assert.equal(typeof r.message, 'string', 'err.message is a string');
  if (id !== undefined) assert.equal(r.id, id, `${shown.slice(0, 120)}: id echoed`);
  else if (!binary) assert.equal(r.id, undefined, `${shown.slice(0, 120)}: no (invalid) id echoed`);
  return r;
}

test('bad_request: frames that are not a valid op', async (t) => {
  const c = await open(t);
  const before_ = metricValue(await getMetrics(gw.url), 'wsgate_client_errors_total', { code: 'bad_request' }) ?? 0;
  // [frame, id to see echoed (undefined: none), binary]
  const cases = [
    [Buffer.from('{"op":"ping","id":"bin"}'), undefined, true], // binary frame
    ['this is not json {'],
    ['{"op":"ping"'], // truncated
    ['[{"op":"ping"}]'], // not an object
    ['"ping"'],
    ['42'],
    ['null'],
    [{ op: 'frobnicate', id: 'x1' }, 'x1'], // unknown op
    [{ id: 'x2' }, 'x2'], // missing op
    [{ op: 5, id: 'x3' }, 'x3'], // op not a string
    [{ op: 'sub', id: 'x4' }, 'x4'], // missing subject
    [{ op: 'sub', id: 'x5', subject: 5 }, 'x5'], // subject not a string
    [{ op: 'sub', id: 'x6', subject: ['license.>'] }, 'x6'],
    [{ op: 'unsub', id: 'x7' }, 'x7'],
    [{ op: 'ping', id: 5 }], // id not a string: not echoed
    [{ op: 'ping', id: { a: 1 } }],
  ];
  for (const [frame, id, binary = false] of cases) await expectErr(c, frame, 'bad_request', { id, binary });
  // The connection survives errors.
  assert.equal((await c.request({ op: 'ping', id: 'still-alive' })).op, 'pong');
  const after_ = metricValue(await getMetrics(gw.url), 'wsgate_client_errors_total', { code: 'bad_request' }) ?? 0;
  assert.ok(after_ - before_ >= cases.length, `wsgate_client_errors_total{code="bad_request"} grew by ${after_ - before_}, expected >= ${cases.length}`);
});

test('bad_request: id over 64 bytes; 64 bytes is fine', async (t) => {
  const c = await open(t);
  const id64 = 'i'.repeat(64);
  const r = await reply(c, { op: 'ping', id: id64 });
  assert.deepEqual([r.op, r.id], ['pong', id64]);
  await expectErr(c, { op: 'ping', id: 'i'.repeat(65) }, 'bad_request');
  // Bytes, not characters: 32 x "é" is 64 bytes, 33 x "é" is 66.
  const e32 = 'é'.repeat(32);
  const r2 = await reply(c, { op: 'ping', id: e32 });
  assert.deepEqual([r2.op, r2.id], ['pong', e32]);
  await expectErr(c, { op: 'ping', id: 'é'.repeat(33) }, 'bad_request');
});

test('bad_request: since negative, fractional or mistyped; epoch mistyped', async (t) => {
  const c = await open(t);
  await expectErr(c, { op: 'sub', id: 's1', subject: 'license.bsince.>', since: -1 }, 'bad_request', { id: 's1' });
  await expectErr(c, { op: 'sub', id: 's2', subject: 'license.bsince.>', since: 1.5 }, 'bad_request', { id: 's2' });
  await expectErr(c, { op: 'sub', id: 's3', subject: 'license.bsince.>', since: '5' }, 'bad_request', { id: 's3' });
  await expectErr(c, { op: 'sub', id: 's4', subject: 'license.bsince.>', since: 0, epoch: 5 }, 'bad_request', { id: 's4' });
  // since 0 is valid.
  const ok = await c.request({ op: 'sub', id: 's5', subject: 'license.bsince.>', since: 0 });
  assert.equal(ok.op, 'ok', JSON.stringify(ok));
  assert.equal(typeof ok.replayed, 'number');
  assert.equal(typeof ok.recovered, 'boolean');
});

test('bad_subject: syntax errors; limits are inclusive', async (t) => {
  const c = await open(t);
  const tok64 = 'a'.repeat(64);
  const bad = [
    '',
    'license.b 1',
    'license.b$1',
    'license..x',
    '.license',
    'license.',
    'license.b*.x',
    'license.b>',
    'license.>.x',
    'license.é',
    'license' + '.t'.repeat(16), // 17 tokens
    `license.${'a'.repeat(65)}`, // 65-character token
    `license.${tok64}.${tok64}.${tok64}.${'b'.repeat(54)}`, // 257 bytes
  ];
  assert.equal(bad.at(-1).length, 257);
  let i = 0;
  for (const subject of bad) {
    await expectErr(c, { op: 'sub', id: `bs${++i}`, subject }, 'bad_subject', { id: `bs${i}` });
  }
  const good = [
    'license' + '.t'.repeat(15), // 16 tokens
    `license.${tok64}`, // 64-character token
    `license.${tok64}.${tok64}.${tok64}.${'b'.repeat(53)}`, // 256 bytes
    'license.A-Z_az-09.*.>',
  ];
  assert.equal(good[2].length, 256);
  for (const subject of good) {
    const r = await c.request({ op: 'sub', subject });
    assert.equal(r.op, 'ok', `${subject} (${subject.length} bytes) is valid: ${JSON.stringify(r)}`);
  }
});

test('too_many_subscriptions past --max-subs', async (t) => {
  const c = await open(t, gwSmall);
  for (let i = 1; i <= 5; i++) await c.sub(`license.bmax${i}.>`);
  await expectErr(c, { op: 'sub', id: 'sixth', subject: 'license.bmax6.>' }, 'too_many_subscriptions', { id: 'sixth' });
  // At the limit, subscribing again to a held pattern is still the no-op ok.
  assert.equal((await c.request({ op: 'sub', subject: 'license.bmax3.>' })).op, 'ok');
  // Freeing one makes room for one.
  await c.unsub('license.bmax1.>');
  await c.sub('license.bmax6.>');
  await expectErr(c, { op: 'sub', id: 'again', subject: 'license.bmax7.>' }, 'too_many_subscriptions', { id: 'again' });
  // The limit is per connection.
  const d = await open(t, gwSmall);
  await d.sub('license.bmax7.>');
});

test('rate_limited past --ops-rate/--ops-burst; the rest is answered', async (t) => {
  const c = await open(t, gwRate);
  const ids = Array.from({ length: 30 }, (_, i) => `rl${i}`);
  for (const id of ids) c.send({ op: 'ping', id });
  const replies = await c.collect((f) => isReply(f) && ids.includes(f.id), 30, undefined, 'replies to 30 pings');
  const pongs = replies.filter((r) => r.op === 'pong');
  const limited = replies.filter((r) => r.op === 'err' && r.code === 'rate_limited');
  assert.equal(pongs.length + limited.length, 30, `only pongs and rate_limited: ${JSON.stringify(replies)}`);
  assert.ok(limited.length >= 1, 'some pings are rate_limited');
  assert.ok(pongs.length >= 10, `the burst (10) is answered: ${pongs.length} pongs`);
  assert.ok(pongs.length <= 20, `at most burst + a few refills: ${pongs.length} pongs`);
  assert.equal(new Set(replies.map((r) => r.id)).size, 30, 'one reply per id');
  // 20-ish errors are under the abuse limit: the connection stays open.
  assert.equal(c.closeInfo, null);
});

test('the 51st err frame within 10 s is followed by close 4003', async (t) => {
  // Exactly 51 bad frames: 50 are tolerated, the 51st err is the last frame.
  const c = await open(t);
  for (let i = 0; i < 51; i++) c.send(`not json ${i}`);
  const { code } = await withTimeout(c.closed, ms(20000), `close after 51 err frames (got ${c.history.filter((f) => f.op === 'err').length} err frames so far)`);
  const errs = c.history.filter((f) => f.op === 'err');
  assert.equal(errs.length, 51, `err frames before close: ${errs.length} (close ${code})`);
  assert.ok(errs.every((e) => e.code === 'bad_request'));
  assert.equal(code, 4003);
  // 50 errors leave the connection open.
  const d = await open(t);
  for (let i = 0; i < 50; i++) d.send(`not json ${i}`);
  const pong = await d.request({ op: 'ping', id: 'after-50' });
  assert.equal(pong.op, 'pong');
  assert.equal(d.history.filter((f) => f.op === 'err').length, 50);
  assert.equal(d.closeInfo, null);
});

test('a client still sending past the 51st err gets the 51 err frames, then 4003', async (t) => {
  // The gateway must not tear the TCP connection down under a client that
  // is still writing (a reset makes the client lose the frames in flight).
  const c = await open(t);
  for (let i = 0; i < 60; i++) c.send(`not json ${i}`);
  const { code } = await withTimeout(c.closed, ms(20000), `close after 51 err frames (got ${c.history.filter((f) => f.op === 'err').length} err frames so far)`);
  const errs = c.history.filter((f) => f.op === 'err');
  assert.equal(errs.length, 51, `err frames before close: ${errs.length} (close ${code})`);
  assert.equal(code, 4003);
});

test('a frame over --max-frame gets close 1009; max-frame itself is fine', async (t) => {
  const c = await open(t, gwSmall);
  assert.equal(c.hello.max_frame, 1024);
  const base = '{"op":"ping","id":"big"}';
  const exact = base + ' '.repeat(1024 - base.length);
  assert.equal(Buffer.byteLength(exact), 1024);
  const r = await reply(c, exact);
  assert.deepEqual([r.op, r.id], ['pong', 'big'], '1024-byte frame is accepted');

  c.send(exact + ' '); // 1025 bytes
  const closed = await withTimeout(c.closed, ms(20000), 'close 1009 after a 1025-byte frame');
  assert.equal(closed.code, 1009);

  const d = await open(t, gwSmall);
  d.send(JSON.stringify({ op: 'ping', id: 'x', pad: 'p'.repeat(100000) }));
  assert.equal((await withTimeout(d.closed, ms(20000), 'close 1009 after a 100 KB frame')).code, 1009);
});
