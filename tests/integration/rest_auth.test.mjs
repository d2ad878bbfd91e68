// rest_auth.test.mjs: with JWT auth on, the REST API (/api/*, and /metrics
// with --metrics-auth) needs a valid token, like the upgrade, and shows only
// the batches and verification counts the token's `subs` allow
// (PROTOCOL.md "Authentication").
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, publish, pollUntil, mkTmp, rmTmp, ms } from '../lib/harness.mjs';
import { mint, randomSecret, writeKeyFile } from '../lib/jwt.mjs';

let nats;
let pub;
let dir;
let secret;
let gwM; // --jwt-secret --metrics-auth
let gwA; // --jwt-secret

const tok = (subs, extra = {}) => mint({ sub: 'rest', subs, ...extra }, { alg: 'HS256', key: secret });
const ts = () => new Date().toISOString();

before(async () => {
  dir = mkTmp('restauth');
  secret = randomSecret();
  const secretFile = writeKeyFile(dir, 'secret', secret);
  nats = await startNats();
  pub = await natsClient(nats.url);
  [gwM, gwA] = await Promise.all([
    startGateway({ natsUrl: nats.url, name: 'wsgate-metrics-auth', args: ['--jwt-secret', secretFile, '--metrics-auth', 'true'] }),
    startGateway({ natsUrl: nats.url, name: 'wsgate-auth', args: ['--jwt-secret', secretFile] }),
  ]);
  await publish(pub.js, 'batch.ra.started', { batch_id: 'ra', total: 10, workers: 2, kind: 'license_assignment', ts: ts() });
  const lic = { batch_id: 'rb', license_id: 'L1', hcp_id: 'H1', product: 'p', worker: 0, duration_ms: 5, ts: ts() };
  await publish(pub.js, 'license.rb.assigned', lic);
  await publish(pub.js, 'license.rb.failed', { ...lic, license_id: 'L2', hcp_id: 'H2', error: 'secret error text' });
  for (const [cc, status] of [['FR', 'verified'], ['FR', 'rejected'], ['DE', 'verified']]) {
    await publish(pub.js, `verification.${cc}.${status}`, { hcp_id: `H-${cc}-${status}`, country: cc, status, source: 'reg', ts: ts() });
  }
  const all = tok(['>']);
  for (const g of [gwM, gwA]) {
    await pollUntil(async () => {
      const r = await api(g, '/api/verifications', all);
      return r.status === 200 && r.json.total === 3 && (await api(g, '/api/batches', all)).json.length === 2;
    }, { timeoutMs: ms(20000), message: `${g.label} consumed the events` });
  }
});

after(async () => {
  await pub?.close();
  for (const g of [gwM, gwA]) if (g) await g.stop();
  await nats?.stop();
  if (dir) rmTmp(dir);
});

/** GET path with the token in Authorization (or in ?token= with how 'query'); resolves {status, headers, json, text}. */
async function api(g, path, token, how = 'header') {
  const headers = token && how === 'header' ? { Authorization: `Bearer ${token}` } : {};
  const url = `${g.url}${path}${token && how === 'query' ? `?token=${encodeURIComponent(token)}` : ''}`;
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(ms(10000)) });
  const r = { status: res.status, headers: res.headers, text: await res.text() };
  let json;
  try {
    json = JSON.parse(r.text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, json, text: r.text };
}

test('/api/* without a valid token: 401 with WWW-Authenticate: Bearer, nothing of the state', async () => {
  const expired = tok(['>'], { exp: Math.floor(Date.now() / 1000) - 10 });
  const other = mint({ subs: ['>'] }, { alg: 'HS256', key: randomSecret() });
  for (const path of ['/api/batches', '/api/batches/ra', '/api/batches/rb', '/api/verifications', '/api/nope']) {
    for (const [what, t] of [['no token', undefined], ['expired', expired], ['other key', other], ['garbage', 'a.b.c']]) {
      const r = await api(gwA, path, t);
      assert.equal(r.status, 401, `${path} with ${what}: ${r.status} ${r.text}`);
      assert.match(r.headers.get('www-authenticate') || '', /^Bearer/);
      assert.ok(!/rb|L2|H2|secret error/.test(r.text), `${path} with ${what} leaks state: ${r.text}`);
    }
  }
});

test('the public routes need no token: /healthz, /readyz, the dashboard; /metrics unless --metrics-auth', async () => {
  for (const path of ['/healthz', '/readyz', '/', '/metrics']) assert.equal((await api(gwA, path)).status, 200, path);
  for (const path of ['/healthz', '/readyz', '/']) assert.equal((await api(gwM, path)).status, 200, path);
  assert.equal((await api(gwM, '/metrics')).status, 401, '--metrics-auth: /metrics without a token');
  const m = await api(gwM, '/metrics', tok([]));
  assert.equal(m.status, 200, 'any valid token reads /metrics');
  assert.match(m.text, /wsgate_connections/);
});

test('batches are filtered by subs: a batch is shown when one of its subjects is allowed', async () => {
  const ids = async (subs, how) => {
    const r = await api(gwA, '/api/batches', tok(subs), how);
    assert.equal(r.status, 200, r.text);
    return r.json.map((b) => b.batch_id ?? b.id).sort();
  };
  assert.deepEqual(await ids(['>']), ['ra', 'rb']);
  assert.deepEqual(await ids(['batch.ra.>']), ['ra']);
  assert.deepEqual(await ids(['batch.*.progress']), ['ra', 'rb']);
  assert.deepEqual(await ids(['license.rb.failed']), ['rb']);
  assert.deepEqual(await ids(['license.rb.*'], 'query'), ['rb'], '?token= works too');
  assert.deepEqual(await ids(['verification.>']), []);
  assert.deepEqual(await ids([]), []);
  const one = await api(gwA, '/api/batches/rb', tok(['license.rb.>']));
  assert.equal(one.status, 200);
  assert.equal((await api(gwA, '/api/batches/rb', tok(['batch.ra.>']))).status, 404, 'a batch the token may not see is unknown');
  assert.equal((await api(gwA, '/api/batches/ra', tok(['batch.ra.progress']))).status, 200);
});

test('verification counts are filtered by subs: a country is shown when verification.<CC>.* is allowed', async () => {
  const ver = async (subs) => {
    const r = await api(gwA, '/api/verifications', tok(subs));
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  const all = await ver(['verification.>']);
  assert.equal(all.total, 3);
  assert.deepEqual(Object.keys(all.by_country).sort(), ['DE', 'FR']);
  const fr = await ver(['verification.FR.*']);
  assert.equal(fr.total, 2);
  assert.deepEqual(Object.keys(fr.by_country), ['FR']);
  assert.deepEqual(fr.by_status, { verified: 1, rejected: 1, pending: 0 });
  const de = await ver(['verification.*.*', 'license.>']);
  assert.equal(de.total, 3, 'verification.*.* allows every country');
  const none = await ver(['verification.FR.verified', 'batch.>']);
  assert.equal(none.total, 0, 'one status of a country is not enough');
  assert.deepEqual(none.by_country, {});
});
