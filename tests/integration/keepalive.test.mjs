// keepalive.test.mjs: WebSocket ping/pong keepalive: a peer that answers pings
// stays connected, a silent one is hung up after --ping-timeout.
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, connect, withTimeout, ms } from '../lib/harness.mjs';

let nats, gw;
before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, args: ['--heartbeat', '1s', '--ping-timeout', '3s'] });
});
after(async () => {
  await gw?.stop();
  await nats?.stop();
});

test('the gateway pings; a peer that answers stays, a silent one is hung up', async () => {
  const alive = await connect(gw.wsUrl, { label: 'answers-pings' });
  const silent = await connect(gw.wsUrl, { label: 'silent', wsOptions: { autoPong: false } });
  let pings = 0;
  silent.ws.on('ping', () => pings++);
  await silent.sub('license.>');
  await alive.sub('license.>');

  // The silent peer gets pings, never answers, and is dropped by the server.
  const closed = await withTimeout(silent.closed, ms(20000), 'the silent peer to be hung up');
  assert.ok(pings >= 1, `the gateway sent ${pings} pings before hanging up`);
  assert.notEqual(closed.code, 1000, 'a hang-up, not a normal close');

  // The peer that answers pings is still there and served.
  const pong = await alive.request({ op: 'ping' });
  assert.equal(pong.op, 'pong');
  assert.equal(alive.closeInfo, null);
  alive.close();
});
