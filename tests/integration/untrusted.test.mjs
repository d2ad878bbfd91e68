// untrusted.test.mjs: published data is untrusted (issue 10, item 4). An event
// published on a subject that is not a valid subject (PROTOCOL.md "Subjects":
// raw bytes that are not UTF-8, or characters outside A-Z a-z 0-9 - _) never
// reaches a client, live or as a last value, nor batch state, and does not
// stop the gateway from rebuilding its state after a restart. nats-server
// itself accepts such subjects, so they are published over a raw TCP
// connection in the NATS protocol (the `nats` npm client only takes strings).
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, before, after, startNats, startGateway, natsClient, publish, connect, getMetrics, metricValue, httpGet, pollUntil, withTimeout, ms } from '../lib/harness.mjs';

let nats;
let gw;
let pub;

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

/**
 * Publish `payload` on `subject` (a Buffer: raw bytes, any of them) through
 * JetStream, speaking the NATS protocol over TCP; resolves the stream
 * sequence from the JetStream ack.
 */
async function publishRaw(port, subject, payload) {
  const sock = net.connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  const body = Buffer.from(payload);
  const done = new Promise((resolve, reject) => {
    sock.on('error', reject);
    sock.on('close', () => reject(new Error('NATS connection closed before the JetStream ack')));
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return;
        const line = buf.subarray(0, eol).toString('latin1');
        if (line.startsWith('INFO ')) {
          sock.write('CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\nSUB _INBOX.raw 1\r\n');
          sock.write(Buffer.concat([Buffer.from('PUB '), subject, Buffer.from(` _INBOX.raw ${body.length}\r\n`), body, Buffer.from('\r\n')]));
        } else if (line === 'PING') {
          sock.write('PONG\r\n');
        } else if (line.startsWith('-ERR')) {
          return reject(new Error(`nats-server: ${line}`));
        } else if (line.startsWith('MSG ')) {
          const n = Number(line.split(' ').pop());
          if (buf.length < eol + 2 + n + 2) return; // the rest of the message is still coming
          const ack = JSON.parse(buf.subarray(eol + 2, eol + 2 + n).toString('utf8'));
          if (!ack.seq) return reject(new Error(`JetStream refused the publish: ${JSON.stringify(ack)}`));
          return resolve(ack.seq);
        }
        buf = buf.subarray(eol + 2);
      }
    });
  });
  try {
    return await withTimeout(done, ms(10000), `raw publish on ${JSON.stringify(subject.toString('latin1'))}`);
  } finally {
    sock.destroy();
  }
}

const progress = (batch, done) => ({ batch_id: batch, total: 10, done, failed: 0, ts: new Date().toISOString() });
const raw = (s) => Buffer.from(s, 'latin1'); // one byte per character, \xff stays 0xff

/** Subscribe to `batch.>` as the dashboard does, then a round trip: every snapshot frame is in by then. */
async function dashboard(t, g, label) {
  const c = await connect(g.wsUrl, { label });
  t.after(() => c.close());
  await c.sub('batch.>');
  await c.ping();
  return c;
}

function msgSubjects(c) {
  return c.history.filter((f) => f.op === 'msg').map((f) => f.subject);
}

test('events on invalid subjects reach no client, no last value, no batch state, also after a restart', async (t) => {
  const live = await dashboard(t, gw, 'live');

  const bad = [];
  bad.push(await publishRaw(nats.port, raw('batch.\xff.progress'), JSON.stringify(progress('x', 1)))); // not UTF-8
  bad.push(await publishRaw(nats.port, raw('batch.caf\xc3\xa9.progress'), JSON.stringify(progress('y', 1)))); // UTF-8, not a token
  const good = await publish(pub.js, 'batch.ut1.progress', progress('ut1', 3));
  assert.deepEqual(bad, [good - 2, good - 1], 'the three events are consecutive in the stream');

  // The live client gets the valid event, only it, and stays open.
  const m = await live.nextMsg();
  assert.equal(m.subject, 'batch.ut1.progress');
  assert.equal(m.seq, good);
  await live.ping();
  assert.equal(live.closeInfo, null);
  assert.deepEqual(msgSubjects(live), ['batch.ut1.progress']);

  // A new dashboard gets the last values: the valid one only.
  const snap = await dashboard(t, gw, 'snapshot');
  assert.deepEqual(msgSubjects(snap), ['batch.ut1.progress']);
  assert.equal(snap.closeInfo, null);

  // Batch state: the valid batch, nothing made of the invalid subjects.
  const res = await httpGet(`${gw.url}/api/batches`);
  assert.equal(res.status, 200);
  const ids = JSON.parse(res.text).map((b) => b.id ?? b.batch_id);
  assert.ok(ids.includes('ut1'), `ut1 in ${JSON.stringify(ids)}`);
  assert.equal(ids.length, 1, `only ut1: ${JSON.stringify(ids)}`);

  const metrics = await getMetrics(gw.url);
  assert.equal(metricValue(metrics, 'wsgate_invalid_subjects_total'), 2);
  assert.equal(metricValue(metrics, 'wsgate_stream_last_seq'), good);

  // The stream now ends on an invalid subject: a restarted gateway rebuilds
  // its state from the stream, still becomes ready (startGateway waits for
  // /readyz) and serves the same last values.
  const last = await publishRaw(nats.port, raw('batch.\xe2\x82.progress'), JSON.stringify(progress('z', 1))); // truncated UTF-8
  assert.equal(last, good + 1);
  await pollUntil(async () => metricValue(await getMetrics(gw.url), 'wsgate_stream_last_seq') === last, {
    timeoutMs: ms(10000),
    message: 'the gateway to pass the last (invalid) event',
  });
  assert.equal(live.closeInfo, null);
  await gw.stop();
  gw = await startGateway({ ...gw.options, port: gw.port, name: 'gw-restarted' });

  const after = await dashboard(t, gw, 'after-restart');
  assert.deepEqual(msgSubjects(after), ['batch.ut1.progress']);
  const next = await publish(pub.js, 'batch.ut2.progress', progress('ut2', 1));
  const m2 = await after.nextMsg('batch.ut2.progress');
  assert.equal(m2.seq, next);
  assert.equal(after.closeInfo, null);
  const metrics2 = await getMetrics(gw.url);
  assert.equal(metricValue(metrics2, 'wsgate_invalid_subjects_total'), 3);
});
