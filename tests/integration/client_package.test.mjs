// client_package.test.mjs: the npm package @wsgate/client (web/package,
// docs/client.md "Installing from npm"), as a user gets it:
//  1. `npm pack` of a copy of web/package (its prepack builds dist/ from
//     web/wsgate.js) gives a tarball with exactly the built files, no
//     dependencies, and an exports map with import/require/types;
//  2. a clean consumer project (package.json without "type": "module")
//     installs the tarball offline; a CommonJS script (`require`) and an ES
//     module script (`import`) each connect to a real gateway with the `ws`
//     package, subscribe, await the subscription's promise (ok), get a
//     published event, and see the promise reject with WsGateError
//     `forbidden` on a gateway with --jwt-secret for a subject outside the
//     token's `subs`; both entry points export the same names;
//  3. the .d.ts type-checks a CommonJS and an ES module TypeScript consumer
//     under `strict` (typescript from tests/ devDependencies), with
//     @ts-expect-error lines proving the types are not `any`;
//  4. the dist/wsgate.cjs conversion refuses source forms it does not handle;
//  5. the gateway does not serve web/package (cmake/embed.cmake leaves it out)
//     but does serve /wsgate.js, the package's source.
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { test, before, after, publish, httpGet, withTimeout, ms } from '../lib/harness.mjs';
import { mint } from '../lib/jwt.mjs';
import { startGatewayPair } from '../lib/pair.mjs';
import { onLines } from '../lib/util.mjs';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const WEB = path.resolve(import.meta.dirname, '../../web');
const PKG_DIR = path.join(WEB, 'package');
const WS_PATH = require.resolve('ws');
const TSC = path.resolve(import.meta.dirname, '../node_modules/typescript/bin/tsc');

let nats;
let gw; // no auth
let gwAuth; // --jwt-secret
let pub;
let dir;
let secret;
let tarball;
let consumer;

/** Copy the package sources (and the one source file outside it) to a fresh tree, as a checkout has them. */
function copySources(to) {
  fs.mkdirSync(path.join(to, 'web', 'package'), { recursive: true });
  fs.copyFileSync(path.join(WEB, 'wsgate.js'), path.join(to, 'web', 'wsgate.js'));
  for (const f of ['package.json', 'build.mjs', 'wsgate.d.ts', 'README.md']) {
    fs.copyFileSync(path.join(PKG_DIR, f), path.join(to, 'web', 'package', f));
  }
  return path.join(to, 'web', 'package');
}

// npm with its own cache in this test's directory (no shared state with other npm runs on the machine)
const npm = (args, cwd) =>
  run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    timeout: ms(120000),
    env: { ...process.env, npm_config_cache: path.join(dir, 'npm-cache'), npm_config_update_notifier: 'false' },
  });

let pair;

before(async () => {
  pair = await startGatewayPair('client-package');
  ({ dir, secret, nats, gw, gwAuth, pub } = pair);
});

after(async () => {
  await pair?.stop();
});

test('npm pack: the built files only, no dependencies, exports with import/require/types', { timeout: 180000 }, async () => {
  const src = copySources(path.join(dir, 'src'));
  const packDir = path.join(dir, 'pack');
  fs.mkdirSync(packDir);
  const { stdout } = await npm(['pack', '--json', '--pack-destination', packDir], src);
  const [info] = JSON.parse(stdout);
  tarball = path.join(packDir, info.filename);
  assert.ok(fs.existsSync(tarball), tarball);
  const files = info.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['README.md', 'dist/wsgate.cjs', 'dist/wsgate.d.cts', 'dist/wsgate.d.mts', 'dist/wsgate.mjs', 'package.json']);
  const manifest = JSON.parse(fs.readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8'));
  assert.equal(info.name, manifest.name);
  for (const k of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies']) assert.equal(manifest[k], undefined, k);
  assert.equal(manifest.type, undefined, 'no "type": the .cjs/.mjs extensions say it');
  const dot = manifest.exports['.'];
  assert.deepEqual(Object.keys(dot), ['import', 'require']);
  assert.deepEqual(Object.keys(dot.import), ['types', 'default'], 'types first (TypeScript reads conditions in order)');
  assert.deepEqual(Object.keys(dot.require), ['types', 'default']);
  // the ESM file is web/wsgate.js, byte for byte (what the gateway serves)
  const built = path.join(src, 'dist');
  assert.ok(fs.readFileSync(path.join(built, 'wsgate.mjs'), 'utf8') === fs.readFileSync(path.join(WEB, 'wsgate.js'), 'utf8'), 'dist/wsgate.mjs is web/wsgate.js');
  for (const f of ['wsgate.d.cts', 'wsgate.d.mts']) {
    assert.ok(fs.readFileSync(path.join(built, f), 'utf8') === fs.readFileSync(path.join(PKG_DIR, 'wsgate.d.ts'), 'utf8'), `dist/${f} is wsgate.d.ts`);
  }
  // every runtime export is declared in the .d.ts, and nothing more
  const runtime = Object.keys(await import(path.join(WEB, 'wsgate.js'))).filter((k) => k !== 'default').sort();
  const dts = fs.readFileSync(path.join(PKG_DIR, 'wsgate.d.ts'), 'utf8');
  const declared = [...dts.matchAll(/^export declare (?:const|function|class) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, runtime, 'wsgate.d.ts declares exactly the values wsgate.js exports');
  assert.match(dts, /^export default WsGate;$/m);
});

/** A clean consumer project: no "type" (so .js is CommonJS), the tarball installed offline. */
async function makeConsumer() {
  if (consumer) return consumer;
  assert.ok(tarball, 'the npm pack test ran first');
  consumer = path.join(dir, 'consumer');
  fs.mkdirSync(consumer);
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
  await npm(['install', '--offline', tarball], consumer);
  const installed = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', '@wsgate', 'client', 'package.json'), 'utf8'));
  assert.equal(installed.name, '@wsgate/client');
  const lock = JSON.parse(fs.readFileSync(path.join(consumer, 'package-lock.json'), 'utf8'));
  assert.deepEqual(Object.keys(lock.packages).sort(), ['', 'node_modules/@wsgate/client'], 'nothing else installed');
  return consumer;
}

// The body both consumer scripts run, with the package's exports and ws.
// It prints one JSON line per step; the test publishes when it reads "ready".
const BODY = `
async function main(pkg, WebSocket, resolved) {
  const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
  const { WsGate, WsGateError } = pkg;
  out({ step: 'loaded', resolved, names: Object.keys(pkg).filter((k) => k !== '__esModule').sort(), defaultIsWsGate: pkg.default === WsGate });
  const gate = new WsGate({ url: process.env.WS_URL, WebSocket }).connect();
  let resolveMsg;
  const gotMsg = new Promise((r) => (resolveMsg = r));
  const sub = gate.subscribe(process.env.PATTERN, (m) => resolveMsg(m));
  const callable = typeof sub === 'function';
  const ok = await sub;
  out({ step: 'ready', callable, ok });
  const m = await gotMsg;
  sub(); // unsubscribe: it is still the function it always was
  out({ step: 'msg', msg: m });
  gate.close();

  const authed = new WsGate({ url: process.env.WS_AUTH_URL, WebSocket, token: process.env.TOKEN }).connect();
  const allowed = await authed.subscribe('license.>', () => {});
  let refusal = null;
  try {
    await authed.subscribe('batch.>', () => {});
  } catch (e) {
    refusal = { isWsGateError: e instanceof WsGateError, isError: e instanceof Error, code: e.code, subject: e.subject, message: e.message };
  }
  out({ step: 'auth', allowed, refusal });
  authed.close();
}
`;

const CJS = `'use strict';
const pkg = require('@wsgate/client');
const WebSocket = require(process.env.WS_PATH);
${BODY}
main(pkg, WebSocket, require.resolve('@wsgate/client')).catch((e) => { console.error(e); process.exit(1); });
`;

const ESM = `import * as pkg from '@wsgate/client';
import WsGateDefault, { WsGate } from '@wsgate/client';
import { createRequire } from 'node:module';
const WebSocket = createRequire(import.meta.url)(process.env.WS_PATH);
if (WsGateDefault !== WsGate) throw new Error('default export is not WsGate');
${BODY}
await main(pkg, WebSocket, import.meta.resolve('@wsgate/client'));
`;

/** Run a consumer script; publish an event when it says "ready"; resolve its JSON lines by step. */
async function runConsumer(file, tag) {
  const pattern = `license.${tag}.>`;
  const token = mint({ sub: 'pkg-test', subs: ['license.>'] }, { key: secret });
  const proc = spawn(process.execPath, [file], {
    cwd: consumer,
    env: { PATH: process.env.PATH, WS_URL: gw.wsUrl, WS_AUTH_URL: gwAuth.wsUrl, TOKEN: token, PATTERN: pattern, WS_PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const steps = {};
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  let published = null;
  onLines(proc.stdout, (l) => {
    const o = JSON.parse(l);
    steps[o.step] = o;
    if (o.step === 'ready') published = publish(pub.js, `license.${tag}.assigned`, { batch_id: tag, license_id: 'L1', worker: 0 });
  });
  const code = await withTimeout(new Promise((r) => proc.once('exit', r)), ms(30000), `${file} to exit`).catch((e) => {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}\nstderr: ${stderr}\nsteps: ${JSON.stringify(steps)}`);
  });
  assert.equal(code, 0, `${file} exited ${code}: ${stderr}`);
  return { steps, seq: await published, pattern };
}

function checkRun({ steps, seq, pattern }, tag, entry) {
  assert.ok(steps.loaded.resolved.endsWith(entry), `${steps.loaded.resolved} is the ${entry} entry`);
  assert.deepEqual(steps.loaded.names, ['PROTOCOL_VERSION', 'WsGate', 'WsGateError', 'default', 'patternsOverlap', 'subjectMatches']);
  assert.equal(steps.loaded.defaultIsWsGate, true);
  assert.equal(steps.ready.callable, true, 'subscribe() still returns the unsubscribe function');
  assert.equal(steps.ready.ok.subject, pattern);
  assert.ok(Number.isInteger(steps.ready.ok.seq), JSON.stringify(steps.ready.ok));
  assert.deepEqual(steps.msg.msg, { subject: `license.${tag}.assigned`, seq, data: { batch_id: tag, license_id: 'L1', worker: 0 } });
  assert.equal(steps.auth.allowed.subject, 'license.>');
  assert.ok(steps.auth.refusal, 'the promise of a subscription outside the token\'s subs did not reject');
  assert.deepEqual(
    { ...steps.auth.refusal, message: undefined },
    { isWsGateError: true, isError: true, code: 'forbidden', subject: 'batch.>', message: undefined },
    JSON.stringify(steps.auth.refusal),
  );
}

test('a clean CommonJS consumer: require(), subscribe, the promise resolves on ok and rejects on forbidden', { timeout: 180000 }, async () => {
  await makeConsumer();
  fs.writeFileSync(path.join(consumer, 'main.js'), CJS);
  checkRun(await runConsumer('main.js', 'pkgcjs'), 'pkgcjs', '/node_modules/@wsgate/client/dist/wsgate.cjs');
});

test('the same consumer as an ES module: import, named and default exports', { timeout: 180000 }, async () => {
  await makeConsumer();
  fs.writeFileSync(path.join(consumer, 'main.mjs'), ESM);
  checkRun(await runConsumer('main.mjs', 'pkgesm'), 'pkgesm', '/node_modules/@wsgate/client/dist/wsgate.mjs');
});

// TypeScript consumers: what must compile, and (@ts-expect-error) what must not.
const TS_BODY = `
const gate = new WsGate({ url: 'ws://127.0.0.1:1/ws', WebSocket: class { constructor(_url: string) {} }, resumeState: { version: 1, epoch: null, subs: {} } });
gate.on('status', (s) => { const st: 'connecting' | 'live' | 'reconnecting' | 'closed' = s.status; void st; });
gate.on('reset', (r) => { const why: 'epoch' | 'not_recovered' = r.reason; void why; });
gate.on('hello', (h) => { const e: string = h.epoch; const n: number = h.heartbeat_ms; void e; void n; });
gate.on('error', (e) => { const c: string = e.code; void c; });
gate.on('close', (c) => { const n: number = c.code; void n; });
const sub = gate.subscribe('batch.*.progress', (m) => { const d: number = m.data.done + m.data.failed; const s: number = m.seq; void d; void s; });
sub();
sub.unsubscribe();
const p: PromiseLike<SubscribeOk> = sub;
void p;
async function f() {
  const ok = await gate.subscribe('license.>', (m) => {
    const w: number = m.data.worker;
    if ('error' in m.data) { const e: string = m.data.error; void e; }
    void w;
  }, { since: 10, epoch: 'e' });
  const seq: number | null = ok.seq;
  void seq;
  try { await gate.subscribe('verification.FR.*', (m) => { const st: VerificationStatus = m.data.status; void st; }); }
  catch (e) { if (e instanceof WsGateError) { const c: string = e.code; void c; } }
  const state: ResumeState = gate.resumeState();
  gate.importResumeState(JSON.stringify(state)).connect();
  gate.subscribe('custom.>', (m: WsGateMessage<{ n: number }>) => { const n: number = m.data.n; void n; });
  const started: BatchStarted | undefined = undefined; void started;
}
void f;
// @ts-expect-error: not an event
gate.on('nope', () => {});
// @ts-expect-error: status details have no such field
gate.on('status', (s) => s.nonexistent);
// @ts-expect-error: progress payloads have no license_id
gate.subscribe('batch.b1.progress', (m) => m.data.license_id);
// @ts-expect-error: license payloads have no done
gate.subscribe('license.>', (m) => m.data.done);
// @ts-expect-error: an unknown subject's payload is unknown
gate.subscribe('other.>', (m) => m.data.anything);
// @ts-expect-error: since is a number
gate.subscribe('batch.>', () => {}, { since: '5' });
// @ts-expect-error: a resume state needs version 1
gate.importResumeState({ version: 2, epoch: null, subs: {} });
// @ts-expect-error: the promise resolves with the ok, not a string
gate.subscribe('batch.>', () => {}).then((ok: string) => ok);
`;

test('the .d.ts type-checks CommonJS and ES module TypeScript consumers (strict)', { timeout: 180000 }, async (t) => {
  if (!fs.existsSync(TSC)) {
    t.skip('typescript is not installed in tests/node_modules (npm ci)');
    return;
  }
  await makeConsumer();
  const ts = path.join(consumer, 'ts');
  fs.mkdirSync(ts);
  // in the consumer project (no "type"): .ts is CommonJS, .mts is an ES module
  fs.writeFileSync(
    path.join(ts, 'cjs.ts'),
    `import WsGateDefault = require('@wsgate/client');\nimport { WsGate, WsGateError } from '@wsgate/client';\nimport type { SubscribeOk, ResumeState, WsGateMessage, VerificationStatus, BatchStarted } from '@wsgate/client';\nconst same: typeof WsGate = WsGateDefault.WsGate; void same;\n${TS_BODY}`,
  );
  fs.writeFileSync(
    path.join(ts, 'esm.mts'),
    `import WsGateDefault, { WsGate, WsGateError } from '@wsgate/client';\nimport type { SubscribeOk, ResumeState, WsGateMessage, VerificationStatus, BatchStarted } from '@wsgate/client';\nconst same: typeof WsGate = WsGateDefault; void same;\n${TS_BODY}`,
  );
  fs.writeFileSync(
    path.join(consumer, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'node16', moduleResolution: 'node16', target: 'es2022', lib: ['es2022'], types: [], skipLibCheck: false }, include: ['ts'] }),
  );
  const r = await run(process.execPath, [TSC, '-p', consumer], { cwd: consumer, timeout: ms(120000) }).catch((e) => e);
  assert.equal(r.code ?? 0, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
  // and tsc does fail on a type error: the checks above can fail
  fs.writeFileSync(path.join(ts, 'bad.ts'), `import { WsGate } from '@wsgate/client';\nnew WsGate().subscribe('batch.*.progress', (m) => m.data.license_id);\n`);
  const bad = await run(process.execPath, [TSC, '-p', consumer], { cwd: consumer, timeout: ms(120000) }).catch((e) => e);
  fs.rmSync(path.join(ts, 'bad.ts'));
  assert.notEqual(bad.code ?? 0, 0, 'tsc accepted a wrong payload field');
  assert.match(bad.stdout, /license_id/);
});

test('the CommonJS conversion refuses import/export forms it does not handle', async () => {
  const { toCommonJS } = await import(path.join(PKG_DIR, 'build.mjs'));
  const cjs = toCommonJS('export const A = 1;\nexport function f() { return A; }\nexport class C {}\nexport default C;\n');
  const mod = { exports: {} };
  new Function('exports', 'module', cjs)(mod.exports, mod);
  assert.deepEqual(Object.keys(mod.exports).sort(), ['A', 'C', 'default', 'f']);
  assert.equal(mod.exports.default, mod.exports.C);
  assert.equal(mod.exports.f(), 1);
  for (const src of ['export { A };\nconst A = 1;\n', "import x from 'y';\nexport const A = x;\n", 'export const A = 1;\nconst u = import.meta.url;\n', "export const A = () => import('z');\n"]) {
    assert.throws(() => toCommonJS(src), /does not handle/, src);
  }
});

test('the gateway serves /wsgate.js but nothing of web/package', async () => {
  const js = await httpGet(`${gw.url}/wsgate.js`);
  assert.equal(js.status, 200);
  assert.ok(js.text === fs.readFileSync(path.join(WEB, 'wsgate.js'), 'utf8'), '/wsgate.js is web/wsgate.js (rebuild the binary after editing it)');
  for (const f of ['package.json', 'build.mjs', 'wsgate.d.ts', 'README.md']) {
    assert.ok(fs.existsSync(path.join(PKG_DIR, f)), f);
    const r = await httpGet(`${gw.url}/package/${f}`);
    assert.equal(r.status, 404, `/package/${f} is served`);
  }
});
