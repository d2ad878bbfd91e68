// secrets.test.mjs: credentials never reach the logs. The NATS password is
// given in the server URL (nats://user:password@host:port); after a NATS
// restart the gateway logs `nats_reconnected` with host and port only.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test, after, startGateway, httpGet, pollUntil, withTimeout, mkTmp, rmTmp, ms } from '../lib/harness.mjs';
import { freePort, exited, onLines, track } from '../lib/util.mjs';

const password = 'nats-s3cret-pw';
let dir;

after(() => dir && rmTmp(dir));

/** nats-server with JetStream and user/password on the given ports; resolves {stop()}. */
async function runNats(port, httpPort, store) {
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort), '-js', '-sd', store, '--user', 'wsgate', '--pass', password];
  const proc = track(spawn(process.env.NATS_SERVER || 'nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const logs = [];
  onLines(proc.stdout, (l) => logs.push(l));
  onLines(proc.stderr, (l) => logs.push(l));
  const gone = exited(proc);
  await Promise.race([
    pollUntil(async () => (await httpGet(`http://127.0.0.1:${httpPort}/healthz?js-enabled-only=true`, { timeoutMs: 2000 })).status === 200, { timeoutMs: ms(20000), message: 'nats-server healthy' }),
    gone.then(() => {
      throw new Error(`nats-server exited:\n${logs.join('\n')}`);
    }),
  ]);
  return {
    async stop() {
      proc.kill('SIGKILL');
      await withTimeout(gone, ms(10000), 'nats-server exit');
    },
  };
}

test('the NATS password in --nats is not logged, also not on reconnect', { timeout: 120000 }, async (t) => {
  dir = mkTmp('secrets');
  const port = await freePort();
  const httpPort = await freePort();
  const store = path.join(dir, 'js');
  let ns = await runNats(port, httpPort, store);
  t.after(() => ns.stop());
  const gw = await startGateway({ natsUrl: `nats://wsgate:${password}@127.0.0.1:${port}` });
  t.after(() => gw.stop());
  await ns.stop();
  await pollUntil(async () => (await httpGet(`${gw.url}/readyz`)).status === 503, { timeoutMs: ms(30000), message: '/readyz 503 with NATS down' });
  ns = await runNats(port, httpPort, store);
  const line = await pollUntil(() => gw.jsonLogs().find((l) => l.event === 'nats_reconnected' || l.msg === 'nats_reconnected'), {
    timeoutMs: ms(60000),
    message: 'a nats_reconnected log line',
  });
  assert.ok(!gw.logs.join('\n').includes(password), `the gateway logged the NATS password:\n${gw.logs.filter((l) => l.includes(password)).join('\n')}`);
  assert.equal(line.server, `127.0.0.1:${port}`, JSON.stringify(line));
});
