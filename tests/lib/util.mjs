// util.mjs: small helpers shared by the integration harness: free ports,
// timeouts with clear messages, HTTP GET, polling an HTTP condition.
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Scale every harness timeout (e.g. WSGATE_TEST_TIMEOUT_SCALE=3 under sanitizers). */
export const TIMEOUT_SCALE = Number(process.env.WSGATE_TEST_TIMEOUT_SCALE || 1) || 1;
export const ms = (n) => Math.round(n * TIMEOUT_SCALE);

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Reject with `message` if `promise` has not settled within `timeoutMs`. */
export function withTimeout(promise, timeoutMs, message) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${timeoutMs} ms: ${message}`)), timeoutMs);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** Resolve after ms milliseconds. Used only for polling intervals and
 *  deliberate time-based behaviour, never as a stand-in for an event. */
export const delay = (n) => new Promise((r) => setTimeout(r, n));

/** GET url; resolves {status, headers, text, json()}; rejects after timeoutMs. */
export async function httpGet(url, { timeoutMs = ms(10000) } = {}) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: () => JSON.parse(text),
  };
}

/**
 * Poll `fn` (async, returns a truthy value when done) every `intervalMs` until
 * it returns truthy; resolves that value. Rejects after timeoutMs with
 * `message` and the last value or error seen. Errors thrown by fn count as
 * "not yet".
 */
export async function pollUntil(fn, { timeoutMs = ms(20000), intervalMs = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timeout after ${timeoutMs} ms waiting for ${message} (last: ${detail})`);
    }
    await delay(intervalMs);
  }
}

/** Temporary directories still to remove when the process exits. */
const tmpDirs = new Set();

/** A fresh temporary directory, removed by rmTmp (or at process exit). */
export function mkTmp(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wsgate-${prefix}-`));
  tmpDirs.add(dir);
  return dir;
}
export function rmTmp(dir) {
  tmpDirs.delete(dir);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

/** Resolves {code, signal} when the child exits (immediately if it has). */
export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Split a stream into lines, calling onLine for each complete line. */
export function onLines(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
    buf = '';
  });
}

/** Children spawned by the harness, killed if the test process dies early. */
const children = new Set();
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function cleanup() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const d of [...tmpDirs]) rmTmp(d);
}
process.once('exit', cleanup);
// Interrupted (Ctrl-C, a runner's timeout): leave no nats-server or wsgate behind.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    cleanup();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}

/** The whole of an HTTP response `res` (an IncomingMessage): resolves {status, headers, body}. */
export function responseOf(res) {
  return new Promise((resolve) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.once('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
  });
}
