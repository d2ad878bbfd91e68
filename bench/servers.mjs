// servers.mjs: start nats-server and wsgate on free loopback ports, read a
// process's RSS and CPU time from /proc, scrape /metrics, and make sure every
// process this benchmark started is gone when it exits.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sleep } from './stats.mjs';

const HERE = import.meta.dirname;
/** The binaries run (set from --wsgate / --nats-server before anything starts). */
export const bins = {
  wsgate: process.env.WSGATE_BIN || path.resolve(HERE, '../build-bench/wsgate'),
  nats: process.env.NATS_SERVER || 'nats-server',
};

/** Every child process started and not yet reaped; killed on exit. */
const children = new Set();
const tmpDirs = new Set();

export function track(proc) {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

/** SIGKILL every child still running and remove temporary directories (synchronous: safe in 'exit'). */
export function killAll() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  children.clear();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  tmpDirs.clear();
}

export function mkTmp(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `wsbench-${prefix}-`));
  tmpDirs.add(d);
  return d;
}

/** A loopback TCP port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** GET url; resolves {status, body}, status 0 when it cannot connect. */
export async function httpGet(url, timeoutMs = 3000) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

/** Resolves when fn() is truthy (polled every 50 ms); rejects after timeoutMs with `what`. */
async function pollUntil(fn, timeoutMs, what, died) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (died && died()) throw new Error(`${what}: the process exited`);
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Collect the last `keep` lines of a stream; lines matching `important` also go to `important.lines` (first 50). */
function tail(stream, keep = 40, important = null) {
  const lines = [];
  let part = '';
  stream.setEncoding('utf8').on('data', (d) => {
    const parts = (part + d).split('\n');
    part = parts.pop();
    lines.push(...parts);
    if (important) {
      for (const l of parts) if (important.re.test(l) && important.lines.length < 50) important.lines.push(l);
    }
    if (lines.length > keep) lines.splice(0, lines.length - keep);
  });
  return lines;
}

/** SIGTERM, wait up to timeoutMs, then SIGKILL. Resolves {code, signal}. */
export async function stopProc(proc, timeoutMs = 10000) {
  if (proc.exitCode !== null || proc.signalCode !== null) return { code: proc.exitCode, signal: proc.signalCode };
  const done = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const r = await done;
  clearTimeout(t);
  return r;
}

/**
 * Start nats-server on loopback: JetStream (fresh store directory) when
 * `jetstream`, a plain-text WebSocket listener (no TLS; permessage-deflate
 * only with `compression`) when `websocket`. Resolves {url, wsUrl, pid, proc,
 * logs, stop()} once /healthz is 200.
 */
export async function startNats({ jetstream = false, websocket = false, compression = false } = {}) {
  const dir = mkTmp('nats');
  const port = await freePort();
  const httpPort = await freePort();
  const wsPort = websocket ? await freePort() : 0;
  const conf = [`listen: "127.0.0.1:${port}"`, `http: "127.0.0.1:${httpPort}"`];
  if (jetstream) conf.push(`jetstream { store_dir: "${dir}" }`);
  if (websocket) {
    conf.push(`websocket { host: "127.0.0.1", port: ${wsPort}, no_tls: true, compression: ${compression}, same_origin: false }`);
  }
  const confFile = path.join(dir, 'nats.conf');
  fs.writeFileSync(confFile, conf.join('\n') + '\n');
  const proc = track(spawn(bins.nats, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const logs = tail(proc.stderr);
  tail(proc.stdout);
  let spawnErr = null;
  proc.once('error', (e) => (spawnErr = e));
  const died = () => spawnErr || proc.exitCode !== null || proc.signalCode !== null;
  const health = `http://127.0.0.1:${httpPort}/healthz${jetstream ? '?js-enabled-only=true' : ''}`;
  try {
    await pollUntil(async () => (await httpGet(health, 1000)).status === 200, 20000, `nats-server ${health}`, died);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}${spawnErr ? ` (${spawnErr.message})` : ''}\n${logs.join('\n')}`);
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    wsUrl: websocket ? `ws://127.0.0.1:${wsPort}` : null,
    monitorUrl: `http://127.0.0.1:${httpPort}`,
    pid: proc.pid,
    proc,
    logs,
    async stop() {
      await stopProc(proc);
      fs.rmSync(dir, { recursive: true, force: true });
      tmpDirs.delete(dir);
    },
  };
}

/**
 * Start wsgate on a free loopback port against natsUrl with stream `stream`,
 * plus `args`. Resolves {url, wsUrl, pid, proc, logs, stop()} once /readyz is 200.
 */
export async function startWsgate({ natsUrl, stream, args = [], readyTimeoutMs = 20000 }) {
  if (!fs.existsSync(bins.wsgate)) {
    throw new Error(`no gateway binary at ${bins.wsgate}: build it (see bench/README.md) or set WSGATE_BIN`);
  }
  const port = await freePort();
  // Thousands of clients from one address, idle ones included: no per-IP limit, no idle timeout.
  const argv = ['--listen', `127.0.0.1:${port}`, '--nats', natsUrl, '--stream', stream, '--log-format', 'json', '--max-conns-per-ip', '0', '--idle-timeout', '0', ...args];
  const proc = track(spawn(bins.wsgate, argv, { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const warnings = { re: /"level":"(warn|error)"/, lines: [] };
  const logs = tail(proc.stderr, 200, warnings);
  tail(proc.stdout);
  let spawnErr = null;
  proc.once('error', (e) => (spawnErr = e));
  const died = () => spawnErr || proc.exitCode !== null || proc.signalCode !== null;
  const url = `http://127.0.0.1:${port}`;
  let lastReady = { status: 0, body: '' };
  try {
    await pollUntil(async () => (lastReady = await httpGet(url + '/readyz', 1000)).status === 200, readyTimeoutMs, `wsgate ${url}/readyz`, died);
  } catch (e) {
    const m = await scrapeMetrics(url);
    proc.kill('SIGKILL');
    throw new Error(
      `${e.message} (last answer: ${lastReady.status} ${lastReady.body.trim()}; ` +
        `wsgate_messages_received_total ${m.wsgate_messages_received_total})\nargv: ${argv.join(' ')}\n${logs.slice(-30).join('\n')}`,
    );
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pid: proc.pid,
    proc,
    argv,
    logs,
    /** Log lines at level warn or error (the first 50). */
    warnings: warnings.lines,
    alive: () => !died(),
    async stop() {
      return stopProc(proc);
    },
  };
}

/**
 * Start bench/node-gateway.mjs (the `ws` + `nats` Node.js peer) on a free
 * loopback port, reading `stream` on natsUrl; `deflate` turns on
 * permessage-deflate with `threshold`. Resolves {url, wsUrl, pid, proc, logs,
 * alive(), stop()} once /readyz is 200.
 */
export async function startNodeGateway({ natsUrl, stream, deflate = false, threshold = 0 }) {
  const port = await freePort();
  const argv = [path.join(HERE, 'node-gateway.mjs'), '--listen', `127.0.0.1:${port}`, '--nats', natsUrl, '--stream', stream];
  argv.push('--deflate', deflate ? 'on' : 'off', '--threshold', String(threshold));
  const proc = track(spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const logs = tail(proc.stderr);
  tail(proc.stdout);
  let spawnErr = null;
  proc.once('error', (e) => (spawnErr = e));
  const died = () => spawnErr || proc.exitCode !== null || proc.signalCode !== null;
  const url = `http://127.0.0.1:${port}`;
  try {
    await pollUntil(async () => (await httpGet(url + '/readyz', 1000)).status === 200, 20000, `node gateway ${url}/readyz`, died);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}\n${logs.join('\n')}`);
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pid: proc.pid,
    proc,
    argv,
    logs,
    alive: () => !died(),
    async stop() {
      return stopProc(proc);
    },
  };
}

/** The gateway's `--help` text (stdout and stderr), '' when it cannot run. */
export function helpOf(bin) {
  try {
    return execFileSync(bin, ['--help'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return `${e.stdout || ''}${e.stderr || ''}`;
  }
}

/** VmRSS of a process, in bytes (NaN when it is gone). */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

const TICK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds a process has used (NaN when it is gone). */
export function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

/** Parse Prometheus text into {name or name{labels}: value}. */
export async function scrapeMetrics(url) {
  const { status, body } = await httpGet(url + '/metrics', 3000);
  const out = {};
  if (status !== 200) return out;
  for (const line of body.split('\n')) {
    if (!line || line[0] === '#') continue;
    const sp = line.lastIndexOf(' ');
    out[line.slice(0, sp)] = Number(line.slice(sp + 1));
  }
  return out;
}

/** The first line of `bin --version`, or '?'. */
export function versionOf(bin, args = ['--version']) {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', timeout: 5000 }).trim().split('\n')[0];
  } catch {
    return '?';
  }
}

/** The soft open-file limit of this process (from /proc/self/limits). */
export function openFileLimit() {
  try {
    const m = /Max open files\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : 1024;
  } catch {
    return 1024;
  }
}
