// compression.test.mjs: the dashboard in headless Chromium over permessage-deflate.
// Two pages (two dashboards: the same subscriptions, so one shared
// compressor) follow a simulated batch to its end. Checked: Chromium's
// handshake response names the extension with our parameters, both pages
// end on the REST API's exact figures, the gateway's byte counters show the
// events went compressed (and how much smaller), and the page's header shows
// the saving.
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, httpGet, getMetrics, metricValue, withTimeout, fileStreamName, ms } from '../lib/harness.mjs';
import { WSGATE_SIM_BIN } from '../lib/resume.mjs';
import { launchBrowser, watchConsole, startSim } from './lib.mjs';

const STREAM = fileStreamName();
const WAIT = ms(60000);
const TOTAL = 200;

let nats;
let gw;
let pub;
let browser;

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, stream: STREAM, name: 'gw' });
  pub = await natsClient(nats.url);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await pub?.close();
  if (gw) await gw.stop().catch(() => gw.kill());
  await nats?.stop();
});

/** A dashboard page whose WebSocket handshake responses are recorded (Chromium's DevTools protocol). */
async function openDashboard() {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const seen = watchConsole(page);
  const handshakes = [];
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => handshakes.push(e.response));
  await page.goto(gw.url + '/');
  await page.waitForSelector('#conn-status[data-status="live"]', { timeout: WAIT });
  return { page, seen, handshakes };
}

function header(response, name) {
  const k = Object.keys(response.headers).find((h) => h.toLowerCase() === name);
  return k ? response.headers[k] : undefined;
}

test('two dashboards over permessage-deflate follow a batch to its exact end', { timeout: ms(150000) }, async (t) => {
  const pages = [await openDashboard(), await openDashboard()];
  for (const { handshakes } of pages) {
    assert.equal(handshakes.length, 1, 'one WebSocket handshake');
    assert.equal(header(handshakes[0], 'sec-websocket-extensions'), 'permessage-deflate; client_no_context_takeover');
  }
  const before_ = await getMetrics(gw.url);
  assert.ok(metricValue(before_, 'wsgate_compressed_connections') >= 2);

  const id = 'z-1';
  const sim = startSim(WSGATE_SIM_BIN, [
    '--nats', nats.url, '--stream', STREAM, '--batches', '1', '--size', String(TOTAL), '--workers', '15',
    '--speed', '40', '--fail-rate', '0.05', '--mode', 'both', '--batch-prefix', 'z', '--seed', '3', '--verifications', '30',
  ]);
  const r = await withTimeout(sim.done, WAIT, 'wsgate-sim');
  assert.equal(r.code, 0, r.output);

  const rest = (await httpGet(`${gw.url}/api/batches/${id}`)).json();
  assert.equal(rest.state, 'completed');
  for (const { page } of pages) {
    await page.waitForFunction(
      ({ id, processed }) => {
        const card = document.querySelector(`[data-batch-id="${id}"]`);
        return card && card.querySelector('[data-field="state"]').textContent.trim() === 'completed' &&
          Number(card.querySelector('[data-field="processed"]').textContent) === processed;
      },
      { id, processed: rest.processed },
      { timeout: WAIT },
    );
  }

  const m = await getMetrics(gw.url);
  const inBytes = metricValue(m, 'wsgate_deflate_in_bytes_total') - metricValue(before_, 'wsgate_deflate_in_bytes_total');
  const outBytes = metricValue(m, 'wsgate_deflate_out_bytes_total') - metricValue(before_, 'wsgate_deflate_out_bytes_total');
  t.diagnostic(`compressed deliveries: ${inBytes} bytes in, ${outBytes} out (${(outBytes / inBytes).toFixed(3)})`);
  assert.ok(inBytes > 2 * TOTAL * 100, `the events went compressed: ${inBytes} bytes`);
  assert.ok(outBytes < inBytes * 0.4, `and smaller: ${outBytes} of ${inBytes}`);
  assert.ok(metricValue(m, 'wsgate_deflate_groups') >= 1, 'the two dashboards share a compressor');

  // the header shows the saving (GET /api/stats, polled every few seconds)
  const saved = await pages[0].page.waitForFunction(() => {
    const el = document.getElementById('deflate-stat');
    return el && !el.hidden && /^\d+%$/.test(el.querySelector('dd').textContent.trim()) && el.querySelector('dd').textContent.trim();
  }, null, { timeout: WAIT });
  const stats = (await httpGet(`${gw.url}/api/stats`)).json();
  assert.ok(stats.compression.saved > 0.3, JSON.stringify(stats.compression));
  t.diagnostic(`page shows compression saved ${await saved.jsonValue()}; /api/stats ${JSON.stringify(stats.compression)}`);

  for (const { seen } of pages) {
    assert.deepEqual(seen.pageErrors, []);
    assert.deepEqual(seen.console.filter((c) => c.type === 'error' || c.type === 'warning'), []);
  }
});
