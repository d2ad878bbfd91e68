// cluster_failover.test.mjs: order across a NATS node failure under load
// (issue 10 item 16). Three gateways over a 3-node cluster (stream R3),
// wsgate-sim publishing about 100 events/s, many clients subscribed to `>`
// spread over the gateways; the NATS node the gateways are connected to is
// killed (-9) and restarted 4 s later. Every client must get every event
// exactly once, in stream order, without being disconnected; clients that
// hop to a new connection with `since` in the failover window lose nothing.
// The catch-up after the failover is a burst that slow clients take with
// conflation on the default last-value subjects (batch.*.progress): an older
// progress event may be left out, but nothing may arrive behind a newer seq.
import assert from 'node:assert/strict';
import { test, after, startGateway, connect, natsClient, delay, ms } from '../lib/harness.mjs';
import { startCluster, startSim, checkStreamOrder } from '../lib/cluster.mjs';
import { waitFor, msgsOf, subjectMatches } from '../lib/resume.mjs';

const GATEWAYS = 3;
const CLIENTS = Number(process.env.WSGATE_FAILOVER_CLIENTS || 60); // spread over the gateways
const KILL_AT_MS = 5000; // after the simulation started
const DOWN_MS = 4000;

let cluster;
let pub;
const gws = [];
const clients = [];
after(async () => {
  for (const c of clients) c.terminate();
  await pub?.close();
  for (const g of gws) await g.stop().catch(() => {});
  await cluster?.stop();
});

/** Step the stream's leader down until `node` leads it (the worst case: the dying node leads). */
async function leaderOn(pub, stream, node) {
  for (let i = 0; i < 30; i++) {
    const info = await pub.jsm.streams.info(stream);
    if (info.cluster?.leader === node) return info.cluster.leader;
    await pub.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: ms(5000) }).catch(() => {});
    await delay(500);
  }
  throw new Error(`stream ${stream}: ${node} never became the leader`);
}

/**
 * A client that moves to a new connection (same gateway) with `since` = the
 * highest seq it has seen and the epoch of its hello, whenever hop() is
 * called. A resume answered with an error (the stream is unreachable for
 * the replay) is retried, as PROTOCOL.md tells a client to.
 */
function hopper(wsUrl, label) {
  const seqs = [];
  const oks = [];
  let c = null;
  let epoch;
  let n = 0;
  const take = () => {
    if (c) seqs.push(...msgsOf(c).map((f) => f.seq));
  };
  return {
    label,
    seqs,
    oks,
    async start() {
      c = await connect(wsUrl, { label: `${label}/0` });
      epoch = c.hello.epoch;
      await c.sub('>');
    },
    async hop() {
      take();
      const since = seqs.reduce((a, b) => Math.max(a, b), 0);
      await c.close();
      c = await connect(wsUrl, { label: `${label}/${++n}` });
      for (let attempt = 0; ; attempt++) {
        const ok = await c.request({ op: 'sub', subject: '>', since, epoch }, ms(30000));
        if (ok.op === 'ok') {
          oks.push({ since, ...ok });
          return;
        }
        if (attempt > 40) throw new Error(`${c.label}: resume since ${since} kept failing: ${JSON.stringify(ok)}`);
        await delay(250);
      }
    },
    async finish(lastSeq) {
      await waitFor(c, () => (msgsOf(c).at(-1)?.seq ?? 0) >= lastSeq, { timeoutMs: ms(60000), what: `seq ${lastSeq}` });
      take();
      await c.close();
      c = null;
    },
  };
}

test('a NATS node dies under load: every client of every gateway gets every event once, in order', { timeout: 300000 }, async () => {
  cluster = await startCluster();
  const [n1] = cluster.nodes;
  const natsUrl = cluster.urls.join(','); // no randomisation: every gateway is on n1
  for (let i = 0; i < GATEWAYS; i++) {
    gws.push(await startGateway({ natsUrl, args: ['--stream-replicas', '3'], name: `gw${i + 1}` }));
  }
  const stream = gws[0].options.stream;
  pub = await natsClient(cluster.urls[1]);
  await leaderOn(pub, stream, n1.name);

  for (let i = 0; i < CLIENTS; i++) {
    const c = await connect(gws[i % GATEWAYS].wsUrl, { label: `client${i}@gw${(i % GATEWAYS) + 1}` });
    clients.push(c);
  }
  await Promise.all(clients.map((c) => c.sub('>')));
  const hoppers = gws.map((g, i) => hopper(g.wsUrl, `hopper@gw${i + 1}`));
  await Promise.all(hoppers.map((h) => h.start()));

  // About 100 events/s for about 20 s: a batch at speed 16 (about 50
  // license and progress events/s) and 50 verifications/s. The simulator
  // publishes through n2 first, so it keeps publishing while n1 is down.
  const urls = [cluster.urls[1], cluster.urls[2], cluster.urls[0]].join(',');
  const sim = startSim(['--nats', urls, '--stream', stream, '--batches', '1', '--size', '900', '--speed', '16',
    '--verifications', '50', '--duration', '20', '--batch-prefix', 'fo', '--seed', '16', '--quiet']);

  await delay(KILL_AT_MS);
  const killedAt = Date.now();
  await n1.kill('SIGKILL');
  const hops = (async () => {
    for (const at of [300, 1500, 3000, DOWN_MS + 500, DOWN_MS + 2000, DOWN_MS + 5000]) {
      await delay(Math.max(0, killedAt + at - Date.now()));
      await Promise.all(hoppers.map((h) => h.hop()));
    }
  })();
  await delay(Math.max(0, killedAt + DOWN_MS - Date.now()));
  n1.restart();
  await n1.healthy();
  await hops;

  const result = await sim.done;
  assert.equal(result.code, 0, `wsgate-sim failed:\n${result.output}`);

  const info = await pub.jsm.streams.info(stream);
  const { first_seq: first, last_seq: last, messages } = info.state;
  assert.equal(first, 1, 'nothing left the stream');
  assert.equal(messages, last, 'no message was deleted from the stream');
  // The subject of every stored event: batch.*.progress (the default
  // last-value subjects) may be conflated for a client that falls behind
  // (the catch-up after the failover is a burst), everything else not.
  const subjects = [''];
  for (let seq = 1; seq <= last; seq += 200) {
    const part = await Promise.all(Array.from({ length: Math.min(200, last - seq + 1) }, (_, i) => pub.jsm.streams.getMessage(stream, { seq: seq + i })));
    subjects.push(...part.map((m) => m.subject));
  }
  const isLastValue = (s) => subjectMatches('batch.*.progress', s);

  await Promise.all(clients.map((c) => waitFor(c, () => (msgsOf(c).at(-1)?.seq ?? 0) >= last, { timeoutMs: ms(90000), what: `seq ${last}` }).catch(() => {})));
  await Promise.all(hoppers.map((h) => h.finish(last).catch(() => {})));

  const plain = checkStreamOrder(clients.map((c) => ({ label: c.label, seqs: msgsOf(c).map((f) => f.seq) })), subjects, isLastValue);
  const hopped = checkStreamOrder(hoppers.map((h) => ({ label: h.label, seqs: h.seqs })), subjects, isLastValue);
  const notRecovered = hoppers.flatMap((h) => h.oks.filter((o) => o.recovered !== true).map((o) => `${h.label} since ${o.since}: ${JSON.stringify(o)}`));
  const closed = clients.filter((c) => c.closeInfo).map((c) => `${c.label} ${c.closeInfo.code}`);
  const attaches = gws.map((g) => g.jsonLogs().filter((l) => l.msg === 'stream_attached' || l.event === 'stream_attached').length);
  console.log(`# cluster failover: ${last} events in the stream; ${plain.checked} clients over ${GATEWAYS} gateways checked ` +
    `(${plain.frames} msg frames, ${plain.late} arrived behind a newer one, ${plain.conflated} progress events conflated, ${plain.bad.length} with a problem); ` +
    `${hopped.checked} hopping clients, ${hoppers.reduce((a, h) => a + h.oks.length, 0)} resumes (${notRecovered.length} not recovered), ` +
    `${hopped.frames} msg frames, ${hopped.bad.length} with a problem; stream attaches per gateway: ${attaches.join(',')}`);
  assert.deepEqual(closed, [], 'no client was disconnected');
  assert.deepEqual(plain.bad.slice(0, 5), [], 'every client got every event once (or a newer value), in stream order');
  assert.deepEqual(hopped.bad, [], 'a client resuming with since in the failover window lost nothing');
  assert.deepEqual(notRecovered, [], 'every resume was recovered');
});
