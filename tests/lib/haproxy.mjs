// haproxy.mjs: Debian's HAProxy in front of several gateways, as
// scripts/cluster.sh runs it: health checks on /readyz, WebSocket-friendly
// timeouts, a retry on another gateway when one refuses the connection.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, mkTmp, rmTmp, exited, onLines, track, httpGet, pollUntil, withTimeout, ms } from './util.mjs';

const HAPROXY = process.env.HAPROXY || 'haproxy';

/** The configuration: `listen` host:port, backends [{name, host, port}]. */
export function haproxyConfig(listen, backends, { maxconn = 4096 } = {}) {
  return [
    'global',
    `    maxconn ${maxconn}`,
    'defaults',
    '    mode http',
    '    timeout connect 2s',
    '    timeout client 60s',
    '    timeout server 60s',
    '    timeout http-request 10s',
    '    timeout tunnel 1h        # an upgraded WebSocket: the gateway pings every 25 s',
    '    timeout client-fin 5s',
    '    timeout server-fin 5s',
    '    option redispatch        # a retry goes to another gateway',
    '    retries 3',
    '    retry-on conn-failure empty-response 503  # a gateway that is down, starting or draining',
    '    default-server inter 500ms fall 2 rise 2',
    'frontend wsgate',
    `    bind ${listen}`,
    '    default_backend gateways',
    'backend gateways',
    '    balance leastconn',
    '    option httpchk GET /readyz',
    '    http-check expect status 200',
    ...backends.map((b) => `    server ${b.name} ${b.host || '127.0.0.1'}:${b.port} check`),
    '',
  ].join('\n');
}

/**
 * Start HAProxy on a free loopback port in front of `backends`; resolves
 * once it answers. Returns {url, wsUrl, port, logs, stop()}.
 */
export async function startHaproxy(backends, opts = {}) {
  const port = await freePort();
  const dir = mkTmp('haproxy');
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, haproxyConfig(`127.0.0.1:${port}`, backends, opts));
  const logs = [];
  const proc = track(spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  onLines(proc.stdout, (l) => logs.push(l));
  onLines(proc.stderr, (l) => logs.push(l));
  const url = `http://127.0.0.1:${port}`;
  const early = exited(proc).then(({ code }) => {
    throw new Error(`haproxy exited at start (code ${code}):\n${logs.join('\n')}`);
  });
  await Promise.race([
    early,
    pollUntil(async () => (await httpGet(`${url}/readyz`, { timeoutMs: 2000 })).status === 200, { timeoutMs: ms(20000), message: 'haproxy to serve /readyz' }),
  ]);
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    port,
    logs,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const done = exited(proc);
        proc.kill('SIGTERM');
        await withTimeout(done, ms(10000), 'haproxy to exit').catch(() => proc.kill('SIGKILL'));
      }
      rmTmp(dir);
    },
  };
}
