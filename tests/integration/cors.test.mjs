// cors.test.mjs: CORS on the gateway's port (docs/operations.md "Pages on
// another origin"): /api/*, /wsgate.js and /metrics answer an Origin that the
// WebSocket's policy allows (the default policy: loopback and the gateway's
// own hosts; or --allowed-origins) with Access-Control-Allow-Origin, answer
// preflights (OPTIONS) with 204, refuse a preflight from another Origin with
// 403 and no CORS header, and answer OPTIONS of a path that does not exist
// with 404. Requests go through node:http, which, unlike a browser, lets the
// test set Origin.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test, before, after, startNats, startGateway, mkTmp, rmTmp } from '../lib/harness.mjs';
import { mint, randomSecret, writeKeyFile } from '../lib/jwt.mjs';

const APP = 'http://app.example:8443'; // the one origin of --allowed-origins
let nats;
let dir;
let secret;
let gwDefault; // no --allowed-origins, no auth
let gwList; // --allowed-origins APP --jwt-secret

before(async () => {
  dir = mkTmp('cors');
  secret = randomSecret();
  const secretFile = writeKeyFile(dir, 'secret', secret);
  nats = await startNats();
  [gwDefault, gwList] = await Promise.all([
    startGateway({ natsUrl: nats.url, name: 'wsgate-cors-default' }),
    startGateway({ natsUrl: nats.url, name: 'wsgate-cors-list', args: ['--allowed-origins', APP, '--jwt-secret', secretFile] }),
  ]);
});

after(async () => {
  await gwDefault?.stop();
  await gwList?.stop();
  await nats?.stop();
  if (dir) rmTmp(dir);
});

/** One request; resolves {status, headers, body}. agent: to reuse a connection. */
function request(url, { method = 'GET', headers = {}, agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), socket: res.socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

const preflight = (g, p, origin, extra = {}) =>
  request(`${g.url}${p}`, {
    method: 'OPTIONS',
    headers: { ...(origin ? { origin } : {}), 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization', ...extra },
  });

const CORS_PATHS = ['/api/batches', '/api/batches/b1', '/api/summary', '/api/stats', '/api/verifications', '/wsgate.js', '/metrics'];

function corsHeaders(headers) {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('access-control-')));
}

test('default policy: a loopback Origin gets CORS on the CORS resources, another origin none', async () => {
  for (const origin of ['http://localhost:5173', 'http://127.0.0.2:9000', `http://127.0.0.1:${gwDefault.port}`]) {
    for (const p of ['/api/batches', '/api/summary', '/wsgate.js', '/metrics']) {
      const r = await request(`${gwDefault.url}${p}`, { headers: { origin } });
      assert.equal(r.status, 200, `${p} from ${origin}`);
      assert.equal(r.headers['access-control-allow-origin'], origin, `${p} from ${origin}: ACAO`);
      assert.match(r.headers.vary || '', /\bOrigin\b/, `${p}: Vary`);
      assert.equal(r.headers['access-control-allow-credentials'], undefined, 'no credentials mode');
    }
  }
  const api = await request(`${gwDefault.url}/api/batches`, { headers: { origin: 'http://localhost:5173' } });
  assert.equal(api.headers['access-control-expose-headers'], 'X-Total-Count, X-Next-Cursor, Link');
  for (const origin of ['http://evil.example', 'null', 'http://127.evil.example']) {
    for (const p of CORS_PATHS) {
      const r = await request(`${gwDefault.url}${p}`, { headers: { origin } });
      assert.deepEqual(corsHeaders(r.headers), {}, `${p} from ${origin}: no CORS header`);
      assert.match(r.headers.vary || '', /\bOrigin\b/, `${p} from ${origin}: Vary still says Origin`);
    }
  }
  // The dashboard's own files and the probes are no CORS resources.
  for (const p of ['/', '/app.js', '/healthz', '/readyz']) {
    const r = await request(`${gwDefault.url}${p}`, { headers: { origin: 'http://localhost:5173' } });
    assert.equal(r.status, 200, p);
    assert.deepEqual(corsHeaders(r.headers), {}, p);
  }
});

test('preflight: 204 with the CORS headers for an allowed Origin, 403 for another, 404 for no such path', async () => {
  const origin = 'http://localhost:5173';
  for (const p of CORS_PATHS) {
    const r = await preflight(gwDefault, p, origin);
    assert.equal(r.status, 204, `OPTIONS ${p}: ${r.body}`);
    assert.equal(r.body, '');
    assert.equal(r.headers['content-length'], undefined, 'a 204 has no Content-Length');
    assert.deepEqual(corsHeaders(r.headers), {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'GET, HEAD, OPTIONS',
      'access-control-allow-headers': 'Authorization',
      'access-control-max-age': '600',
    }, `OPTIONS ${p}`);
    assert.equal(r.headers.vary, 'Origin');
    const bad = await preflight(gwDefault, p, 'http://evil.example');
    assert.equal(bad.status, 403, `OPTIONS ${p} from evil.example`);
    assert.deepEqual(corsHeaders(bad.headers), {}, `OPTIONS ${p} from evil.example: no CORS header`);
  }
  for (const p of ['/api/nope', '/nope.js', '/.env', '/api/batches/a.b']) {
    const r = await preflight(gwDefault, p, origin);
    assert.equal(r.status, 404, `OPTIONS ${p}`);
    assert.deepEqual(corsHeaders(r.headers), {}, p);
  }
  // A plain OPTIONS (no Origin) of a path that exists: 204 and Allow.
  const plain = await preflight(gwDefault, '/healthz', null);
  assert.equal(plain.status, 204);
  assert.equal(plain.headers.allow, 'GET, HEAD, OPTIONS');
  // Other methods are still 405.
  assert.equal((await request(`${gwDefault.url}/api/batches`, { method: 'DELETE', headers: { origin } })).status, 405);
});

test('preflights and GETs share a keep-alive connection', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set();
  try {
    for (let i = 0; i < 20; i++) {
      const r = i % 2
        ? await request(`${gwDefault.url}/api/summary`, { agent, headers: { origin: 'http://localhost:1' } })
        : await request(`${gwDefault.url}/api/summary`, { agent, method: 'OPTIONS', headers: { origin: 'http://localhost:1', 'access-control-request-method': 'GET' } });
      assert.equal(r.status, i % 2 ? 200 : 204);
      sockets.add(r.socket);
    }
  } finally {
    agent.destroy();
  }
  assert.equal(sockets.size, 1, 'one connection for all');
});

test('--allowed-origins with auth: only the listed origin, a 401 is readable, a preflight needs no token', async () => {
  const token = mint({ sub: 'cors', subs: ['>'] }, { alg: 'HS256', key: secret });
  const ok = await request(`${gwList.url}/api/batches`, { headers: { origin: APP, authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.headers['access-control-allow-origin'], APP);
  const noToken = await request(`${gwList.url}/api/batches`, { headers: { origin: APP } });
  assert.equal(noToken.status, 401);
  assert.equal(noToken.headers['access-control-allow-origin'], APP, 'the page can read the 401');
  assert.equal(noToken.headers['www-authenticate'], 'Bearer');
  const pf = await preflight(gwList, '/api/batches', APP);
  assert.equal(pf.status, 204);
  assert.equal(pf.headers['access-control-allow-origin'], APP);
  // With a list, loopback is no longer allowed by default.
  for (const origin of ['http://localhost:5173', 'http://app.example:8444', 'https://app.example:8443']) {
    const r = await request(`${gwList.url}/api/batches`, { headers: { origin, authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    assert.deepEqual(corsHeaders(r.headers), {}, origin);
    assert.equal((await preflight(gwList, '/api/batches', origin)).status, 403, origin);
  }
});
