// harness.mjs: the entry point for integration tests. Re-exports the pieces of
// the harness and wraps node:test's `test` so that a failing test prints the
// log lines its gateways wrote while it ran.
//
//   import { test, before, after, startNats, startGateway, natsClient, publish, connect } from '../lib/harness.mjs';
//   let nats, gw, pub;
//   before(async () => {
//     nats = await startNats();                       // nats-server -js on free ports
//     gw = await startGateway({ natsUrl: nats.url });  // wsgate, ready (GET /readyz 200)
//     pub = await natsClient(nats.url);                // {nc, js, jsm}
//   });
//   after(async () => { await pub?.close(); await gw?.stop(); await nats?.stop(); });
//   test('delivers', async (t) => {
//     const c = await connect(gw.wsUrl);              // resolves after `hello`
//     t.after(() => c.close());
//     await c.sub('license.>');                        // asserts ok
//     const seq = await publish(pub.js, 'license.b1.assigned', { n: 1 });
//     const m = await c.nextMsg('license.b1.assigned'); // buffered: nothing is missed
//   });
//
// Environment: WSGATE_BIN, NATS_SERVER, WSGATE_TEST_TIMEOUT_SCALE (multiplies
// every harness timeout, e.g. 3 under sanitizers), WSGATE_TEST_LOG_LINES.
import { test as nodeTest } from 'node:test';
import { liveGateways } from './gateway.mjs';

export { describe, before, after, beforeEach, afterEach } from 'node:test';
export { startNats, natsClient, publish, publishMany, payloadBytes } from './nats.mjs';
export { startGateway, runGateway, fileStreamName, WSGATE_BIN } from './gateway.mjs';
export { Client, connect } from './client.mjs';
export { httpGet, pollUntil, withTimeout, freePort, delay, ms, mkTmp, rmTmp } from './util.mjs';
export { getMetrics, metricValue } from './metrics.mjs';

const MAX_DUMP = Number(process.env.WSGATE_TEST_LOG_LINES || 80);

function dumpLogs(name, offsets, err) {
  const out = [`--- test "${name}" failed: ${err?.message?.split('\n')[0]}`];
  for (const g of liveGateways) {
    const from = offsets.get(g) ?? 0;
    const lines = g.logs.slice(from);
    const shown = lines.slice(-MAX_DUMP);
    const exit = g.proc.exitCode !== null || g.proc.signalCode !== null ? ` (exited: code ${g.proc.exitCode}, signal ${g.proc.signalCode})` : '';
    out.push(`--- ${g.label}${exit} log during the test (${lines.length} lines${shown.length < lines.length ? `, last ${shown.length}` : ''}):`);
    out.push(...shown);
  }
  process.stderr.write(out.join('\n') + '\n');
}

function wrap(name, fn) {
  return async function wrapped(t) {
    const offsets = new Map();
    for (const g of liveGateways) offsets.set(g, g.logs.length);
    try {
      return await fn(t);
    } catch (e) {
      dumpLogs(name, offsets, e);
      throw e;
    }
  };
}

/** node:test's test(), printing gateway logs when the test fails. Default timeout 60 s. */
export function test(name, opts, fn) {
  if (typeof opts === 'function') {
    fn = opts;
    opts = {};
  }
  return nodeTest(name, { timeout: 60000, ...opts }, wrap(name, fn));
}
