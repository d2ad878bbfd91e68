// cluster.test.mjs: the delivery guarantee over a 3-node NATS cluster with a
// replicated stream: the NATS node the gateway is connected to is killed in
// the middle of a stream of events, and a client of the gateway still gets
// every event, in order, exactly once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as natsConnect, headers } from 'nats';
import { test, after, startGateway, connect, withTimeout, ms, delay } from '../lib/harness.mjs';
import { freePort, mkTmp, rmTmp, exited, onLines, track, httpGet, pollUntil } from '../lib/util.mjs';

const NATS_SERVER = process.env.NATS_SERVER || 'nats-server';
const N = 300;

/** Start one node of a 3-node loopback cluster (healthy only once its peers are up). */
function startNode(name, port, httpPort, clusterPort, routes, dir) {
  const logs = [];
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort), '-js', '-sd', dir, '-n', name,
    '--cluster_name', 'WSG', '--cluster', `nats://127.0.0.1:${clusterPort}`, '--routes', routes];
  const proc = track(spawn(NATS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  onLines(proc.stdout, (l) => logs.push(l));
  onLines(proc.stderr, (l) => logs.push(l));
  const healthy = () =>
    pollUntil(async () => (await httpGet(`http://127.0.0.1:${httpPort}/healthz?js-enabled-only=true`, { timeoutMs: 2000 })).status === 200,
      { timeoutMs: ms(30000), message: `cluster node ${name} to be healthy` });
  return { name, url: `nats://127.0.0.1:${port}`, proc, logs, dir, healthy };
}

const nodes = [];
let gw, pub;
after(async () => {
  await pub?.close().catch(() => {});
  await gw?.stop();
  for (const n of nodes) {
    if (n.proc.exitCode === null && n.proc.signalCode === null) {
      n.proc.kill('SIGTERM');
      await exited(n.proc);
    }
    rmTmp(n.dir);
  }
});

test('a 3-node cluster loses a node mid-stream: the client still gets every event once, in order', { timeout: 240000 }, async () => {
  const ports = [];
  for (let i = 0; i < 9; i++) ports.push(await freePort());
  const routes = [0, 1, 2].map((i) => `nats://127.0.0.1:${ports[6 + i]}`).join(',');
  for (let i = 0; i < 3; i++) {
    nodes.push(startNode(`n${i + 1}`, ports[i], ports[3 + i], ports[6 + i], routes, mkTmp(`cluster-n${i + 1}`)));
  }
  await Promise.all(nodes.map((n) => n.healthy()));
  // The gateway connects to n1 first (no randomisation) and creates an R3 stream
  // once the cluster has elected its JetStream leader.
  gw = await startGateway({
    natsUrl: nodes.map((n) => n.url).join(','),
    args: ['--stream-replicas', '3'],
    name: 'gw-cluster',
  });
  pub = await natsConnect({ servers: [nodes[1].url, nodes[2].url], maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const js = pub.jetstream();

  const c = await connect(gw.wsUrl, { label: 'cluster-client' });
  await c.sub('license.>');

  // Publish N events; each is retried until JetStream stores it (the same
  // Nats-Msg-Id, so a retry of an event already stored is not stored twice).
  const seqs = [];
  for (let i = 0; i < N; i++) {
    if (i === N / 3) {
      nodes[0].proc.kill('SIGKILL'); // the node the gateway is connected to
      await exited(nodes[0].proc);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const h = headers();
        const ack = await js.publish(`license.cl.${i % 2 ? 'failed' : 'assigned'}`, JSON.stringify({ i }), { msgID: `cl-${i}`, timeout: 2000, headers: h });
        if (!ack.duplicate) seqs.push(ack.seq);
        break;
      } catch (e) {
        if (attempt > 100) throw new Error(`publish ${i} kept failing: ${e.message}`);
        await delay(200);
      }
    }
  }
  assert.equal(seqs.length, N, 'every event stored once');

  const last = seqs.at(-1);
  await c.next((f) => f.op === 'msg' && f.seq === last, ms(90000), `the last event (seq ${last}) through the gateway`);
  const got = c.history.filter((f) => f.op === 'msg').map((f) => f.seq);
  assert.deepEqual(got, seqs, 'every event, in order, exactly once');
  assert.equal(c.closeInfo, null, 'the client was never disconnected');
  c.close();
});
