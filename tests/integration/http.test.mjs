// http.test.mjs: the plain HTTP endpoints on the gateway's port.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { test, before, after, startNats, startGateway, connect, httpGet, getMetrics, metricValue, pollUntil, mkTmp, rmTmp } from '../lib/harness.mjs';

let nats;
let gw;

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url });
});

after(async () => {
  if (gw) await gw.stop();
  await nats?.stop();
});

// Every metric of PROTOCOL.md "Metrics" and its Prometheus type.
const METRICS = {
  wsgate_connections: 'gauge',
  wsgate_subscriptions: 'gauge',
  wsgate_messages_received_total: 'counter',
  wsgate_deliveries_total: 'counter',
  wsgate_bytes_sent_total: 'counter',
  wsgate_slow_consumer_closes_total: 'counter',
  wsgate_conflated_total: 'counter',
  wsgate_replayed_total: 'counter',
  wsgate_client_errors_total: 'counter',
  wsgate_nats_connected: 'gauge',
  wsgate_delivery_latency_seconds: 'histogram',
};

test('GET /healthz is 200 {"status":"ok"}', async () => {
  const r = await httpGet(`${gw.url}/healthz`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') || '', /json/);
  assert.deepEqual(r.json(), { status: 'ok' });
});

test('GET /readyz is 200 while connected to NATS', async () => {
  const r = await httpGet(`${gw.url}/readyz`);
  assert.equal(r.status, 200, r.text);
});

test('GET /metrics: Prometheus 0.0.4 text with every metric', async () => {
  const m = await getMetrics(gw.url);
  assert.equal(m.status, 200);
  assert.match(m.contentType || '', /^text\/plain/);
  assert.match(m.contentType || '', /version=0\.0\.4/);
  assert.deepEqual(m.samples.filter((s) => s.name === '__unparsable'), [], 'every sample line parses');
  for (const [name, type] of Object.entries(METRICS)) {
    assert.equal(m.types[name], type, `# TYPE ${name} ${type}`);
  }
  for (const name of ['wsgate_connections', 'wsgate_subscriptions', 'wsgate_messages_received_total', 'wsgate_deliveries_total', 'wsgate_bytes_sent_total', 'wsgate_slow_consumer_closes_total', 'wsgate_conflated_total', 'wsgate_replayed_total', 'wsgate_nats_connected']) {
    assert.ok(metricValue(m, name) !== undefined, `a sample of ${name}`);
  }
  assert.equal(metricValue(m, 'wsgate_nats_connected'), 1);
  const h = 'wsgate_delivery_latency_seconds';
  assert.ok(m.samples.some((s) => s.name === `${h}_bucket` && s.labels.le === '+Inf'), `${h}_bucket{le="+Inf"}`);
  assert.ok(metricValue(m, `${h}_sum`) !== undefined, `${h}_sum`);
  assert.ok(metricValue(m, `${h}_count`) !== undefined, `${h}_count`);
});

test('wsgate_connections and wsgate_subscriptions follow the clients', async (t) => {
  const read = async () => {
    const m = await getMetrics(gw.url);
    return [metricValue(m, 'wsgate_connections'), metricValue(m, 'wsgate_subscriptions')];
  };
  const [c0, s0] = await read();
  const c = await connect(gw.wsUrl);
  t.after(() => c.close());
  await c.sub('license.bhttp.>');
  await c.sub('batch.bhttp.*');
  assert.deepEqual(await read(), [c0 + 1, s0 + 2], 'one more connection, two more subscriptions');
  await c.unsub('batch.bhttp.*');
  assert.deepEqual(await read(), [c0 + 1, s0 + 1]);
  await c.close();
  await pollUntil(async () => {
    const [cn, sn] = await read();
    return cn === c0 && sn === s0;
  }, { message: `wsgate_connections back to ${c0} and wsgate_subscriptions to ${s0} after the close` });
});

test('GET / serves the dashboard HTML', async () => {
  const r = await httpGet(`${gw.url}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') || '', /^text\/html/);
  assert.match(r.text, /<html|<!doctype html/i);
});

test('an unknown path is 404', async () => {
  const r = await httpGet(`${gw.url}/no/such/path-${Date.now()}`);
  assert.equal(r.status, 404);
  const r2 = await httpGet(`${gw.url}/api/batches/no-such-batch`);
  assert.equal(r2.status, 404);
});

/** Resident memory of a process in KiB (Linux /proc). */
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

/** n requests of `method` on `paths` (in turn) over one keep-alive connection; resolves the statuses seen. */
async function keepAliveRequests(url, method, paths, n, headers = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set();
  const statuses = new Set();
  try {
    for (let i = 0; i < n; i++) {
      await new Promise((resolve, reject) => {
        const req = http.request(`${url}${paths[i % paths.length]}`, { method, agent, headers }, (res) => {
          sockets.add(res.socket);
          statuses.add(res.statusCode);
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
    }
  } finally {
    agent.destroy();
  }
  assert.equal(sockets.size, 1, 'all requests went over one keep-alive connection');
  return statuses;
}

test('HEAD and 304 on a keep-alive connection do not leak the response', { timeout: 180000 }, async (t) => {
  // Under AddressSanitizer freed memory waits in a quarantine (RSS grows
  // anyway): turn it off so RSS shows leaks only (LeakSanitizer also checks
  // at exit).
  const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=0', 'thread_local_quarantine_size_kb=0'].filter(Boolean).join(':');
  const g = await startGateway({ natsUrl: nats.url, name: 'wsgate-head', env: { ASAN_OPTIONS: asan } });
  let stopped = false;
  t.after(async () => {
    if (!stopped) await g.stop();
  });
  // The ETag of the coding these requests get: fetch() asks for gzip/br,
  // node:http's requests below send no Accept-Encoding (identity).
  const etagOf = (headers) =>
    new Promise((resolve, reject) => {
      http.get(`${g.url}/`, { headers }, (res) => {
        res.resume();
        resolve(res.headers.etag);
      }).on('error', reject);
    });
  const etag = await etagOf({});
  const etagBr = await etagOf({ 'Accept-Encoding': 'br' });
  assert.ok(etag, 'the dashboard has an ETag');
  assert.notEqual(etagBr, etag, 'one ETag per coding');
  // Warm up (lws buffers, allocator arenas), then measure.
  await keepAliveRequests(g.url, 'HEAD', ['/healthz', '/'], 500);
  const before_ = rssKiB(g.pid);
  // /metrics has the biggest body (about 8 KiB): HEAD built it and dropped it.
  const heads = await keepAliveRequests(g.url, 'HEAD', ['/metrics', '/metrics', '/healthz', '/', '/metrics', '/nope'], 6000);
  assert.ok(heads.has(200) && heads.has(404), [...heads].join(','));
  const revalidated = await keepAliveRequests(g.url, 'GET', ['/'], 2000, { 'If-None-Match': etag });
  assert.deepEqual([...revalidated], [304]);
  const revalidatedBr = await keepAliveRequests(g.url, 'GET', ['/'], 1000, { 'If-None-Match': etagBr, 'Accept-Encoding': 'br' });
  assert.deepEqual([...revalidatedBr], [304]);
  const grown = rssKiB(g.pid) - before_;
  t.diagnostic(`RSS grew by ${grown} KiB`);
  // The leak was the whole response: 4,000 HEAD /metrics alone leaked ~30 MiB.
  assert.ok(grown < 8 * 1024, `RSS grew by ${grown} KiB over 9,000 body-less responses`);
  stopped = true;
  // Under the sanitizer build LeakSanitizer makes a leaking gateway exit non-zero.
  assert.equal(await g.stop(), 0, 'clean exit');
});

test('--web-root: no dotfiles, no symlinks out of the root, a FIFO does not block the service', { timeout: 120000 }, async (t) => {
  const tmp = mkTmp('webroot');
  t.after(() => rmTmp(tmp));
  const root = path.join(tmp, 'root');
  fs.mkdirSync(path.join(root, '.git'), { recursive: true });
  fs.mkdirSync(path.join(root, 'sub'));
  fs.writeFileSync(path.join(root, 'index.html'), '<p>root</p>');
  fs.writeFileSync(path.join(root, 'sub', 'app.js'), 'ok()');
  fs.writeFileSync(path.join(root, '.env'), 'SECRET=1');
  fs.writeFileSync(path.join(root, '.git', 'config'), '[core]');
  fs.writeFileSync(path.join(root, 'sub', '.hidden.txt'), 'hidden');
  fs.writeFileSync(path.join(tmp, 'outside.txt'), 'outside the root');
  fs.symlinkSync(path.join(tmp, 'outside.txt'), path.join(root, 'out.txt'));
  fs.symlinkSync(tmp, path.join(root, 'updir'));
  fs.symlinkSync(path.join(root, 'sub', 'app.js'), path.join(root, 'inside.js'));
  execFileSync('mkfifo', [path.join(root, 'pipe.txt')]);
  const g = await startGateway({ natsUrl: nats.url, name: 'wsgate-webroot', args: ['--web-root', root] });
  t.after(() => g.stop());

  const get = (p) => httpGet(`${g.url}${p}`, { timeoutMs: 5000 });
  assert.equal((await get('/')).text, '<p>root</p>');
  assert.equal((await get('/sub/app.js')).text, 'ok()');
  assert.equal((await get('/inside.js')).text, 'ok()', 'a link that stays inside the root is served');
  for (const p of ['/.env', '/.git/config', '/sub/.hidden.txt', '/out.txt', '/updir/outside.txt', '/sub', '/pipe.txt']) {
    const r = await get(p);
    assert.equal(r.status, 404, `${p}: ${r.status} ${r.text}`);
  }
  // The FIFO was opened without blocking: the service thread still answers.
  assert.equal((await get('/healthz')).status, 200);
});
