// failures.test.mjs: GET /api/batches/{id}/failures (PROTOCOL.md "Failure
// pages"): a batch's license.<id>.failed events read from the stream, one
// page at a time, oldest first; a late page served by a restarted gateway
// that no longer keeps the batch; the token's subs filter; bad arguments.
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, publish, publishMany, pollUntil, fileStreamName, mkTmp, rmTmp, ms } from '../lib/harness.mjs';
import { gatewayFence } from '../lib/resume.mjs';
import { mint, randomSecret, writeKeyFile } from '../lib/jwt.mjs';

const STREAM = fileStreamName();
const N = 250;
let nats;
let pub;
let gw;
let dir;
let secret;
let seqs; // the stream sequences of the N failures, in order

async function get(g, path, { token, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  const res = await fetch(g.url + path, { headers: h, signal: AbortSignal.timeout(ms(15000)) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Every page of batch id from the start, following X-Next-Cursor; checks header, Link and body agree. */
async function allPages(g, id, limit, opts) {
  const pages = [];
  let path = `/api/batches/${id}/failures?limit=${limit}`;
  for (;;) {
    const r = await get(g, path, opts);
    assert.equal(r.status, 200, `${path}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.match(r.headers.get('content-type'), /application\/json/);
    pages.push(r.json);
    const next = r.headers.get('x-next-cursor');
    assert.equal(r.json.next_cursor, next, 'body and header cursors agree');
    if (!next) {
      assert.equal(r.headers.get('link'), null);
      return pages;
    }
    assert.equal(r.headers.get('link'), `</api/batches/${id}/failures?limit=${limit}&cursor=${next}>; rel="next"`);
    path = `/api/batches/${id}/failures?limit=${limit}&cursor=${next}`;
    assert.ok(pages.length < 50, 'too many pages');
  }
}

function checkAll(pages) {
  const items = pages.flatMap((p) => p.failures);
  assert.equal(items.length, N);
  assert.deepEqual(items.map((f) => f.seq), seqs, 'every failure once, oldest first, with its stream seq');
  items.forEach((f, i) => {
    assert.equal(f.data.license_id, `L${i}`);
    assert.equal(f.data.error, `error ${i}`);
    assert.ok(!Number.isNaN(Date.parse(f.ts)), `ts ${f.ts}`);
  });
}

before(async () => {
  dir = mkTmp('failures');
  secret = randomSecret();
  nats = await startNats();
  pub = await natsClient(nats.url);
  gw = await startGateway({ natsUrl: nats.url, name: 'gw-failures', stream: STREAM });
  const ts = new Date().toISOString();
  const events = [];
  for (let i = 0; i < N; i++) {
    const lic = { batch_id: 'bf', license_id: `L${i}`, hcp_id: `H${i}`, product: 'p', worker: i % 4, duration_ms: 3, ts };
    events.push({ subject: 'license.bf.assigned', data: { ...lic, license_id: `A${i}` } }); // interleaved, not failures
    events.push({ subject: 'license.bf.failed', data: { ...lic, error: `error ${i}` } });
    if (i % 50 === 0) events.push({ subject: 'license.other.failed', data: { ...lic, batch_id: 'other', error: 'x' } });
  }
  const all = await publishMany(pub.js, events);
  seqs = all.filter((_, i) => events[i].subject === 'license.bf.failed');
  await gatewayFence(gw.wsUrl, pub.js);
});

after(async () => {
  await pub?.close();
  if (gw) await gw.stop();
  await nats?.stop();
  if (dir) rmTmp(dir);
});

test('250 failures in pages of 100: all of them in stream order, cursors in header, Link and body', async () => {
  const pages = await allPages(gw, 'bf', 100);
  assert.deepEqual(pages.map((p) => p.failures.length), [100, 100, 50]);
  for (const p of pages) assert.equal(p.batch_id, 'bf');
  checkAll(pages);
  // The REST batch keeps only the newest 20; the pages have them all.
  const b = await get(gw, '/api/batches/bf');
  assert.equal(b.json.failures.length, 20);
  // A cursor past the newest failure: an empty last page.
  const last = await get(gw, `/api/batches/bf/failures?cursor=${seqs[N - 1] + 1}`);
  assert.equal(last.status, 200);
  assert.deepEqual(last.json.failures, []);
  assert.equal(last.json.next_cursor, null);
});

test('default and bounded limits, gzip, and an unknown batch is an empty page', async () => {
  const d = await get(gw, '/api/batches/bf/failures');
  assert.equal(d.json.failures.length, 100);
  const big = await get(gw, '/api/batches/bf/failures?limit=5000', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(big.status, 200);
  assert.equal(big.json.failures.length, N, 'limit above 1000 is capped, all 250 fit');
  assert.equal(big.headers.get('x-next-cursor'), null);
  assert.equal(big.headers.get('content-encoding'), 'gzip');
  const none = await get(gw, '/api/batches/nosuchbatch/failures');
  assert.equal(none.status, 200);
  assert.deepEqual(none.json, { batch_id: 'nosuchbatch', failures: [], next_cursor: null });
});

test('bad limit or cursor is 400, a bad id 404', async () => {
  for (const q of ['limit=0', 'limit=-1', 'limit=abc', 'limit=1.5', 'cursor=0', 'cursor=x', 'cursor=-3', 'cursor=99999999999999999999999']) {
    const r = await get(gw, `/api/batches/bf/failures?${q}`);
    assert.equal(r.status, 400, `${q}: ${r.status} ${r.text}`);
    assert.equal(typeof r.json.error, 'string');
  }
  for (const id of ['a.b', '*', '%3E']) {
    const r = await get(gw, `/api/batches/${id}/failures`);
    assert.equal(r.status, 404, `${id}: ${r.status} ${r.text}`);
  }
});

test('many pages at once, and clients that leave before the answer', async () => {
  // Requests aborted at once: their sockets close while the page is read.
  const aborted = [];
  for (let i = 0; i < 20; i++) {
    const ac = new AbortController();
    aborted.push(fetch(`${gw.url}/api/batches/bf/failures?limit=1000`, { signal: ac.signal }).catch(() => null));
    ac.abort();
  }
  await Promise.all(aborted);
  const rs = await Promise.all(Array.from({ length: 12 }, () => get(gw, '/api/batches/bf/failures?limit=1000')));
  for (const r of rs) assert.ok(r.status === 200 || r.status === 503, `${r.status} ${r.text}`);
  assert.ok(rs.filter((r) => r.status === 200).length >= 1);
  for (const r of rs.filter((x) => x.status === 200)) assert.equal(r.json.failures.length, N);
  assert.equal((await get(gw, '/healthz')).status, 200);
});

test('a stalled stream: the request is held (past --handshake-timeout), the service thread serves on, then 502/504', async () => {
  const g = await startGateway({ natsUrl: nats.url, name: 'gw-failures-stall', stream: STREAM, args: ['--handshake-timeout', '1s'] });
  try {
    assert.equal((await get(g, '/api/batches/bf/failures?limit=1')).status, 200);
    process.kill(nats.pid, 'SIGSTOP');
    let page;
    try {
      const t0 = Date.now();
      page = get(g, '/api/batches/bf/failures?cursor=2');
      await new Promise((r) => setTimeout(r, 1500));
      const h = await get(g, '/healthz');
      assert.equal(h.status, 200, 'the service thread answers while the page is read');
      const r = await page;
      assert.ok(r.status === 502 || r.status === 504, `${r.status} ${r.text}`);
      assert.equal(typeof r.json.error, 'string');
      assert.ok(Date.now() - t0 > 1500, 'held past the handshake timeout');
    } finally {
      process.kill(nats.pid, 'SIGCONT');
    }
    const again = await pollUntil(async () => {
      const r = await get(g, '/api/batches/bf/failures?limit=1000');
      return r.status === 200 && r;
    }, { timeoutMs: ms(30000), message: 'pages again once the stream answers' });
    assert.equal(again.json.failures.length, N);
  } finally {
    await g.stop();
  }
});

test('a late page after a restart, from a gateway that no longer keeps the batch', async () => {
  await gw.stop();
  gw = null;
  gw = await startGateway({ natsUrl: nats.url, name: 'gw-failures-2', stream: STREAM, args: ['--max-batches', '1'] });
  await publish(pub.js, 'batch.newer.started', { batch_id: 'newer', total: 1, workers: 1, kind: 'license_assignment', ts: new Date().toISOString() });
  await gatewayFence(gw.wsUrl, pub.js);
  assert.equal((await get(gw, '/api/batches/bf')).status, 404, 'bf was evicted');
  checkAll(await allPages(gw, 'bf', 100));
});

test('with auth: a token, and only batches its subs allow', async () => {
  const secretFile = writeKeyFile(dir, 'secret', secret);
  const ga = await startGateway({ natsUrl: nats.url, name: 'gw-failures-auth', stream: STREAM, args: ['--jwt-secret', secretFile] });
  try {
    const tok = (subs) => mint({ sub: 't', subs }, { alg: 'HS256', key: secret });
    assert.equal((await get(ga, '/api/batches/bf/failures')).status, 401);
    const ok = await get(ga, '/api/batches/bf/failures?limit=1000', { token: tok(['license.bf.>']) });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.failures.length, N);
    const other = await get(ga, '/api/batches/bf/failures', { token: tok(['license.other.>']) });
    assert.equal(other.status, 404, other.text);
    assert.equal((await get(ga, '/api/batches/other/failures', { token: tok(['license.other.>']) })).json.failures.length, 5);
  } finally {
    await ga.stop();
  }
});
