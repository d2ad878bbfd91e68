// config.test.mjs: the command line, WSGATE_* environment and --config file
// (PROTOCOL.md "Command line"): defaults < file < environment < flags.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, before, after, startNats, startGateway, runGateway, connect, freePort, httpGet, pollUntil, mkTmp, rmTmp } from '../lib/harness.mjs';

let nats;
let dir;

before(async () => {
  nats = await startNats();
  dir = mkTmp('config');
});

after(async () => {
  await nats?.stop();
  if (dir) rmTmp(dir);
});

function writeConfig(name, obj) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return file;
}

/** Start a gateway with these extra args/env, resolve its hello, stop it. */
async function helloOf(t, { args = [], env = {} } = {}) {
  const gw = await startGateway({ natsUrl: nats.url, args, env });
  t.after(() => gw.stop());
  const c = await connect(gw.wsUrl);
  await c.close();
  return c.hello;
}

/** Run wsgate with args meant to fail: a non-zero exit, one line naming `what`. */
async function expectStartupError(args, what, env = {}) {
  const port = await freePort();
  const all = ['--listen', `127.0.0.1:${port}`, '--nats', nats.url, ...args];
  const r = await runGateway(all, { env });
  const shown = `wsgate ${all.join(' ')} ${JSON.stringify(env)}: code ${r.code} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assert.equal(r.signal, null, `exits by itself: ${shown}`);
  assert.notEqual(r.code, 0, `non-zero exit: ${shown}`);
  const lines = (r.stderr + r.stdout).split('\n').filter((l) => l.trim());
  assert.equal(lines.length, 1, `exactly one line of output: ${shown}`);
  assert.match(lines[0], what, `the line names the option: ${shown}`);
}

test('--help prints every option to stdout and exits 0', async () => {
  const r = await runGateway(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const flag of [
    '--listen', '--nats', '--stream', '--stream-subjects', '--stream-max-msgs', '--max-frame', '--queue-bytes',
    '--max-subs', '--ops-rate', '--ops-burst', '--err-limit', '--err-window', '--heartbeat', '--ping-timeout',
    '--ring-msgs', '--last-value', '--log-format', '--config', '--jwt-secret', '--jwt-public-key',
    '--allowed-origins', '--help', '--version',
  ]) {
    assert.ok(new RegExp(`${flag}(?![-a-z])`).test(r.stdout), `--help mentions ${flag}`);
  }
});

test('--help documents the protective defaults: 256 connections per address, 60s idle timeout', async () => {
  const r = await runGateway(['--help']);
  assert.match(r.stdout, /--max-conns-per-ip N .*default 256\)/);
  assert.match(r.stdout, /--idle-timeout DURATION .*default 60s\)/);
});

test('--version prints the version to stdout and exits 0', async () => {
  const r = await runGateway(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\d+\.\d+\.\d+/);
  assert.ok(r.stdout.trim().split('\n').length <= 2, `short: ${r.stdout}`);
});

test('a malformed value stops start-up with one line naming the option', async () => {
  await expectStartupError(['--max-frame', 'abc'], /max-frame/);
  await expectStartupError(['--max-frame', '-5'], /max-frame/);
  await expectStartupError(['--heartbeat', 'soon'], /heartbeat/);
  await expectStartupError(['--log-format', 'xml'], /log-format/);
  await expectStartupError(['--max-subs'], /max-subs/); // value missing
});

test('an unknown flag stops start-up with one line naming it', async () => {
  await expectStartupError(['--no-such-flag', '1'], /no-such-flag/);
});

test('a malformed WSGATE_* variable stops start-up naming it', async () => {
  await expectStartupError([], /MAX_FRAME|max-frame/, { WSGATE_MAX_FRAME: 'abc' });
});

test('an unknown WSGATE_* variable stops start-up with one line naming it', async () => {
  await expectStartupError([], /WSGATE_MAX_FRAMES/, { WSGATE_MAX_FRAMES: '4096' });
});

test('an unknown config key or a config file that is not JSON stops start-up', async () => {
  await expectStartupError(['--config', writeConfig('unknown.json', { 'no-such-key': 1 })], /no-such-key/);
  await expectStartupError(['--config', writeConfig('broken.json', '{"max-frame": ')], /broken\.json|config/);
  await expectStartupError(['--config', path.join(dir, 'missing.json')], /missing\.json|config/);
});

test('WSGATE_MAX_FRAME applies (hello.max_frame)', async (t) => {
  const h = await helloOf(t, { env: { WSGATE_MAX_FRAME: '3072' } });
  assert.equal(h.max_frame, 3072);
});

test('--config FILE applies', async (t) => {
  const file = writeConfig('apply.json', { 'max-frame': 2048, heartbeat: '7s' });
  const h = await helloOf(t, { args: ['--config', file] });
  assert.equal(h.max_frame, 2048);
  assert.equal(h.heartbeat_ms, 7000);
});

test('WSGATE_CONFIG names the config file', async (t) => {
  const file = writeConfig('env.json', { 'max-frame': 2222 });
  const h = await helloOf(t, { env: { WSGATE_CONFIG: file } });
  assert.equal(h.max_frame, 2222);
});

test('precedence: flags > environment > file > defaults', async (t) => {
  const file = writeConfig('prec.json', { 'max-frame': 2048, heartbeat: '7s' });
  const all = await helloOf(t, { args: ['--config', file, '--max-frame', '4096'], env: { WSGATE_MAX_FRAME: '3072', WSGATE_HEARTBEAT: '9s' } });
  assert.equal(all.max_frame, 4096, 'flag beats env and file');
  assert.equal(all.heartbeat_ms, 9000, 'env beats file');
  const envFile = await helloOf(t, { args: ['--config', file], env: { WSGATE_MAX_FRAME: '3072' } });
  assert.equal(envFile.max_frame, 3072, 'env beats file');
  assert.equal(envFile.heartbeat_ms, 7000, 'file beats default');
  // The flag wins wherever it stands on the command line relative to --config.
  const flagFirst = await helloOf(t, { args: ['--max-frame', '4096', '--config', file] });
  assert.equal(flagFirst.max_frame, 4096, 'flag before --config still beats the file');
});

test('--listen 127.0.0.1:0 logs the port the kernel chose, and serves on it', async (t) => {
  const gw = await startGateway({ natsUrl: nats.url, args: ['--listen', '127.0.0.1:0'], wait: 'none' });
  t.after(() => gw.stop());
  const line = await pollUntil(() => gw.jsonLogs().find((l) => l.event === 'listening'), { message: 'a "listening" log line' });
  assert.equal(line.host, '127.0.0.1');
  assert.ok(Number.isInteger(line.port) && line.port > 0 && line.port !== gw.port, `a real port, not 0: ${JSON.stringify(line)}`);
  const url = `http://127.0.0.1:${line.port}`;
  await pollUntil(async () => (await httpGet(url + '/readyz', { timeoutMs: 2000 })).status === 200, { message: `GET ${url}/readyz == 200` });
  const c = await connect(`ws://127.0.0.1:${line.port}/ws`);
  assert.equal(c.hello.op, 'hello');
  await c.close();
});
