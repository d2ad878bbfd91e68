// client_refresh.test.mjs: web/wsgate.js's getToken under Node (docs/client.md
// "Token refresh"), against a real gateway (--refresh-ahead 2s) and
// nats-server: one connection outlives three ~4 s token lifetimes (one
// hello, one conn id, no close), the refreshes following the server's hint;
// a getToken that fails is retried with backoff on the same connection; and
// events keep arriving throughout. Without the server's hint (--refresh-ahead
// 0) the client's own timer (refreshAheadMs) refreshes in time.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { test, before, after, startNats, startGateway, natsClient, publish, pollUntil, delay, mkTmp, rmTmp, ms } from '../lib/harness.mjs';
import { mint, nowS, randomSecret, writeKeyFile } from '../lib/jwt.mjs';
import { WsGate } from '../../web/wsgate.js';

let nats;
let natsc;
let dir;
let secret;
let gw;
let gwNoHint; // --refresh-ahead 0: the client's own timer must refresh

before(async () => {
  dir = mkTmp('client-refresh');
  secret = randomSecret();
  const secretFile = writeKeyFile(dir, 'secret', secret);
  nats = await startNats();
  natsc = await natsClient(nats.url);
  [gw, gwNoHint] = await Promise.all([
    startGateway({ natsUrl: nats.url, name: 'wsgate-client-refresh', args: ['--jwt-secret', secretFile, '--refresh-ahead', '2s'] }),
    startGateway({ natsUrl: nats.url, name: 'wsgate-client-refresh-nohint', args: ['--jwt-secret', secretFile, '--refresh-ahead', '0'] }),
  ]);
});

after(async () => {
  await gw?.stop();
  await gwNoHint?.stop();
  await natsc?.close();
  await nats?.stop();
  if (dir) rmTmp(dir);
});

test('getToken: one connection across 3 token lifetimes of ~4 s, no reconnect, a failed getToken retried', async (t) => {
  const LIFETIME_S = 4;
  let calls = 0;
  let failNext = 0;
  const issued = [];
  const getToken = async () => {
    calls++;
    if (failNext > 0) {
      failNext--;
      throw new Error('token service down');
    }
    const exp = nowS() + LIFETIME_S;
    issued.push(exp);
    return mint({ sub: 'svc', exp, subs: ['license.>'] }, { alg: 'HS256', key: secret });
  };
  const gate = new WsGate({ url: gw.wsUrl, WebSocket, getToken, backoffMinMs: 100, backoffMaxMs: 400 });
  t.after(() => gate.close());
  const hellos = [];
  const closes = [];
  const refreshes = [];
  const errors = [];
  const got = [];
  gate.on('hello', (h) => hellos.push(h.conn));
  gate.on('close', (c) => closes.push(c.code));
  gate.on('refresh', (r) => refreshes.push(r.exp));
  gate.on('error', (e) => errors.push(e));
  const sub = gate.subscribe('license.cr1.>', (m) => got.push(m.seq));
  gate.connect();
  await pollUntil(() => gate.status === 'live' && hellos.length === 1, { timeoutMs: ms(10000), message: 'live' });
  assert.equal(gate.hello.exp, issued[0]);
  await sub;
  const firstExp = issued[0];
  const seqs = [];
  // The second refresh's first two getToken calls fail: retried on the same connection.
  let armed = false;
  const end = (firstExp + 2 * LIFETIME_S + 1) * 1000; // past the 3rd token's start, beyond 2 exps
  while (Date.now() < end) {
    if (!armed && refreshes.length === 1) {
      failNext = 2;
      armed = true;
    }
    seqs.push(await publish(natsc.js, 'license.cr1.assigned', { at: Date.now() }));
    await delay(500);
  }
  await pollUntil(() => got.length >= seqs.length, { timeoutMs: ms(10000), message: `events (${got.length}/${seqs.length})` });
  assert.deepEqual(got, seqs, 'every event once, in order');
  assert.equal(hellos.length, 1, `one hello (conn ids ${hellos})`);
  assert.deepEqual(closes, [], 'no close');
  assert.ok(refreshes.length >= 3, `at least 3 refreshes (${refreshes})`);
  assert.ok(Date.now() > (firstExp + 2 * LIFETIME_S) * 1000, 'three lifetimes passed');
  assert.equal(gate.status, 'live');
  const failed = errors.filter((e) => e.op === 'refresh');
  assert.equal(failed.length, 2, `two failed refresh attempts reported (${JSON.stringify(errors)})`);
  assert.equal(calls, 1 + refreshes.length + 2, 'the upgrade, each refresh and the two failures');
});

test('getToken without the server hint (--refresh-ahead 0): refreshAheadMs keeps the connection across 2 lifetimes', async (t) => {
  const LIFETIME_S = 4;
  const getToken = async () => mint({ sub: 'svc', exp: nowS() + LIFETIME_S, subs: ['license.>'] }, { alg: 'HS256', key: secret });
  const gate = new WsGate({ url: gwNoHint.wsUrl, WebSocket, getToken, refreshAheadMs: 2000 });
  t.after(() => gate.close());
  const hellos = [];
  const closes = [];
  const refreshes = [];
  gate.on('hello', (h) => hellos.push(h.conn));
  gate.on('close', (c) => closes.push(c.code));
  gate.on('refresh', (r) => refreshes.push(r.exp));
  gate.connect();
  await pollUntil(() => gate.status === 'live', { timeoutMs: ms(10000), message: 'live' });
  const firstExp = gate.hello.exp;
  await delay(Math.max(0, (firstExp + LIFETIME_S) * 1000 + 1000 - Date.now()));
  assert.equal(hellos.length, 1, `one hello (conn ids ${hellos})`);
  assert.deepEqual(closes, [], 'no close');
  assert.ok(refreshes.length >= 2, `at least 2 refreshes (${refreshes})`);
  assert.equal(gate.status, 'live');
});
