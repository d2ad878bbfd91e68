// resume.test.mjs: resuming a subscription with `since` and `epoch`
// (PROTOCOL.md "Client to server" `since`, "Server to client" ok.replayed /
// ok.recovered, "Delivery guarantee"): from the gateway's in-memory ring,
// from JetStream when the ring is too small, on another gateway instance,
// at the seam between replay and live under continuous publishing, and when
// `since` is older than what the stream retains.
import assert from 'node:assert/strict';
import {
  test,
  before,
  after,
  startNats,
  startGateway,
  natsClient,
  publishMany,
  connect,
  fileStreamName,
  getMetrics,
  metricValue,
  ms,
} from '../lib/harness.mjs';
import { resumeSub, msgsOf, waitFor, sequenceProblems, pacedPublish, gatewayFence, streamLastSeq, rng } from '../lib/resume.mjs';

const STREAM = fileStreamName();
let nats;
let gw; // default ring
let gwB; // a second instance on the same stream, default ring
let gwSmall; // --ring-msgs 10: replays beyond 10 frames come from JetStream
let pub;

before(async () => {
  nats = await startNats();
  gw = await startGateway({ natsUrl: nats.url, name: 'gwA' });
  [gwB, gwSmall] = await Promise.all([
    startGateway({ natsUrl: nats.url, name: 'gwB' }),
    startGateway({ natsUrl: nats.url, name: 'gwSmallRing', args: ['--ring-msgs', '10'] }),
  ]);
  pub = await natsClient(nats.url);
});

after(async () => {
  await pub?.close();
  await Promise.all([gw, gwB, gwSmall].filter(Boolean).map((g) => g.stop()));
  await nats?.stop();
});

async function open(t, g, label) {
  const c = await connect(g.wsUrl, { label });
  t.after(() => c.close());
  return c;
}

/** n events on subjects under license.<tag>; every 4th one does not match license.<tag>.> */
function events(tag, n, from = 0) {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const subject = i % 4 === 3 ? `license.${tag}x.assigned` : `license.${tag}.${i % 2 ? 'failed' : 'assigned'}`;
    return { subject, data: { batch_id: tag, i } };
  });
}
const matchingSeqs = (evs, seqs, pattern) => seqs.filter((_, i) => evs[i].subject.startsWith(pattern.slice(0, -1)));

/**
 * Subscribe on gateway `first`, receive some events, disconnect, publish more,
 * resume on gateway `second` with since + epoch: exactly the missed events,
 * in order, then live ones.
 */
async function disconnectAndResume(t, first, second, tag, { before: nBefore = 8, missed: nMissed = 40, live: nLive = 8 } = {}) {
  const pattern = `license.${tag}.>`;
  const c1 = await open(t, first, `${tag}-c1`);
  const ok1 = await c1.sub(pattern);
  const evBefore = events(tag, nBefore);
  const seqBefore = await publishMany(pub.js, evBefore);
  const expBefore = matchingSeqs(evBefore, seqBefore, pattern);
  const got1 = await c1.collect((f) => f.op === 'msg', expBefore.length, ms(15000), 'msgs before the disconnect');
  assert.deepEqual(got1.map((f) => f.seq), expBefore);
  assert.ok(expBefore[0] > ok1.seq);
  const lastSeen = got1.at(-1).seq;
  const epoch = c1.hello.epoch;
  await c1.close();

  const evMissed = events(tag, nMissed, nBefore);
  const seqMissed = await publishMany(pub.js, evMissed);
  const expMissed = matchingSeqs(evMissed, seqMissed, pattern);
  // Make sure the resuming gateway has consumed the missed events, so that
  // they are all part of the replay (ok.seq >= the last of them).
  await gatewayFence(second.wsUrl, pub.js);

  const before_ = metricValue(await getMetrics(second.url), 'wsgate_replayed_total') ?? 0;
  const c2 = await open(t, second, `${tag}-c2`);
  assert.equal(c2.hello.epoch, epoch, 'same stream, same epoch on both connections');
  const { ok, replay } = await resumeSub(c2, pattern, lastSeen, epoch);
  assert.equal(ok.subject, pattern);
  assert.equal(ok.replayed, expMissed.length, `ok.replayed: ${JSON.stringify(ok)}`);
  assert.equal(ok.recovered, true, `ok.recovered: ${JSON.stringify(ok)}`);
  assert.ok(ok.seq >= seqMissed.at(-1), `ok.seq ${ok.seq} >= last published ${seqMissed.at(-1)}`);
  assert.deepEqual(replay.map((f) => f.seq), expMissed, 'the replay is exactly the missed messages, in order');
  for (const f of replay) {
    const i = seqMissed.indexOf(f.seq);
    assert.equal(f.subject, evMissed[i].subject);
    assert.deepEqual(f.data, evMissed[i].data);
  }
  // Nothing else was queued between the replay and the first live message.
  const evLive = events(tag, nLive, nBefore + nMissed);
  const seqLive = await publishMany(pub.js, evLive);
  const expLive = matchingSeqs(evLive, seqLive, pattern);
  const live = await c2.collect((f) => f.op === 'msg', expLive.length, ms(15000), 'live msgs after the replay');
  assert.deepEqual(live.map((f) => f.seq), expLive, 'live continues right after the replay, no gap, no duplicate');
  await c2.ping();
  assert.deepEqual(c2.queue.filter((f) => f.op === 'msg'), [], 'no extra msg frames');
  const after_ = metricValue(await getMetrics(second.url), 'wsgate_replayed_total');
  assert.equal(after_ - before_, expMissed.length, 'wsgate_replayed_total counts the replayed frames');
}

test('resume after a disconnect: exactly the missed messages, then live (ring)', async (t) => {
  await disconnectAndResume(t, gw, gw, 'rring');
});

test('resume after a disconnect with a 10-message ring: the replay comes from JetStream', async (t) => {
  await disconnectAndResume(t, gwSmall, gwSmall, 'rjs', { missed: 80 });
});

test('resume on a second gateway instance of the same stream', async (t) => {
  const [a, b] = await Promise.all([open(t, gw, 'epochA'), open(t, gwB, 'epochB')]);
  assert.equal(a.hello.epoch, b.hello.epoch, 'both gateways report the stream epoch');
  const info = await pub.jsm.streams.info(STREAM);
  assert.equal(Date.parse(a.hello.epoch), Date.parse(info.created), `epoch ${a.hello.epoch} is the stream creation time ${info.created}`);
  await disconnectAndResume(t, gw, gwB, 'rab');
  // and towards an instance whose ring no longer holds the missed events
  await disconnectAndResume(t, gwB, gwSmall, 'rba', { missed: 60 });
});

/**
 * The seam: `nClients` clients repeatedly disconnect (gracefully or
 * abruptly, sometimes right after ok, in the middle of the replay) and
 * resume with since while a publisher publishes continuously. Every client's
 * full sequence, concatenated over its connections, must be exactly the
 * published matching seqs: no gap, no duplicate, no reordering.
 */
async function seam(t, g, tag, { nClients = 20, nEvents = 600, seed = 0x5eed } = {}) {
  const pattern = `license.${tag}.>`;
  const base = await streamLastSeq(pub.jsm, STREAM);
  const probe = await open(t, g, `${tag}-probe`);
  const epoch = probe.hello.epoch;
  await probe.close();
  const rand = rng(seed);
  const live = new Set();
  let pubDone = false;
  let finalSeq = Infinity;
  let resumesWhilePublishing = 0;
  const evs = events(tag, nEvents);

  const wakeAll = () => {
    for (const c of live) c.waiters.splice(0).forEach((w) => w());
  };

  async function runClient(k) {
    const label = `${tag}-client${k}`;
    const st = { label, got: [], last: base, conns: 0 };
    while (!(pubDone && st.last >= finalSeq)) {
      const c = await connect(g.wsUrl, { label: `${label}/conn${st.conns}` });
      live.add(c);
      st.conns++;
      if (!pubDone) resumesWhilePublishing++;
      try {
        assert.equal(c.hello.epoch, epoch);
        const since = st.last;
        const ok = await c.sub(pattern, { since, epoch });
        assert.equal(ok.recovered, true, `${c.label}: ${JSON.stringify(ok)}`);
        assert.ok(Number.isInteger(ok.replayed) && ok.replayed >= 0, `${c.label}: ${JSON.stringify(ok)}`);
        const r = rand();
        // 15%: disconnect right after ok (in the middle of the replay);
        // otherwise after 1..40 more messages.
        const target = r < 0.15 ? 0 : 1 + Math.floor(rand() * 40);
        const lastOf = () => msgsOf(c).at(-1)?.seq ?? since;
        await waitFor(c, () => msgsOf(c).length >= target || (pubDone && lastOf() >= finalSeq), {
          timeoutMs: ms(30000),
          what: `${target} msgs after since=${since}`,
        });
        if (rand() < 0.5) await c.close();
        else {
          c.terminate();
          await c.closed;
        }
        const seqs = msgsOf(c).map((f) => f.seq);
        // The frames with seq <= ok.seq are the replay: exactly ok.replayed of
        // them, all before any live one.
        const nReplay = seqs.filter((s) => s <= ok.seq).length;
        if (seqs.some((s) => s > ok.seq)) {
          assert.equal(nReplay, ok.replayed, `${c.label}: since=${since}: ok.replayed frames with seq <= ok.seq, before any live one (ok ${JSON.stringify(ok)}, seqs ${seqs.slice(0, 50)})`);
          assert.ok(seqs.slice(0, nReplay).every((s) => s <= ok.seq), `${c.label}: replay frames come first`);
        } else {
          assert.ok(nReplay <= ok.replayed, `${c.label}: ${nReplay} replay frames > ok.replayed ${ok.replayed}`);
        }
        st.got.push(...seqs);
        if (seqs.length) st.last = seqs.at(-1);
      } finally {
        live.delete(c);
        c.terminate();
      }
    }
    return st;
  }

  const clients = Array.from({ length: nClients }, (_, k) => runClient(k));
  const publisher = (async () => {
    try {
      const seqs = await pacedPublish(pub.js, evs, { chunk: 6, pauseMs: 10 });
      finalSeq = matchingSeqs(evs, seqs, pattern).at(-1);
      return seqs;
    } finally {
      pubDone = true;
      wakeAll();
    }
  })();
  const [seqs, ...states] = await Promise.all([publisher, ...clients]);
  const expected = matchingSeqs(evs, seqs, pattern);
  const conns = states.reduce((a, s) => a + s.conns, 0);
  t.diagnostic(`${nClients} clients, ${expected.length} matching events of ${nEvents}, ${conns} connections (${resumesWhilePublishing} opened while publishing)`);
  for (const st of states) {
    const problem = sequenceProblems(st.got, expected);
    assert.equal(problem, null, `${st.label} (${st.conns} connections): ${problem}`);
  }
  assert.ok(resumesWhilePublishing >= 2 * nClients, `the clients resumed while the publisher was running (${resumesWhilePublishing} connections)`);
}

test('seam: 20 clients disconnecting and resuming during continuous publishing (ring)', { timeout: 180000 }, async (t) => {
  await seam(t, gw, 'seamring', { seed: 11 });
});

test('seam: 20 clients disconnecting and resuming during continuous publishing (JetStream replays)', { timeout: 180000 }, async (t) => {
  await seam(t, gwSmall, 'seamjs', { seed: 12 });
});

test('a JetStream replay while live events keep arriving: the replay, then live, in order', { timeout: 120000 }, async (t) => {
  // The replay of 1500 events is read from JetStream (10-message ring) while
  // the publisher keeps publishing: the live events that arrive meanwhile
  // must follow the whole replay.
  const tag = 'rjslive';
  const pattern = `license.${tag}.>`;
  const c1 = await open(t, gwSmall, `${tag}-c1`);
  const ok1 = await c1.sub(pattern);
  const epoch = c1.hello.epoch;
  await c1.close();
  const evOld = events(tag, 1500);
  const seqOld = await publishMany(pub.js, evOld);
  await gatewayFence(gwSmall.wsUrl, pub.js);
  const c2 = await open(t, gwSmall, `${tag}-c2`);
  const evLive = events(tag, 300, 1500);
  const subReply = c2.sub(pattern, { since: ok1.seq, epoch });
  const seqLive = await pacedPublish(pub.js, evLive, { chunk: 4, pauseMs: 2 });
  const ok = await subReply;
  const expected = [...matchingSeqs(evOld, seqOld, pattern), ...matchingSeqs(evLive, seqLive, pattern)];
  await waitFor(c2, () => msgsOf(c2).at(-1)?.seq === expected.at(-1) || msgsOf(c2).length >= expected.length, { what: 'every event' });
  await c2.ping();
  const got = msgsOf(c2).map((f) => f.seq);
  assert.equal(ok.recovered, true, JSON.stringify(ok));
  const nReplay = got.filter((s) => s <= ok.seq).length;
  assert.equal(nReplay, ok.replayed, `ok ${JSON.stringify(ok)}: ${nReplay} msgs with seq <= ok.seq arrived, ok.replayed says ${ok.replayed}; first seqs received: ${got.slice(0, 12)}`);
  const problem = sequenceProblems(got, expected);
  assert.equal(problem, null, `ok ${JSON.stringify(ok)}: ${problem}`);
});

test('since older than retention, a wrong epoch, since beyond the last seq: recovered false', { timeout: 120000 }, async (t) => {
  // Its own nats-server: a second stream with the default subjects would
  // overlap the first one.
  // (Teardown in this order: clients, gateway, NATS.)
  const clients = [];
  let nats2, pub2, g;
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await g?.stop();
    await pub2?.close();
    await nats2?.stop();
  });
  nats2 = await startNats();
  pub2 = await natsClient(nats2.url);
  const stream = `${STREAM}_RET`;
  // A ring smaller than the stream's limit, so these resumes are answered from
  // JetStream: what the stream no longer retains is gone. (A ring that still
  // holds messages the stream dropped replays them too, with recovered: true,
  // since the client then lost nothing; which one applies depends on whether
  // the gateway read them before JetStream dropped them.)
  g = await startGateway({ natsUrl: nats2.url, stream, name: 'gwRetention', args: ['--stream-max-msgs', '50', '--ring-msgs', '20'] });
  const openRet = async (label) => {
    const c = await connect(g.wsUrl, { label });
    clients.push(c);
    return c;
  };
  // A watcher: once it has the 200th event, the gateway has consumed them all.
  const watcher = await openRet('ret-watcher');
  await watcher.sub('license.ret.>');
  const evs = Array.from({ length: 200 }, (_, i) => ({ subject: `license.ret.${i % 2 ? 'failed' : 'assigned'}`, data: { i } }));
  const seqs = await publishMany(pub2.js, evs);
  assert.deepEqual([seqs[0], seqs.at(-1)], [1, 200], 'a fresh stream');
  // (Wait for the last one only: with a 50-message limit and a burst of
  // publishes, JetStream may drop old events before the gateway's live
  // consumer reads them; they are not retained, so nothing is promised.)
  await watcher.next((f) => f.op === 'msg' && f.seq === 200, ms(20000), 'the 200th event');
  const live = msgsOf(watcher).map((f) => f.seq);
  if (live.length !== 200) t.diagnostic(`the live watcher got ${live.length} of the 200 events (gaps: ${sequenceProblems(live, seqs)})`);
  const epoch = watcher.hello.epoch;
  const info = await pub2.jsm.streams.info(stream);
  assert.equal(info.state.first_seq, 151, 'the stream keeps the last 50');
  const retained = seqs.slice(150);

  const resume = async (label, pattern, since, ep) => {
    const c = await openRet(label);
    return { c, ...(await resumeSub(c, pattern, since, ep)) };
  };

  // since=10 and the right epoch: 11..150 are gone
  let r = await resume('ret-since10', 'license.ret.>', 10, epoch);
  assert.equal(r.ok.recovered, false, JSON.stringify(r.ok));
  assert.equal(r.ok.replayed, 50, JSON.stringify(r.ok));
  assert.deepEqual(r.replay.map((f) => f.seq), retained);
  assert.deepEqual(r.replay.map((f) => f.data.i), retained.map((s) => s - 1));

  // only the retained messages that match the pattern
  r = await resume('ret-since10-failed', 'license.ret.failed', 10, epoch);
  const retainedFailed = retained.filter((s) => evs[s - 1].subject === 'license.ret.failed');
  assert.equal(r.ok.recovered, false, JSON.stringify(r.ok));
  assert.equal(r.ok.replayed, retainedFailed.length, JSON.stringify(r.ok));
  assert.deepEqual(r.replay.map((f) => f.seq), retainedFailed);

  // control: since=150 loses nothing
  r = await resume('ret-since150', 'license.ret.>', 150, epoch);
  assert.equal(r.ok.recovered, true, JSON.stringify(r.ok));
  assert.deepEqual(r.replay.map((f) => f.seq), retained);

  // a wrong epoch: sequence numbers of another stream mean nothing here, so
  // `since` is not used: every retained matching message is replayed.
  r = await resume('ret-wrong-epoch', 'license.ret.>', 160, '2001-01-01T00:00:00.000Z');
  assert.equal(r.ok.recovered, false, `wrong epoch: ${JSON.stringify(r.ok)}`);
  assert.deepEqual(r.replay.map((f) => f.seq), retained, 'the retained ones are still replayed');

  // since beyond the stream's last sequence
  r = await resume('ret-beyond', 'license.ret.>', 5000, epoch);
  assert.equal(r.ok.recovered, false, `since beyond the last seq: ${JSON.stringify(r.ok)}`);
  assert.equal(r.ok.replayed, 0, JSON.stringify(r.ok));
  await r.c.ping();
  assert.deepEqual(r.c.queue.filter((f) => f.op === 'msg'), [], 'nothing replayed');
});
