// nats.mjs: a real nats-server (JetStream on) per test file, and JetStream
// publishing helpers built on the `nats` npm client.
import { spawn } from 'node:child_process';
import { connect } from 'nats';
import { freePort, mkTmp, rmTmp, exited, onLines, track, httpGet, pollUntil, withTimeout, ms } from './util.mjs';

const NATS_SERVER = process.env.NATS_SERVER || 'nats-server';

/**
 * Start nats-server on free loopback ports with JetStream and a fresh store
 * directory. Resolves once /healthz?js-enabled-only=true answers 200.
 * Returns {url, port, httpPort, storeDir, logs, stop(), kill(signal), restart()}.
 * restart() starts it again on the same port and store directory.
 */
export async function startNats({ jetstream = true } = {}) {
  const port = await freePort();
  const httpPort = await freePort();
  const storeDir = mkTmp('nats');
  const logs = [];
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort)];
  if (jetstream) args.push('-js', '-sd', storeDir);
  let child = null;

  async function launch() {
    const c = track(spawn(NATS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    onLines(c.stdout, (l) => logs.push(l));
    onLines(c.stderr, (l) => logs.push(l));
    const spawnError = new Promise((_, reject) => c.once('error', (e) => reject(new Error(`cannot run ${NATS_SERVER}: ${e.message}`))));
    const early = exited(c).then(({ code, signal }) => {
      throw new Error(`nats-server exited during start-up (code ${code}, signal ${signal}):\n${logs.slice(-20).join('\n')}`);
    });
    const healthy = pollUntil(
      async () => (await httpGet(`http://127.0.0.1:${httpPort}/healthz?js-enabled-only=true`, { timeoutMs: 2000 })).status === 200,
      { timeoutMs: ms(20000), message: `nats-server on port ${port} to become healthy` },
    );
    try {
      await Promise.race([healthy, early, spawnError]);
    } catch (e) {
      c.kill('SIGKILL');
      throw e;
    }
    child = c;
  }

  await launch();
  const handle = {
    url: `nats://127.0.0.1:${port}`,
    port,
    httpPort,
    storeDir,
    logs,
    get pid() {
      return child?.pid;
    },
    /** Send `signal` (default SIGKILL) and resolve once the process is gone. */
    async kill(signal = 'SIGKILL') {
      if (!child) return;
      const c = child;
      child = null;
      const done = exited(c);
      c.kill(signal);
      await withTimeout(done, ms(15000), `nats-server to exit after ${signal}`);
    },
    /** Start again on the same port and store (after kill/stop). */
    async restart() {
      if (child) await handle.kill('SIGTERM');
      await launch();
    },
    /** Stop it and remove the store directory. */
    async stop() {
      if (child) {
        const c = child;
        child = null;
        const done = exited(c);
        c.kill('SIGTERM');
        try {
          await withTimeout(done, ms(10000), 'nats-server to exit after SIGTERM');
        } catch {
          c.kill('SIGKILL');
          await done;
        }
      }
      rmTmp(storeDir);
    },
  };
  return handle;
}

/**
 * A NATS client connection with a JetStream context. Does not reconnect
 * forever: tests that restart the server open a new connection.
 * Returns {nc, js, jsm, close()}.
 */
export async function natsClient(url) {
  const nc = await withTimeout(connect({ servers: url, reconnect: false, timeout: ms(10000) }), ms(15000), `connect to ${url}`);
  const js = nc.jetstream({ timeout: ms(10000) });
  const jsm = await nc.jetstreamManager({ timeout: ms(10000) });
  return {
    nc,
    js,
    jsm,
    async close() {
      try {
        await nc.close();
      } catch {
        /* already closed */
      }
    },
  };
}

const enc = new TextEncoder();

/** The bytes of a payload: Uint8Array/Buffer as is, string as UTF-8, anything else as JSON. */
export function payloadBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return enc.encode(data);
  return enc.encode(JSON.stringify(data));
}

/** Publish one event through JetStream; resolves the stream sequence of the stored message. */
export async function publish(js, subject, data) {
  const ack = await js.publish(subject, payloadBytes(data));
  return ack.seq;
}

/**
 * Publish many events [{subject, data}] in order, keeping at most `window`
 * publishes in flight on the one connection (so stream order = list order).
 * Resolves the array of stream sequences, index for index.
 */
export async function publishMany(js, events, { window = 64 } = {}) {
  const seqs = new Array(events.length);
  const inflight = new Set();
  for (let i = 0; i < events.length; i++) {
    const p = js.publish(events[i].subject, payloadBytes(events[i].data)).then((ack) => {
      seqs[i] = ack.seq;
      inflight.delete(p);
    });
    inflight.add(p);
    if (inflight.size >= window) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  for (let i = 1; i < seqs.length; i++) {
    if (!(seqs[i] > seqs[i - 1])) throw new Error(`publishMany: stream order broken at ${i}: ${seqs[i - 1]} then ${seqs[i]}`);
  }
  return seqs;
}
