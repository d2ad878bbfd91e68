// fanout.test.mjs: 500 clients, 200 events: every client gets exactly the
// events its patterns match, once each, in stream order.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test, before, after, startNats, startGateway, natsClient, publishMany, connect, getMetrics, metricValue, ms } from '../lib/harness.mjs';

const CLIENTS = 500;
const EVENTS = 200;

let nats;
let gw;
let pub;

before(async () => {
  nats = await startNats();
  // 500 clients from one address; 3 sender threads, so every round of this
  // test goes through the sender pool (ThreadSanitizer sees it in CI)
  gw = await startGateway({ natsUrl: nats.url, args: ['--max-conns-per-ip', '0', '--threads', '3'] });
  pub = await natsClient(nats.url);
});

after(async () => {
  await pub?.close();
  if (gw) await gw.stop();
  await nats?.stop();
});

/** Run fn over items with at most `limit` promises in flight. */
async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

test(`${CLIENTS} clients x ${EVENTS} events: exact, ordered, once`, { timeout: 300000 }, async (t) => {
  const t0 = performance.now();
  // Even clients: license.>. Odd clients: license.*.assigned. Every tenth
  // client holds both (overlapping patterns: still once each).
  const patternsOf = (i) => (i % 2 === 0 ? ['license.>'] : ['license.*.assigned']).concat(i % 10 === 0 ? ['license.*.assigned'] : []);
  const clients = await pool([...Array(CLIENTS).keys()], 50, async (i) => {
    const c = await connect(gw.wsUrl, { label: `client${i}`, timeoutMs: ms(30000) });
    for (const p of patternsOf(i)) await c.sub(p);
    return c;
  });
  t.after(() => Promise.all(clients.map((c) => c.close())));
  const tConnected = performance.now();
  t.diagnostic(`${CLIENTS} clients connected and subscribed in ${Math.round(tConnected - t0)} ms`);
  const m0 = await getMetrics(gw.url);
  assert.equal(metricValue(m0, 'wsgate_connections'), CLIENTS);
  const subs = clients.reduce((a, _, i) => a + patternsOf(i).length, 0);
  assert.equal(metricValue(m0, 'wsgate_subscriptions'), subs);

  // 200 events: assigned / failed on five batches, and some batch.* events
  // nobody subscribed to; then one final event every client matches.
  const events = Array.from({ length: EVENTS }, (_, i) => {
    if (i % 10 === 9) return { subject: `batch.bf${i % 5}.started`, data: { i } };
    return { subject: `license.bf${i % 5}.${i % 3 === 0 ? 'failed' : 'assigned'}`, data: { batch_id: `bf${i % 5}`, i } };
  });
  events.push({ subject: 'license.bfinal.assigned', data: { final: true } });
  const tPub = performance.now();
  const seqs = await publishMany(pub.js, events, { window: 32 });
  const tPublished = performance.now();

  const expectedFor = (i) => {
    const all = patternsOf(i).includes('license.>');
    return events.map((e, k) => ({ ...e, seq: seqs[k] })).filter((e) => e.subject.startsWith('license.') && (all || e.subject.endsWith('.assigned')));
  };
  const nAll = expectedFor(0).length;
  const nAssigned = expectedFor(1).length;
  t.diagnostic(`license.> clients expect ${nAll} msgs, license.*.assigned clients ${nAssigned}`);

  // Each client's last expected msg is the final event: wait for it, then
  // (should something be missing) give stragglers a short while.
  const received = await Promise.all(
    clients.map(async (c, i) => {
      const want = expectedFor(i).length;
      await c.next((f) => f.op === 'msg' && f.subject === 'license.bfinal.assigned', ms(120000), `client${i}: the final event`);
      const msgs = () => c.history.filter((f) => f.op === 'msg');
      if (msgs().length < want) {
        await c.collect((f) => f.op === 'msg', want - msgs().length, ms(5000), `client${i} stragglers`).catch(() => {});
      }
      return msgs();
    }),
  );
  const tDone = performance.now();
  t.diagnostic(`published ${events.length} events in ${Math.round(tPublished - tPub)} ms; all ${CLIENTS} clients had all their msgs ${Math.round(tDone - tPub)} ms after the first publish (${Math.round(tDone - t0)} ms in all)`);

  // Anything extra (a duplicate, a wrong match) came before the final event;
  // a ping round trip flushes whatever might still be in flight.
  await pool(clients, 50, (c) => c.ping());
  const failures = [];
  for (let i = 0; i < CLIENTS; i++) {
    const want = expectedFor(i);
    const got = received[i];
    const extra = clients[i].history.filter((f) => f.op === 'msg').slice(got.length);
    const same =
      got.length === want.length && got.every((m, k) => m.seq === want[k].seq && m.subject === want[k].subject && m.data.i === want[k].data.i) && extra.length === 0;
    if (!same) {
      failures.push(
        `client${i} (${patternsOf(i).join(' + ')}): expected seqs ${want.map((e) => e.seq).join(',')}\n got ${got.map((m) => m.seq).join(',')}\n extra ${extra.map((m) => m.seq).join(',')}`,
      );
    }
  }
  assert.equal(failures.length, 0, `${failures.length} client(s) got the wrong msgs; first ones:\n${failures.slice(0, 3).join('\n')}`);
  const m1 = await getMetrics(gw.url);
  const deliveries = clients.reduce((a, _, i) => a + expectedFor(i).length, 0);
  const delta = metricValue(m1, 'wsgate_deliveries_total') - (metricValue(m0, 'wsgate_deliveries_total') ?? 0);
  assert.equal(delta, deliveries, `wsgate_deliveries_total grew by the msg frames sent (${deliveries})`);
  assert.equal(metricValue(m1, 'wsgate_send_threads'), 3, 'the rounds went through 3 sender threads');
  assert.ok(metricValue(m1, 'wsgate_send_rounds_total') > 0, 'send rounds counted');
});
