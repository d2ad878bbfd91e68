// dashboard_auth.test.mjs: the bundled dashboard against a gateway with JWT
// auth on (--jwt-secret), in headless Chromium (docs/client.md "The
// dashboard with JWT auth"):
//  1. /?token=<valid>: the token leaves the address bar, the WebSocket gets
//     it as ?token= and every REST call as Authorization: Bearer; the page
//     goes live, loads the REST snapshots and follows a wsgate-sim batch to
//     the REST API's exact final figures;
//  2. the token-URL hook (<meta name="wsgate-token-url"> in the index.html
//     of a --web-root copy of web/; the token URL answered by page.route):
//     its first answer is an expired token, so the first REST calls
//     get 401 (and are retried at once with a fresh token) and the first
//     upgrade is refused; the page asks the URL again and goes live with the
//     fresh token, snapshots loaded;
//  3. refused tokens (garbage, another key's signature, expired): the pill
//     says "unauthorized" (with a banner) and stays so, with no WebSocket
//     attempts after the first ones (not "reconnecting" forever);
//  4. a static token that expires while the page is live: the gateway
//     closes with 4002 and the pill says "unauthorized".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, before, after, startNats, startGateway, httpGet, withTimeout, fileStreamName, mkTmp, rmTmp, delay, ms } from '../lib/harness.mjs';
import { mint, nowS, randomSecret, writeKeyFile } from '../lib/jwt.mjs';
import { WSGATE_SIM_BIN } from '../lib/resume.mjs';
import { launchBrowser, watchConsole, startSim } from './lib.mjs';

const STREAM = fileStreamName();
const WAIT = ms(60000);
const TOTAL = 120;
const SUBS = ['batch.>', 'license.>', 'verification.>'];
const WEB = path.resolve(import.meta.dirname, '../../web');

let nats;
let gw;
let gwHook; // the same, serving web/ from disk with the token-URL meta tag
let dir;
let secret;
let browser;
const sims = new Set();

const token = (claims = {}) => mint({ sub: 'dashboard', subs: SUBS, ...claims }, { alg: 'HS256', key: secret });

before(async () => {
  dir = mkTmp('dashauth');
  secret = randomSecret();
  const secretFile = writeKeyFile(dir, 'secret', secret);
  nats = await startNats();
  // (Not page.route for the document: Chromium then gives the page no
  // address space and blocks its WebSocket to 127.0.0.1 as a local network
  // access.)
  const root = path.join(dir, 'web');
  fs.cpSync(WEB, root, { recursive: true });
  const index = fs.readFileSync(path.join(root, 'index.html'), 'utf8');
  const hooked = index.replace('<head>', '<head>\n  <meta name="wsgate-token-url" content="/my-app/wsgate-token">');
  assert.notEqual(hooked, index);
  fs.writeFileSync(path.join(root, 'index.html'), hooked);
  [gw, gwHook] = await Promise.all([
    startGateway({ natsUrl: nats.url, stream: STREAM, name: 'gw-auth', args: ['--jwt-secret', secretFile] }),
    startGateway({ natsUrl: nats.url, stream: STREAM, name: 'gw-hook', args: ['--jwt-secret', secretFile, '--web-root', root] }),
  ]);
  browser = await launchBrowser();
});

after(async () => {
  for (const s of sims) s.stop();
  await browser?.close();
  if (gw) await gw.stop().catch(() => gw.kill());
  if (gwHook) await gwHook.stop().catch(() => gwHook.kill());
  await nats?.stop();
  if (dir) rmTmp(dir);
});

/** GET a JSON document of the gateway with a valid token. */
async function api(p) {
  const r = await fetch(gw.url + p, { headers: { authorization: `Bearer ${token()}` } });
  assert.equal(r.status, 200, `GET ${p}: ${r.status}`);
  return r.json();
}

/** A new page that records its WebSocket URLs and the Authorization of its gateway requests. */
async function openPage() {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const seen = watchConsole(page);
  const sockets = [];
  const rest = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if ((u.origin === gw.url || u.origin === gwHook.url) && (u.pathname.startsWith('/api/') || u.pathname === '/metrics')) rest.push({ path: u.pathname, authorization: r.headers().authorization, at: Date.now() });
  });
  return { ctx, page, seen, sockets, rest };
}

/** Run wsgate-sim for one batch named <prefix>-1 and wait for its exit. */
async function runSim(prefix) {
  const s = startSim(WSGATE_SIM_BIN, [
    '--nats', nats.url, '--stream', STREAM, '--batches', '1', '--size', String(TOTAL), '--workers', '4',
    '--speed', '40', '--fail-rate', '0.05', '--mode', 'both', '--batch-prefix', prefix, '--seed', '3', '--verifications', '20',
  ]);
  sims.add(s);
  const r = await withTimeout(s.done, WAIT, 'wsgate-sim to exit');
  sims.delete(s);
  assert.equal(r.code, 0, `wsgate-sim: ${r.output}`);
}

/** The page follows batch <id> to its end: its card shows the REST API's final figures. */
async function expectBatchDone(page, id) {
  await page.waitForSelector(`[data-batch-id="${id}"] [data-field="state"]:text-is("completed")`, { timeout: WAIT });
  const rest = await api(`/api/batches/${id}`);
  const want = { processed: String(rest.done + rest.failed), failed: String(rest.failed), total: String(rest.total) };
  await page.waitForFunction(({ id, want }) => {
    const card = document.querySelector(`[data-batch-id="${CSS.escape(id)}"]`);
    const f = (k) => card.querySelector(`[data-field="${k}"]`).textContent.trim();
    return f('processed') === want.processed && f('failed') === want.failed && f('total') === want.total;
  }, { id, want }, { timeout: WAIT });
  assert.equal(rest.total, TOTAL);
}

/** The REST snapshots reached the page: summary strip and verification total equal the API's. */
async function expectSnapshots(page) {
  const summary = await api('/api/summary');
  const verif = await api('/api/verifications');
  assert.ok(summary.batches >= 1 && verif.total >= 1, `something to show: ${JSON.stringify(summary)} ${verif.total}`);
  await page.waitForFunction(({ completed, total }) =>
    document.querySelector('#summary [data-k="completed"] dd').textContent.trim() === String(completed) &&
    document.getElementById('verif-total').textContent.trim() === String(total),
  { completed: summary.completed, total: verif.total }, { timeout: WAIT });
}

test('/?token=<valid>: live, token off the address bar, on the WebSocket and every REST call; a batch to its exact end', { timeout: ms(120000) }, async (t) => {
  const { ctx, page, seen, sockets, rest } = await openPage();
  t.after(() => ctx.close());
  const tok = token();
  await page.goto(`${gw.url}/?token=${encodeURIComponent(tok)}#/batch/au-1`);
  await page.waitForSelector('#conn-status[data-status="live"]', { timeout: WAIT });
  assert.equal(page.url(), `${gw.url}/#/batch/au-1`, 'the token left the address bar, the rest of the URL stayed');
  assert.ok(sockets.length >= 1 && sockets.every((u) => new URL(u).searchParams.get('token') === tok), `WebSocket URLs: ${sockets}`);

  await runSim('au');
  await expectBatchDone(page, 'au-1');
  await expectSnapshots(page);
  assert.ok(rest.length >= 4, `REST calls: ${JSON.stringify(rest.map((r) => r.path))}`);
  for (const r of rest) assert.equal(r.authorization, `Bearer ${tok}`, `${r.path} sent the token`);
  assert.deepEqual(seen.pageErrors, [], 'page errors');
  assert.equal(await page.getAttribute('#conn-status', 'data-status'), 'live');
});

test('token-URL hook: an expired first token is replaced at the next attempt and on 401', { timeout: ms(120000) }, async (t) => {
  const { ctx, page, seen, sockets, rest } = await openPage();
  t.after(() => ctx.close());
  const handed = [];
  await page.route(`${gwHook.url}/my-app/wsgate-token`, async (route) => {
    const tok = handed.length === 0 ? token({ exp: nowS() - 60 }) : token();
    handed.push(tok);
    // The JSON form the first time, plain text after.
    if (handed.length === 1) await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ token: tok }) });
    else await route.fulfill({ status: 200, contentType: 'text/plain', body: `${tok}\n` });
  });
  await page.goto(`${gwHook.url}/`);
  await page.waitForSelector('#conn-status[data-status="live"]', { timeout: WAIT });
  await runSim('hk');
  await expectBatchDone(page, 'hk-1');
  await expectSnapshots(page);
  t.diagnostic(`${handed.length} tokens handed out; WebSocket attempts: ${sockets.length}; REST calls: ${rest.length}`);
  assert.ok(handed.length >= 2, `the token URL was asked again after the expired token: ${handed.length}`);
  assert.equal(new URL(sockets[0]).searchParams.get('token'), handed[0], 'the first attempt had the first token');
  assert.ok(sockets.slice(1).every((u) => handed.slice(1).includes(new URL(u).searchParams.get('token'))), 'later attempts had fresh ones');
  const expired = rest.filter((r) => r.authorization === `Bearer ${handed[0]}`);
  const fresh = rest.filter((r) => handed.slice(1).some((h) => r.authorization === `Bearer ${h}`));
  assert.ok(fresh.length >= 3, `REST calls with a fresh token: ${fresh.length}`);
  assert.equal(expired.length + fresh.length, rest.length, 'every REST call had a token of the URL');
  // The 401s of the first load were retried at once with a fresh token: the
  // list and the verification counters are asked for again within a second
  // (nothing else asks for them again so soon: no events yet, the list's
  // refresh is every 5 or 30 s).
  for (const p of ['/api/batches', '/api/verifications']) {
    const first = rest.find((r) => r.path === p);
    assert.equal(first.authorization, `Bearer ${handed[0]}`, `${p} first with the expired token`);
    const again = rest.find((r) => r.path === p && r !== first);
    assert.ok(again && again.authorization !== first.authorization && again.at - first.at < 1500, `${p} retried with a fresh token: ${JSON.stringify(again)} after ${JSON.stringify(first)}`);
  }
  assert.deepEqual(seen.pageErrors, [], 'page errors');
});

for (const [name, bad] of [
  ['garbage', () => 'not-a-jwt'],
  ['another key', () => mint({ sub: 'x', subs: SUBS }, { alg: 'HS256', key: randomSecret() })],
  ['expired', () => token({ exp: nowS() - 60 })],
]) {
  test(`a refused token (${name}): the pill says unauthorized and stays so`, { timeout: ms(60000) }, async (t) => {
    const { ctx, page, sockets } = await openPage();
    t.after(() => ctx.close());
    await page.goto(`${gw.url}/?token=${encodeURIComponent(bad())}`);
    await page.waitForSelector('#conn-status[data-status="unauthorized"]', { timeout: ms(15000) });
    assert.match(await page.textContent('#conn-status .pill-text'), /unauthorized/);
    assert.ok(await page.isVisible('#banner'), 'a banner says why');
    assert.match(await page.textContent('#banner'), /refused the token/);
    const attempts = sockets.length;
    await delay(4000); // wsgate.js would have retried 3 or 4 times by now
    assert.equal(await page.getAttribute('#conn-status', 'data-status'), 'unauthorized', 'still unauthorized, not reconnecting');
    assert.equal(sockets.length, attempts, `no more WebSocket attempts once refused (${sockets.length} in all)`);
    // Before the REST API's 401 came back wsgate.js may have retried once or
    // twice (250 ms, then 500 ms); a loaded box may see one more.
    assert.ok(attempts >= 1 && attempts <= 4, `${attempts} WebSocket attempts`);
  });
}

test('a static token that expires while live: 4002, then unauthorized', { timeout: ms(60000) }, async (t) => {
  const { ctx, page } = await openPage();
  t.after(() => ctx.close());
  await page.goto(`${gw.url}/?token=${encodeURIComponent(token({ exp: nowS() + 8 }))}`);
  await page.waitForSelector('#conn-status[data-status="live"]', { timeout: 7000 });
  const close = page.evaluate(() => new Promise((resolve) => window.wsgate.on('close', (e) => resolve(e.code))));
  assert.equal(await withTimeout(close, ms(20000), 'the 4002 close'), 4002);
  assert.equal(await page.evaluate(() => window.wsgate.status), 'closed', 'a static token is not retried');
  await page.waitForSelector('#conn-status[data-status="unauthorized"]', { timeout: ms(10000) });
  assert.match(await page.textContent('#banner'), /expired/);
  const r = await httpGet(`${gw.url}/healthz`);
  assert.equal(r.status, 200);
});
