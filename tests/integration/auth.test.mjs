// auth.test.mjs: JWT authentication at the upgrade (PROTOCOL.md "Authentication"):
// HS256 / RS256 / ES256 with the algorithm pinned by the configured key, the
// claims exp / nbf / subs, the 4002 close when exp passes on a live
// connection, and tokens never written to the gateway's log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { test, before, after, startNats, startGateway, runGateway, connect, natsClient, publish, pollUntil, withTimeout, mkTmp, rmTmp, ms } from '../lib/harness.mjs';
import { responseOf } from '../lib/util.mjs';
import { mint, nowS, b64url, sign, randomSecret, rsaKeyPair, ecKeyPair, writeKeyFile } from '../lib/jwt.mjs';

let nats;
let natsc;
let dir;
let secret;
let rsa;
let ec;
let gwHS; // --jwt-secret (file ends with one newline), --log-level debug
let gwRS; // --jwt-public-key RSA
let gwES; // --jwt-public-key EC P-256

/** Every token this file sends: none may show up in any gateway's log. */
const usedTokens = new Set();
const track = (tok) => (usedTokens.add(tok), tok);

before(async () => {
  dir = mkTmp('auth');
  secret = randomSecret();
  rsa = rsaKeyPair();
  ec = ecKeyPair();
  const secretFile = writeKeyFile(dir, 'secret', secret + '\n');
  const rsaFile = writeKeyFile(dir, 'rsa.pem', rsa.publicPem);
  const ecFile = writeKeyFile(dir, 'ec.pem', ec.publicPem);
  nats = await startNats();
  natsc = await natsClient(nats.url);
  [gwHS, gwRS, gwES] = await Promise.all([
    startGateway({ natsUrl: nats.url, name: 'wsgate-hs256', args: ['--jwt-secret', secretFile, '--log-level', 'debug'] }),
    startGateway({ natsUrl: nats.url, name: 'wsgate-rs256', args: ['--jwt-public-key', rsaFile] }),
    startGateway({ natsUrl: nats.url, name: 'wsgate-es256', args: ['--jwt-public-key', ecFile] }),
  ]);
});

after(async () => {
  for (const g of [gwHS, gwRS, gwES]) if (g) await g.stop();
  await natsc?.close();
  await nats?.stop();
  if (dir) rmTmp(dir);
});

const hs = (claims, opts = {}) => track(mint(claims, { alg: 'HS256', key: secret, ...opts }));
const rs = (claims, opts = {}) => track(mint(claims, { alg: 'RS256', key: rsa.privateKey, ...opts }));
const es = (claims, opts = {}) => track(mint(claims, { alg: 'ES256', key: ec.privateKey, ...opts }));
const bearer = (tok) => ({ Authorization: `Bearer ${tok}` });

/**
 * Attempt an upgrade that should be refused. Resolves {status, headers, body} of
 * the HTTP response ws reported through 'unexpected-response' (so no 101 was
 * sent). Rejects if the upgrade succeeded or the socket failed without an
 * HTTP response.
 */
function refusal(url, headers = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, handshakeTimeout: ms(10000) });
      ws.once('unexpected-response', (req, res) =>
        responseOf(res).then((r) => {
          resolve(r);
          req.destroy();
        }),
      );
      ws.once('open', () => {
        ws.terminate();
        reject(new Error(`upgrade to ${url.slice(0, 80)} was accepted (101), expected a refusal`));
      });
      ws.once('error', (e) => reject(new Error(`upgrade failed without an HTTP response: ${e.message}`)));
    }),
    ms(15000),
    `refusal of ${url.slice(0, 80)}`,
  );
}

/** The reasons of the gateway's upgrade_refused log lines, in order. */
const refusedReasons = (gw) => gw.jsonLogs().filter((l) => l.event === 'upgrade_refused' || l.msg === 'upgrade_refused').map((l) => l.reason);

/** Expect a 401 for the upgrade (header or query); check the logged reason when given. */
async function expect401(gw, { headers = {}, query = '' } = {}, reason) {
  const n = refusedReasons(gw).length;
  const r = await refusal(gw.wsUrl + query, headers);
  assert.equal(r.status, 401, `HTTP status of the refused upgrade (${reason ?? ''})`);
  assert.match(String(r.headers['www-authenticate'] ?? ''), /^Bearer/, 'WWW-Authenticate: Bearer');
  assert.equal(r.headers.upgrade, undefined, 'no Upgrade header on a refusal');
  // Every refusal logs one line, written after the response may have
  // arrived: wait for this one's line on every call so that the next call's
  // count starts after it, then read the line at this call's index.
  const reasons = await pollUntil(() => (refusedReasons(gw).length > n ? refusedReasons(gw) : null), { timeoutMs: ms(5000), message: 'an upgrade_refused log line' });
  if (reason) assert.equal(reasons[n], reason, 'logged refusal reason');
  // The body says why too (the logged reason, never the token), as JSON.
  assert.match(String(r.headers['content-type']), /^application\/json/, `content type of ${r.body}`);
  assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body), 'Content-Length is the body');
  assert.deepEqual(JSON.parse(r.body), { error: reasons[n] }, 'the body names the reason');
  return r;
}

/** Connect with the token and expect hello; closes the client after the test. */
async function accepted(t, gw, tok, how = 'header') {
  const url = how === 'query' ? `${gw.wsUrl}?token=${encodeURIComponent(tok)}` : gw.wsUrl;
  const c = await connect(url, { headers: how === 'header' ? bearer(tok) : {} });
  t.after(() => c.close());
  assert.equal(c.hello?.op, 'hello');
  return c;
}

// ---------------------------------------------------------------- HS256

test('HS256: a valid token in Authorization: Bearer is accepted (hello)', async (t) => {
  await accepted(t, gwHS, hs({ sub: 'client-a', subs: ['license.>'] }));
});

test('HS256: a valid token in ?token= is accepted (hello)', async (t) => {
  await accepted(t, gwHS, hs({ sub: 'client-q', subs: ['license.>'] }), 'query');
});

test('HS256: nbf in the past and a typ-less header are accepted', async (t) => {
  await accepted(t, gwHS, hs({ nbf: nowS() - 60 }));
  await accepted(t, gwHS, hs({}, { header: { typ: undefined } }));
});

test('missing token: 401 before any upgrade', async () => {
  await expect401(gwHS, {}, 'missing token');
  await expect401(gwHS, { headers: { Authorization: 'Basic dXNlcjpwYXNz' } }, 'missing token');
  await expect401(gwHS, { query: '?token=' }, 'missing token');
});

test('malformed tokens: 401', async () => {
  const good = hs({});
  const [h, p, s] = good.split('.');
  const cases = [
    'not-a-jwt',
    `${h}.${p}`, // two segments
    `${good}.x`, // four segments
    `.${p}.${s}`, // empty header
    `${b64url('{not json')}.${p}.${s}`,
    `${b64url('[1,2]')}.${p}.${s}`,
    `${h}.${p}.${s}!`, // not base64url
  ];
  for (const tok of cases) {
    track(tok);
    await expect401(gwHS, { headers: bearer(tok) });
  }
  // A well-signed token whose payload is not JSON.
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url('nope')}`;
  const tok = track(`${input}.${b64url(sign('HS256', input, secret))}`);
  await expect401(gwHS, { headers: bearer(tok) }, 'malformed token');
});

test('bad signature: 401 (other secret, tampered payload, truncated signature)', async () => {
  await expect401(gwHS, { headers: bearer(mint({}, { key: 'another secret' })) }, 'bad signature');
  const [h, , s] = hs({ subs: ['license.b1.>'] }).split('.');
  const tampered = track(`${h}.${b64url(JSON.stringify({ exp: nowS() + 300, subs: ['>'] }))}.${s}`);
  await expect401(gwHS, { headers: bearer(tampered) }, 'bad signature');
  const good = hs({});
  const truncated = track(good.slice(0, good.lastIndexOf('.') + 12));
  await expect401(gwHS, { headers: bearer(truncated) });
  // The secret file's trailing newline is not part of the key.
  await expect401(gwHS, { headers: bearer(track(mint({}, { key: secret + '\n' }))) }, 'bad signature');
});

test('alg none is refused: 401', async () => {
  await expect401(gwHS, { headers: bearer(track(mint({}, { alg: 'none' }))) }, 'algorithm not allowed');
  // "none" in the header but with a valid HS256 signature of that input.
  const input = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify({ exp: nowS() + 300 }))}`;
  await expect401(gwHS, { headers: bearer(track(`${input}.${b64url(sign('HS256', input, secret))}`)) }, 'algorithm not allowed');
  await expect401(gwHS, { headers: bearer(track(mint({}, { key: secret, header: { alg: 'hs256' } }))) }, 'algorithm not allowed');
});

test('exp: expired and missing exp are refused: 401', async () => {
  await expect401(gwHS, { headers: bearer(hs({ exp: nowS() - 10 })) }, 'token expired');
  await expect401(gwHS, { query: `?token=${hs({ exp: nowS() - 1 })}` }, 'token expired');
  await expect401(gwHS, { headers: bearer(hs({ exp: undefined })) }, 'missing exp');
  await expect401(gwHS, { headers: bearer(hs({ exp: String(nowS() + 300) })) }, 'bad claims');
});

test('nbf in the future: 401', async () => {
  await expect401(gwHS, { headers: bearer(hs({ nbf: nowS() + 120 })) }, 'token not yet valid');
});

test('oversized token (> 8 KiB): 401 before any parsing', async () => {
  // A validly signed token: only its size makes it unacceptable.
  const big = hs({ pad: 'x'.repeat(9000) });
  assert.ok(big.length > 8192);
  // In the header: lws accepts the header block (its limit is 12 KiB), the gateway refuses.
  await expect401(gwHS, { headers: bearer(big) }, 'token too long');
  // In the query: too long for the gateway's buffer, so it is not found at all.
  await expect401(gwHS, { query: `?token=${big}` });
  // Over lws's header space (max_http_header_data = 8 KiB + 4 KiB): lws 4.1.6
  // logs "Ran out of header data space" and drops the socket before the
  // gateway sees the request, so there is no HTTP status at all; a 431 or a
  // 401 would do as well. What matters: no upgrade, and the gateway lives on.
  const huge = hs({ pad: 'x'.repeat(16 * 1024) });
  const outcome = await withTimeout(
    new Promise((resolve) => {
      const ws = new WebSocket(gwHS.wsUrl, { headers: bearer(huge) });
      ws.once('open', () => (ws.terminate(), resolve('open')));
      ws.once('unexpected-response', (req, res) => (req.destroy(), resolve(res.statusCode)));
      ws.once('error', (e) => resolve(`error: ${e.message}`));
    }),
    ms(10000),
    'the 16 KiB token upgrade',
  );
  assert.ok(outcome === 401 || outcome === 431 || /^error: (socket hang up|read ECONNRESET)/.test(String(outcome)), `16 KiB token: ${outcome}`);
  assert.equal(gwHS.proc.exitCode, null, 'the gateway is still running');
  assert.equal(gwHS.proc.signalCode, null, 'the gateway did not crash');
  // The gateway still serves.
  await accepted({ after() {} }, gwHS, hs({})).then((c) => c.close());
});

// ---------------------------------------------------------------- RS256 / ES256

test('RS256: a valid token is accepted with the RSA public key', async (t) => {
  await accepted(t, gwRS, rs({ sub: 'rsa-client' }));
  await accepted(t, gwRS, rs({}), 'query');
});

test('ES256: a valid token is accepted with the EC P-256 public key', async (t) => {
  await accepted(t, gwES, es({ sub: 'ec-client' }));
  await accepted(t, gwES, es({}), 'query');
});

test('RS256 key: HS256 tokens are refused, including the key-confusion attack: 401', async () => {
  await expect401(gwRS, { headers: bearer(hs({})) }, 'algorithm not allowed');
  // HS256 "signed" with the public PEM as the HMAC secret (the classic confusion attack).
  await expect401(gwRS, { headers: bearer(track(mint({}, { alg: 'HS256', key: rsa.publicPem }))) }, 'algorithm not allowed');
  // The right alg but another RSA key.
  await expect401(gwRS, { headers: bearer(track(mint({}, { alg: 'RS256', key: rsaKeyPair().privateKey }))) }, 'bad signature');
  // Other algorithms.
  await expect401(gwRS, { headers: bearer(es({})) }, 'algorithm not allowed');
  await expect401(gwRS, { headers: bearer(track(mint({}, { alg: 'none' }))) }, 'algorithm not allowed');
  await expect401(gwRS, { headers: bearer(rs({ exp: nowS() - 5 })) }, 'token expired');
});

test('ES256 key: other algorithms, other keys and DER signatures are refused: 401', async () => {
  await expect401(gwES, { headers: bearer(track(mint({}, { alg: 'HS256', key: ec.publicPem }))) }, 'algorithm not allowed');
  await expect401(gwES, { headers: bearer(rs({})) }, 'algorithm not allowed');
  await expect401(gwES, { headers: bearer(track(mint({}, { alg: 'ES256', key: ecKeyPair().privateKey }))) }, 'bad signature');
  // A DER-encoded ECDSA signature is not the JOSE form (R||S).
  const input = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }))}.${b64url(JSON.stringify({ exp: nowS() + 300 }))}`;
  const der = (await import('node:crypto')).sign('sha256', Buffer.from(input), ec.privateKey);
  await expect401(gwES, { headers: bearer(track(`${input}.${b64url(der)}`)) }, 'bad signature');
});

// ---------------------------------------------------------------- subs claim

test('subs: a contained pattern is allowed, a wider one is forbidden', async (t) => {
  const c = await accepted(t, gwHS, hs({ subs: ['license.>', 'batch.*.progress'] }));
  await c.sub('license.b42.*');
  await c.sub('license.>');
  await c.sub('batch.b7.progress');
  const wider = await c.request({ op: 'sub', subject: 'batch.>' });
  assert.equal(wider.op, 'err');
  assert.equal(wider.code, 'forbidden');
  const other = await c.request({ op: 'sub', subject: 'verification.>' });
  assert.equal(other.code, 'forbidden');
  // The allowed subscription is live.
  const seq = await publish(natsc.js, 'license.b42.assigned', { n: 1 });
  const m = await c.nextMsg('license.b42.assigned');
  assert.equal(m.seq, seq);

  const d = await accepted(t, gwHS, hs({ subs: ['license.*.assigned'] }));
  await d.sub('license.b42.assigned');
  await d.sub('license.*.assigned');
  for (const subject of ['license.>', 'license.b42.*', 'license.*.revoked']) {
    const r = await d.request({ op: 'sub', subject });
    assert.equal(r.op, 'err', `license.*.assigned must not allow ${subject}`);
    assert.equal(r.code, 'forbidden');
  }
});

test('subs: absent claim allows nothing; an empty array allows nothing', async (t) => {
  for (const claims of [{}, { subs: [] }]) {
    const c = await accepted(t, gwHS, hs(claims));
    for (const subject of ['license.b42.*', 'license.>', 'batch.b1.progress', '>']) {
      const r = await c.request({ op: 'sub', subject });
      assert.equal(r.op, 'err', `${JSON.stringify(claims)}: sub ${subject}`);
      assert.equal(r.code, 'forbidden');
    }
  }
});

test('subs: a token with an invalid pattern or a non-array subs is refused: 401', async () => {
  await expect401(gwHS, { headers: bearer(hs({ subs: ['license..x'] })) }, 'bad claims');
  await expect401(gwHS, { headers: bearer(hs({ subs: 'license.>' })) }, 'bad claims');
});

// ---------------------------------------------------------------- expiry on a live connection

test('exp passing on a live connection closes it with 4002', async (t) => {
  const exp = nowS() + 2;
  const c = await accepted(t, gwHS, hs({ exp, subs: ['license.>'] }));
  await c.sub('license.bexp.>');
  const other = await accepted(t, gwHS, hs({ exp: nowS() + 300, subs: ['license.>'] }));
  const info = await withTimeout(c.closed, ms(9000), 'close 4002 after exp');
  const at = Date.now();
  assert.equal(info.code, 4002, `close code (reason "${info.reason}")`);
  assert.ok(at >= exp * 1000 - 50, `closed ${exp * 1000 - at} ms before exp`);
  // Checked once a second; the slack covers a loaded machine (CI, ctest -j).
  assert.ok(at <= exp * 1000 + ms(4000), `closed ${at - exp * 1000} ms after exp (checked once a second)`);
  // A connection whose token is still valid is untouched.
  await other.ping();
  assert.equal(other.closeInfo, null);
});

test('a huge exp (1e16) is valid, not an overflow: the connection outlives a 4002 tick', async (t) => {
  const far = await accepted(t, gwHS, hs({ exp: 1e16, subs: ['license.>'] }));
  // A token expiring now is closed by the once-a-second check; the far one
  // went through that same check and stays open.
  // exp = whole second + 2: valid for at least one more second when the
  // upgrade arrives (+ 1 left as little as a millisecond: a slow, sanitized
  // build saw it expire before the upgrade).
  const soon = await accepted(t, gwHS, hs({ exp: nowS() + 2, subs: ['license.>'] }));
  assert.equal((await withTimeout(soon.closed, ms(9000), 'close 4002 after exp')).code, 4002);
  await far.ping();
  assert.equal(far.closeInfo, null, 'exp 1e16 must not close the connection');
});

// ---------------------------------------------------------------- issuer policy

test('an HS256 secret shorter than 32 bytes stops start-up with one clear line', async () => {
  const short = writeKeyFile(dir, 'short', 'only-31-bytes-of-secret-0123456\n');
  const r = await runGateway(['--listen', '127.0.0.1:0', '--jwt-secret', short, '--log-format', 'json']);
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /32 bytes/);
  assert.ok(r.stderr.includes(short), `names the file: ${r.stderr}`);
  assert.ok(!r.stderr.includes('only-31-bytes'), 'the secret is not printed');
});

test('--jwt-audience / --jwt-issuer: a token must name the audience and the issuer', async (t) => {
  const secretFile = writeKeyFile(dir, 'secret-aud', secret);
  const g = await startGateway({ natsUrl: nats.url, name: 'wsgate-aud', args: ['--jwt-secret', secretFile, '--jwt-audience', 'wsgate', '--jwt-issuer', 'https://idp.example'] });
  t.after(() => g.stop());
  const iss = 'https://idp.example';
  await accepted(t, g, hs({ aud: 'wsgate', iss, subs: ['license.>'] }));
  await accepted(t, g, hs({ aud: ['api', 'wsgate'], iss }));
  await expect401(g, { headers: bearer(hs({ iss })) }, 'wrong audience');
  await expect401(g, { headers: bearer(hs({ aud: 'api', iss })) }, 'wrong audience');
  await expect401(g, { headers: bearer(hs({ aud: 'wsgate' })) }, 'wrong issuer');
  await expect401(g, { headers: bearer(hs({ aud: 'wsgate', iss: 'https://evil.example' })) }, 'wrong issuer');
});

// ---------------------------------------------------------------- key reload (SIGHUP)

/** SIGHUP the gateway and wait for its reload line (`event`); returns the line. */
async function sighup(gw, event = 'jwt_keys_reloaded') {
  const n = gw.jsonLogs().filter((l) => l.event === event).length;
  gw.proc.kill('SIGHUP');
  return pollUntil(() => gw.jsonLogs().filter((l) => l.event === event)[n], { timeoutMs: ms(5000), message: `a ${event} log line` });
}

test('SIGHUP reloads the key file: key B works, key A is refused, the process lives on', async (t) => {
  const keyA = randomSecret();
  const keyB = randomSecret();
  const file = writeKeyFile(dir, 'rotate-file', keyA + '\n');
  const g = await startGateway({ natsUrl: nats.url, name: 'wsgate-hup-file', args: ['--jwt-secret', file] });
  t.after(() => g.stop());
  const withA = (claims = {}) => track(mint(claims, { key: keyA }));
  const withB = (claims = {}) => track(mint(claims, { key: keyB }));
  const client = await accepted(t, g, withA());
  await expect401(g, { headers: bearer(withB()) }, 'bad signature');

  fs.writeFileSync(file + '.new', keyB + '\n', { mode: 0o600 });
  fs.renameSync(file + '.new', file); // replaced whole, as a secret manager does
  assert.equal((await sighup(g)).keys, 1);
  await accepted(t, g, withB());
  await expect401(g, { headers: bearer(withA()) }, 'bad signature');
  assert.equal(g.proc.exitCode, null, 'SIGHUP does not stop the gateway');
  assert.equal((await client.request({ op: 'ping', id: 'after-hup' })).op, 'pong', 'open connections stay');

  // A reload that fails keeps the keys it had.
  fs.writeFileSync(file, 'too short\n');
  const failed = await sighup(g, 'jwt_keys_reload_failed');
  assert.equal(failed.level, 'error');
  assert.match(failed.error, /rotate-file/);
  await accepted(t, g, withB());
  assert.ok(!g.logs.join('\n').includes(keyA) && !g.logs.join('\n').includes(keyB), 'no key in the log');
});

test('SIGHUP with a key directory: rotation with kid, both keys valid meanwhile', async (t) => {
  const keyA = randomSecret();
  const keyB = randomSecret();
  const kdir = path.join(dir, 'keys');
  fs.mkdirSync(kdir, { mode: 0o700 });
  writeKeyFile(kdir, 'a', keyA);
  const g = await startGateway({ natsUrl: nats.url, name: 'wsgate-hup-dir', args: ['--jwt-secret', kdir] });
  t.after(() => g.stop());
  const signed = (key, kid) => track(mint({}, { key, header: kid ? { kid } : {} }));
  await accepted(t, g, signed(keyA, 'a'));
  await accepted(t, g, signed(keyA)); // no kid: any key
  await expect401(g, { headers: bearer(signed(keyB, 'b')) }, 'unknown key id');

  writeKeyFile(kdir, 'b', keyB); // rotation starts: both keys
  assert.equal((await sighup(g)).keys, 2);
  await accepted(t, g, signed(keyA, 'a'));
  await accepted(t, g, signed(keyB, 'b'));
  await expect401(g, { headers: bearer(signed(keyA, 'b')) }, 'bad signature');

  fs.rmSync(path.join(kdir, 'a')); // rotation ends: A retired
  assert.equal((await sighup(g)).keys, 1);
  await accepted(t, g, signed(keyB, 'b'));
  await expect401(g, { headers: bearer(signed(keyA, 'a')) }, 'unknown key id');
  await expect401(g, { headers: bearer(signed(keyA)) }, 'bad signature');
});

test('SIGHUP without JWT auth: logged, nothing else happens', async (t) => {
  const g = await startGateway({ natsUrl: nats.url, name: 'wsgate-hup-noauth' });
  t.after(() => g.stop());
  const line = await sighup(g, 'jwt_keys_not_reloaded');
  assert.equal(line.reason, 'JWT auth is off');
  const c = await connect(g.wsUrl);
  await c.close();
  assert.equal(g.proc.exitCode, null);
});

// ---------------------------------------------------------------- logs

test('tokens never appear in the gateway logs (debug level included)', async () => {
  assert.ok(usedTokens.size > 20, `tokens were used (${usedTokens.size})`);
  for (const gw of [gwHS, gwRS, gwES]) {
    assert.ok(gw.logs.length > 0);
    const text = gw.logs.join('\n');
    for (const tok of usedTokens) {
      // The whole token, and its signature alone (unique per token).
      const sig = tok.slice(tok.lastIndexOf('.') + 1);
      assert.ok(!text.includes(tok), `${gw.label} logged a token`);
      if (sig.length >= 16) assert.ok(!text.includes(sig), `${gw.label} logged a token signature`);
    }
  }
  // The HS256 gateway logged its refusals and connections (the log is not just empty).
  assert.ok(refusedReasons(gwHS).length >= 10);
  assert.ok(gwHS.jsonLogs().some((l) => l.level === 'debug'), 'debug lines were logged');
  assert.ok(!gwHS.logs.join('\n').includes(secret), 'the secret is not logged');
});
