// limits.test.mjs: who may upgrade and for how long (PROTOCOL.md
// "Authentication" Origin policy, and the connection limits): the Origin
// allow-list and its default (loopback, --public-host, never the Host
// header), --max-conns-per-ip, --max-conns,
// --idle-timeout, --handshake-timeout and the request header size limit.
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { test, before, after, startNats, startGateway, connect, Client, httpGet, getMetrics, metricValue, pollUntil, withTimeout, delay, ms } from '../lib/harness.mjs';
import { responseOf } from '../lib/util.mjs';

let nats;
let gwDefault; // no --allowed-origins
let gwAllow; // --allowed-origins https://app.example
let gwPerIp; // --max-conns-per-ip 3
let gwMax; // --max-conns 2
let gwIdle; // --idle-timeout 2s
let gwHandshake; // --handshake-timeout 2s
let gwPublic; // --public-host gw.example

before(async () => {
  nats = await startNats();
  const start = (name, args) => startGateway({ natsUrl: nats.url, name, args });
  [gwDefault, gwAllow, gwPerIp, gwMax, gwIdle, gwHandshake, gwPublic] = await Promise.all([
    start('wsgate-default', []),
    start('wsgate-allow', ['--allowed-origins', 'https://app.example']),
    start('wsgate-per-ip', ['--max-conns-per-ip', '3']),
    start('wsgate-max', ['--max-conns', '2']),
    start('wsgate-idle', ['--idle-timeout', '2s']),
    start('wsgate-handshake', ['--handshake-timeout', '2s']),
    start('wsgate-public', ['--public-host', 'gw.example']),
  ]);
});

after(async () => {
  for (const g of [gwDefault, gwAllow, gwPerIp, gwMax, gwIdle, gwHandshake, gwPublic]) if (g) await g.stop();
  await nats?.stop();
});

/**
 * Try an upgrade: resolves {status: 101, client} when it opened (hello
 * received; the client is closed after the test) or {status} of the HTTP
 * response when it was refused before any upgrade.
 */
async function attempt(t, url, headers = {}) {
  const ws = new WebSocket(url, { headers, handshakeTimeout: ms(10000) });
  const c = new Client(ws, url); // buffers frames from the start
  const r = await withTimeout(
    new Promise((resolve, reject) => {
      ws.once('unexpected-response', (req, res) =>
        responseOf(res).then((r) => {
          resolve(r);
          req.destroy();
        }),
      );
      ws.once('upgrade', () => resolve({ status: 101 }));
      ws.once('error', (e) => reject(new Error(`upgrade failed without an HTTP response: ${e.message}`)));
    }),
    ms(15000),
    `upgrade ${url}`,
  );
  if (r.status !== 101) return r;
  c.hello = await c.next((f) => f.op === 'hello', ms(10000), 'hello');
  t.after(() => c.close());
  return { status: 101, client: c };
}

const expectStatus = async (t, url, headers, status, what) => {
  const r = await attempt(t, url, headers);
  assert.equal(r.status, status, what);
  return r;
};

// ---------------------------------------------------------------- Origin

test('Origin, default policy: loopback origins and no Origin accepted, others 403', async (t) => {
  const g = gwDefault;
  await expectStatus(t, g.wsUrl, {}, 101, 'no Origin header');
  await expectStatus(t, g.wsUrl, { Origin: `http://localhost:${g.port}` }, 101, 'http://localhost:PORT');
  await expectStatus(t, g.wsUrl, { Origin: `http://127.0.0.1:${g.port}` }, 101, 'http://127.0.0.1:PORT');
  await expectStatus(t, g.wsUrl, { Origin: 'http://localhost:3000' }, 101, 'any loopback origin (dev server)');
  const evil = await expectStatus(t, g.wsUrl, { Origin: 'http://evil.example' }, 403, 'http://evil.example');
  assert.deepEqual(JSON.parse(evil.body), { error: 'origin not allowed' }, `the reason in the body: ${evil.body}`);
  assert.match(String(evil.headers['content-type']), /^application\/json/);
  await expectStatus(t, g.wsUrl, { Origin: 'null' }, 403, 'Origin: null (sandboxed page)');
  await expectStatus(t, g.wsUrl, { Origin: 'http://localhost.evil.example' }, 403, 'localhost as a subdomain label');
});

test('Origin, default policy: a host name that merely starts with "127." is not loopback', async (t) => {
  // A page on http://127.attacker.example (a name the attacker owns) is a
  // cross-site origin; only IPv4 literals 127.x.y.z are loopback.
  for (const origin of ['http://127.evil.example', 'http://127.0.0.1.evil.example', 'https://127.0.0.1.nip.io:8443']) {
    await expectStatus(t, gwDefault.wsUrl, { Origin: origin }, 403, origin);
  }
  await expectStatus(t, gwDefault.wsUrl, { Origin: 'http://127.1.2.3:9000' }, 101, '127.1.2.3 is loopback');
});

test('Origin, default policy: the Host header does not make an origin "same host" (DNS rebinding)', async (t) => {
  const g = gwDefault;
  // A page of evil.example whose name the attacker re-pointed at the gateway:
  // the browser sends the attacker's name in both Host and Origin.
  await expectStatus(t, g.wsUrl, { Host: `evil.example:${g.port}`, Origin: `http://evil.example:${g.port}` }, 403, 'rebinding: Origin host == Host');
  await expectStatus(t, g.wsUrl, { Host: 'gw.example', Origin: 'https://gw.example' }, 403, 'a name the gateway was not given');
});

test('Origin, default policy: the address the client connected to and --public-host names are the same host', async (t) => {
  const g = gwPublic;
  await expectStatus(t, g.wsUrl, { Host: 'gw.example', Origin: 'https://gw.example' }, 101, '--public-host gw.example');
  await expectStatus(t, g.wsUrl, { Host: 'other', Origin: 'https://GW.example:8443' }, 101, 'any port and case, whatever the Host');
  await expectStatus(t, g.wsUrl, { Origin: 'https://app.gw.example' }, 403, 'a subdomain is another host');
  await expectStatus(t, g.wsUrl, { Host: `evil.example:${g.port}`, Origin: `http://evil.example:${g.port}` }, 403, 'rebinding');
  await expectStatus(t, gwDefault.wsUrl, { Origin: `http://127.0.0.1:${gwDefault.port}` }, 101, 'the listening address');
});

test('Origin with --allowed-origins https://app.example: only that origin (or none) is accepted', async (t) => {
  const g = gwAllow;
  const r = await expectStatus(t, g.wsUrl, { Origin: 'https://app.example' }, 101, 'the allowed origin');
  assert.equal(r.client.hello.op, 'hello');
  await expectStatus(t, g.wsUrl, {}, 101, 'no Origin header (not a browser)');
  for (const origin of ['http://evil.example', 'http://app.example', 'https://app.example.evil', 'https://evil.app.example', `http://localhost:${g.port}`, 'null']) {
    await expectStatus(t, g.wsUrl, { Origin: origin }, 403, origin);
  }
  // An Origin longer than the gateway copies (512 bytes) is refused, not ignored.
  const long = `https://${'a'.repeat(600)}.example`;
  await expectStatus(t, g.wsUrl, { Origin: long }, 403, 'a 600-byte Origin (allow-list)');
  await expectStatus(t, gwDefault.wsUrl, { Origin: long }, 403, 'a 600-byte Origin (default policy)');
});

// ---------------------------------------------------------------- connection limits

test('--max-conns-per-ip 3: the 4th connection is refused with 503; closing one frees a slot', async (t) => {
  const g = gwPerIp;
  const open = [];
  for (let i = 0; i < 3; i++) open.push((await expectStatus(t, g.wsUrl, {}, 101, `connection ${i + 1}`)).client);
  const full = await expectStatus(t, g.wsUrl, {}, 503, '4th connection from the same address');
  assert.deepEqual(JSON.parse(full.body), { error: 'too many connections from this address' }, full.body);
  await expectStatus(t, g.wsUrl, {}, 503, 'and again');
  // Refusals took no slot: close one, one more is accepted, then it is full again.
  await open[0].close();
  const r = await pollUntil(async () => {
    const a = await attempt(t, g.wsUrl);
    return a.status === 101 ? a : null;
  }, { timeoutMs: ms(5000), message: 'a slot after closing one' });
  open[0] = r.client;
  await expectStatus(t, g.wsUrl, {}, 503, 'full again');
  // An abrupt disconnect (no close handshake) releases its slot too.
  open[1].terminate();
  await pollUntil(async () => (await attempt(t, g.wsUrl)).status === 101, { timeoutMs: ms(5000), message: 'a slot after a terminate' });
  await Promise.all(open.map((c) => c.close()));
});

test('--max-conns-per-ip 3: 6 simultaneous upgrades give exactly 3 connections', async (t) => {
  const g = gwPerIp;
  await pollUntil(async () => metricValue(await getMetrics(g.url), 'wsgate_connections') === 0, { timeoutMs: ms(5000), message: 'previous connections released (wsgate_connections 0)' });
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => attempt(t, g.wsUrl)));
  const statuses = results.map((r) => (r.status === 'fulfilled' ? r.value.status : `error: ${r.reason.message}`));
  assert.equal(statuses.filter((s) => s === 101).length, 3, `statuses: ${statuses.join(', ')}`);
  assert.equal(statuses.filter((s) => s === 503).length, 3, `statuses: ${statuses.join(', ')}`);
  for (const r of results) if (r.status === 'fulfilled' && r.value.client) await r.value.client.close();
});

test('defaults of a fresh install: at most 256 connections per address', { timeout: 120000 }, async (t) => {
  const g = gwDefault; // started without any limit flag
  const open = [];
  t.after(() => Promise.all(open.map((c) => c.close())));
  for (let i = 0; i < 256; i += 32) {
    const batch = await Promise.all(Array.from({ length: 32 }, () => attempt(t, g.wsUrl)));
    for (const r of batch) {
      assert.equal(r.status, 101, `connection ${open.length + 1} of 256`);
      open.push(r.client);
    }
  }
  await expectStatus(t, g.wsUrl, {}, 503, 'the 257th connection from one address');
  await open.pop().close();
  await pollUntil(async () => (await attempt(t, g.wsUrl)).status === 101, { timeoutMs: ms(5000), message: 'a slot after closing one' });
});

test('--max-conns 2: the 3rd connection is refused with 503', async (t) => {
  const g = gwMax;
  const a = (await expectStatus(t, g.wsUrl, {}, 101, '1st')).client;
  await expectStatus(t, g.wsUrl, {}, 101, '2nd');
  await expectStatus(t, g.wsUrl, {}, 503, '3rd');
  // Plain HTTP is not a WebSocket connection and is still served.
  assert.equal((await httpGet(`${g.url}/healthz`)).status, 200);
  await a.close();
  await pollUntil(async () => (await attempt(t, g.wsUrl)).status === 101, { timeoutMs: ms(5000), message: 'a connection after closing one' });
});

// ---------------------------------------------------------------- idle timeout

test('--idle-timeout 2s: a connection that never subscribes is closed (1000), one that subscribes stays', async (t) => {
  const g = gwIdle;
  const t0 = Date.now();
  const idle = await connect(g.wsUrl);
  t.after(() => idle.close());
  const busy = await connect(g.wsUrl);
  t.after(() => busy.close());
  await busy.sub('license.bidle.>');
  const info = await withTimeout(idle.closed, ms(8000), 'the idle connection to be closed');
  const after = Date.now() - t0;
  assert.equal(info.code, 1000, `close code (reason "${info.reason}")`);
  assert.ok(after >= 1900, `closed after ${after} ms, not before the 2 s idle timeout`);
  assert.ok(after <= 2000 + ms(4000), `closed after ${after} ms (checked once a second, slack for a loaded machine)`);
  // Past twice the timeout, the subscribed connection is still served.
  await delay(Math.max(0, 4500 - (Date.now() - t0)));
  await busy.ping();
  assert.equal(busy.closeInfo, null);
});

// ---------------------------------------------------------------- handshake timeout and header size

/**
 * Open a raw TCP connection to port, write `data` (if any) and, with
 * dribbleMs, one more header byte at that interval. Resolves when the server
 * closes it: {ms, response}; or {ms, response, open: true} after maxMs.
 */
function rawRequest(port, data, { dribbleMs = 0, maxMs = 10000 } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let response = '';
    let iv;
    const done = (open) => {
      clearInterval(iv);
      clearTimeout(timer);
      s.destroy();
      resolve({ ms: Date.now() - t0, response, open });
    };
    const timer = setTimeout(() => done(true), maxMs);
    s.on('data', (d) => (response += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => done(false));
    s.on('connect', () => {
      if (data) s.write(data);
      if (dribbleMs) iv = setInterval(() => s.write('a'), dribbleMs);
    });
  });
}

const upgradeRequest = (port, extra = '') =>
  `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

test('--handshake-timeout 2s: a socket that sends nothing, or a partial request, is closed', async () => {
  const port = gwHandshake.port;
  const cases = [
    ['nothing', null, {}],
    ['a partial request', `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n`, {}],
    ['a request dribbled one byte every 300 ms', `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `, { dribbleMs: 300 }],
  ];
  const results = await Promise.all(cases.map(([, data, opts]) => rawRequest(port, data, { ...opts, maxMs: 2000 + ms(5000) })));
  results.forEach((r, i) => {
    const what = cases[i][0];
    assert.equal(r.open, false, `${what}: still open after ${r.ms} ms`);
    assert.ok(r.ms >= 1500, `${what}: closed after ${r.ms} ms, before the timeout`);
    assert.ok(r.ms <= 2000 + ms(3500), `${what}: closed after ${r.ms} ms (timeout 2 s; slack for a loaded machine)`);
    assert.doesNotMatch(r.response, /^HTTP\/1\.[01] 101/, `${what}: no upgrade`);
  });
});

test('--handshake-timeout 2s does not limit an upgraded connection or a complete request', async (t) => {
  const c = await connect(gwHandshake.wsUrl);
  t.after(() => c.close());
  await c.sub('license.bhs.>');
  await delay(3500);
  await c.ping();
  assert.equal(c.closeInfo, null);
  const r = await rawRequest(gwHandshake.port, upgradeRequest(gwHandshake.port), { maxMs: ms(1500) });
  assert.match(r.response, /^HTTP\/1\.[01] 101/, 'a complete upgrade request in one write is answered 101');
});

test('an oversized request header block is refused (no upgrade) and the gateway keeps serving', async (t) => {
  const g = gwDefault;
  // lws 4.1.6 with max_http_header_data 12 KiB: it logs "Ran out of header
  // data space" and closes the socket without an HTTP status (431 is also fine).
  for (const size of [16 * 1024, 64 * 1024]) {
    const r = await rawRequest(g.port, upgradeRequest(g.port, `X-Big: ${'a'.repeat(size)}\r\n`), { maxMs: ms(5000) });
    assert.equal(r.open, false, `${size}: the server closes the connection`);
    assert.doesNotMatch(r.response, /^HTTP\/1\.[01] 101/, `${size}: no upgrade`);
    assert.ok(r.response === '' || /^HTTP\/1\.[01] (431|400|413) /.test(r.response), `${size}: response ${JSON.stringify(r.response.slice(0, 40))}`);
  }
  // Many small headers that together overflow.
  const many = Array.from({ length: 1000 }, (_, i) => `X-H${i}: ${'v'.repeat(20)}\r\n`).join('');
  const r = await rawRequest(g.port, upgradeRequest(g.port, many), { maxMs: ms(5000) });
  assert.equal(r.open, false);
  assert.doesNotMatch(r.response, /^HTTP\/1\.[01] 101/);
  assert.equal(g.proc.exitCode, null, 'the gateway is still running');
  assert.equal(g.proc.signalCode, null, 'the gateway did not crash');
  assert.equal((await httpGet(`${g.url}/healthz`)).status, 200);
  const c = await connect(g.wsUrl);
  t.after(() => c.close());
  await c.ping();
});
