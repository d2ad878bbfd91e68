// cors.test.mjs: a page of another origin uses the gateway, in headless
// Chromium (docs/operations.md "Pages on another origin"). The page is
// served by a small node:http server on 127.0.0.2 (origin
// http://127.0.0.2:<port>; the gateway is on 127.0.0.1); from there it
//  - fetches /api/batches with Authorization: Bearer (a preflighted request),
//  - imports the client library /wsgate.js (module scripts are CORS requests)
//    and goes live with it,
//  - opens a raw WebSocket.
// Against a gateway whose --allowed-origins lists the page's origin all
// three work; against one that lists another origin the fetch and the
// import fail as CORS errors (Chromium says "blocked by CORS policy") and
// the upgrade is refused (403, a 1006 close for the page).
import assert from 'node:assert/strict';
import http from 'node:http';
import { test, before, after, startNats, startGateway, natsClient, publish, pollUntil, freePort, mkTmp, rmTmp, ms } from '../lib/harness.mjs';
import { mint, randomSecret, writeKeyFile } from '../lib/jwt.mjs';
import { launchBrowser, watchConsole } from './lib.mjs';

const WAIT = ms(30000);

let nats;
let pub;
let dir;
let secret;
let site; // the other origin's server
let origin;
let gwAllow;
let gwDeny;
let browser;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>another origin</title>
<script type="module">
const q = new URLSearchParams(location.search);
const gw = q.get('gw');
const tok = q.get('token');
const out = (window.__result = {});
try {
  const r = await fetch(gw + '/api/batches', { headers: { Authorization: 'Bearer ' + tok, accept: 'application/json' } });
  out.fetch = { status: r.status, total: r.headers.get('x-total-count'), body: await r.json() };
} catch (e) {
  out.fetch = { error: String(e) };
}
try {
  const { WsGate } = await import(gw + '/wsgate.js');
  const gate = new WsGate({ url: gw.replace(/^http/, 'ws') + '/ws', token: tok, reconnect: false });
  out.gate = await new Promise((resolve) => {
    gate.on('live', () => resolve('live'));
    gate.on('closed', (e) => resolve('closed ' + e.code));
    gate.connect();
  });
  gate.close();
} catch (e) {
  out.gate = 'import failed: ' + String(e);
}
out.ws = await new Promise((resolve) => {
  const ws = new WebSocket(gw.replace(/^http/, 'ws') + '/ws?token=' + encodeURIComponent(tok));
  ws.onmessage = (e) => { resolve(JSON.parse(e.data).op); ws.close(); };
  ws.onclose = (e) => resolve('close ' + e.code);
});
out.done = true;
</script>`;

before(async () => {
  dir = mkTmp('corsb');
  secret = randomSecret();
  const secretFile = writeKeyFile(dir, 'secret', secret);
  const port = await freePort();
  site = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise((resolve, reject) => site.listen(port, '127.0.0.2', resolve).on('error', reject));
  origin = `http://127.0.0.2:${port}`;
  nats = await startNats();
  pub = await natsClient(nats.url);
  [gwAllow, gwDeny] = await Promise.all([
    startGateway({ natsUrl: nats.url, name: 'gw-allow', args: ['--jwt-secret', secretFile, '--allowed-origins', origin] }),
    startGateway({ natsUrl: nats.url, name: 'gw-deny', args: ['--jwt-secret', secretFile, '--allowed-origins', 'http://127.0.0.3:1'] }),
  ]);
  await publish(pub.js, 'batch.xo.started', { batch_id: 'xo', total: 5, workers: 1, kind: 'license_assignment', ts: new Date().toISOString() });
  const tok = mint({ sub: 't', subs: ['>'] }, { key: secret });
  for (const g of [gwAllow, gwDeny]) {
    await pollUntil(async () => (await (await fetch(`${g.url}/api/batches`, { headers: { authorization: `Bearer ${tok}` } })).json()).length === 1, { message: `${g.label} has the batch` });
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await gwAllow?.stop();
  await gwDeny?.stop();
  await pub?.close();
  await nats?.stop();
  site?.close();
  if (dir) rmTmp(dir);
});

/** Open the other origin's page against gateway g; resolves window.__result and the console. */
async function run(t, g) {
  const ctx = await browser.newContext();
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  const seen = watchConsole(page);
  const tok = mint({ sub: 'xo', subs: ['>'] }, { key: secret });
  await page.goto(`${origin}/?gw=${encodeURIComponent(g.url)}&token=${encodeURIComponent(tok)}`);
  await page.waitForFunction(() => window.__result && window.__result.done, null, { timeout: WAIT });
  const result = await page.evaluate(() => window.__result);
  t.diagnostic(`${g.label}: ${JSON.stringify(result)}`);
  return { result, seen };
}

test('origin allowed: the page reads /api/batches with its token, imports wsgate.js and goes live', async (t) => {
  const { result, seen } = await run(t, gwAllow);
  assert.equal(result.fetch.status, 200, JSON.stringify(result.fetch));
  assert.equal(result.fetch.total, '1', 'X-Total-Count is exposed to the page');
  assert.deepEqual(result.fetch.body.map((b) => b.id), ['xo']);
  assert.equal(result.gate, 'live');
  assert.equal(result.ws, 'hello');
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(seen.console.filter((m) => /CORS/.test(m.text)), [], 'no CORS error');
});

test('origin not allowed: the fetch and the import fail as CORS errors, the upgrade is refused', async (t) => {
  const { result, seen } = await run(t, gwDeny);
  assert.match(result.fetch.error || '', /TypeError: Failed to fetch/, JSON.stringify(result.fetch));
  assert.match(result.gate, /^import failed: TypeError/);
  assert.equal(result.ws, 'close 1006');
  const cors = seen.console.filter((m) => /blocked by CORS policy/.test(m.text));
  t.diagnostic(cors.map((m) => m.text).join('\n'));
  assert.ok(cors.some((m) => m.text.includes('/api/batches')), 'Chromium reports the fetch as blocked by CORS');
  assert.ok(cors.some((m) => m.text.includes('/wsgate.js')), 'and the module script');
});
