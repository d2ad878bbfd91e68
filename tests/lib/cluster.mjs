// cluster.mjs: a 3-node loopback NATS cluster with JetStream (each node can be
// killed and restarted on its ports and store), wsgate-sim running in the
// background, and a check that many clients got the stream in order.
import { spawn } from 'node:child_process';
import { WSGATE_SIM_BIN } from './resume.mjs';
import { freePort, mkTmp, rmTmp, exited, onLines, track, httpGet, pollUntil, withTimeout, ms } from './util.mjs';

const NATS_SERVER = process.env.NATS_SERVER || 'nats-server';

/**
 * Start `size` nats-server nodes clustered over loopback routes, JetStream on,
 * and resolve once every node is healthy. Returns {nodes, urls, stop()};
 * node: {name, url, logs, pid, kill(signal), restart(), healthy()}.
 */
export async function startCluster({ size = 3, name = 'WSG' } = {}) {
  const ports = [];
  for (let i = 0; i < size * 3; i++) ports.push(await freePort());
  const routes = ports.slice(size * 2).map((p) => `nats://127.0.0.1:${p}`).join(',');
  const nodes = [];
  for (let i = 0; i < size; i++) {
    const port = ports[i];
    const httpPort = ports[size + i];
    const dir = mkTmp(`cluster-n${i + 1}`);
    const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort), '-js', '-sd', dir, '-n', `n${i + 1}`,
      '--cluster_name', name, '--cluster', `nats://127.0.0.1:${ports[size * 2 + i]}`, '--routes', routes];
    const logs = [];
    let proc = null;
    const node = {
      name: `n${i + 1}`,
      url: `nats://127.0.0.1:${port}`,
      httpUrl: `http://127.0.0.1:${httpPort}`,
      logs,
      dir,
      get pid() {
        return proc?.pid;
      },
      get running() {
        return proc !== null;
      },
      launch() {
        proc = track(spawn(NATS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
        onLines(proc.stdout, (l) => logs.push(l));
        onLines(proc.stderr, (l) => logs.push(l));
      },
      healthy() {
        return pollUntil(async () => (await httpGet(`${node.httpUrl}/healthz?js-enabled-only=true`, { timeoutMs: 2000 })).status === 200,
          { timeoutMs: ms(30000), message: `cluster node ${node.name} to be healthy` });
      },
      /** Send `signal` (default SIGKILL) and resolve once the process is gone. */
      async kill(signal = 'SIGKILL') {
        if (!proc) return;
        const p = proc;
        proc = null;
        const done = exited(p);
        p.kill(signal);
        await withTimeout(done, ms(15000), `${node.name} to exit after ${signal}`);
      },
      /** Start again on the same ports and store directory (not waiting for health). */
      restart() {
        if (proc) throw new Error(`${node.name} is running`);
        node.launch();
      },
    };
    node.launch();
    nodes.push(node);
  }
  await Promise.all(nodes.map((n) => n.healthy()));
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async stop() {
      for (const n of nodes) {
        await n.kill('SIGTERM').catch(() => n.kill('SIGKILL'));
        rmTmp(n.dir);
      }
    },
  };
}

/**
 * Start wsgate-sim with `args` in the background. Returns {proc, lines,
 * done}: done resolves {code, signal, output} when it exits (rejects after
 * timeoutMs, killing it).
 */
export function startSim(args, { timeoutMs = ms(120000) } = {}) {
  const proc = track(spawn(WSGATE_SIM_BIN, args, { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const lines = [];
  onLines(proc.stdout, (l) => lines.push(l));
  onLines(proc.stderr, (l) => lines.push(`[stderr] ${l}`));
  const spawnError = new Promise((_, reject) => proc.once('error', (e) => reject(new Error(`cannot run WSGATE_SIM_BIN=${WSGATE_SIM_BIN}: ${e.message}`))));
  const done = withTimeout(Promise.race([exited(proc), spawnError]), timeoutMs, `wsgate-sim ${args.join(' ')} to exit`).then(
    ({ code, signal }) => ({ code, signal, output: lines.join('\n') }),
    (e) => {
      proc.kill('SIGKILL');
      throw new Error(`${e.message}\n${lines.slice(-20).join('\n')}`);
    },
  );
  return { proc, lines, done };
}

/**
 * Check every list in `received` ({label, seqs}) against the stream, whose
 * message subjects are subjects[seq] (seq 1..n), with conflation allowed on
 * subjects where isLastValue(subject): strictly increasing seqs (stream
 * order), every other message exactly once, and of every last-value subject
 * at least its latest message. Resolves {checked, frames, late, conflated,
 * bad}: late counts arrivals behind a newer seq, conflated the last-value
 * messages not received.
 */
export function checkStreamOrder(received, subjects, isLastValue) {
  const bad = [];
  let frames = 0;
  let late = 0;
  let conflated = 0;
  const latest = new Map(); // last-value subject -> its last seq
  for (let seq = 1; seq < subjects.length; seq++) if (isLastValue(subjects[seq])) latest.set(subjects[seq], seq);
  for (const { label, seqs } of received) {
    frames += seqs.length;
    const problems = [];
    const got = new Set();
    let max = 0;
    for (const s of seqs) {
      if (s <= max) {
        late++;
        if (problems.length < 5) problems.push(`${s} after ${max}`);
      } else max = s;
      if (!(s >= 1 && s < subjects.length)) problems.push(`seq ${s} is not in the stream`);
      got.add(s);
    }
    const missing = [];
    for (let seq = 1; seq < subjects.length; seq++) {
      if (got.has(seq)) continue;
      if (!isLastValue(subjects[seq])) missing.push(seq);
      else if (latest.get(subjects[seq]) === seq) missing.push(`${seq} (latest of ${subjects[seq]})`);
      else conflated++;
    }
    if (missing.length) problems.push(`missing ${missing.length}: ${missing.slice(0, 10).join(',')}`);
    if (problems.length) bad.push(`${label}: ${problems.join('; ')}`);
  }
  return { checked: received.length, frames, late, conflated, bad };
}
