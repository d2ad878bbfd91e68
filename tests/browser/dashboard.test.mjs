// dashboard.test.mjs: the bundled dashboard (docs/client.md "The dashboard",
// "Element hooks for browser tests") in a real headless Chromium, served by
// the real gateway binary (embedded copy), fed by wsgate-sim through a real
// nats-server:
//  1. a fast batch: the card appears, processed and the progress bar only go
//     up while it runs, and it ends completed with exactly the REST API's and
//     the batch.<id>.completed event's figures; the verification total equals
//     GET /api/verifications;
//  1b. a batch.<id>.cancelled event: the card shows the state cancelled, live
//     and on a freshly loaded page (from GET /api/batches);
//  2. the gateway is stopped (SIGTERM) mid-batch and a new process started on
//     the same port and stream: the page goes reconnecting, then live by
//     itself, never shows a count going down, and ends on the exact final
//     figures of the REST API;
//  3. that restart is resumed in the same epoch (no `reset` on the page);
//  4. the shutdown reaches the page as a clean 1001 close;
//  5. no page error and no console error or warning during the whole run,
//     except the browser's own log lines for connection attempts refused
//     while the gateway is down (see tolerated()).
// Every value the batch cards ever render is recorded by a MutationObserver
// (lib.mjs installTrace) and checked to never go down.
// A screenshot of the final page is written to a temporary directory.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, before, after, startNats, startGateway, natsClient, publish, httpGet, pollUntil, withTimeout, fileStreamName, ms } from '../lib/harness.mjs';
import { WSGATE_SIM_BIN } from '../lib/resume.mjs';
import { launchBrowser, watchConsole, installTrace, getTrace, monotonicProblems, restartGateway, startSim, hookClient, caughtUp } from './lib.mjs';

const STREAM = fileStreamName();
const WAIT = ms(60000); // generous: a busy 2-core box under ctest -j2
const TOTAL = 300;

let nats;
let gw; // the gateway currently running (replaced by the restart)
let pub;
let browser;
let page;
let seen; // console messages, page errors, failed requests
const restartWindows = []; // [{from, to}] ms timestamps: gateway down until the page is live again
const sims = new Set();

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, stream: STREAM, name: 'gw' });
  pub = await natsClient(nats.url);
  browser = await launchBrowser();
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  page = await ctx.newPage();
  seen = watchConsole(page); // from the very start, before the first request
  await installTrace(page);
});

after(async () => {
  for (const s of sims) s.stop();
  await browser?.close();
  await pub?.close();
  if (gw) await gw.stop().catch(() => gw.kill());
  await nats?.stop();
});

function simArgs(prefix, speed) {
  return [
    '--nats', nats.url, '--stream', STREAM, '--batches', '1', '--size', String(TOTAL), '--workers', '15',
    '--speed', String(speed), '--fail-rate', '0.05', '--mode', 'both', '--batch-prefix', prefix,
    '--seed', '7', '--verifications', '50',
  ];
}

/** Start wsgate-sim, not awaited. */
function sim(args) {
  const s = startSim(WSGATE_SIM_BIN, args);
  sims.add(s);
  return s;
}

/** Wait for wsgate-sim to exit 0. */
async function simDone(s) {
  const r = await withTimeout(s.done, WAIT, `wsgate-sim ${s.proc.spawnargs.slice(1).join(' ')} to exit`);
  sims.delete(s);
  assert.equal(r.code, 0, `wsgate-sim exited with code ${r.code} signal ${r.signal}:\n${r.output}`);
  return r;
}

/** What the page shows for a batch card, or null when there is no card. */
function cardOf(id) {
  return page.evaluate((id) => {
    const card = document.querySelector(`[data-batch-id="${CSS.escape(id)}"]`);
    if (!card) return null;
    const f = (k) => card.querySelector(`[data-field="${k}"]`);
    const n = (k) => (/^\d+$/.test(f(k).textContent.trim()) ? Number(f(k).textContent.trim()) : f(k).textContent.trim());
    return {
      dataState: card.getAttribute('data-state'),
      state: f('state').textContent.trim(),
      processed: n('processed'),
      failed: n('failed'),
      total: n('total'),
      now: Number(f('progress').getAttribute('aria-valuenow')),
    };
  }, id);
}

function verifOf() {
  return page.evaluate(() => {
    const n = (id) => Number(document.getElementById(id).textContent.trim());
    return { total: n('verif-total'), verified: n('verif-verified'), rejected: n('verif-rejected'), pending: n('verif-pending') };
  });
}

/**
 * Follow a batch card from now until it shows `completed`: wait (on every
 * animation frame) for processed to be above the last value seen, or for the
 * state to be completed. Returns the samples [{processed, now, state, at}].
 * Fails if a value seen is lower than the previous one.
 */
async function followCard(id) {
  const samples = [];
  let prev = -1;
  for (;;) {
    const h = await page.waitForFunction(
      ({ id, prev }) => {
        const card = document.querySelector(`[data-batch-id="${CSS.escape(id)}"]`);
        if (!card) return false;
        const processed = Number(card.querySelector('[data-field="processed"]').textContent);
        const state = card.querySelector('[data-field="state"]').textContent;
        const now = Number(card.querySelector('[data-field="progress"]').getAttribute('aria-valuenow'));
        if (state === 'completed' || processed !== prev) return { processed, now, state };
        return false;
      },
      { id, prev },
      { timeout: WAIT, polling: 'raf' },
    );
    const s = { ...(await h.jsonValue()), at: Date.now() };
    await h.dispose();
    assert.ok(s.processed >= prev, `${id}: processed went down on screen from ${prev} to ${s.processed}`);
    const last = samples.at(-1);
    if (last) assert.ok(s.now >= last.now, `${id}: aria-valuenow went down from ${last.now} to ${s.now}`);
    samples.push(s);
    prev = s.processed;
    if (s.state === 'completed') return samples;
  }
}

/** GET a JSON document of the current gateway. */
async function api(p) {
  const r = await httpGet(gw.url + p);
  assert.equal(r.status, 200, `GET ${p}: ${r.status} ${r.text}`);
  return r.json();
}

/** The batch as the REST API has it once the gateway consumed the whole stream and the batch completed. */
async function finalBatch(id) {
  await caughtUp(gw.url, pub.jsm, STREAM); // everything published before is consumed
  const b = await pollUntil(async () => {
    const x = await api(`/api/batches/${id}`);
    return x.state === 'completed' ? x : false;
  }, { timeoutMs: WAIT, message: `GET /api/batches/${id} state completed` });
  return b;
}

/** The stored batch.<id>.completed event. */
async function completedEvent(id) {
  const m = await pub.jsm.streams.getMessage(STREAM, { last_by_subj: `batch.${id}.completed` });
  return m.json();
}

/** The number of verification events stored in the stream, per status. */
async function streamVerifications() {
  const si = await pub.jsm.streams.info(STREAM, { subjects_filter: 'verification.>' });
  const out = { total: 0, verified: 0, rejected: 0, pending: 0 };
  for (const [subj, n] of Object.entries(si.state.subjects || {})) {
    out.total += n;
    const status = subj.split('.')[2];
    out[status] = (out[status] || 0) + n;
  }
  return out;
}

/** Check the final page against the REST API, the completed event and the stream. */
async function checkFinal(t, id) {
  const rest = await finalBatch(id);
  const ev = await completedEvent(id);
  assert.equal(rest.total, TOTAL, `REST total of ${id}`);
  assert.equal(rest.done + rest.failed, TOTAL, `REST processed of ${id}: ${JSON.stringify(rest)}`);
  assert.equal(ev.done, rest.done, `completed event done vs REST`);
  assert.equal(ev.failed, rest.failed, `completed event failed vs REST`);
  assert.equal(ev.total, rest.total, `completed event total vs REST`);

  const card = await cardOf(id);
  t.diagnostic(`${id}: page ${JSON.stringify(card)}; REST done ${rest.done} failed ${rest.failed} total ${rest.total}`);
  assert.deepEqual(
    { state: card.state, dataState: card.dataState, processed: card.processed, failed: card.failed, total: card.total, now: card.now },
    { state: 'completed', dataState: 'completed', processed: rest.done + rest.failed, failed: rest.failed, total: rest.total, now: 100 },
    `${id}: the page's final figures differ from GET /api/batches/${id}`,
  );

  // verifications: REST equals the stream, the page converges on REST
  const vrest = await api('/api/verifications');
  const vstream = await streamVerifications();
  assert.equal(vrest.total, vstream.total, `GET /api/verifications total vs verification events in the stream`);
  assert.ok(vrest.total > 0, 'some verifications were published');
  const want = { total: vrest.total, verified: vrest.by_status.verified ?? 0, rejected: vrest.by_status.rejected ?? 0, pending: vrest.by_status.pending ?? 0 };
  try {
    await page.waitForFunction(
      (want) => Number(document.getElementById('verif-total').textContent) === want.total,
      want,
      { timeout: WAIT },
    );
  } catch (e) {
    throw new Error(`#verif-total never became ${want.total} (REST): page shows ${JSON.stringify(await verifOf())}: ${e.message}`);
  }
  assert.deepEqual(await verifOf(), want, 'verification counters on the page vs GET /api/verifications');
  return rest;
}

test('a fast batch: progress only goes up and ends on the exact REST figures', { timeout: ms(120000) }, async (t) => {
  await page.goto(gw.url + '/');
  await page.waitForSelector('#conn-status[data-status="live"]', { timeout: WAIT });
  await hookClient(page);

  const id = 'br-1';
  const s = sim(simArgs('br', 40));
  await page.waitForSelector(`[data-batch-id="${id}"]`, { timeout: WAIT });
  const samples = await followCard(id);
  const running = samples.filter((s) => s.state !== 'completed');
  t.diagnostic(`${id}: ${samples.length} values seen, ${running.length} while running: ${running.map((s) => s.processed).join(' ')}`);
  assert.ok(running.length >= 4, `expected several increasing processed values while ${id} runs, saw ${JSON.stringify(samples)}`);
  assert.ok(running.some((s) => s.processed > 0 && s.processed < TOTAL), `a partial count was shown: ${JSON.stringify(running)}`);
  assert.ok(running.at(-1).now > running[0].now, `aria-valuenow increased while running: ${JSON.stringify(running)}`);
  assert.ok(running.every((s) => s.now >= 0 && s.now <= 100), 'aria-valuenow within 0..100');

  await simDone(s);
  await checkFinal(t, id);
});

test('a cancelled batch: its card shows the state cancelled, live and on a fresh page', async () => {
  const id = 'cx-1';
  const now = () => new Date().toISOString();
  await publish(pub.js, `batch.${id}.started`, { batch_id: id, total: 20, workers: 2, kind: 'license_assignment', ts: now() });
  await publish(pub.js, `license.${id}.assigned`, { batch_id: id, license_id: 'L1', hcp_id: 'H1', product: 'P', worker: 0, duration_ms: 5, ts: now() });
  await page.waitForFunction((id) => document.querySelector(`[data-batch-id="${id}"] [data-field="state"]`)?.textContent.trim() === 'running', id, { timeout: WAIT });
  await publish(pub.js, `batch.${id}.cancelled`, { batch_id: id, reason: 'aborted by operator', ts: now() });
  const cancelled = async (pg) => {
    await pg.waitForFunction((id) => document.querySelector(`[data-batch-id="${id}"]`)?.getAttribute('data-state') === 'cancelled', id, { timeout: WAIT });
    const card = await pg.evaluate((id) => {
      const c = document.querySelector(`[data-batch-id="${id}"]`);
      return { state: c.querySelector('[data-field="state"]').textContent.trim(), processed: c.querySelector('[data-field="processed"]').textContent.trim() };
    }, id);
    assert.deepEqual(card, { state: 'cancelled', processed: '1' });
  };
  await cancelled(page); // live, from the event
  // a fresh page (a second tab: the traced one stays as it is) has it from GET /api/batches
  const fresh = await page.context().newPage();
  try {
    await fresh.goto(gw.url + '/');
    await cancelled(fresh);
  } finally {
    await fresh.close();
  }
});

test('gateway restarted mid-batch on the same port: the page reconnects, never goes back, ends exact', { timeout: ms(150000) }, async (t) => {
  const id = 'rs-1';
  const s = sim(simArgs('rs', 8)); // about 15-20 s
  await page.waitForSelector(`[data-batch-id="${id}"]`, { timeout: WAIT });
  const at30 = await (await page.waitForFunction(
    (id) => {
      const card = document.querySelector(`[data-batch-id="${CSS.escape(id)}"]`);
      const now = Number(card?.querySelector('[data-field="progress"]').getAttribute('aria-valuenow'));
      return now >= 30 ? { now, processed: Number(card.querySelector('[data-field="processed"]').textContent) } : false;
    },
    id,
    { timeout: WAIT, polling: 'raf' },
  )).jsonValue();

  // stop the gateway: the page must notice (1001) and show reconnecting
  const old = gw;
  const win = { from: Date.now(), to: null };
  restartWindows.push(win);
  const reconnecting = page.waitForSelector('#conn-status[data-status="reconnecting"]', { timeout: WAIT });
  const code = await old.stop();
  assert.equal(code, 0, 'the gateway exits 0 after SIGTERM');
  await reconnecting;
  const down = await cardOf(id);
  assert.equal(down.state, 'running', `${id} still running when the gateway went down: ${JSON.stringify(down)}`);

  gw = await restartGateway(old, { label: 'gw-restarted' });
  const restRestart = await api(`/api/batches/${id}`);
  await page.waitForSelector('#conn-status[data-status="live"]', { timeout: WAIT });
  win.to = Date.now();
  t.diagnostic(`stopped at ${JSON.stringify(at30)}, page showed ${JSON.stringify(down)} while down; new gateway (pid ${gw.pid}, port ${gw.port}) REST ${restRestart.state} ${restRestart.done}+${restRestart.failed}; down ${win.to - win.from} ms`);
  assert.equal(restRestart.state, 'running', `the batch must still be running after the restart for the test to mean anything: ${JSON.stringify(restRestart)}`);

  const samples = await followCard(id);
  assert.ok(samples.length >= 2 && samples[0].processed < TOTAL, `the page kept progressing after the reconnect: ${JSON.stringify(samples)}`);
  await simDone(s);
  await checkFinal(t, id);

  // every rendered value of every card, over the whole run: never backwards
  const trace = await getTrace(page);
  for (const [bid, entries] of Object.entries(trace.batches)) {
    const problems = monotonicProblems(entries);
    assert.deepEqual(problems, [], `${bid} went backwards on screen`);
  }
  assert.ok(trace.batches[id].length >= 5, `${id} trace: ${JSON.stringify(trace.batches[id])}`);
  // the pill: live, then reconnecting, then live again
  const statuses = trace.conn.map((c) => c.status);
  t.diagnostic(`#conn-status went through: ${statuses.join(' -> ')}`);
  const iLive = statuses.indexOf('live');
  const iRec = statuses.indexOf('reconnecting', iLive);
  assert.ok(iLive >= 0 && iRec > iLive && statuses.indexOf('live', iRec) > iRec, `#conn-status: ${statuses.join(' -> ')}`);
  assert.ok(!statuses.includes('offline', iLive), `#conn-status never offline once live: ${statuses.join(' -> ')}`);
  t.diagnostic(`client closes: ${JSON.stringify(trace.closes)}; resets: ${JSON.stringify(trace.resets)}`);
  assert.ok(trace.closes.length >= 1, `the WebSocket closed at the restart: ${JSON.stringify(trace.closes)}`);
  // the first batch still shows its final figures after the restart
  const br = await api('/api/batches/br-1');
  const brCard = await cardOf('br-1');
  assert.deepEqual([brCard.state, brCard.processed, brCard.failed, brCard.total], [br.state, br.done + br.failed, br.failed, br.total], 'br-1 after the restart');

  // select the restarted batch: the detail panel shows its final figures
  await page.click(`[data-batch-id="${id}"]`);
  await page.waitForSelector(`#detail[data-selected="${id}"]`, { timeout: WAIT });
  const detail = await page.evaluate(() => ['d-processed', 'd-done', 'd-failed'].map((x) => document.getElementById(x).textContent.trim()));
  const rs = await api(`/api/batches/${id}`);
  assert.deepEqual(detail, [`${rs.done + rs.failed} / ${rs.total}`, String(rs.done), String(rs.failed)], `#detail of ${id}`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgate-browser-shot-'));
  const file = path.join(dir, 'dashboard.png');
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot: ${file}`);
});

test('the restart is resumed in the same epoch: no reset on the page', async () => {
  // Same stream, so the same epoch: the client must resume its subscriptions
  // with `since` (docs/client.md "Resume and duplicates"), not start over.
  // A `hello` sent by the new gateway before it attached to the stream would
  // carry another epoch (or none) and make the client emit reset 'epoch'.
  const trace = await getTrace(page);
  assert.deepEqual(trace.resets, [], `reset events on the page (hellos: ${JSON.stringify(trace.hellos)})`);
});

test('the gateway shutdown reaches the page as a clean 1001 close', async () => {
  // PROTOCOL.md / client.md: a gateway shutting down closes with 1001 (the
  // client then comes back at once). Checked on what the browser reported.
  const trace = await getTrace(page);
  assert.ok(trace.closes?.length >= 1, 'a close was recorded');
  const c = trace.closes[0];
  assert.deepEqual({ code: c.code, wasClean: c.wasClean }, { code: 1001, wasClean: true }, `close seen by the page: ${JSON.stringify(c)}`);
});

// Console errors tolerated, and only between the SIGTERM and the page being
// live again on the new gateway (+2 s for the log to reach us): Chromium
// itself logs every failed connection attempt as a console error, and no
// page script can prevent it (the client and the dashboard catch these
// failures and retry by design). Exactly:
//  - "WebSocket connection to 'ws://127.0.0.1:<port>/ws' failed: Error in
//    connection establishment: net::ERR_CONNECTION_REFUSED": a reconnect
//    attempt while no gateway listens on the port;
//  - "WebSocket connection to 'ws://127.0.0.1:<port>/ws' failed: Error during
//    WebSocket handshake: Unexpected response code: 503": an attempt that
//    reached the old gateway while it drains (PROTOCOL.md: upgrades are
//    refused with 503 while draining);
//  - "Failed to load resource: net::ERR_CONNECTION_REFUSED" for a GET of
//    http://127.0.0.1:<port>/metrics or /api/... : the dashboard's periodic
//    or throttled REST request that happened to fall in the outage (it
//    ignores the failure and asks again later);
//  - "Failed to load resource: the server responded with a status of 503
//    (Service Unavailable)" for a GET of /api/...: a REST request that
//    reached the new gateway while it was still rebuilding its state from
//    the stream (it answers 503 "starting" until ready; the dashboard asks
//    again).
// Anything else (a WebSocket protocol error such as "Close received after
// close", a 404, a script error, a warning) fails the test.
function tolerated(m, port) {
  if (m.type !== 'error') return false;
  const ws = `WebSocket connection to 'ws://127.0.0.1:${port}/ws' failed: `;
  if (m.text === `${ws}Error in connection establishment: net::ERR_CONNECTION_REFUSED`) return true;
  if (m.text === `${ws}Error during WebSocket handshake: Unexpected response code: 503`) return true;
  if (m.text === 'Failed to load resource: the server responded with a status of 503 (Service Unavailable)')
    return new RegExp(`^http://127\\.0\\.0\\.1:${port}/api/`).test(m.url);
  return m.text === 'Failed to load resource: net::ERR_CONNECTION_REFUSED' &&
    new RegExp(`^http://127\\.0\\.0\\.1:${port}/(metrics|api/)`).test(m.url);
}

test('no page errors and no console errors', async (t) => {
  const grace = 2000; // log lines reach us asynchronously
  const inWindow = (at) => restartWindows.some((w) => at >= w.from && at <= (w.to ?? Infinity) + grace);
  const ok = [];
  const errors = [];
  for (const m of seen.console) {
    if (m.type !== 'error' && m.type !== 'warning') continue;
    if (inWindow(m.at) && tolerated(m, gw.port)) ok.push(m);
    else errors.push(m);
  }
  const rel = (at) => (restartWindows.length ? ` [${at - restartWindows[0].from} ms after the SIGTERM; page live again at ${restartWindows[0].to - restartWindows[0].from} ms]` : '');
  for (const m of seen.console) t.diagnostic(`console.${m.type}: ${m.text} (${m.url})${rel(m.at)}`);
  for (const r of seen.requestFailures) t.diagnostic(`request failed: ${r.url} ${r.error}${rel(r.at)}`);
  t.diagnostic(`${seen.console.length} console messages, ${ok.length} tolerated connection errors during the restart`);
  assert.deepEqual(seen.pageErrors, [], 'page errors');
  assert.deepEqual(errors, [], 'console errors and warnings');
});
