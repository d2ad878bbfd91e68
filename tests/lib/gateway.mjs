// gateway.mjs: run the real wsgate binary on a free loopback port with a clean
// environment, capture its JSON log lines, wait until it is ready.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort, exited, onLines, track, httpGet, pollUntil, withTimeout, ms } from './util.mjs';

export const WSGATE_BIN = process.env.WSGATE_BIN || path.resolve(import.meta.dirname ?? '.', '../../build/wsgate');

/** Processes whose logs are printed when a test fails (see harness.mjs). */
export const liveGateways = new Set();

/** A stream name unique to this test file (and process). */
export function fileStreamName() {
  const base = path.basename(process.argv[1] || 'test', '.test.mjs');
  return `T_${base.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${process.pid}`;
}

/** The environment a gateway gets: PATH, sanitizer settings, plus `env`. */
function cleanEnv(env) {
  const out = { PATH: process.env.PATH };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'TSAN_OPTIONS']) {
    if (process.env[k]) out[k] = process.env[k];
  }
  return { ...out, ...env };
}

let gatewayCount = 0;

/** A sanitizer report in a gateway's output fails the test that stops it. */
function sanitizerCheck(label, logs) {
  const at = logs.findIndex((l) => /(Address|Thread|Leak|UndefinedBehavior)Sanitizer|runtime error:/.test(l));
  if (at >= 0) throw new Error(`${label}: sanitizer report:\n${logs.slice(at, at + 40).join('\n')}`);
}

/**
 * Start wsgate: `--listen 127.0.0.1:<free port> --nats <natsUrl> --stream <name>
 * --log-format json` plus `args`, with a clean environment (PATH plus `env`).
 * wait: 'readyz' (default: GET /readyz is 200), 'healthz' (the process serves
 * HTTP, NATS not needed) or 'none'.
 * port: listen on this port instead of a free one (restarting on the same address).
 * Returns {port, url, wsUrl, pid, proc, logs, options, stop(), kill(), exitedPromise};
 * startGateway({...gw.options, port: gw.port}) starts it again as it was.
 */
export async function startGateway({ natsUrl, args = [], env = {}, wait = 'readyz', stream = fileStreamName(), name, port: fixedPort } = {}) {
  const port = fixedPort ?? (await freePort());
  const argv = ['--listen', `127.0.0.1:${port}`];
  if (natsUrl) argv.push('--nats', natsUrl);
  if (stream) argv.push('--stream', stream);
  argv.push('--log-format', 'json', ...args);
  const logs = [];
  const label = name || `wsgate#${++gatewayCount}`;
  const proc = track(spawn(WSGATE_BIN, argv, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
  onLines(proc.stderr, (l) => logs.push(l));
  onLines(proc.stdout, (l) => logs.push(`[stdout] ${l}`));
  const exitedPromise = exited(proc);
  const spawnError = new Promise((_, reject) =>
    proc.once('error', (e) => reject(new Error(`cannot run WSGATE_BIN=${WSGATE_BIN}: ${e.message}`))),
  );
  const entry = { label, logs, proc, argv };
  liveGateways.add(entry);

  const url = `http://127.0.0.1:${port}`;
  const gw = {
    label,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pid: proc.pid,
    proc,
    logs,
    argv,
    options: { natsUrl, args, env, wait, stream },
    exitedPromise,
    /** The log lines parsed as JSON (lines that are not JSON are skipped). */
    jsonLogs() {
      return logs.flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      });
    },
    /** SIGTERM, wait for exit; resolves the exit code (null if killed by a signal). */
    async stop({ timeoutMs = ms(15000) } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      try {
        const { code } = await withTimeout(exitedPromise, timeoutMs, `${label} to exit after SIGTERM`);
        sanitizerCheck(label, logs);
        return code;
      } catch (e) {
        proc.kill('SIGKILL');
        await exitedPromise;
        throw e;
      } finally {
        liveGateways.delete(entry);
      }
    },
    /** SIGKILL and wait for exit. */
    async kill() {
      proc.kill('SIGKILL');
      await exitedPromise;
      liveGateways.delete(entry);
    },
  };

  if (wait !== 'none') {
    const pathToPoll = wait === 'healthz' ? '/healthz' : '/readyz';
    const early = exitedPromise.then(({ code, signal }) => {
      throw new Error(`${label} exited during start-up (code ${code}, signal ${signal}); argv: ${argv.join(' ')}\n${logs.slice(-30).join('\n')}`);
    });
    const ready = pollUntil(async () => (await httpGet(url + pathToPoll, { timeoutMs: 2000 })).status === 200, {
      timeoutMs: ms(20000),
      message: `${label} GET ${pathToPoll} == 200`,
    });
    try {
      await Promise.race([ready, early, spawnError]);
    } catch (e) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exitedPromise;
      }
      liveGateways.delete(entry);
      throw new Error(`${e.message}\n--- ${label} log ---\n${logs.slice(-30).join('\n')}`);
    }
  }
  return gw;
}

/**
 * Run wsgate once to completion (for --help, --version, bad flags):
 * resolves {code, signal, stdout, stderr}. No default arguments.
 */
export async function runGateway(args, { env = {}, timeoutMs = ms(10000) } = {}) {
  const proc = track(spawn(WSGATE_BIN, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const spawnError = new Promise((_, reject) => proc.once('error', (e) => reject(new Error(`cannot run ${WSGATE_BIN}: ${e.message}`))));
  const done = Promise.all([exited(proc), new Promise((r) => proc.stdout.once('close', r)), new Promise((r) => proc.stderr.once('close', r))]);
  try {
    const [{ code, signal }] = await withTimeout(Promise.race([done, spawnError]), timeoutMs, `wsgate ${args.join(' ')} to exit`);
    return { code, signal, stdout, stderr };
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
}
