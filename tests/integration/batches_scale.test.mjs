// batches_scale.test.mjs: batch state stays bounded whatever is published
// (issue 10 item 5; PROTOCOL.md GET /api/batches pages, GET /api/summary;
// --max-batches, --batch-idle): 20,000 distinct batch ids keep at most
// --max-batches batches and every /api/batches response is one bounded page,
// `workers: 1024` gives a small view, a silent running batch ages out.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, before, after, startNats, startGateway, natsClient, publishMany, httpGet, pollUntil, ms } from '../lib/harness.mjs';
import { gatewayFence } from '../lib/resume.mjs';

let nats;
let gw; // defaults: --max-batches 10000
let gwIdle; // --batch-stall 1s --batch-idle 2s
let pub;

before(async () => {
  nats = await startNats();
  [gw, gwIdle] = await Promise.all([
    startGateway({ natsUrl: nats.url, name: 'gw-scale' }),
    startGateway({ natsUrl: nats.url, name: 'gw-idle', args: ['--batch-stall', '1s', '--batch-idle', '2s'] }),
  ]);
  pub = await natsClient(nats.url);
});

after(async () => {
  await pub?.close();
  for (const g of [gw, gwIdle]) if (g) await g.stop();
  await nats?.stop();
});

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function get(g, path, status = 200) {
  const res = await httpGet(g.url + path);
  assert.equal(res.status, status, `GET ${path}: ${res.status} ${res.text.slice(0, 300)}`);
  return res;
}

test('20,000 distinct batch ids: --max-batches keeps 10,000, every /api/batches answer is a bounded page', { timeout: 300000 }, async () => {
  const N = 20000;
  const rssBefore = rssKiB(gw.pid);
  const events = [];
  for (let i = 0; i < N; i++) {
    events.push({ subject: `license.L${i}.assigned`, data: { batch_id: `L${i}`, license_id: 'X', worker: 0 } });
  }
  await publishMany(pub.js, events, { window: 256 });
  await gatewayFence(gw.wsUrl, pub.js);
  const rssAfter = rssKiB(gw.pid);
  console.log(`# 20,000 distinct batch ids: gateway RSS ${Math.round(rssBefore / 1024)} MiB -> ${Math.round(rssAfter / 1024)} MiB`);

  const summary = (await get(gw, '/api/summary')).json();
  assert.equal(summary.batches, 10000, JSON.stringify(summary));
  assert.equal(summary.max_batches, 10000);
  assert.equal(summary.evicted, N - 10000);
  assert.equal(summary.running, 10000);

  // no parameters: the first 100, with the count and the way on
  const first = await get(gw, '/api/batches');
  const page = first.json();
  assert.ok(Array.isArray(page));
  assert.equal(page.length, 100);
  assert.ok(first.text.length < 200 * 1024, `first page ${first.text.length} bytes`);
  assert.equal(first.headers.get('x-total-count'), '10000');
  assert.ok(first.headers.get('x-next-cursor'));
  assert.match(first.headers.get('link'), /^<\/api\/batches\?limit=100&cursor=[^>]+>; rel="next"$/);
  // the newest batches survived; the oldest were evicted
  await get(gw, `/api/batches/L${N - 1}`);
  await get(gw, '/api/batches/L0', 404);
  await get(gw, `/api/batches/L${N - 10001}`, 404);
  await get(gw, `/api/batches/L${N - 10000}`);

  // every batch exactly once through the Link headers, 1,000 (the most) per page
  const ids = new Set();
  let path = '/api/batches?limit=5000';
  let pages = 0;
  let largest = 0;
  while (path) {
    const res = await get(gw, path);
    const list = res.json();
    assert.ok(list.length <= 1000, `page of ${list.length}`);
    largest = Math.max(largest, res.text.length);
    for (const b of list) {
      assert.ok(!ids.has(b.id), `${b.id} twice`);
      ids.add(b.id);
    }
    const link = res.headers.get('link');
    path = link ? /^<([^>]+)>; rel="next"$/.exec(link)[1] : null;
    pages++;
    assert.ok(pages <= 10);
  }
  assert.equal(ids.size, 10000);
  console.log(`# 10 pages of 1,000 batches, largest ${Math.round(largest / 1024)} KiB`);

  // filters
  const running = await get(gw, '/api/batches?state=completed&limit=10');
  assert.deepEqual(running.json(), []);
  assert.equal(running.headers.get('x-total-count'), '0');
  const search = await get(gw, '/api/batches?q=L1999&state=running');
  // L1999 was evicted; L19990..L19999 are kept
  assert.deepEqual(search.json().map((b) => b.id).sort(), Array.from({ length: 10 }, (_, i) => `L1999${i}`));
  await get(gw, '/api/batches?state=sideways', 400);
  await get(gw, '/api/batches?cursor=not-a-cursor', 400);
  await get(gw, '/api/batches?limit=0', 400);
});

test('started with workers: 1024 and one license: a bounded view', { timeout: 60000 }, async () => {
  await publishMany(pub.js, [
    { subject: 'batch.wide.started', data: { batch_id: 'wide', total: 10, workers: 1024, kind: 'license_assignment' } },
    { subject: 'license.wide.assigned', data: { batch_id: 'wide', license_id: 'W1', worker: 1000 } },
  ]);
  await gatewayFence(gw.wsUrl, pub.js);
  const res = await get(gw, '/api/batches/wide');
  const b = res.json();
  console.log(`# workers: 1024 view: ${res.text.length} bytes`);
  assert.ok(res.text.length < 4096, `${res.text.length} bytes`);
  assert.equal(b.workers, 1024);
  assert.equal(b.per_worker.length, 64);
  assert.deepEqual(b.per_worker_others, { workers: 960, done: 1, failed: 0 });
});

test('--batch-idle: a running batch silent that long is forgotten', { timeout: 60000 }, async () => {
  await publishMany(pub.js, [{ subject: 'batch.quiet.started', data: { batch_id: 'quiet', total: 5 } }]);
  await gatewayFence(gwIdle.wsUrl, pub.js);
  await pollUntil(async () => (await httpGet(gwIdle.url + '/api/batches/quiet')).status === 404, {
    timeoutMs: ms(20000),
    message: 'batch quiet forgotten after --batch-idle 2s',
  });
});
