// crash.test.mjs: a gateway killed with SIGKILL in the middle of a stream of
// events loses nothing (PROTOCOL.md "Delivery guarantee"): its clients
// reconnect to another instance of the same stream with since + epoch and
// end with every event exactly once, in order.
import assert from 'node:assert/strict';
import { test, before, after, startNats, startGateway, natsClient, connect, ms } from '../lib/harness.mjs';
import { msgsOf, waitFor, sequenceProblems, pacedPublish, streamLastSeq } from '../lib/resume.mjs';
import { fileStreamName } from '../lib/harness.mjs';

const N_CLIENTS = 100;
const N_EVENTS = 1000;

let nats;
let gwA;
let gwB;
let pub;

before(async () => {
  nats = await startNats();
  gwA = await startGateway({ natsUrl: nats.url, name: 'gwA' });
  gwB = await startGateway({ natsUrl: nats.url, name: 'gwB' });
  pub = await natsClient(nats.url);
});

after(async () => {
  await pub?.close();
  await Promise.all([gwA, gwB].filter(Boolean).map((g) => (g.proc.exitCode === null && g.proc.signalCode === null ? g.stop() : null)));
  await nats?.stop();
});

test(`kill -9 of a gateway mid-stream: ${N_CLIENTS} clients resume on another instance, nothing lost`, { timeout: 300000 }, async (t) => {
  const pattern = 'license.>';
  const clients = [];
  t.after(() => Promise.all(clients.flatMap((st) => st.conns).map((c) => c.close())));

  // 100 clients on A, subscribed before anything is published.
  const base = await streamLastSeq(pub.jsm, fileStreamName());
  for (let k = 0; k < N_CLIENTS; k++) {
    const c = await connect(gwA.wsUrl, { label: `client${k}@A` });
    const st = { label: `client${k}`, conns: [c], epoch: c.hello.epoch, resumed: null };
    clients.push(st);
  }
  const oks = await Promise.all(clients.map((st) => st.conns[0].sub(pattern)));
  for (const ok of oks) assert.ok(ok.seq >= base, `ok.seq ${ok.seq} >= ${base}`);
  const gotOf = (st) => st.conns.flatMap((c) => msgsOf(c).map((f) => f.seq));
  const lastOf = (st) => gotOf(st).at(-1) ?? base;

  // When A dies, each client reconnects to B with since = the last seq it saw.
  let killedAt = null;
  const reconnect = async (st) => {
    const first = st.conns[0];
    const closed = await first.closed;
    st.closeCode = closed.code;
    const since = lastOf(st);
    const c = await connect(gwB.wsUrl, { label: `${st.label}@B` });
    st.conns.push(c);
    assert.equal(c.hello.epoch, st.epoch, 'B reports the same epoch as A');
    const ok = await c.sub(pattern, { since, epoch: st.epoch });
    st.resumed = { since, ok };
    return ok;
  };
  const reconnects = clients.map((st) => reconnect(st));

  let publishedAtKill = 0;
  const evs = Array.from({ length: N_EVENTS }, (_, i) => ({
    subject: `license.crash${i % 5}.${i % 7 ? 'assigned' : 'failed'}`,
    data: { batch_id: `crash${i % 5}`, license_id: `L-${i}`, hcp_id: `H-${i}`, product: 'p', worker: i % 4, duration_ms: 3, ts: new Date().toISOString(), i },
  }));
  const seqs = await pacedPublish(pub.js, evs, {
    chunk: 10,
    pauseMs: 10,
    onProgress: async (n) => {
      if (killedAt === null && n >= N_EVENTS / 2) {
        killedAt = n;
        await gwA.kill();
        publishedAtKill = n;
      }
    },
  });
  assert.equal(publishedAtKill, N_EVENTS / 2);
  const okBs = await Promise.all(reconnects);
  for (const ok of okBs) assert.equal(ok.recovered, true, JSON.stringify(ok));

  const finalSeq = seqs.at(-1);
  await Promise.all(
    clients.map((st) => waitFor(st.conns[1], () => lastOf(st) >= finalSeq, { timeoutMs: ms(120000), what: `${st.label}: every event up to ${finalSeq}` })),
  );

  const lastOnA = clients.map((st) => msgsOf(st.conns[0]).at(-1)?.seq ?? base);
  const replayed = okBs.reduce((a, ok) => a + ok.replayed, 0);
  t.diagnostic(
    `A killed after ${publishedAtKill} of ${N_EVENTS} events; clients had seen up to seq ${Math.min(...lastOnA)}..${Math.max(...lastOnA)} on A ` +
      `(first event ${seqs[0]}, last ${finalSeq}); close codes ${[...new Set(clients.map((st) => st.closeCode))]}; ${replayed} msgs replayed by B`,
  );
  for (const st of clients) {
    const got = gotOf(st);
    const problem = sequenceProblems(got, seqs);
    assert.equal(problem, null, `${st.label} (since ${st.resumed.since}, ok ${JSON.stringify(st.resumed.ok)}): ${problem}`);
    // On B: exactly ok.replayed frames with seq <= ok.seq, before the live ones.
    const onB = msgsOf(st.conns[1]).map((f) => f.seq);
    const nReplay = onB.filter((s) => s <= st.resumed.ok.seq).length;
    assert.equal(nReplay, st.resumed.ok.replayed, `${st.label}: ok ${JSON.stringify(st.resumed.ok)}`);
  }
  // The crash happened in the middle: the clients had some but not all events on A.
  assert.ok(Math.max(...lastOnA) < finalSeq, 'A died before the end of the stream');
  assert.ok(Math.min(...lastOnA) >= seqs[0], 'every client had received events from A');
});
