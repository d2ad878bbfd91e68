// http_compression.test.mjs: gzip and br on the gateway's HTTP port: every
// dashboard file and the /api/ and /metrics bodies decode to their identity
// bytes; Content-Encoding, Vary, an ETag per coding, 304 per coding's ETag,
// HEAD = GET's headers, Accept-Encoding q-values, Range ignored (200), and a
// keep-alive connection that stays in step. Raw node:http requests: no
// Accept-Encoding unless a test sends one, and bodies are not decoded for us.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { test, before, after, startNats, startGateway, natsClient, publishMany, ms, mkTmp, rmTmp } from '../lib/harness.mjs';
import { gatewayFence } from '../lib/resume.mjs';

const WEB = path.resolve(import.meta.dirname, '../../web');
const COMPRESS_MIN = 1024; // HTTP_COMPRESS_MIN: smaller /api/ bodies stay identity
const TEXT = /\.(html|js|mjs|css|json|svg|txt|md|ico)$/; // the types http.c compresses

let nats;
let gw;
let pub;

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, name: 'wsgate-z' });
  pub = await natsClient(nats.url);
  // 40 completed batches (their JSON no longer changes with time) and
  // verifications from 30 countries: /api/batches is well over 1 KB.
  // Timestamps of now: completed batches are forgotten --batch-retention (1 h) after theirs.
  const ts = new Date().toISOString();
  const events = [];
  for (let i = 0; i < 40; i++) {
    const id = `z${i}`;
    events.push({ subject: `batch.${id}.started`, data: { batch_id: id, total: 50, workers: 4, kind: 'license_assignment', ts } });
    events.push({ subject: `batch.${id}.completed`, data: { batch_id: id, total: 50, done: 48, failed: 2, duration_ms: 1000 + i, ts } });
  }
  for (let i = 0; i < 30; i++) {
    const cc = String.fromCharCode(65 + (i % 26)) + String.fromCharCode(65 + Math.floor(i / 26));
    for (const status of ['verified', 'rejected', 'pending']) {
      events.push({ subject: `verification.${cc}.${status}`, data: { hcp_id: `HCP-${cc}-1`, country: cc, status, source: 'REG', ts } });
    }
  }
  await publishMany(pub.js, events);
  await gatewayFence(gw.wsUrl, pub.js);
});

after(async () => {
  await pub?.close();
  if (gw) await gw.stop();
  await nats?.stop();
});

/** One request; resolves {status, headers, body: Buffer} with the body as sent (not decoded). */
function request(url, { method = 'GET', headers = {}, agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), socket: res.socket }));
      res.on('error', reject);
    });
    req.setTimeout(ms(10000), () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET (or `method`) path on gw with Accept-Encoding ae (undefined: none) and more headers. */
function get(g, p, ae, { method, headers = {}, agent } = {}) {
  return request(`${g.url}${p}`, { method, agent, headers: { ...(ae === undefined ? {} : { 'accept-encoding': ae }), ...headers } });
}

/** The body decoded from its Content-Encoding (the real decoders of node:zlib). */
function decode(r) {
  const ce = r.headers['content-encoding'];
  if (ce === undefined) return r.body;
  if (ce === 'gzip') return zlib.gunzipSync(r.body);
  if (ce === 'br') return zlib.brotliDecompressSync(r.body);
  throw new Error(`unexpected Content-Encoding: ${ce}`);
}

/** "\"abc\"" -> "\"abc-gz\"": the ETag of a coding, from the identity one. */
function codedEtag(etag, ce) {
  const suffix = { gzip: '-gz', br: '-br' }[ce] ?? '';
  return `${etag.slice(0, -1)}${suffix}"`;
}

/** The files cmake/embed.cmake embeds: everything under web/ but dotfiles, node_modules and package/. */
function webFiles() {
  return fs
    .readdirSync(WEB, { recursive: true })
    .filter((f) => !f.split(path.sep).some((c) => c.startsWith('.') || c === 'node_modules'))
    .filter((f) => f.split(path.sep)[0] !== 'package')
    .filter((f) => fs.statSync(path.join(WEB, f)).isFile())
    .map((f) => `/${f.split(path.sep).join('/')}`)
    .sort();
}

/** The headers a HEAD must repeat from its GET. */
const SAME = ['content-type', 'content-length', 'content-encoding', 'etag', 'vary', 'cache-control'];
function pick(h) {
  return Object.fromEntries(SAME.map((k) => [k, h[k]]));
}

// What a client asks -> what it must get (when the file has that variant).
const ASKS = [
  [undefined, undefined], // no Accept-Encoding: identity
  ['gzip', 'gzip'],
  ['br', 'br'],
  ['gzip, deflate, br', 'br'], // browsers: br preferred at equal q
  ['br;q=1.0, gzip;q=0.8, *;q=0.1', 'br'],
  ['gzip;q=1, br;q=0.5', 'gzip'],
  ['br;q=0, gzip', 'gzip'], // q=0 refuses
  ['gzip;q=0', undefined],
  ['gzip;q=0, br;q=0', undefined],
  ['*', 'br'],
  ['*;q=0, identity', undefined],
  ['identity', undefined],
  ['deflate', undefined],
  ['GZIP', 'gzip'],
];

test('every dashboard file: each coding decodes to the file, with its ETag, Vary, 304 and HEAD', { timeout: 120000 }, async () => {
  const files = webFiles();
  assert.ok(files.includes('/index.html') && files.includes('/app.js'), files.join(' '));
  for (const f of files) {
    const disk = fs.readFileSync(path.join(WEB, f));
    const text = TEXT.test(f);
    const plain = await get(gw, f);
    assert.equal(plain.status, 200, f);
    assert.equal(plain.headers['content-encoding'], undefined, `${f}: no Accept-Encoding, identity`);
    assert.deepEqual(plain.body, disk, `${f}: identity is the file`);
    const etag = plain.headers.etag;
    assert.match(etag, /^"[0-9a-f]{16}"$/, f);
    // wsgate.js is a CORS resource as well (its ACAO depends on Origin).
    assert.equal(plain.headers.vary, text ? (f === '/wsgate.js' ? 'Accept-Encoding, Origin' : 'Accept-Encoding') : undefined, `${f}: Vary`);
    const seen = new Set();
    for (const [ae, want] of ASKS) {
      const r = await get(gw, f, ae);
      const label = `${f} with Accept-Encoding ${ae}`;
      assert.equal(r.status, 200, label);
      const ce = r.headers['content-encoding'];
      // A small file keeps identity where a variant would not be smaller.
      if (!(ce === undefined && disk.length < COMPRESS_MIN)) assert.equal(ce, text ? want : undefined, label);
      seen.add(ce);
      assert.equal(Number(r.headers['content-length']), r.body.length, `${label}: Content-Length`);
      if (ce) assert.ok(r.body.length < disk.length, `${label}: ${r.body.length} < ${disk.length} bytes`);
      assert.deepEqual(decode(r), disk, `${label}: decodes to the file`);
      assert.equal(r.headers.etag, codedEtag(etag, ce), `${label}: ETag`);
      assert.equal(r.headers.vary, plain.headers.vary, `${label}: Vary`);

      const head = await get(gw, f, ae, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.deepEqual(pick(head.headers), pick(r.headers), `${label}: HEAD has GET's headers`);
      assert.equal(head.body.length, 0, `${label}: HEAD has no body`);

      // 304 for this coding's ETag, also weak and in a list; 200 for another coding's.
      for (const inm of [r.headers.etag, `W/${r.headers.etag}`, `"nope", W/"x,y", ${r.headers.etag}`, '*']) {
        const nm = await get(gw, f, ae, { headers: { 'if-none-match': inm } });
        assert.equal(nm.status, 304, `${label}, If-None-Match ${inm}`);
        assert.equal(nm.body.length, 0);
        assert.equal(nm.headers.etag, r.headers.etag);
        assert.equal(nm.headers.vary, r.headers.vary, `${label}: a 304 repeats Vary`);
        assert.equal(nm.headers['content-encoding'], undefined, `${label}: no representation metadata on a 304 (RFC 9110 §15.4.5)`);
        assert.equal(nm.headers['content-length'], String(r.body.length), `${label}: a 304's Content-Length is the 200's`);
      }
      for (const other of [undefined, 'gzip', 'br'].filter((c) => c !== ce)) {
        const nm = await get(gw, f, ae, { headers: { 'if-none-match': codedEtag(etag, other) } });
        assert.equal(nm.status, 200, `${label}: If-None-Match of coding ${other} is another representation`);
      }
    }
    if (text && disk.length >= COMPRESS_MIN) assert.deepEqual([...seen].sort(), ['br', 'gzip', undefined].sort(), `${f}: served in all three codings`);
  }
  // "/" is /index.html, in every coding.
  for (const ae of ['gzip', 'br']) {
    const root = await get(gw, '/', ae);
    const index = await get(gw, '/index.html', ae);
    assert.equal(root.headers.etag, index.headers.etag);
    assert.deepEqual(root.body, index.body);
  }
});

/** identity, gzip and br of path with the same state behind them (retried while it moves). */
async function threeWays(p) {
  for (let i = 0; ; i++) {
    const id1 = await get(gw, p);
    const gz = await get(gw, p, 'gzip');
    const br = await get(gw, p, 'br');
    const id2 = await get(gw, p);
    if (id1.body.equals(id2.body) || i === 4) return { id: id1, gz, br, id2 };
  }
}

const DYNAMIC = ['/api/batches', '/api/batches?limit=1000&state=completed', '/api/batches/z7', '/api/summary', '/api/stats', '/api/verifications', '/metrics'];

test('/api/ and /metrics: compressed above 1 KB, byte-identical when decoded, Vary on each', async () => {
  const all = await get(gw, '/api/batches');
  assert.equal(all.headers['x-total-count'], '40', 'the 40 batches published');
  const sizes = {};
  for (const p of DYNAMIC) {
    const { id, gz, br, id2 } = await threeWays(p);
    assert.deepEqual(id.body, id2.body, `${p}: the state did not settle`);
    for (const r of [id, gz, br]) {
      assert.equal(r.status, 200, p);
      assert.equal(r.headers.vary, 'Accept-Encoding, Origin', `${p}: Vary on every response, compressed or not (and Origin: CORS)`);
      assert.equal(Number(r.headers['content-length']), r.body.length, `${p}: Content-Length`);
    }
    assert.equal(id.headers['content-encoding'], undefined, `${p}: no Accept-Encoding, identity`);
    const big = id.body.length >= COMPRESS_MIN;
    assert.equal(gz.headers['content-encoding'], big ? 'gzip' : undefined, `${p} (${id.body.length} bytes) with gzip`);
    assert.equal(br.headers['content-encoding'], big ? 'br' : undefined, `${p} (${id.body.length} bytes) with br`);
    assert.deepEqual(decode(gz), id.body, `${p}: gzip decodes to the identity body`);
    assert.deepEqual(decode(br), id.body, `${p}: br decodes to the identity body`);
    if (big) assert.ok(gz.body.length < id.body.length && br.body.length < id.body.length);
    sizes[p] = [id.body.length, gz.body.length, br.body.length];
  }
  console.log(`# identity/gzip/br bytes: ${JSON.stringify(sizes)}`);
  for (const p of ['/api/batches', '/api/verifications', '/metrics']) assert.ok(sizes[p][0] >= COMPRESS_MIN, `${p} is big enough to be compressed here (${sizes[p][0]})`);
  assert.ok(sizes['/api/summary'][0] < COMPRESS_MIN && sizes['/api/stats'][0] < COMPRESS_MIN, 'small ones stay identity');
  // q-values on a dynamic body.
  for (const [ae, want] of [['gzip;q=0', undefined], ['br;q=0, gzip', 'gzip'], ['gzip, br', 'br'], ['gzip;q=1, br;q=0.1', 'gzip'], ['identity;q=0', undefined], ['*', 'br'], ['*;q=0', undefined]]) {
    const r = await get(gw, '/api/batches', ae);
    assert.equal(r.headers['content-encoding'], want, `/api/batches with Accept-Encoding ${ae}`);
    assert.ok(decode(r).length >= COMPRESS_MIN);
  }
  // HEAD: the headers of the GET, the length of the encoded body.
  for (const ae of [undefined, 'gzip', 'br']) {
    const g = await get(gw, '/api/batches', ae);
    const h = await get(gw, '/api/batches', ae, { method: 'HEAD' });
    assert.deepEqual(pick(h.headers), pick(g.headers), `HEAD /api/batches with ${ae}`);
    assert.equal(h.body.length, 0);
  }
  // What Prometheus sends.
  const prom = await get(gw, '/metrics', 'gzip', { headers: { accept: 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2' } });
  assert.equal(prom.headers['content-encoding'], 'gzip');
  assert.match(prom.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  assert.match(decode(prom).toString(), /^# TYPE wsgate_connections gauge$/m);
  // Never compressed: probes and errors.
  for (const p of ['/healthz', '/readyz', '/api/batches/none', '/nope']) {
    const r = await get(gw, p, 'gzip, br');
    assert.equal(r.headers['content-encoding'], undefined, p);
    // An /api/ error is still a CORS resource: it varies by Origin only.
    assert.equal(r.headers.vary, p.startsWith('/api/') ? 'Origin' : undefined, p);
  }
});

test('Range is ignored: a 200 with the whole (encoded) body, as RFC 9110 allows', async () => {
  for (const ae of [undefined, 'gzip', 'br']) {
    const full = await get(gw, '/app.js', ae);
    const r = await get(gw, '/app.js', ae, { headers: { range: 'bytes=0-99' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-range'], undefined);
    assert.equal(r.headers['accept-ranges'], undefined, 'no ranges advertised');
    assert.deepEqual(r.body, full.body);
  }
});

test('one keep-alive connection: compressed bodies, 304s and HEADs stay in step', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const sockets = new Set();
    const first = await get(gw, '/app.js', 'br', { agent });
    sockets.add(first.socket);
    const disk = fs.readFileSync(path.join(WEB, 'app.js'));
    for (let i = 0; i < 20; i++) {
      const steps = [
        [await get(gw, '/app.js', 'br', { agent, headers: { 'if-none-match': first.headers.etag } }), 304],
        [await get(gw, '/app.js', 'gzip', { agent, method: 'HEAD' }), 200],
        [await get(gw, '/app.js', 'gzip', { agent }), 200],
        [await get(gw, '/api/batches', 'br', { agent }), 200],
        [await get(gw, '/index.html', undefined, { agent }), 200],
      ];
      for (const [r, status] of steps) {
        assert.equal(r.status, status);
        sockets.add(r.socket);
      }
      assert.deepEqual(decode(steps[2][0]), disk);
      JSON.parse(decode(steps[3][0]).toString());
    }
    assert.equal(sockets.size, 1, 'all over one connection');
  } finally {
    agent.destroy();
  }
});

test('--web-root: the same codings and ETags as embedded; a changed file gets new ones', { timeout: 60000 }, async (t) => {
  const tmp = mkTmp('webz');
  t.after(() => rmTmp(tmp));
  fs.cpSync(WEB, tmp, { recursive: true });
  const g = await startGateway({ natsUrl: nats.url, name: 'wsgate-webz', args: ['--web-root', tmp] });
  t.after(() => g.stop());
  for (const ae of [undefined, 'gzip', 'br']) {
    const embedded = await get(gw, '/style.css', ae);
    const disk = await get(g, '/style.css', ae);
    assert.equal(disk.headers.etag, embedded.headers.etag, `ETag with ${ae}`);
    assert.equal(disk.headers['content-encoding'], embedded.headers['content-encoding']);
    assert.deepEqual(decode(disk), fs.readFileSync(path.join(WEB, 'style.css')));
    const nm = await get(g, '/style.css', ae, { headers: { 'if-none-match': disk.headers.etag } });
    assert.equal(nm.status, 304);
  }
  const changed = `${fs.readFileSync(path.join(tmp, 'style.css'), 'utf8')}\n.added { color: red }\n`;
  const before_ = await get(g, '/style.css', 'br');
  fs.writeFileSync(path.join(tmp, 'style.css'), changed);
  const after_ = await get(g, '/style.css', 'br');
  assert.notEqual(after_.headers.etag, before_.headers.etag);
  assert.equal(decode(after_).toString(), changed);
  const stale = await get(g, '/style.css', 'br', { headers: { 'if-none-match': before_.headers.etag } });
  assert.equal(stale.status, 200, 'the old ETag no longer matches');
});
