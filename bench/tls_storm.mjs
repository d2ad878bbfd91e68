// tls_storm.mjs: a reconnect storm. N clients connect at once (plain ws://,
// then wss:// with an EC P-256 and an RSA-2048 certificate); how long until
// every one has its hello, and the gateway's CPU per connection. Accepting,
// TLS handshakes and upgrades run on the gateway's one service thread (the
// sender threads only send), so this is what bounds a TLS reconnect storm.
//
//   node bench/tls_storm.mjs [--conns N] [--concurrency C] [--wsgate BIN]
//
// Prints a table and one JSON line. Needs `npm ci` in bench/ and openssl.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import WebSocket from 'ws';
import { bins, cpuSeconds, freePort, httpGet, killAll, mkTmp, startNats, stopProc, track } from './servers.mjs';
import { printTable, sleep } from './stats.mjs';

function parseArgs(argv) {
  const o = { conns: 2000, concurrency: 500 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--conns') o.conns = num();
    else if (a === '--concurrency') o.concurrency = num();
    else if (a === '--wsgate') bins.wsgate = argv[++i];
    else throw new Error(`unknown option ${a} (see the header of bench/tls_storm.mjs)`);
  }
  return o;
}

/** GET url over https without checking the (self-signed) certificate. */
function httpsStatus(url) {
  return new Promise((resolve) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/** Start wsgate (with TLS when cert/key are given) and wait for /readyz 200. */
async function startGateway(natsUrl, tls) {
  const port = await freePort();
  const argv = ['--listen', `127.0.0.1:${port}`, '--nats', natsUrl, '--stream', 'STORM', '--max-conns-per-ip', '0', '--idle-timeout', '0'];
  if (tls) argv.push('--tls-cert', tls.cert, '--tls-key', tls.key);
  const proc = track(spawn(bins.wsgate, argv, { stdio: ['ignore', 'ignore', 'ignore'] }));
  const base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const status = tls ? await httpsStatus(base + '/readyz') : (await httpGet(base + '/readyz', 1000)).status;
    if (status === 200) return { proc, wsUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/ws` };
    if (proc.exitCode !== null) throw new Error(`wsgate exited (${proc.exitCode}): ${argv.join(' ')}`);
    await sleep(100);
  }
  throw new Error(`wsgate not ready: ${argv.join(' ')}`);
}

/** Open one client and resolve with it once its hello arrives. */
function connectOne(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { rejectUnauthorized: false, perMessageDeflate: false });
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Connect n clients, at most c at a time; resolves with them. */
async function storm(url, n, c) {
  const clients = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      clients.push(await connectOne(url));
    }
  };
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker));
  return clients;
}

/** A self-signed certificate: kind 'ec' (P-256) or 'rsa' (2048 bits). */
function makeCert(dir, kind) {
  const key = path.join(dir, `${kind}.key`), cert = path.join(dir, `${kind}.pem`);
  const newkey = kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  execFileSync('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'pipe' });
  return { key, cert };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dir = mkTmp('storm');
  const nats = await startNats({ jetstream: true });
  const modes = [
    ['plain ws://', null],
    ['wss:// EC P-256', makeCert(dir, 'ec')],
    ['wss:// RSA-2048', makeCert(dir, 'rsa')],
  ];
  const results = [];
  for (const [label, tls] of modes) {
    const gw = await startGateway(nats.url, tls);
    const cpu0 = cpuSeconds(gw.proc.pid);
    const t0 = performance.now();
    const clients = await storm(gw.wsUrl, o.conns, o.concurrency);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(gw.proc.pid) - cpu0;
    results.push({ mode: label, conns: clients.length, wall_s: +wall.toFixed(3), gateway_cpu_s: +cpu.toFixed(2), cpu_ms_per_conn: +((cpu * 1000) / clients.length).toFixed(3), conns_per_s: Math.round(clients.length / wall) });
    for (const ws of clients) ws.terminate();
    await stopProc(gw.proc);
  }
  await nats.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  printTable(
    `${o.conns} clients connecting at once (${o.concurrency} in flight), each until its hello`,
    ['mode', 'wall s', 'gateway CPU s', 'CPU ms / conn', 'conns/s'],
    results.map((r) => [r.mode, r.wall_s, r.gateway_cpu_s, r.cpu_ms_per_conn, r.conns_per_s]),
  );
  console.log(JSON.stringify({ tool: 'tls_storm', conns: o.conns, concurrency: o.concurrency, results }));
}

main()
  .catch((e) => {
    console.error(`tls_storm: ${e.stack || e.message}`);
    process.exitCode = 2;
  })
  .finally(() => killAll());
