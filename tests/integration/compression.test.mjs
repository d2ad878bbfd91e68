// compression.test.mjs: permessage-deflate (RFC 7692) with real clients: Node's `ws`
// (context takeover, with and without server_max_window_bits), Python's
// `websockets`, a client that does not offer it, `--compression off`, and
// client messages that are compressed, too big once inflated (a bomb: 1009)
// or not deflate at all (1007). Every event must arrive intact and in order,
// with the shared compressors' figures on /metrics.
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { test, before, after, startNats, startGateway, natsClient, publishMany, connect, getMetrics, metricValue, ms } from '../lib/harness.mjs';
import { onLines } from '../lib/util.mjs';
import { Client } from '../lib/client.mjs';
import WebSocket from 'ws';

let nats;
let gw;
let pub;
let batchNo = 0;

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, name: 'gw' });
  pub = await natsClient(nats.url);
});

after(async () => {
  await pub?.close();
  if (gw) await gw.stop();
  await nats?.stop();
});

/** n license events of a fresh batch, about 200 bytes each, some with large payloads. */
function licenseEvents(n, { big = 0 } = {}) {
  const batch = `b${++batchNo}-${Date.now()}`;
  return Array.from({ length: n }, (_, i) => ({
    subject: `license.${batch}.assigned`,
    data: {
      batch_id: batch,
      professional_id: `HCP-${String(100000 + i * 37).padStart(8, '0')}`,
      license: `LIC-${crypto.createHash('sha1').update(`${batch}/${i}`).digest('hex').slice(0, 12)}`,
      country: ['DE', 'FR', 'US', 'JP'][i % 4],
      worker: `worker-${i % 15}`,
      assigned_at: new Date(1765000000000 + i * 360).toISOString(),
      ...(big && i % 10 === 0 ? { notes: crypto.randomBytes(big).toString('base64') } : {}),
    },
  }));
}

/** Open a client with these ws options; resolves {client, extensions} (the response header). */
async function open(wsOptions, label) {
  const ws = new WebSocket(gw.wsUrl, wsOptions);
  let extensions = '';
  ws.on('upgrade', (res) => (extensions = res.headers['sec-websocket-extensions'] ?? ''));
  const client = new Client(ws, label);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  client.hello = await client.next((f) => f.op === 'hello');
  return { client, extensions };
}

/** Check that client c got exactly events (subject, data), in order, as msg frames. */
async function expectEvents(c, events, seqs) {
  const got = await c.collect((f) => f.op === 'msg', events.length, ms(30000), 'msg frames');
  for (let i = 0; i < events.length; i++) {
    assert.equal(got[i].seq, seqs[i], `${c.label}: order at ${i}`);
    assert.equal(got[i].subject, events[i].subject);
    assert.deepEqual(got[i].data, events[i].data, `${c.label}: event ${i} intact`);
  }
}

test('ws clients with context takeover share one compressor and decode every event', async () => {
  const before = await getMetrics(gw.url);
  const clients = [];
  for (let i = 0; i < 3; i++) {
    // threshold 0: the client compresses its own messages too (sub, ping)
    const { client, extensions } = await open({ perMessageDeflate: { threshold: 0 } }, `ws${i}`);
    assert.equal(extensions, 'permessage-deflate; client_no_context_takeover');
    await client.sub('license.>');
    clients.push(client);
  }
  const events = licenseEvents(300);
  const pinging = (async () => {
    for (let i = 0; i < 20; i++) await clients[1].ping(); // replies in between group frames
  })();
  const seqs = await publishMany(pub.js, events);
  await pinging;
  for (const c of clients) await expectEvents(c, events, seqs);
  const m = await getMetrics(gw.url);
  const inBytes = metricValue(m, 'wsgate_deflate_in_bytes_total') - metricValue(before, 'wsgate_deflate_in_bytes_total');
  const outBytes = metricValue(m, 'wsgate_deflate_out_bytes_total') - metricValue(before, 'wsgate_deflate_out_bytes_total');
  assert.ok(inBytes >= 3 * events.length * 150, `compressed deliveries counted: ${inBytes}`);
  assert.ok(outBytes < inBytes * 0.35, `context takeover pays: ${outBytes} of ${inBytes}`);
  assert.ok(metricValue(m, 'wsgate_deflate_groups') >= 1);
  assert.ok(metricValue(m, 'wsgate_deflate_members') >= 3);
  const frames = metricValue(m, 'wsgate_deflate_group_frames_total') - metricValue(before, 'wsgate_deflate_group_frames_total');
  assert.ok(frames <= events.length + 5, `compressed once per event, not per client: ${frames}`);
  for (const c of clients) await c.close();
});

test('server_max_window_bits is honoured, large events included', async () => {
  const opts = { perMessageDeflate: { serverMaxWindowBits: 10, clientMaxWindowBits: 10, threshold: 0 } };
  const a = await open(opts, 'bits-a');
  const b = await open(opts, 'bits-b');
  assert.equal(a.extensions, 'permessage-deflate; client_no_context_takeover; server_max_window_bits=10');
  for (const { client } of [a, b]) await client.sub('license.>');
  const events = licenseEvents(120, { big: 3000 });
  const seqs = await publishMany(pub.js, events);
  for (const { client } of [a, b]) {
    await expectEvents(client, events, seqs);
    await client.close();
  }
});

test('a client that does not offer compression, and --compression off', async () => {
  const { client, extensions } = await open({ perMessageDeflate: false }, 'plain');
  assert.equal(extensions, '');
  await client.sub('license.>');
  const events = licenseEvents(50);
  const seqs = await publishMany(pub.js, events);
  await expectEvents(client, events, seqs);
  await client.close();

  const off = await startGateway({ natsUrl: nats.url, name: 'gw-off', args: ['--compression', 'off'] });
  try {
    const c = await connect(off.wsUrl, { label: 'offered', wsOptions: { perMessageDeflate: true } });
    assert.equal(c.ws.extensions ?? '', '');
    assert.equal(Object.keys(c.ws._extensions ?? {}).length, 0);
    await c.sub('license.>');
    const more = licenseEvents(20);
    const s = await publishMany(pub.js, more);
    await expectEvents(c, more, s);
    await c.close();
  } finally {
    await off.stop();
  }
});

/** Run the Python client; resolves once it printed 'ready', with a promise of its lines. */
function python(args) {
  const script = path.resolve(import.meta.dirname, '../tools/ws_python_client.py');
  const proc = spawn('/usr/bin/python3', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  let onReady;
  const ready = new Promise((resolve) => (onReady = resolve));
  onLines(proc.stdout, (l) => {
    if (l === 'ready') onReady();
    else lines.push(l);
  });
  const done = new Promise((resolve) => proc.on('exit', (code) => resolve({ code, lines, stderr })));
  return { ready: Promise.race([ready, done]), done };
}

for (const bits of [undefined, 11]) {
  test(`Python websockets${bits ? ` with server_max_window_bits=${bits}` : ''} gets every event intact`, async () => {
    const events = licenseEvents(200, { big: bits ? 2500 : 0 });
    const runs = [python([gw.wsUrl, 'license.>', String(events.length), ...(bits ? [String(bits)] : [])])];
    runs.push(python([gw.wsUrl, 'license.>', String(events.length), ...(bits ? [String(bits)] : [])]));
    for (const r of runs) await r.ready;
    const seqs = await publishMany(pub.js, events);
    for (const r of runs) {
      const { code, lines, stderr } = await r.done;
      assert.equal(code, 0, stderr);
      const last = JSON.parse(lines.at(-1));
      assert.match(last.extensions, /^permessage-deflate; client_no_context_takeover/);
      if (bits) assert.match(last.extensions, new RegExp(`server_max_window_bits=${bits}$`));
      const msgs = lines.slice(0, -1).map((l) => JSON.parse(l));
      assert.equal(msgs.length, events.length);
      msgs.forEach((m, i) => {
        assert.equal(m.seq, seqs[i]);
        assert.deepEqual(m.data, events[i].data);
      });
    }
  });
}

/** A raw client: the upgrade offering permessage-deflate, then frames we build. */
async function rawClient() {
  const { port } = new URL(gw.url);
  const sock = net.connect(Number(port), '127.0.0.1');
  await new Promise((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  sock.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
  );
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => (buf = Buffer.concat([buf, d])));
  const closed = new Promise((resolve) => sock.on('close', resolve));
  const until = async (pred) => {
    const deadline = Date.now() + ms(10000);
    while (!pred(buf)) {
      if (Date.now() > deadline) throw new Error(`raw client: timeout, have ${buf.toString('latin1').slice(0, 300)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await until((b) => b.includes('\r\n\r\n'));
  const head = buf.toString('latin1', 0, buf.indexOf('\r\n\r\n'));
  assert.match(head, /^HTTP\/1\.1 101/);
  assert.match(head, /\r\nSec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover(\r\n|$)/i);
  /** Send one masked frame: first byte (FIN, RSV, opcode) and payload. */
  const frame = (first, payload) => {
    const mask = crypto.randomBytes(4);
    const len = payload.length;
    const hdr = len < 126 ? Buffer.from([first, 0x80 | len]) : Buffer.from([first, 0x80 | 126, len >> 8, len & 255]);
    const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]));
    sock.write(Buffer.concat([hdr, mask, body]));
  };
  /** The server's frames so far: [{first, payload}] (unmasked, whole frames only). */
  const frames = () => {
    const out = [];
    for (let i = buf.indexOf('\r\n\r\n') + 4; i + 2 <= buf.length; ) {
      let len = buf[i + 1] & 127,
        off = 2;
      if (len === 126) {
        if (i + 4 > buf.length) break;
        len = buf.readUInt16BE(i + 2);
        off = 4;
      }
      if (i + off + len > buf.length) break;
      out.push({ first: buf[i], payload: buf.subarray(i + off, i + off + len) });
      i += off + len;
    }
    return out;
  };
  /** The code of the server's close frame, once it came. */
  const closeCode = async () => {
    await until(() => frames().some((f) => (f.first & 15) === 8));
    return frames()
      .find((f) => (f.first & 15) === 8)
      .payload.readUInt16BE(0);
  };
  return { sock, frame, frames, until, closeCode, closed };
}

const zlib = await import('node:zlib');
const deflateRaw = (data) => {
  const z = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return z.subarray(0, z.length - 4); // RFC 7692 7.2.1: the 00 00 ff ff tail goes
};

test('client messages: compressed ops work, a bomb is refused with 1009, garbage with 1007', async () => {
  const ok = await rawClient();
  ok.frame(0xc1, deflateRaw(Buffer.from(JSON.stringify({ op: 'ping', id: 'z1' }))));
  // and a compressed message in two frames: RSV1 only on the first
  const two = deflateRaw(Buffer.from(JSON.stringify({ op: 'ping', id: 'z2', pad: 'x'.repeat(200) })));
  ok.frame(0x41, two.subarray(0, 5));
  ok.frame(0x80, two.subarray(5));
  ok.frame(0x81, Buffer.from(JSON.stringify({ op: 'ping', id: 'z3' }))); // not compressed
  await ok.until(() => ok.frames().filter((f) => (f.first & 15) === 1).length >= 4);
  ok.frame(0x88, Buffer.from([0x03, 0xe8]));
  assert.equal(await ok.closeCode(), 1000);
  // the replies are uncompressed (RSV1 clear): only fan-out frames are compressed
  const replies = ok.frames().filter((f) => (f.first & 15) === 1);
  assert.deepEqual(replies.map((f) => f.first), [0x81, 0x81, 0x81, 0x81]); // hello and 3 pongs
  assert.deepEqual(replies.slice(1).map((f) => JSON.parse(f.payload).id), ['z1', 'z2', 'z3']);

  const bomb = await rawClient();
  bomb.frame(0xc1, deflateRaw(Buffer.alloc(8 << 20))); // 8 MiB of zeros in ~8 KiB
  assert.equal(await bomb.closeCode(), 1009);
  bomb.sock.destroy();

  const garbage = await rawClient();
  garbage.frame(0xc1, Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02]));
  assert.equal(await garbage.closeCode(), 1007);
  garbage.sock.destroy();

  // the gateway is fine afterwards
  const c = await connect(gw.wsUrl, { label: 'after' });
  await c.ping();
  await c.close();
});
