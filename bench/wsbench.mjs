#!/usr/bin/env node
// wsbench.mjs: wsgate benchmarks against nats-server's own WebSocket
// listener as the peer. Starts its own nats-server(s) and wsgate on free
// loopback ports, runs one scenario, prints a table and one JSON line, and
// stops everything it started.
//
//   node bench/wsbench.mjs memory [--conns 10000]
//   node bench/wsbench.mjs fanout [--conns 2000 --msgs 2000 --size 256]
//   node bench/wsbench.mjs replay [--msgs 50000 --size 256]
//   node bench/wsbench.mjs deflate [--conns 1000 --rates 10,100 --duration 4]
//
// See bench/README.md for what each figure means.
import os from 'node:os';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { connect as natsConnect, StorageType } from 'nats';
import {
  startNats,
  startWsgate,
  startNodeGateway,
  helpOf,
  rssBytes,
  cpuSeconds,
  scrapeMetrics,
  versionOf,
  openFileLimit,
  killAll,
  bins,
} from './servers.mjs';
import { ClientPool } from './pool.mjs';
import { nowUs, sleep, payload, subjectOf, histSummary, printTable, fmtInt, ratio, isMsgFrame, licenseEvent, licenseSubject } from './stats.mjs';

const USAGE = `usage: node bench/wsbench.mjs <memory|fanout|replay|deflate> [options]

common options:
  --wsgate BIN            gateway binary (env WSGATE_BIN; default build-bench/wsgate)
  --nats-server BIN       nats-server binary (env NATS_SERVER; default nats-server on PATH)
  --gateway-arg ARG       extra wsgate argument (repeatable), e.g. --gateway-arg=--queue-bytes=4MiB
  --only wsgate|nats      run one side only (memory, fanout); deflate: a list of wsgate,nats,node
  --procs N               client processes (default: as few as the open-file limit allows)
  --deadline SECONDS      stop everything after this long (default 175; deflate 300)
  --json-only             print only the JSON line
memory:   --conns N (10000)  --settle-ms MS (1500)  --connect-concurrency N (200)
fanout:   --conns N (2000)   --msgs M (2000)  --size BYTES (256)  --subjects K (8)
          --window W (256 publishes in flight)  --rate R (0: full speed; else R msgs/s)
replay:   --msgs M (50000)   --size BYTES (256)  --subjects K (8)  --window W (256)
          --ring-small N (1000: ring size that forces a JetStream replay)
          --repeat N (3 replays per source on fresh connections; the median is shown)
deflate:  --conns N (1000)  --rates LIST (10,100 msgs/s)  --duration S (4 s of publishing per rate)
          --subjects K (8)  --window W (256)  --settle-ms MS (1500)
          --drain S (10: after the last publish of a rate, wait at most this long for every delivery)
          --window-bits N (0: clients do not request server_max_window_bits; else they request N)
          --threshold N (0: the Node.js peer's perMessageDeflate threshold)
          --no-baseline (skip the uncompressed runs; no ratio then)
          --wsgate-on-arg ARG, --wsgate-off-arg ARG (repeatable): wsgate's arguments for its compressed
          and uncompressed runs (default: --compression on / off when wsgate --help lists --compression,
          else none); license events of ~216 B, --size does not apply
fanout, replay, deflate: --stall SECONDS (5): no delivery for this long is a stall; wsgate
          then gets one HTTP request and one more wait (see bench/README.md)
env WSBENCH_HOLD_S=N: on a fan-out stall, keep every process up N s for inspection
`;

const STREAM = 'BENCH';
const problems = [];
let quiet = false;
const log = (...a) => {
  if (!quiet) console.error(...a);
};

function parse() {
  let parsed;
  try {
    parsed = parseArgsStrict();
  } catch (e) {
    process.stderr.write(`${e.message}\n${USAGE}`);
    process.exit(2);
  }
  return parsed;
}

function parseArgsStrict() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      conns: { type: 'string' },
      msgs: { type: 'string' },
      size: { type: 'string', default: '256' },
      subjects: { type: 'string', default: '8' },
      window: { type: 'string', default: '256' },
      rate: { type: 'string', default: '0' },
      stall: { type: 'string', default: '5' },
      repeat: { type: 'string', default: '3' },
      'settle-ms': { type: 'string', default: '1500' },
      'connect-concurrency': { type: 'string', default: '200' },
      'ring-small': { type: 'string', default: '1000' },
      rates: { type: 'string', default: '10,100' },
      duration: { type: 'string', default: '4' },
      'window-bits': { type: 'string', default: '0' },
      drain: { type: 'string', default: '10' },
      threshold: { type: 'string', default: '0' },
      'no-baseline': { type: 'boolean', default: false },
      'wsgate-on-arg': { type: 'string', multiple: true },
      'wsgate-off-arg': { type: 'string', multiple: true },
      wsgate: { type: 'string' },
      'nats-server': { type: 'string' },
      'gateway-arg': { type: 'string', multiple: true, default: [] },
      only: { type: 'string' },
      procs: { type: 'string', default: '0' },
      deadline: { type: 'string' },
      'json-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const scenario = positionals[0];
  if (values.help || !['memory', 'fanout', 'replay', 'deflate'].includes(scenario)) {
    process.stderr.write(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const num = (name, def) => {
    const v = values[name] ?? def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      process.stderr.write(`--${name}: expected a non-negative integer, got ${v}\n`);
      process.exit(2);
    }
    return n;
  };
  const defaults = { memory: { conns: 10000 }, fanout: { conns: 2000, msgs: 2000 }, replay: { conns: 1, msgs: 50000 }, deflate: { conns: 1000 } }[scenario];
  const onlyOk =
    !values.only ||
    (scenario === 'deflate' ? values.only.split(',').every((x) => ['wsgate', 'nats', 'node'].includes(x)) : ['wsgate', 'nats'].includes(values.only));
  if (!onlyOk) {
    process.stderr.write(scenario === 'deflate' ? '--only: a list of wsgate, nats, node\n' : '--only: wsgate or nats\n');
    process.exit(2);
  }
  const rates = values.rates.split(',').map(Number);
  if (!rates.length || rates.some((r) => !Number.isFinite(r) || r <= 0)) {
    process.stderr.write(`--rates: a list of positive numbers, got ${values.rates}\n`);
    process.exit(2);
  }
  const duration = Number(values.duration);
  if (!Number.isFinite(duration) || duration <= 0) {
    process.stderr.write(`--duration: a positive number of seconds, got ${values.duration}\n`);
    process.exit(2);
  }
  const windowBits = num('window-bits');
  if (windowBits && (windowBits < 8 || windowBits > 15)) {
    process.stderr.write('--window-bits: 8 to 15 (or 0: not requested)\n');
    process.exit(2);
  }
  return {
    scenario,
    conns: num('conns', defaults.conns),
    msgs: num('msgs', defaults.msgs ?? 0),
    size: num('size'),
    subjects: Math.max(1, num('subjects')),
    window: Math.max(1, num('window')),
    rate: num('rate'),
    stallS: num('stall'),
    repeat: Math.max(1, num('repeat')),
    settleMs: num('settle-ms'),
    connectConcurrency: Math.max(1, num('connect-concurrency')),
    ringSmall: Math.max(1, num('ring-small')),
    gatewayArgs: values['gateway-arg'],
    only: values.only,
    procs: num('procs'),
    deadlineS: num('deadline', scenario === 'deflate' ? 300 : 175),
    jsonOnly: values['json-only'],
    wsgate: values.wsgate,
    natsServer: values['nats-server'],
    rates,
    duration,
    windowBits,
    threshold: num('threshold'),
    drainS: num('drain'),
    baseline: !values['no-baseline'],
    wsgateOnArgs: values['wsgate-on-arg'],
    wsgateOffArgs: values['wsgate-off-arg'],
  };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim(),
    cores: cpus.length,
    mem_gib: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    nats_server: versionOf(bins.nats),
    wsgate: versionOf(bins.wsgate),
  };
}

/** Client processes for n connections: one per ~18k sockets (fd limit minus headroom). */
function perProc() {
  return Math.max(100, openFileLimit() - 1500);
}

function requireAll(what, r, n) {
  if (r.failed > 0) throw new Error(`${what}: ${r.failed} of ${n} failed; first errors: ${r.errors.join(' | ')}`);
}

// ---------------------------------------------------------------- memory

/** Connect n idle clients, then subscribe each; RSS of `pid` before, idle, subscribed. */
async function measureMemory(o, kind, wsUrl, pid, subject) {
  const pool = await ClientPool.start(o.conns, { perProc: perProc(), procs: o.procs });
  try {
    await sleep(o.settleMs);
    const rss0 = rssBytes(pid);
    log(`[${kind}] RSS before: ${fmtInt(rss0)} B; opening ${o.conns} connections`);
    const cpu0 = cpuSeconds(pid);
    const c = await pool.connect(kind, wsUrl, o.conns, { concurrency: o.connectConcurrency });
    const cpu1 = cpuSeconds(pid);
    log(`[${kind}] ${c.ok} connected in ${c.ms} ms${c.failed ? `, ${c.failed} FAILED: ${c.errors.join(' | ')}` : ''}`);
    requireAll(`${kind} connect`, c, o.conns);
    await sleep(o.settleMs);
    const rss1 = rssBytes(pid);
    const cpu2 = cpuSeconds(pid);
    const s = await pool.sub(subject);
    const cpu3 = cpuSeconds(pid);
    log(`[${kind}] ${s.ok} subscribed in ${s.ms} ms${s.failed ? `, ${s.failed} FAILED: ${s.errors.join(' | ')}` : ''}`);
    requireAll(`${kind} sub`, s, o.conns);
    await sleep(o.settleMs);
    const rss2 = rssBytes(pid);
    const st = await pool.stats();
    if (st.open !== o.conns) problems.push(`${kind}: ${o.conns - st.open} connections closed during the memory run (${JSON.stringify(st.closes)})`);
    const per = (d) => Math.round(d / o.conns);
    return {
      conns: o.conns,
      connect_ms: c.ms,
      connect_cpu_s: Math.round((cpu1 - cpu0) * 100) / 100,
      sub_ms: s.ms,
      sub_cpu_s: Math.round((cpu3 - cpu2) * 100) / 100,
      rss_before: rss0,
      rss_idle: rss1,
      rss_sub: rss2,
      bytes_per_conn: per(rss1 - rss0),
      bytes_per_conn_sub: per(rss2 - rss0),
      bytes_per_sub: per(rss2 - rss1),
    };
  } finally {
    await pool.close();
  }
}

async function memory(o) {
  const out = {};
  if (o.conns + 200 > openFileLimit()) {
    problems.push(`--conns ${o.conns} is near the open-file limit (${openFileLimit()}) of the server processes`);
  }
  if (o.only !== 'nats') {
    const nats = await startNats({ jetstream: true });
    const gw = await startWsgate({ natsUrl: nats.url, stream: STREAM, args: o.gatewayArgs });
    try {
      out.wsgate = await measureMemory(o, 'wsgate', gw.wsUrl, gw.pid, 'batch.*.progress');
      await sleep(500);
      out.wsgate.rss_after_close = rssBytes(gw.pid);
      if (!gw.alive()) problems.push(`wsgate exited during the memory run: ${gw.logs.slice(-5).join(' | ')}`);
    } finally {
      await gw.stop();
      await nats.stop();
    }
  }
  if (o.only !== 'wsgate') {
    const peer = await startNats({ websocket: true });
    try {
      out.nats = await measureMemory(o, 'nats', peer.wsUrl, peer.pid, 'batch.*.progress');
    } finally {
      await peer.stop();
    }
  }
  const w = out.wsgate;
  const n = out.nats;
  out.ratio = {
    bytes_per_conn: ratio(w?.bytes_per_conn, n?.bytes_per_conn),
    bytes_per_conn_sub: ratio(w?.bytes_per_conn_sub, n?.bytes_per_conn_sub),
  };
  const row = (label, k, f = fmtInt) => [label, f(w?.[k]), f(n?.[k]), ratio(w?.[k], n?.[k]) ?? '-'];
  return {
    table: () =>
      printTable(`memory: ${o.conns} WebSocket connections (server RSS delta / connections)`, ['figure', 'wsgate', 'nats-server', 'wsgate/nats'], [
        row('RSS before (B)', 'rss_before'),
        row('RSS, N idle (B)', 'rss_idle'),
        row('RSS, N with 1 sub (B)', 'rss_sub'),
        row('bytes per idle conn', 'bytes_per_conn'),
        row('bytes per conn + 1 sub', 'bytes_per_conn_sub'),
        row('bytes per sub', 'bytes_per_sub'),
        row('connect time (ms)', 'connect_ms'),
        row('server CPU to connect (s)', 'connect_cpu_s', (x) => (x === undefined ? '-' : String(x))),
        row('subscribe time (ms)', 'sub_ms'),
        row('server CPU to subscribe (s)', 'sub_cpu_s', (x) => (x === undefined ? '-' : String(x))),
      ]),
    result: out,
  };
}

// ---------------------------------------------------------------- fanout

/**
 * Publish `count` messages with at most `window` unacknowledged (JetStream)
 * or unflushed (core NATS): at full speed, or paced to `rate` msgs/s.
 */
async function publishAll(
  nc,
  o,
  jetstream,
  first = 0,
  count = o.msgs,
  subjectFn = (i) => subjectOf(i, o.subjects),
  rate = 0,
  payloadFn = (i, tUs) => payload(i, o.subjects, o.size, tUs),
) {
  let failed = 0;
  let firstError = null;
  const startUs = nowUs();
  const pace = async (k) => {
    if (!rate) return;
    const dueUs = startUs + (k * 1e6) / rate;
    const waitMs = (dueUs - nowUs()) / 1000;
    if (waitMs >= 1) await sleep(waitMs);
  };
  if (jetstream) {
    const js = nc.jetstream({ timeout: 30000 });
    let inflight = 0;
    let wake = null;
    const settle = () => {
      inflight--;
      if (wake) {
        const w = wake;
        wake = null;
        w();
      }
    };
    for (let i = first; i < first + count; i++) {
      await pace(i - first);
      while (inflight >= o.window) await new Promise((r) => (wake = r));
      inflight++;
      js.publish(subjectFn(i), payloadFn(i, nowUs())).then(settle, (e) => {
        failed++;
        firstError ??= e.message;
        settle();
      });
    }
    while (inflight > 0) await new Promise((r) => (wake = r));
  } else {
    for (let i = first; i < first + count; i++) {
      await pace(i - first);
      nc.publish(subjectFn(i), payloadFn(i, nowUs()));
      if ((i - first + 1) % o.window === 0) await nc.flush();
    }
    await nc.flush();
  }
  if (failed) problems.push(`${failed} publishes failed (first: ${firstError})`);
  return failed;
}

/** One side of the fan-out run: N subscribers to license.>, M publishes, wait for all deliveries. */
async function fanoutSide(o, kind) {
  const srv = {};
  if (kind === 'wsgate') {
    srv.nats = await startNats({ jetstream: true });
    srv.gw = await startWsgate({ natsUrl: srv.nats.url, stream: STREAM, args: o.gatewayArgs });
    srv.pid = srv.gw.pid;
    srv.wsUrl = srv.gw.wsUrl;
    srv.pubUrl = srv.nats.url;
  } else {
    srv.nats = await startNats({ websocket: true });
    srv.pid = srv.nats.pid;
    srv.wsUrl = srv.nats.wsUrl;
    srv.pubUrl = srv.nats.url;
  }
  const pool = await ClientPool.start(o.conns, { perProc: perProc(), procs: o.procs });
  let nc = null;
  try {
    const c = await pool.connect(kind, srv.wsUrl, o.conns, { concurrency: o.connectConcurrency });
    requireAll(`${kind} connect`, c, o.conns);
    const s = await pool.sub('license.>');
    requireAll(`${kind} sub`, s, o.conns);
    log(`[${kind}] ${o.conns} clients subscribed to license.> (connect ${c.ms} ms, sub ${s.ms} ms)`);
    nc = await natsConnect({ servers: srv.pubUrl, reconnect: false, timeout: 10000 });
    const jetstream = kind === 'wsgate';

    // Warm-up: a few messages through the whole path, every client gets them.
    const WARM = 10;
    await publishAll(nc, o, jetstream, 0, WARM, () => 'license.warmup.assigned');
    const warmEnd = Date.now() + 20000;
    for (;;) {
      const st = await pool.stats();
      if (st.received >= WARM * o.conns) break;
      if (Date.now() > warmEnd) throw new Error(`${kind}: warm-up: ${st.received} of ${WARM * o.conns} deliveries after 20 s`);
      await sleep(100);
    }

    const { done } = await pool.expect(o.msgs, o.subjects);
    const cpuSrv0 = cpuSeconds(srv.pid);
    const cpuCli0 = pool.cpuSeconds();
    const cpuNats0 = kind === 'wsgate' ? cpuSeconds(srv.nats.pid) : NaN;
    const rssBefore = rssBytes(srv.pid);
    const gwWhere = srv.gw ? `wsgate pid ${srv.pid} (${srv.gw.url}), ` : '';
    log(`[${kind}] ${gwWhere}nats-server pid ${srv.nats.pid} (${srv.nats.monitorUrl}), client pids ${pool.pids.join(',')}`);
    log(`[${kind}] publishing ${o.msgs} x ${o.size} B (${jetstream ? 'JetStream' : 'core NATS'}, window ${o.window}, ${o.rate ? `${o.rate} msgs/s` : 'full speed'})`);
    const t0 = nowUs();
    await publishAll(nc, o, jetstream, 0, o.msgs, undefined, o.rate);
    const tPub = nowUs();

    // Wait for every delivery; give up after --stall seconds without progress.
    // On the first stall of wsgate, read its /metrics (an HTTP request, which
    // also wakes its event loop) and wait once more: a run that then resumes
    // had messages waiting inside the gateway with nothing to wake it.
    let stats = null;
    let last = -1;
    let lastChange = Date.now();
    let peakRss = rssBefore;
    let poke = null;
    const finished = done.then((st) => (stats = st));
    while (!stats) {
      await Promise.race([finished, sleep(1000)]);
      peakRss = Math.max(peakRss, rssBytes(srv.pid) || 0);
      if (stats) break;
      const st = await pool.stats();
      if (stats) break;
      if (st.received !== last) {
        if (poke && last >= 0 && poke.resumed === false) poke.resumed = true;
        last = st.received;
        lastChange = Date.now();
        log(`[${kind}]   ${fmtInt(st.received)} of ${fmtInt(o.msgs * o.conns)} deliveries`);
      } else if (Date.now() - lastChange > o.stallS * 1000) {
        if (process.env.WSBENCH_HOLD_S && !poke) {
          // Debugging aid: keep every process up for inspection.
          const where = { server_pid: srv.pid, nats_pid: srv.nats.pid, nats_monitor: srv.nats.monitorUrl, gateway: srv.gw?.url, clients: pool.pids };
          console.error(`[${kind}] STALLED; holding ${process.env.WSBENCH_HOLD_S} s: ${JSON.stringify(where)}`);
          await sleep(Number(process.env.WSBENCH_HOLD_S) * 1000);
        }
        if (kind === 'wsgate' && !poke) {
          const m = await scrapeMetrics(srv.gw.url);
          poke = {
            deliveries: st.received,
            gateway_messages_received: m.wsgate_messages_received_total,
            gateway_deliveries: m.wsgate_deliveries_total,
            resumed: false,
          };
          log(`[${kind}] no progress for ${o.stallS} s; gateway metrics: ${JSON.stringify(poke)}; waiting once more`);
          lastChange = Date.now();
          continue;
        }
        stats = st;
        problems.push(
          `${kind}: stalled: ${fmtInt(st.received)} of ${fmtInt(o.msgs * o.conns)} deliveries, no progress for ${o.stallS} s ` +
            `(connections open ${st.open}/${o.conns}, closes ${JSON.stringify(st.closes)})`,
        );
      }
    }
    if (poke && stats.received > poke.deliveries) poke.resumed = true;
    if (poke) {
      problems.push(
        `${kind}: no progress for ${o.stallS} s at ${fmtInt(poke.deliveries)} of ${fmtInt(o.msgs * o.conns)} deliveries, ` +
          `the gateway having taken ${poke.gateway_messages_received} of ${o.msgs + WARM} messages from NATS; ` +
          (poke.resumed ? 'it resumed after an HTTP request to it (GET /metrics): a lost wake-up' : 'it did not resume after an HTTP request to it'),
      );
    }
    const cpuSrv = cpuSeconds(srv.pid) - cpuSrv0;
    const cpuCli = pool.cpuSeconds() - cpuCli0;
    const cpuNats = kind === 'wsgate' ? cpuSeconds(srv.nats.pid) - cpuNats0 : NaN;
    const expected = o.msgs * o.conns;
    const complete = stats.received === expected && stats.minCount === o.msgs;
    const wallS = (stats.lastUs - t0) / 1e6;
    const lat = histSummary(stats.hist);
    const r = {
      conns: o.conns,
      msgs: o.msgs,
      size: o.size,
      complete,
      stall: poke,
      deliveries: stats.received,
      expected,
      lost: expected - stats.received,
      out_of_order: stats.outOfOrder,
      duplicates: stats.duplicates,
      closes: stats.closes,
      seconds: Math.round(wallS * 1000) / 1000,
      deliveries_per_s: Math.round(stats.received / wallS),
      publish_per_s: Math.round(o.msgs / ((tPub - t0) / 1e6)),
      latency_p50_ms: lat.p50_ms,
      latency_p99_ms: lat.p99_ms,
      latency_max_ms: lat.max_ms,
      server_cpu_s: Math.round(cpuSrv * 100) / 100,
      server_cpu_us_per_delivery: Math.round((cpuSrv * 1e6 * 100) / Math.max(1, stats.received)) / 100,
      clients_cpu_s: Math.round(cpuCli * 100) / 100,
      server_rss_before: rssBefore,
      server_rss_peak: peakRss,
    };
    if (kind === 'wsgate') {
      r.nats_server_cpu_s = Math.round(cpuNats * 100) / 100;
      const m = await scrapeMetrics(srv.gw.url);
      r.gateway_metrics = {
        messages_received_total: m.wsgate_messages_received_total,
        deliveries_total: m.wsgate_deliveries_total,
        slow_consumer_closes_total: m.wsgate_slow_consumer_closes_total,
      };
      if (!srv.gw.alive()) problems.push(`wsgate exited during the fan-out run: ${srv.gw.logs.slice(-5).join(' | ')}`);
      if (srv.gw.warnings.length) r.gateway_warnings = srv.gw.warnings.slice(0, 10);
    }
    if (!complete) problems.push(`${kind}: incomplete: ${fmtInt(r.lost)} deliveries missing (per-client counts ${stats.minCount}..${stats.maxCount})`);
    if (stats.outOfOrder || stats.duplicates) problems.push(`${kind}: ${stats.outOfOrder} out of order, ${stats.duplicates} duplicates`);
    if (stats.unparsed) problems.push(`${kind}: ${stats.unparsed} frames without the benchmark fields`);
    if (stats.errorCount) problems.push(`${kind}: ${stats.errorCount} client errors: ${stats.errors.join(' | ')}`);
    log(`[${kind}] ${complete ? 'all' : 'INCOMPLETE:'} ${fmtInt(stats.received)} deliveries in ${r.seconds} s`);
    return r;
  } finally {
    if (nc) await nc.close().catch(() => {});
    await pool.close();
    if (srv.gw) await srv.gw.stop();
    await srv.nats.stop();
  }
}

async function fanout(o) {
  const out = {};
  if (o.only !== 'nats') out.wsgate = await fanoutSide(o, 'wsgate');
  if (o.only !== 'wsgate') out.nats = await fanoutSide(o, 'nats');
  const w = out.wsgate;
  const n = out.nats;
  out.ratio = { deliveries_per_s: ratio(w?.deliveries_per_s, n?.deliveries_per_s) };
  const row = (label, k, f = fmtInt) => [label, w ? f(w[k]) : '-', n ? f(n[k]) : '-', ratio(w?.[k], n?.[k]) ?? '-'];
  const id = (x) => (x === undefined || x === null ? '-' : String(x));
  return {
    table: () =>
      printTable(
        `fanout: ${o.conns} clients on license.>, ${o.msgs} messages of ${o.size} B (${fmtInt(o.conns * o.msgs)} deliveries per side)`,
        ['figure', 'wsgate', 'nats-server', 'wsgate/nats'],
        [
          row('deliveries/s', 'deliveries_per_s'),
          row('publishes/s', 'publish_per_s'),
          row('seconds to last delivery', 'seconds', id),
          row('latency p50 (ms)', 'latency_p50_ms', id),
          row('latency p99 (ms)', 'latency_p99_ms', id),
          row('latency max (ms)', 'latency_max_ms', id),
          row('server CPU (s)', 'server_cpu_s', id),
          row('server CPU µs/delivery', 'server_cpu_us_per_delivery', id),
          row('clients CPU (s)', 'clients_cpu_s', id),
          row('lost', 'lost'),
          row('out of order + dup', 'out_of_order', (x) => id(x)),
          ['all delivered', w ? id(w.complete) : '-', n ? id(n.complete) : '-', ''],
        ],
      ),
    result: out,
  };
}

// ---------------------------------------------------------------- replay

const SEQ_NEEDLE = Buffer.from('"seq":');

/**
 * One client: hello, sub license.> since 0, count msg frames until msgs
 * arrived. CPU seconds of the processes in `pids` over that time are reported.
 */
async function measureReplay(wsUrl, gwUrl, msgs, stallS, pids) {
  const cpu0 = pids.map(cpuSeconds);
  const self0 = process.cpuUsage();
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 64 * 1024 * 1024 });
  let t0 = 0;
  let tOk = 0;
  let tLast = 0;
  let count = 0;
  let lastSeq = 0;
  let disorder = 0;
  let ok = null;
  let err = null;
  let closed = null;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  ws.on('message', (buf) => {
    if (isMsgFrame(buf)) {
      count++;
      tLast = nowUs();
      const p = buf.indexOf(SEQ_NEEDLE);
      let seq = 0;
      for (let q = p + 6; buf[q] >= 48 && buf[q] <= 57; q++) seq = seq * 10 + (buf[q] - 48);
      if (seq <= lastSeq) disorder++;
      lastSeq = seq;
      if (count === msgs) resolveDone();
      return;
    }
    const f = JSON.parse(buf.toString('utf8'));
    if (f.op === 'hello') {
      t0 = nowUs();
      ws.send(JSON.stringify({ op: 'sub', id: 'r', subject: 'license.>', since: 0 }));
    } else if (f.op === 'ok') {
      tOk = nowUs();
      ok = f;
    } else if (f.op === 'err') {
      err = f;
      resolveDone();
    }
  });
  ws.on('close', (code) => {
    closed = code;
    resolveDone();
  });
  ws.on('error', (e) => {
    err = { message: e.message };
    resolveDone();
  });
  // As in fanout: on the first stall, one HTTP request to the gateway, then one more wait.
  let lastCount = -1;
  let lastChange = Date.now();
  let stalled = false;
  let poke = null;
  for (;;) {
    const r = await Promise.race([done.then(() => true), sleep(500).then(() => false)]);
    if (r) break;
    if (count !== lastCount || (ok && !poke?.sawOk)) {
      if (poke && lastCount >= 0) poke.resumed = true;
      if (poke && ok) poke.sawOk = true;
      lastCount = count;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallS * 1000) {
      if (!poke) {
        const m = await scrapeMetrics(gwUrl);
        poke = { received: count, ok: Boolean(ok), gateway_replayed_total: m.wsgate_replayed_total, resumed: false, sawOk: Boolean(ok) };
        log(`[replay]   no progress for ${stallS} s at ${count} of ${msgs} (ok ${ok ? 'received' : 'not received'}); waiting once more`);
        lastChange = Date.now();
        continue;
      }
      stalled = true;
      break;
    }
  }
  if (poke && count > poke.received) poke.resumed = true;
  const cpu = pids.map((pid, k) => Math.round((cpuSeconds(pid) - cpu0[k]) * 100) / 100);
  const self = process.cpuUsage(self0);
  ws.terminate();
  const seconds = count ? (tLast - t0) / 1e6 : NaN;
  return {
    msgs,
    received: count,
    complete: count === msgs,
    stalled,
    stall: poke && { received: poke.received, ok_before: poke.ok, resumed_after_http_request: poke.resumed },
    ok_replayed: ok?.replayed ?? null,
    ok_recovered: ok?.recovered ?? null,
    out_of_order: disorder,
    ok_after_ms: tOk ? Math.round((tOk - t0) / 100) / 10 : null,
    seconds: count ? Math.round(seconds * 1000) / 1000 : null,
    msgs_per_s: count ? Math.round(count / seconds) : 0,
    gateway_cpu_s: cpu[0],
    nats_server_cpu_s: cpu[1],
    client_cpu_s: Math.round((self.user + self.system) / 1e4) / 100,
    error: err ? `${err.code ?? ''} ${err.message}`.trim() : closed !== null ? `closed ${closed}` : null,
  };
}

/** --repeat replays on fresh connections; the median one (by rate) with every rate listed. */
async function replayRepeated(gw, nats, o) {
  const runs = [];
  for (let k = 0; k < o.repeat; k++) {
    const r = await measureReplay(gw.wsUrl, gw.url, o.msgs, o.stallS, [gw.pid, nats.pid]);
    runs.push(r);
    if (!r.complete) break;
  }
  for (const [k, r] of runs.entries()) {
    if (r.stall) {
      problems.push(
        `replay ${k + 1} from ${gw.label}: no progress for ${o.stallS} s at ${r.stall.received} of ${o.msgs} messages ` +
          `(ok ${r.stall.ok_before ? 'received' : 'not yet received'}); ` +
          (r.stall.resumed_after_http_request ? 'it resumed after an HTTP request to the gateway (GET /metrics): a lost wake-up' : 'it did not resume after an HTTP request to the gateway'),
      );
    }
  }
  const failed = runs.find((r) => !r.complete);
  if (failed) return { ...failed, runs_msgs_per_s: runs.map((r) => r.msgs_per_s) };
  const sorted = [...runs].sort((a, b) => a.msgs_per_s - b.msgs_per_s);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)], runs_msgs_per_s: runs.map((r) => r.msgs_per_s) };
}

/** Wait until the gateway has taken n messages from NATS; throw after 10 s without progress. */
async function waitReceived(gw, n, label) {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const got = (await scrapeMetrics(gw.url)).wsgate_messages_received_total ?? 0;
    if (got >= n) return;
    if (got !== last) {
      last = got;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > 10000) {
      throw new Error(`${label}: the gateway stopped taking messages from NATS at ${got} of ${n} (no progress for 10 s)`);
    }
    await sleep(100);
  }
}

async function replay(o) {
  const out = {};
  const nats = await startNats({ jetstream: true });
  const gws = [];
  try {
    // Two gateways on the same stream, both up before the publishes (so
    // neither starts by catching up on a full stream): one whose ring holds
    // every message, one whose small ring sends a since-0 replay to JetStream.
    const ringMsgs = Math.max(100000, o.msgs + 1000);
    const ringBytes = Math.max(64 * 2 ** 20, o.msgs * (o.size + 1024));
    const gwRing = await startWsgate({
      natsUrl: nats.url,
      stream: STREAM,
      args: ['--ring-msgs', String(ringMsgs), '--ring-bytes', String(ringBytes), ...o.gatewayArgs],
    });
    gwRing.label = 'the ring';
    gws.push(gwRing);
    const gwJs = await startWsgate({ natsUrl: nats.url, stream: STREAM, args: ['--ring-msgs', String(o.ringSmall), ...o.gatewayArgs] });
    gwJs.label = 'JetStream';
    gws.push(gwJs);
    const nc = await natsConnect({ servers: nats.url, reconnect: false, timeout: 10000 });
    log(`[replay] publishing ${o.msgs} x ${o.size} B through JetStream`);
    const t0 = nowUs();
    await publishAll(nc, o, true);
    out.publish_per_s = Math.round(o.msgs / ((nowUs() - t0) / 1e6));
    await nc.close();
    await waitReceived(gwRing, o.msgs, `gateway with --ring-msgs ${ringMsgs}`);
    await waitReceived(gwJs, o.msgs, `gateway with --ring-msgs ${o.ringSmall}`);

    log(`[replay] from the gateway's ring (--ring-msgs ${ringMsgs})`);
    out.ring = { ring_msgs: ringMsgs, ...(await replayRepeated(gwRing, nats, o)) };
    out.ring.gateway_replayed_total = (await scrapeMetrics(gwRing.url)).wsgate_replayed_total;

    log(`[replay] from JetStream (--ring-msgs ${o.ringSmall})`);
    out.jetstream = { ring_msgs: o.ringSmall, ...(await replayRepeated(gwJs, nats, o)) };
    out.jetstream.gateway_replayed_total = (await scrapeMetrics(gwJs.url)).wsgate_replayed_total;
    for (const k of ['ring', 'jetstream']) {
      const r = out[k];
      if (!r.complete) problems.push(`replay from ${k}: ${r.received} of ${o.msgs} messages${r.stalled ? ` (stalled ${o.stallS} s)` : ''}${r.error ? `: ${r.error}` : ''}`);
      if (r.ok_replayed !== null && r.ok_replayed !== o.msgs) problems.push(`replay from ${k}: ok.replayed is ${r.ok_replayed}, expected ${o.msgs}`);
      if (r.ok_recovered === false) problems.push(`replay from ${k}: ok.recovered is false`);
      if (r.out_of_order) problems.push(`replay from ${k}: ${r.out_of_order} frames out of seq order`);
    }
    for (const gw of gws) if (!gw.alive()) problems.push(`wsgate exited during the replay run: ${gw.logs.slice(-5).join(' | ')}`);
  } finally {
    for (const gw of gws) await gw.stop();
    await nats.stop();
  }
  const id = (x) => (x === undefined || x === null ? '-' : String(x));
  const row = (label, k, f = id) => [label, f(out.ring?.[k]), f(out.jetstream?.[k])];
  return {
    table: () =>
      printTable(`replay: one client, sub license.> since 0, ${o.msgs} stored messages of ${o.size} B`, ['figure', 'from ring', 'from JetStream'], [
        row('msgs/s (median)', 'msgs_per_s', fmtInt),
        row('msgs/s of each run', 'runs_msgs_per_s', (x) => (x ? x.map(fmtInt).join(' ') : '-')),
        row('seconds to last msg', 'seconds'),
        row('ok after (ms)', 'ok_after_ms'),
        row('gateway CPU (s)', 'gateway_cpu_s'),
        row('nats-server CPU (s)', 'nats_server_cpu_s'),
        row('client CPU (s)', 'client_cpu_s'),
        row('received', 'received', fmtInt),
        row('ok.replayed', 'ok_replayed'),
        row('ok.recovered', 'ok_recovered'),
        row('--ring-msgs', 'ring_msgs'),
      ]),
    result: out,
  };
}

// ---------------------------------------------------------------- deflate

const DEFLATE_SERVERS = ['wsgate', 'nats', 'node'];
const CLIENTS_BUSY = 0.8; // client processes this busy (CPU / wall, per process) were the limit
const STREAM_SUBJECTS = ['batch.>', 'license.>', 'verification.>']; // wsgate's default stream subjects

/**
 * wsgate's arguments for its compressed and uncompressed runs: --wsgate-on-arg /
 * --wsgate-off-arg when given, else `--compression on|off` when the binary's
 * --help lists --compression, else none (that build does not negotiate
 * permessage-deflate; both runs are then the same uncompressed gateway).
 */
function wsgateCompressionArgs(o) {
  const listed = /--compression\b/.test(helpOf(bins.wsgate));
  const pick = (given, value) => given ?? (listed ? ['--compression', value] : []);
  return {
    help_lists_compression: listed,
    on: pick(o.wsgateOnArgs, 'on'),
    off: pick(o.wsgateOffArgs, 'off'),
  };
}

/**
 * Wait for `done` (every delivery), at most --drain s; or until a stall: --stall s
 * without progress (wsgate: one /metrics request, then once more).
 */
async function waitAll(pool, done, o, label, gwUrl) {
  let stats = null;
  let last = -1;
  let lastChange = Date.now();
  let poked = false;
  const drainEnd = Date.now() + o.drainS * 1000;
  const finished = done.then((st) => (stats = st));
  while (!stats) {
    await Promise.race([finished, sleep(500)]);
    if (stats) break;
    const st = await pool.stats();
    if (stats) break;
    if (Date.now() > drainEnd) {
      problems.push(`${label}: ${fmtInt(st.received)} deliveries ${o.drainS} s after the last publish (--drain), not all`);
      return { stats: st, stalled: false, poked };
    }
    if (st.received !== last) {
      last = st.received;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > o.stallS * 1000) {
      if (gwUrl && !poked) {
        poked = true;
        await scrapeMetrics(gwUrl);
        log(`[${label}] no progress for ${o.stallS} s at ${fmtInt(st.received)} deliveries; one request to /metrics, waiting once more`);
        lastChange = Date.now();
        continue;
      }
      problems.push(`${label}: stalled at ${fmtInt(st.received)} deliveries, no progress for ${o.stallS} s (open ${st.open}, closes ${JSON.stringify(st.closes)})`);
      return { stats: st, stalled: true, poked };
    }
  }
  if (poked) problems.push(`${label}: no progress for ${o.stallS} s, resumed after an HTTP request to the gateway (a lost wake-up)`);
  return { stats, stalled: false, poked };
}

/**
 * One server in one configuration: a fresh nats-server with JetStream (and
 * its WebSocket listener for `nats`), the stream, the server under test, N
 * clients offering permessage-deflate on license.>, then every rate in turn:
 * rate x --duration license events through JetStream, every delivery checked.
 */
async function deflateSide(o, server, compressed, gwArgs) {
  const label = `${server} ${compressed ? 'deflate' : 'plain'}`;
  const side = { server, compressed, conns: o.conns };
  const nats = await startNats({ jetstream: true, websocket: server === 'nats', compression: server === 'nats' && compressed });
  let gw = null;
  let pool = null;
  let nc = null;
  try {
    nc = await natsConnect({ servers: nats.url, reconnect: false, timeout: 10000 });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: STREAM, subjects: STREAM_SUBJECTS, storage: StorageType.File });
    let pid;
    let wsUrl;
    let kind = 'wsgate';
    if (server === 'wsgate') {
      gw = await startWsgate({ natsUrl: nats.url, stream: STREAM, args: [...o.gatewayArgs, ...gwArgs] });
      side.args = gwArgs;
      [pid, wsUrl] = [gw.pid, gw.wsUrl];
    } else if (server === 'node') {
      gw = await startNodeGateway({ natsUrl: nats.url, stream: STREAM, deflate: compressed, threshold: o.threshold });
      side.args = gw.argv.slice(1);
      [pid, wsUrl] = [gw.pid, gw.wsUrl];
    } else {
      [pid, wsUrl, kind] = [nats.pid, nats.wsUrl, 'nats'];
      side.args = [`websocket { compression: ${compressed} }`];
    }
    pool = await ClientPool.start(o.conns, { perProc: perProc(), procs: o.procs });
    await sleep(o.settleMs);
    side.rss_before = rssBytes(pid);
    const c = await pool.connect(kind, wsUrl, o.conns, { concurrency: o.connectConcurrency, deflate: true, windowBits: o.windowBits });
    requireAll(`${label} connect`, c, o.conns);
    const s = await pool.sub('license.>');
    requireAll(`${label} sub`, s, o.conns);
    side.extensions = (await pool.stats()).extensions;
    log(`[${label}] ${o.conns} clients on license.>, negotiated: ${JSON.stringify(side.extensions)}`);

    const WARM = 10;
    // Each message's content derives from base + i, unique over the side's run (see licenseEvent).
    let base = 1e6;
    const warmFn = (i, t) => licenseEvent(i, o.subjects, t, base);
    await publishAll(nc, o, true, 0, WARM, () => 'license.warmup.assigned', 0, warmFn);
    const warmEnd = Date.now() + 20000;
    for (;;) {
      const st = await pool.stats();
      if (st.received >= WARM * o.conns) break;
      if (Date.now() > warmEnd) throw new Error(`${label}: warm-up: ${st.received} of ${WARM * o.conns} deliveries after 20 s`);
      await sleep(100);
    }

    side.rates = [];
    base = 0;
    for (const rate of o.rates) {
      const msgs = Math.max(1, Math.round(rate * o.duration));
      let eventBytes = 0;
      const phaseBase = base;
      base += msgs;
      const make = (i, t) => {
        const p = licenseEvent(i, o.subjects, t, phaseBase);
        eventBytes += p.length;
        return p;
      };
      const { done } = await pool.expect(msgs, o.subjects, { verify: true, base: phaseBase });
      const cpu0 = cpuSeconds(pid);
      const js0 = server === 'nats' ? NaN : cpuSeconds(nats.pid);
      const cli0 = pool.cpuSeconds();
      log(`[${label}] ${rate} msgs/s: publishing ${msgs} events through JetStream`);
      const t0 = nowUs();
      await publishAll(nc, o, true, 0, msgs, (i) => licenseSubject(i, o.subjects), rate, make);
      const tPub = nowUs();
      const w = await waitAll(pool, done, o, `${label} ${rate} msgs/s`, server === 'wsgate' ? gw.url : null);
      const st = w.stats;
      const cpu = cpuSeconds(pid) - cpu0;
      const jsCpu = server === 'nats' ? NaN : cpuSeconds(nats.pid) - js0;
      const cli = pool.cpuSeconds() - cli0;
      const expected = msgs * o.conns;
      const wallS = ((st.received === expected ? st.lastUs : nowUs()) - t0) / 1e6; // an incomplete rate: until now
      const lat = histSummary(st.hist);
      const perM = (x) => (st.received ? Math.round((x * 1e6 * 100) / st.received) / 100 : null);
      const complete = st.received === expected && st.minCount === msgs;
      // Exact only when complete: else the sockets also delivered frames the clients have not inflated yet.
      const wirePer = st.received ? Math.round((st.wireBytes / st.received) * 10) / 10 : null;
      const r = {
        rate,
        msgs,
        expected,
        deliveries: st.received,
        complete,
        lost: expected - st.received,
        out_of_order: st.outOfOrder,
        duplicates: st.duplicates,
        not_intact: st.corrupt,
        closes: st.closes,
        pub_rate: Math.round((msgs / ((tPub - t0) / 1e6)) * 10) / 10,
        seconds: Math.round(((st.lastUs - t0) / 1e6) * 1000) / 1000,
        event_bytes: Math.round((eventBytes / msgs) * 10) / 10,
        wire_bytes: st.wireBytes,
        wire_bytes_per_delivery: complete ? wirePer : null,
        wire_bytes_per_delivery_partial: complete ? undefined : wirePer,
        app_bytes_per_delivery: st.received ? Math.round((st.appBytes / st.received) * 10) / 10 : null,
        latency_p50_ms: lat.p50_ms,
        latency_p99_ms: lat.p99_ms,
        latency_max_ms: lat.max_ms,
        server_cpu_s: Math.round(cpu * 100) / 100,
        server_cpu_s_per_M: perM(cpu),
        clients_cpu_s: Math.round(cli * 100) / 100,
        // Share of the client processes' capacity (one core each) used over the rate.
        clients_busy: Math.round((cli / (wallS * pool.workers.length)) * 100) / 100,
      };
      if (server !== 'nats') {
        r.nats_server_cpu_s = Math.round(jsCpu * 100) / 100;
        r.nats_server_cpu_s_per_M = perM(jsCpu);
      }
      side.rates.push(r);
      if (!r.complete) problems.push(`${label} ${rate} msgs/s: ${fmtInt(r.lost)} of ${fmtInt(expected)} deliveries missing (per-client ${st.minCount}..${st.maxCount})`);
      if (st.outOfOrder || st.duplicates) problems.push(`${label} ${rate} msgs/s: ${st.outOfOrder} out of order, ${st.duplicates} duplicates`);
      if (st.corrupt) problems.push(`${label} ${rate} msgs/s: ${st.corrupt} deliveries not intact (payload or subject differs from what was published)`);
      if (st.unparsed) problems.push(`${label} ${rate} msgs/s: ${st.unparsed} frames without the benchmark fields`);
      if (st.errorCount) problems.push(`${label} ${rate} msgs/s: ${st.errorCount} client errors: ${st.errors.join(' | ')}`);
      log(
        `[${label}] ${rate} msgs/s: ${fmtInt(st.received)} of ${fmtInt(expected)}, ${r.wire_bytes_per_delivery} wire B/delivery, ` +
          `p50/p99 ${lat.p50_ms}/${lat.p99_ms} ms, server CPU ${r.server_cpu_s} s, clients ${r.clients_cpu_s} s`,
      );
      if (!r.complete) {
        side.skipped_rates = o.rates.slice(o.rates.indexOf(rate) + 1);
        break;
      }
    }
    await sleep(o.settleMs);
    side.rss_after = rssBytes(pid);
    side.bytes_per_conn = Math.round((side.rss_after - side.rss_before) / o.conns);
    const fin = await pool.stats();
    if (fin.open !== o.conns) problems.push(`${label}: ${o.conns - fin.open} connections closed during the run (${JSON.stringify(fin.closes)})`);
    if (gw && !gw.alive()) problems.push(`${label}: the server exited during the run: ${gw.logs.slice(-5).join(' | ')}`);
    if (server === 'wsgate' && gw.warnings.length) side.gateway_warnings = gw.warnings.slice(0, 10);
    return side;
  } finally {
    if (nc) await nc.close().catch(() => {});
    if (pool) await pool.close();
    if (gw) await gw.stop();
    await nats.stop();
  }
}

const SERVER_LABEL = {
  wsgate: (on, flags) => `wsgate ${on ? 'on' : 'off'}${flags.help_lists_compression || (on ? flags.on : flags.off).length ? '' : ' (no flag)'}`,
  nats: (on) => `nats-server ${on ? 'compression: true' : 'compression: false'}`,
  node: (on, _f, o) => `node ws ${on ? `deflate, threshold ${o.threshold}` : 'no deflate'}`,
};

async function deflate(o) {
  const servers = o.only ? DEFLATE_SERVERS.filter((x) => o.only.split(',').includes(x)) : DEFLATE_SERVERS;
  const flags = wsgateCompressionArgs(o);
  if (servers.includes('wsgate') && !flags.help_lists_compression && !o.wsgateOnArgs) {
    log('[wsgate] its --help lists no --compression: both wsgate runs get no compression flag (ratio 1.0 expected)');
  }
  const out = { wsgate_compression: flags, window_bits: o.windowBits || null, node_threshold: o.threshold, sides: {} };
  for (const server of servers) {
    for (const on of o.baseline ? [false, true] : [true]) {
      const key = `${server}_${on ? 'deflate' : 'plain'}`;
      out.sides[key] = await deflateSide(o, server, on, server === 'wsgate' ? (on ? flags.on : flags.off) : []);
      out.sides[key].label = SERVER_LABEL[server](on, flags, o);
    }
  }
  // Per server and rate: the compressed run against the same server's uncompressed run.
  out.summary = [];
  for (const server of servers) {
    for (const on of o.baseline ? [false, true] : [true]) {
      const side = out.sides[`${server}_${on ? 'deflate' : 'plain'}`];
      const base = out.sides[`${server}_plain`];
      for (const r of side.rates) {
        const b = base?.rates.find((x) => x.rate === r.rate);
        out.summary.push({
          server,
          label: side.label,
          compressed: on,
          extensions: Object.keys(side.extensions).join(' | '),
          rate: r.rate,
          deliveries: r.deliveries,
          expected: r.expected,
          wire_bytes_per_delivery: r.wire_bytes_per_delivery,
          wire_ratio: ratio(r.wire_bytes_per_delivery, b?.wire_bytes_per_delivery),
          bytes_per_conn: side.bytes_per_conn,
          server_cpu_s_per_M: r.server_cpu_s_per_M,
          nats_server_cpu_s_per_M: r.nats_server_cpu_s_per_M ?? null,
          latency_p50_ms: r.latency_p50_ms,
          latency_p99_ms: r.latency_p99_ms,
          clients_cpu_s: r.clients_cpu_s,
          clients_busy: r.clients_busy,
        });
      }
    }
  }
  const id = (x) => (x === undefined || x === null ? '-' : String(x));
  const rows = out.summary.map((x) => [
    x.label,
    String(x.rate),
    id(x.wire_bytes_per_delivery),
    id(x.wire_ratio),
    fmtInt(x.bytes_per_conn),
    x.nats_server_cpu_s_per_M === null ? id(x.server_cpu_s_per_M) : `${id(x.server_cpu_s_per_M)} (+${id(x.nats_server_cpu_s_per_M)})`,
    id(x.latency_p50_ms),
    id(x.latency_p99_ms),
    `${Math.round(x.clients_busy * 100)} %${x.clients_busy >= CLIENTS_BUSY ? ' *' : ''}`,
    `${fmtInt(x.deliveries)}/${fmtInt(x.expected)}`,
  ]);
  const busy = out.summary.some((x) => x.clients_busy >= CLIENTS_BUSY);
  const sideRows = Object.values(out.sides).map((sd) => [
    sd.label,
    Object.entries(sd.extensions)
      .map(([e, n]) => (n === o.conns ? e : `${e} x${n}`))
      .join(' | '),
    (sd.rss_before / 2 ** 20).toFixed(1),
    (sd.rss_after / 2 ** 20).toFixed(1),
  ]);
  const events = Object.values(out.sides)[0]?.rates[0]?.event_bytes;
  return {
    table: () => {
      printTable(
        `deflate: ${o.conns} clients offering permessage-deflate${o.windowBits ? ` (server_max_window_bits=${o.windowBits})` : ''} on license.>, ` +
          `license events of ~${events} B through JetStream, ${o.duration} s per rate`,
        ['server', 'msg/s', 'wire B/delivery', 'ratio', 'B/conn', 'CPU s/M deliveries (+JS)', 'p50 ms', 'p99 ms', 'clients busy', 'delivered'],
        rows,
      );
      if (busy) {
        console.log(
          `* the client processes used ${CLIENTS_BUSY * 100} % or more of their cores: the clients were (near) the limit of that row ` +
            '(latency includes their queueing); see bench/README.md',
        );
      }
      printTable('negotiated extension and server RSS (MiB) before connecting / after the run', ['server', 'Sec-WebSocket-Extensions', 'RSS before', 'RSS after'], sideRows);
    },
    result: out,
  };
}

// ---------------------------------------------------------------- main

async function main() {
  const o = parse();
  quiet = o.jsonOnly;
  const argv = process.argv.slice(2);
  if (o.wsgate) bins.wsgate = o.wsgate;
  if (o.natsServer) bins.nats = o.natsServer;
  const deadline = setTimeout(() => {
    console.error(`wsbench: deadline of ${o.deadlineS} s reached; stopping everything`);
    killAll();
    process.exit(3);
  }, o.deadlineS * 1000);
  deadline.unref();
  const started = Date.now();
  const loadBefore = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const run = { memory, fanout, replay, deflate }[o.scenario];
  const { table, result } = await run(o);
  const line = {
    bench: 'wsgate',
    scenario: o.scenario,
    command: `node bench/wsbench.mjs ${argv.join(' ')}`.trim(),
    params:
      o.scenario === 'deflate'
        ? { conns: o.conns, rates: o.rates, duration: o.duration, subjects: o.subjects, window: o.window, window_bits: o.windowBits, threshold: o.threshold, gateway_args: o.gatewayArgs }
        : { conns: o.conns, msgs: o.msgs, size: o.size, subjects: o.subjects, window: o.window, rate: o.rate, gateway_args: o.gatewayArgs },
    ...result,
    problems,
    run_seconds: Math.round((Date.now() - started) / 100) / 10,
    loadavg_before: loadBefore,
    loadavg_after: os.loadavg().map((x) => Math.round(x * 100) / 100),
    machine: machine(),
    date: new Date().toISOString(),
  };
  if (!o.jsonOnly) {
    table();
    if (problems.length) console.log(`\nPROBLEMS:\n  ${problems.join('\n  ')}`);
    console.log('');
  }
  console.log(JSON.stringify(line));
  return problems.length ? 1 : 0;
}

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}
main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (e) => {
    console.error(`wsbench: ${e.stack || e.message}`);
    killAll();
    process.exit(2);
  },
);
