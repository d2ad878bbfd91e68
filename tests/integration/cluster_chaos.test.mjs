// cluster_chaos.test.mjs: chaos through a load balancer (issue 9 item 3).
// A 3-node NATS cluster (stream R3), 3 gateways behind Debian's HAProxy
// (health checks on /readyz), 1,000 WebSocket clients through HAProxy on `>`
// during a simulated batch, each resuming with `since` (and its epoch) when
// its connection drops. In sequence: a rolling restart of the 3 gateways
// (SIGTERM: close 1001, drain, restart, ready, next), kill -9 of one gateway
// (restarted), kill -9 of the NATS node leading the stream (restarted 4 s
// later). After each step, with the simulator paused: every client has every
// event of the stream once, in stream order (a progress event may be
// conflated for a client that fell behind, never its latest), and every
// gateway serves the same, correct batch state. Prints the counts checked
// and the longest time a client was without a subscription.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { connect as natsConnect } from 'nats';
import { test, after, startGateway, httpGet, delay, ms, pollUntil } from '../lib/harness.mjs';
import { startCluster, startSim, checkStreamOrder } from '../lib/cluster.mjs';
import { startHaproxy } from '../lib/haproxy.mjs';
import { subjectMatches } from '../lib/resume.mjs';

const CLIENTS = Number(process.env.WSGATE_CHAOS_CLIENTS || 1000);
const BATCH = 'chaos-1';
const SIZE = 300;

let cluster, haproxy, nc, sim;
const gws = [];
const clients = [];
after(async () => {
  for (const c of clients) c.stop();
  if (sim && sim.proc.exitCode === null) {
    sim.proc.kill('SIGCONT');
    sim.proc.kill('SIGKILL');
  }
  await nc?.close().catch(() => {});
  await haproxy?.stop();
  for (const g of gws) await g.stop().catch(() => {});
  await cluster?.stop();
});

/**
 * A client of the protocol that keeps one subscription to `>` alive: when its
 * connection closes for any reason it reconnects (through the load balancer)
 * and resumes with since = the last seq it got and the epoch of its first
 * hello. Keeps only the seqs; measures the time without a subscription.
 */
class Resumer {
  constructor(url, label) {
    this.url = url;
    this.label = label;
    this.seqs = [];
    this.epoch = undefined;
    this.last = 0;
    this.drops = 0;
    this.resumes = [];
    this.maxDownMs = 0;
    this.stopped = false;
    this.live = false;
    this.everSubscribed = false;
    this.errors = [];
  }

  /** Connect and subscribe; resolves once the subscription is live. */
  start() {
    return new Promise((resolve) => {
      this.onLive = resolve;
      this.open(Date.now());
    });
  }

  open(downSince) {
    if (this.stopped) return;
    const ws = new WebSocket(this.url, { handshakeTimeout: 5000 });
    this.ws = ws;
    let subscribed = false;
    let since = null;
    const retry = () => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      this.live = false;
      if (subscribed) {
        this.drops++;
        downSince = Date.now();
      }
      setTimeout(() => this.open(downSince), 100 + Math.floor(Math.random() * 200));
    };
    ws.on('error', () => {});
    ws.on('close', retry);
    ws.on('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      retry();
    });
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      if (f.op === 'msg') {
        if (!subscribed) this.errors.push(`msg before ok: ${f.seq}`);
        this.seqs.push(f.seq);
        if (f.seq > this.last) this.last = f.seq;
      } else if (f.op === 'hello') {
        if (this.epoch === undefined) this.epoch = f.epoch;
        const sub = { op: 'sub', id: 's', subject: '>' };
        if (this.everSubscribed) {
          since = this.last;
          Object.assign(sub, { since, epoch: this.epoch });
        }
        ws.send(JSON.stringify(sub));
      } else if (f.op === 'ok' && f.id === 's') {
        subscribed = true;
        this.everSubscribed = true;
        this.live = true;
        const down = Date.now() - downSince;
        if (since !== null) this.resumes.push({ since, recovered: f.recovered, down });
        this.maxDownMs = Math.max(this.maxDownMs, down);
        this.onLive?.();
        this.onLive = null;
      } else if (f.op === 'err') {
        this.errors.push(JSON.stringify(f));
        ws.close(); // e.g. the replay could not be read: resubscribe on a new connection
      }
    });
  }

  stop() {
    this.stopped = true;
    this.ws?.terminate();
  }
}

/** fn(), retried for up to a minute: JetStream API calls time out while the cluster elects a leader. */
async function retrying(fn) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= 30) throw e;
      await delay(1000);
    }
  }
}

const isLastValue = (s) => subjectMatches('batch.*.progress', s);
/** The fields of a batch's REST view that do not depend on the time of the request. */
const stable = (b) => {
  const { rate, eta_s: eta, ...rest } = b;
  return rest;
};

test(`chaos through HAProxy: ${CLIENTS} clients, rolling restart, kill -9 of a gateway and of the stream leader`, { timeout: 600000 }, async () => {
  cluster = await startCluster();
  const urls = cluster.urls;
  // gateway i talks to node i first: each NATS node serves one gateway
  for (let i = 0; i < 3; i++) {
    const natsUrl = [...urls.slice(i), ...urls.slice(0, i)].join(',');
    // behind HAProxy every client has the proxy's address: no per-address limit
    gws.push(await startGateway({ natsUrl, args: ['--stream-replicas', '3', '--max-conns-per-ip', '0'], name: `gw${i + 1}` }));
  }
  const stream = gws[0].options.stream;
  haproxy = await startHaproxy(gws.map((g, i) => ({ name: `gw${i + 1}`, port: g.port })));
  nc = await natsConnect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const jsm = await nc.jetstreamManager({ timeout: ms(10000) });

  for (let i = 0; i < CLIENTS; i += 50) {
    const part = [];
    for (let k = i; k < Math.min(CLIENTS, i + 50); k++) {
      const c = new Resumer(haproxy.wsUrl, `client${k}`);
      clients.push(c);
      part.push(c.start());
    }
    await Promise.all(part);
  }
  const spread = await Promise.all(gws.map(async (g) => (await httpGet(`${g.url}/metrics`)).text.match(/^wsgate_connections (\d+)/m)?.[1]));

  // One batch of SIZE assignments over the whole run (about 8 events/s).
  sim = startSim(['--nats', urls.join(','), '--stream', stream, '--batches', '1', '--size', String(SIZE), '--workers', '10',
    '--speed', '3', '--verifications', '0', '--batch-prefix', 'chaos', '--seed', '9', '--quiet'], { timeoutMs: ms(400000) });

  const subjects = [''];
  const report = [];
  let checkedFrames = 0;
  /** Pause the simulator, let everything settle and check every client and gateway. */
  async function check(step) {
    sim.proc.kill('SIGSTOP');
    try {
      await delay(300); // an acknowledgement in flight lands
      const last = (await retrying(() => jsm.streams.info(stream))).state.last_seq;
      for (let seq = subjects.length; seq <= last; seq += 100) {
        const n = Math.min(100, last - seq + 1);
        const part = await retrying(() => Promise.all(Array.from({ length: n }, (_, i) => jsm.streams.getMessage(stream, { seq: seq + i }))));
        subjects.push(...part.map((m) => m.subject));
      }
      // every gateway ready and through the stream's last event (a gateway whose
      // consumer was on a killed node notices it by missed heartbeats)
      for (const g of gws) {
        await pollUntil(async () => {
          const r = await httpGet(`${g.url}/readyz`, { timeoutMs: 2000 });
          return r.status === 200 && r.json().seq >= last;
        }, { timeoutMs: ms(60000), message: `${g.label} ready at seq ${last}` });
      }
      await pollUntil(() => clients.every((c) => c.live && c.last >= last), { timeoutMs: ms(90000), intervalMs: 200, message: `every client at seq ${last}` }).catch(() => {});
      const r = checkStreamOrder(clients.map((c) => ({ label: c.label, seqs: c.seqs })), subjects, isLastValue);
      const notRecovered = clients.flatMap((c) => c.resumes.filter((x) => x.recovered !== true).map(() => c.label));
      const errors = clients.flatMap((c) => c.errors.map((e) => `${c.label}: ${e}`));
      const views = await Promise.all(gws.map(async (g) => {
        const res = await httpGet(`${g.url}/api/batches/${BATCH}`);
        return res.status === 200 ? stable(JSON.parse(res.text)) : { status: res.status };
      }));
      const licenses = subjects.filter((s) => s.startsWith(`license.${BATCH}.`));
      const assigned = licenses.filter((s) => s.endsWith('.assigned')).length;
      const failedN = licenses.filter((s) => s.endsWith('.failed')).length;
      const drops = clients.reduce((a, c) => a + c.drops, 0);
      const maxDown = Math.max(...clients.map((c) => c.maxDownMs));
      checkedFrames = r.frames;
      report.push(`${step}: stream at ${last}; ${r.checked} clients, ${r.frames} msg frames checked (${r.late} behind a newer seq, ${r.conflated} progress conflated, ` +
        `${r.bad.length} with a problem); ${drops} drops so far, ${notRecovered.length} resumes not recovered; batch ${views[0].done ?? '?'} done + ${views[0].failed ?? '?'} failed ` +
        `on every gateway: ${views.every((v) => JSON.stringify(v) === JSON.stringify(views[0]))}; longest without a subscription so far ${maxDown} ms`);
      console.log(`# ${report.at(-1)}`);
      assert.deepEqual(r.bad.slice(0, 5), [], `${step}: every client has every event once, in stream order`);
      assert.deepEqual(notRecovered.slice(0, 5), [], `${step}: every resume recovered`);
      assert.deepEqual(errors.slice(0, 5), [], `${step}: no error frames`);
      assert.deepEqual(views.slice(1), [views[0], views[0]], `${step}: the same batch state on every gateway`);
      assert.equal(views[0].done, assigned, `${step}: done = license.${BATCH}.*.assigned events in the stream`);
      assert.equal(views[0].failed, failedN, `${step}: failed = license.${BATCH}.*.failed events in the stream`);
    } finally {
      sim.proc.kill('SIGCONT');
    }
  }

  await delay(3000);
  await check('before any fault');

  // 1. Rolling restart: SIGTERM (close 1001, drain), start again, ready, next.
  for (let i = 0; i < 3; i++) {
    await delay(1500);
    const g = gws[i];
    await g.stop();
    gws[i] = await startGateway({ ...g.options, port: g.port, name: g.label });
  }
  await delay(1500);
  await check('rolling restart of the 3 gateways');

  // 2. kill -9 of one gateway, started again.
  await gws[1].kill();
  await delay(2000);
  gws[1] = await startGateway({ ...gws[1].options, port: gws[1].port, name: gws[1].label });
  await delay(1500);
  await check('kill -9 of gw2');

  // 3. kill -9 of the NATS node leading the stream, restarted 4 s later.
  const leader = (await retrying(() => jsm.streams.info(stream))).cluster.leader;
  const node = cluster.nodes.find((n) => n.name === leader);
  await node.kill('SIGKILL');
  await delay(4000);
  node.restart();
  await node.healthy();
  await delay(2000);
  await check(`kill -9 of the stream leader ${leader}`);

  // The rest of the batch, then the final state.
  const res = await sim.done;
  assert.equal(res.code, 0, `wsgate-sim:\n${res.output}`);
  await check('batch completed');
  const downs = clients.flatMap((c) => c.resumes.map((r) => r.down)).sort((a, b) => a - b);
  const pct = (xs, p) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] : 0);
  const final = JSON.parse((await httpGet(`${gws[0].url}/api/batches/${BATCH}`)).text);
  assert.equal(final.state, 'completed');
  assert.equal(final.done + final.failed, SIZE);
  console.log(`# chaos summary: ${CLIENTS} clients through HAProxy (first spread over the gateways: ${spread.join('/')}), ` +
    `${subjects.length - 1} events, ${checkedFrames} msg frames checked at the end, ` +
    `${clients.reduce((a, c) => a + c.drops, 0)} connection drops, ${clients.reduce((a, c) => a + c.resumes.length, 0)} resumes, ` +
    `time without a subscription per drop: median ${pct(downs, 0.5)} ms, p99 ${pct(downs, 0.99)} ms, longest ${Math.max(...clients.map((c) => c.maxDownMs))} ms`);
});
