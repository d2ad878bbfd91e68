// tls.test.mjs: TLS on both sides of the gateway. Clients: --tls-cert /
// --tls-key serve wss:// and https:// on the one port (a plain ws:// or
// http:// request to it fails). NATS: tls:// with --nats-ca, user/password,
// and mutual TLS with --nats-cert / --nats-key. The certificate is a
// self-signed one made at test time with the openssl CLI.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import path from 'node:path';
import WebSocket from 'ws';
import { connect as natsConnect } from 'nats';
import { test, before, after, startNats, startGateway, connect, natsClient, publish, httpGet, pollUntil, withTimeout, delay, mkTmp, rmTmp, ms } from '../lib/harness.mjs';
import { freePort, exited, onLines, track } from '../lib/util.mjs';

let dir;
let cert; // PEM path (also the CA: self-signed)
let key;
let ca; // PEM contents
let nats; // plain nats-server for the TLS listener tests
let natsc;
let gwTls; // --tls-cert/--tls-key

before(async () => {
  dir = mkTmp('tls');
  cert = path.join(dir, 'c.pem');
  key = path.join(dir, 'k.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
  ca = fs.readFileSync(cert);
  nats = await startNats();
  natsc = await natsClient(nats.url);
  gwTls = await startGateway({ natsUrl: nats.url, name: 'wsgate-tls', args: ['--tls-cert', cert, '--tls-key', key], wait: 'none' });
  const base = `https://127.0.0.1:${gwTls.port}`;
  await pollUntil(async () => (await httpsGet(`${base}/readyz`)).status === 200, { timeoutMs: ms(20000), message: 'wsgate-tls GET https /readyz == 200' });
});

after(async () => {
  if (gwTls) await gwTls.stop();
  await natsc?.close();
  await nats?.stop();
  if (dir) rmTmp(dir);
});

/** GET over https trusting caPem (default: the test certificate; false: the system store only); resolves {status, text, socket info}. */
function httpsGet(url, { caPem = ca, timeoutMs = ms(5000) } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = https.get(url, { ca: caPem || undefined, agent: false }, (res) => {
        let text = '';
        const proto = res.socket.getProtocol?.();
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text, protocol: proto }));
      });
      req.on('error', reject);
    }),
    timeoutMs,
    `GET ${url}`,
  );
}

// ---------------------------------------------------------------- TLS for clients

test('wss:// with the certificate trusted: hello, then a published msg end to end', async (t) => {
  const c = await connect(`wss://127.0.0.1:${gwTls.port}/ws`, { wsOptions: { ca } });
  t.after(() => c.close());
  assert.equal(c.hello.op, 'hello');
  assert.equal(c.ws._socket.encrypted, true, 'the socket is TLS');
  await c.sub('license.btls.>');
  const seq = await publish(natsc.js, 'license.btls.assigned', { over: 'tls' });
  const m = await c.nextMsg('license.btls.assigned');
  assert.equal(m.seq, seq);
  assert.deepEqual(m.data, { over: 'tls' });
});

test('wss:// with permessage-deflate: two clients share a compressor, every event intact, large ones too', async (t) => {
  const counter = async (name) => Number((await httpsGet(`https://127.0.0.1:${gwTls.port}/metrics`)).text.match(new RegExp(`^${name} (\\d+)$`, 'm'))[1]);
  const before_ = await counter('wsgate_deflate_in_bytes_total');
  const clients = [];
  for (let i = 0; i < 2; i++) {
    const c = await connect(`wss://127.0.0.1:${gwTls.port}/ws`, { label: `tls-z${i}`, wsOptions: { ca, perMessageDeflate: { threshold: 0 } } });
    t.after(() => c.close());
    assert.equal(c.ws.extensions, 'permessage-deflate');
    await c.sub('license.btlsz.>');
    clients.push(c);
  }
  // 150 small events, then some above the 64 KiB a TLS write batches (written alone)
  const events = Array.from({ length: 160 }, (_, i) => ({ i, batch_id: 'btlsz', pad: i >= 150 ? `${i}`.repeat(40000) : `license ${i}` }));
  const seqs = [];
  for (const e of events) seqs.push(await publish(natsc.js, 'license.btlsz.assigned', e));
  for (const c of clients) {
    const got = await c.collect((f) => f.op === 'msg', events.length, ms(30000), 'msgs over TLS');
    assert.deepEqual(got.map((m) => m.seq), seqs);
    got.forEach((m, i) => assert.deepEqual(m.data, events[i]));
  }
  assert.ok((await counter('wsgate_deflate_in_bytes_total')) - before_ > 2 * 10 * 80000, 'went compressed');
});

test('wss://localhost also verifies (DNS name in the certificate)', async (t) => {
  const c = await connect(`wss://localhost:${gwTls.port}/ws`, { wsOptions: { ca } });
  t.after(() => c.close());
  await c.ping();
});

test('https:// GET /healthz works, over TLS 1.2+', async () => {
  const r = await httpsGet(`https://127.0.0.1:${gwTls.port}/healthz`);
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.text), { status: 'ok' });
  assert.match(r.protocol ?? '', /^TLSv1\.[23]$/);
});

/** A raw TLS handshake with client options; resolves {protocol, cipher} or {error}. */
function handshake(opts) {
  return withTimeout(
    new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: gwTls.port, ca, servername: 'localhost', ...opts }, () => {
        const r = { protocol: s.getProtocol(), cipher: s.getCipher()?.name };
        s.end();
        resolve(r);
      });
      s.on('error', (e) => resolve({ error: e.code || e.message }));
    }),
    ms(10000),
    'TLS handshake',
  );
}

test('TLS 1.2 is the minimum, and TLS 1.2 suites without forward secrecy are refused', async () => {
  // The client side allows the old versions and suites (seclevel 0), so any refusal is the gateway's.
  const old = { ciphers: 'ALL:@SECLEVEL=0' };
  for (const v of ['TLSv1', 'TLSv1.1']) {
    const r = await handshake({ ...old, minVersion: v, maxVersion: v });
    assert.ok(r.error, `${v} must be refused: ${JSON.stringify(r)}`);
  }
  for (const c of ['AES128-SHA', 'AES256-GCM-SHA384', 'AES128-GCM-SHA256', 'ECDHE-RSA-AES128-SHA']) {
    const r = await handshake({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: `${c}:@SECLEVEL=0` });
    assert.ok(r.error, `TLS 1.2 with ${c} must be refused: ${JSON.stringify(r)}`);
  }
  const fs12 = await handshake({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  assert.equal(fs12.protocol, 'TLSv1.2', JSON.stringify(fs12));
  assert.match(fs12.cipher, /^ECDHE-.*(GCM|CHACHA20)/, fs12.cipher);
  assert.equal((await handshake({ minVersion: 'TLSv1.3' })).protocol, 'TLSv1.3');
});

test('a client that does not trust the certificate fails the handshake', async () => {
  await assert.rejects(httpsGet(`https://127.0.0.1:${gwTls.port}/healthz`, { caPem: false }), /self[- ]signed|unable to verify|certificate/i);
  await assert.rejects(connect(`wss://127.0.0.1:${gwTls.port}/ws`, { timeoutMs: ms(5000) }), /self[- ]signed|unable to verify|certificate/i);
});

test('plain ws:// and http:// to the TLS port fail', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${gwTls.port}/ws`, { handshakeTimeout: ms(5000) });
  const outcome = await withTimeout(
    new Promise((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (req, res) => resolve(`HTTP ${res.statusCode}`));
      ws.once('error', (e) => resolve(`error: ${e.message}`));
    }),
    ms(10000),
    'plain ws:// to the TLS port',
  );
  ws.terminate();
  assert.notEqual(outcome, 'open', 'a plain WebSocket must not open on the TLS port');
  assert.match(outcome, /^error|^HTTP 4/, outcome);
  let plain;
  try {
    plain = (await httpGet(`http://127.0.0.1:${gwTls.port}/healthz`, { timeoutMs: ms(5000) })).status;
  } catch (e) {
    plain = `error: ${e.cause?.code ?? e.message}`;
  }
  assert.notEqual(plain, 200, 'plain http:// /healthz must not be served on the TLS port');
  // The TLS listener still works afterwards.
  assert.equal((await httpsGet(`https://127.0.0.1:${gwTls.port}/healthz`)).status, 200);
});

// ---------------------------------------------------------------- TLS to NATS

/** nats-server with JetStream on free ports and extra args; resolves {url, port, logs, stop()}. */
async function startNatsWith(args) {
  const port = await freePort();
  const httpPort = await freePort();
  const store = path.join(dir, `js-${port}`);
  const logs = [];
  const proc = track(spawn(process.env.NATS_SERVER || 'nats-server', ['-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort), '-js', '-sd', store, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  onLines(proc.stdout, (l) => logs.push(l));
  onLines(proc.stderr, (l) => logs.push(l));
  const gone = exited(proc);
  try {
    await Promise.race([
      pollUntil(async () => (await httpGet(`http://127.0.0.1:${httpPort}/healthz?js-enabled-only=true`, { timeoutMs: 2000 })).status === 200, { timeoutMs: ms(20000), message: 'TLS nats-server healthy' }),
      gone.then(() => {
        throw new Error(`nats-server exited:\n${logs.join('\n')}`);
      }),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  return {
    url: `tls://127.0.0.1:${port}`,
    port,
    logs,
    async stop() {
      proc.kill('SIGTERM');
      await withTimeout(gone, ms(10000), 'nats-server exit').catch(() => proc.kill('SIGKILL'));
    },
  };
}

/** GET /readyz stays non-200 for `forMs` (a gateway that cannot use NATS). */
async function staysUnready(gw, forMs = 3000) {
  const end = Date.now() + forMs;
  while (Date.now() < end) {
    const r = await httpGet(`${gw.url}/readyz`);
    assert.notEqual(r.status, 200, `${gw.label} must not be ready: ${r.text}`);
    await delay(250);
  }
}

test('NATS over TLS (--nats-ca, user/password): /readyz 200 and delivery works; bad trust or password stays unready', async (t) => {
  const password = 'tls-s3cret-pw';
  // Clean-up runs in this order: clients, gateways, then the NATS server (a
  // gateway stopping while its NATS server is gone takes seconds longer).
  const cleanup = [];
  t.after(async () => {
    for (const f of cleanup.reverse()) await f();
  });
  const tn = await startNatsWith(['--tls', '--tlscert', cert, '--tlskey', key, '--user', 'wsgate', '--pass', password]);
  cleanup.push(() => tn.stop());
  const common = ['--nats-user', 'wsgate'];
  const [good, noCa, badPw] = await Promise.all([
    startGateway({ natsUrl: tn.url, name: 'wsgate-nats-tls', args: ['--nats-ca', cert, ...common, '--nats-password', password] }),
    startGateway({ natsUrl: tn.url, name: 'wsgate-nats-tls-noca', args: [...common, '--nats-password', password], wait: 'healthz' }),
    startGateway({ natsUrl: tn.url, name: 'wsgate-nats-tls-badpw', args: ['--nats-ca', cert, ...common, '--nats-password', 'wrong'], wait: 'healthz' }),
  ]);
  cleanup.push(() => Promise.all([good.stop(), noCa.stop(), badPw.stop()]));
  assert.equal((await httpGet(`${good.url}/readyz`)).status, 200);

  const pub = await withTimeout(natsConnect({ servers: tn.url, tls: { caFile: cert }, user: 'wsgate', pass: password, reconnect: false }), ms(10000), 'publisher connect over TLS');
  cleanup.push(() => pub.close());
  const c = await connect(good.wsUrl);
  cleanup.push(() => c.close());
  await c.sub('license.bnatstls.>');
  const seq = await publish(pub.jetstream(), 'license.bnatstls.assigned', { via: 'nats-tls' });
  const m = await c.nextMsg('license.bnatstls.assigned');
  assert.equal(m.seq, seq);
  assert.deepEqual(m.data, { via: 'nats-tls' });

  await Promise.all([staysUnready(noCa), staysUnready(badPw)]);
  for (const g of [good, noCa, badPw]) assert.ok(!g.logs.join('\n').includes(password), `${g.label} logged the NATS password`);
});

test('NATS with mutual TLS (--nats-cert/--nats-key): /readyz 200; without a client certificate stays unready', async (t) => {
  const cleanup = [];
  t.after(async () => {
    for (const f of cleanup.reverse()) await f();
  });
  const tn = await startNatsWith(['--tlsverify', '--tlscert', cert, '--tlskey', key, '--tlscacert', cert]);
  cleanup.push(() => tn.stop());
  const [good, noCert] = await Promise.all([
    startGateway({ natsUrl: tn.url, name: 'wsgate-nats-mtls', args: ['--nats-ca', cert, '--nats-cert', cert, '--nats-key', key] }),
    startGateway({ natsUrl: tn.url, name: 'wsgate-nats-mtls-nocert', args: ['--nats-ca', cert], wait: 'healthz' }),
  ]);
  cleanup.push(() => Promise.all([good.stop(), noCert.stop()]));
  assert.equal((await httpGet(`${good.url}/readyz`)).status, 200);
  const pub = await withTimeout(natsConnect({ servers: tn.url, tls: { caFile: cert, certFile: cert, keyFile: key }, reconnect: false }), ms(10000), 'publisher connect over mTLS');
  cleanup.push(() => pub.close());
  const c = await connect(good.wsUrl);
  cleanup.push(() => c.close());
  await c.sub('license.bmtls.>');
  const seq = await publish(pub.jetstream(), 'license.bmtls.assigned', { via: 'mtls' });
  assert.equal((await c.nextMsg('license.bmtls.assigned')).seq, seq);
  await staysUnready(noCert);
});
