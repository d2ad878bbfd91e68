// refresh.test.mjs: the refresh op (PROTOCOL.md "refresh"): a token replaced
// in place on a live connection, against a real nats-server and gateway:
//  a. 1,000 refreshes on one connection while events flow: every event once,
//     in order, and the gateway's RSS roughly flat;
//  b. a refresh that narrows `subs` ends exactly those subscriptions (unsub
//     frames), the others keep receiving;
//  c. an expired, forged or foreign (other `sub`) refresh answers err and the
//     connection still closes 4002 at the old token's exp; without auth,
//     refresh is a bad_request;
//  d. hello's exp / refresh_in_ms, and the refresh hint before exp
//     (--refresh-ahead 2s).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, before, after, startNats, startGateway, connect, natsClient, publish, publishMany, withTimeout, delay, mkTmp, rmTmp, ms } from '../lib/harness.mjs';
import { mint, nowS, randomSecret, writeKeyFile } from '../lib/jwt.mjs';

let nats;
let natsc;
let dir;
let secret;
let gw; // --jwt-secret, --refresh-ahead 2s, a high ops rate (1,000 refreshes)
let gwOpen; // no auth

before(async () => {
  dir = mkTmp('refresh');
  secret = randomSecret();
  const secretFile = writeKeyFile(dir, 'secret', secret);
  nats = await startNats();
  natsc = await natsClient(nats.url);
  [gw, gwOpen] = await Promise.all([
    startGateway({ natsUrl: nats.url, name: 'wsgate-refresh', args: ['--jwt-secret', secretFile, '--refresh-ahead', '2s', '--ops-rate', '100000', '--ops-burst', '100000'] }),
    startGateway({ natsUrl: nats.url, name: 'wsgate-refresh-open' }),
  ]);
});

after(async () => {
  for (const g of [gw, gwOpen]) if (g) await g.stop();
  await natsc?.close();
  await nats?.stop();
  if (dir) rmTmp(dir);
});

const hs = (claims) => mint({ sub: 'client-r', ...claims }, { alg: 'HS256', key: secret });

async function open(t, tok, g = gw) {
  const c = await connect(g.wsUrl, { headers: tok ? { Authorization: `Bearer ${tok}` } : {} });
  t.after(() => c.close());
  assert.equal(c.hello?.op, 'hello');
  return c;
}

/** The gateway's resident set size in KiB (/proc/<pid>/status VmRSS). */
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

test('a: 1,000 refreshes while events flow: every event once, in order; RSS flat', async (t) => {
  const c = await open(t, hs({ subs: ['license.>'] }));
  await c.sub('license.rf1.>');
  const N = 1000;
  const refreshOnce = async (i) => {
    const exp = nowS() + 300 + (i % 50);
    const r = await c.request({ op: 'refresh', token: hs({ exp, subs: ['license.>'] }) });
    assert.equal(r.op, 'ok', `refresh ${i}: ${JSON.stringify(r)}`);
    assert.equal(r.exp, exp);
  };
  for (let i = 0; i < 100; i++) await refreshOnce(i); // warm-up: allocator pools settle
  const rss0 = rssKiB(gw.pid);
  const events = Array.from({ length: 1500 }, (_, i) => ({ subject: `license.rf1.${i % 2 ? 'assigned' : 'failed'}`, data: { i } }));
  const publishing = publishMany(natsc.js, events, { window: 16 });
  for (let i = 100; i < N; i++) await refreshOnce(i);
  const seqs = await publishing;
  const got = await c.collect((f) => f.op === 'msg', seqs.length, ms(30000), 'events');
  assert.deepEqual(got.map((m) => m.seq), seqs, 'every event once, in order');
  assert.deepEqual(got.map((m) => m.data.i), events.map((e) => e.data.i));
  await c.ping();
  assert.equal(c.take((f) => f.op === 'msg' || f.op === 'err' || f.op === 'unsub'), undefined, 'nothing else arrived');
  assert.equal(c.closeInfo, null);
  const grown = rssKiB(gw.pid) - rss0;
  t.diagnostic(`gateway RSS ${rss0} KiB after 100 refreshes, +${grown} KiB after ${N}`);
  if (!process.env.WSGATE_SANITIZED) assert.ok(grown < 2048, `RSS grew ${grown} KiB over ${N - 100} refreshes`);
});

test('b: a refresh that narrows subs ends exactly those subscriptions; the rest keep receiving', async (t) => {
  const c = await open(t, hs({ subs: ['license.>', 'batch.>'] }));
  for (const p of ['license.rf2.>', 'batch.rf2.started', 'batch.rf2.*', 'license.rf2.assigned']) await c.sub(p);
  const s1 = await publish(natsc.js, 'batch.rf2.started', { n: 1 });
  assert.equal((await c.nextMsg('batch.rf2.started')).seq, s1);
  const r = await c.request({ op: 'refresh', token: hs({ subs: ['license.>'] }) });
  assert.equal(r.op, 'ok', JSON.stringify(r));
  const ended = c.takeAll((f) => f.op === 'unsub');
  assert.deepEqual(ended.map((f) => f.subject).sort(), ['batch.rf2.*', 'batch.rf2.started']);
  for (const f of ended) assert.equal(f.reason, 'not allowed by the refreshed token');
  const s2 = await publish(natsc.js, 'batch.rf2.started', { n: 2 });
  const s3 = await publish(natsc.js, 'license.rf2.assigned', { n: 3 });
  assert.equal((await c.nextMsg('license.rf2.assigned')).seq, s3);
  await c.ping();
  assert.equal(c.take((f) => f.op === 'msg'), undefined, `nothing more (batch seq ${s2} is not delivered)`);
  // The new subs decide: batch.> is forbidden now, license.> still allowed.
  assert.equal((await c.request({ op: 'sub', subject: 'batch.rf2.>' })).code, 'forbidden');
  await c.sub('license.rf2.x.*');
});

test('c: an expired, forged or foreign refresh answers err; the old token still closes 4002 at its exp', async (t) => {
  const exp = nowS() + 3;
  const c = await open(t, hs({ exp, subs: ['license.>'] }));
  await c.sub('license.rf3.>');
  const bad = [
    hs({ exp: nowS() - 5, subs: ['license.>'] }), // expired
    mint({ sub: 'client-r', subs: ['license.>'] }, { alg: 'HS256', key: randomSecret() }), // forged
    mint({ sub: 'someone-else', subs: ['license.>'] }, { alg: 'HS256', key: secret }), // another client
    'not.a.jwt',
  ];
  for (const token of bad) {
    const r = await c.request({ op: 'refresh', token });
    assert.equal(r.op, 'err', JSON.stringify(r));
    assert.equal(r.code, 'forbidden');
  }
  const missing = await c.request({ op: 'refresh' });
  assert.equal(missing.code, 'bad_request');
  const seq = await publish(natsc.js, 'license.rf3.assigned', {});
  assert.equal((await c.nextMsg('license.rf3.assigned')).seq, seq, 'still subscribed');
  const info = await withTimeout(c.closed, ms(9000), 'close 4002 at the old exp');
  const at = Date.now();
  assert.equal(info.code, 4002, `close code (reason "${info.reason}")`);
  assert.ok(at >= exp * 1000 - 50, `closed ${exp * 1000 - at} ms before exp`);

  const o = await open(t, null, gwOpen);
  assert.equal(o.hello.exp, undefined, 'no exp in hello without auth');
  const r = await o.request({ op: 'refresh', token: hs({}) });
  assert.equal(r.code, 'bad_request');
});

test('d: hello gives exp and refresh_in_ms; the refresh hint arrives --refresh-ahead before exp', async (t) => {
  const exp = nowS() + 5;
  const t0 = Date.now();
  const c = await open(t, hs({ exp, subs: ['license.>'] }));
  assert.equal(c.hello.exp, exp);
  const want = exp * 1000 - 2000 - t0;
  assert.ok(Math.abs(c.hello.refresh_in_ms - want) < 1500, `refresh_in_ms ${c.hello.refresh_in_ms}, about ${want}`);
  const hint = await c.next((f) => f.op === 'refresh', ms(9000), 'refresh hint');
  const at = Date.now();
  assert.equal(hint.exp, exp);
  assert.ok(at < exp * 1000, `hint ${at - exp * 1000} ms after exp`);
  assert.ok(at >= exp * 1000 - 2000 - 50, `hint ${exp * 1000 - 2000 - at} ms early`);
  // A refresh moves exp: no 4002 at the old one, and a new hint for the new token.
  const exp2 = nowS() + 6;
  assert.equal((await c.request({ op: 'refresh', token: hs({ exp: exp2, subs: ['license.>'] }) })).exp, exp2);
  await delay(Math.max(0, exp * 1000 - Date.now()) + 1500);
  assert.equal(c.closeInfo, null, 'not closed at the old exp');
  const hint2 = await c.next((f) => f.op === 'refresh', ms(9000), 'second hint');
  assert.equal(hint2.exp, exp2);
  assert.equal(c.take((f) => f.op === 'refresh'), undefined, 'one hint per token');
});
