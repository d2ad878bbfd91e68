#!/usr/bin/env node
// node-gateway.mjs: the Node.js peer of the deflate scenario (wsbench.mjs
// deflate). A minimal gateway on the `ws` and `nats` npm packages: it reads
// one JetStream stream with an ordered consumer (new messages only) and sends
// each message to every WebSocket client with a matching subscription, as one
// text frame in wsgate's own format (PROTOCOL.md: hello, sub -> ok, msg), so
// the benchmark's wsgate clients work with it unchanged and both servers put
// the same bytes in each frame.
//
//   node bench/node-gateway.mjs --listen 127.0.0.1:PORT --nats nats://127.0.0.1:4222 \
//       --stream EVENTS [--deflate on|off] [--threshold 0]
//
// --deflate on: permessage-deflate with the `ws` defaults (context takeover on
// both sides unless the client asks otherwise, zlib level 6, memLevel 8,
// window bits 15 or what the client requests, concurrencyLimit 10) and
// --threshold (0: every message; ws 8 applies the threshold only when server
// context takeover is off, so with takeover every message is compressed
// whatever the threshold). GET /readyz is 200 once the consumer runs.
// What it lacks next to wsgate: replay, auth, limits, a send queue bound,
// heartbeats; it is a peer for the wire and CPU figures, not a product.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import { connect, DeliverPolicy } from 'nats';

const { values: a } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:8090' },
    nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    stream: { type: 'string', default: 'EVENTS' },
    deflate: { type: 'string', default: 'on' },
    threshold: { type: 'string', default: '0' },
  },
});
if (!['on', 'off'].includes(a.deflate)) {
  console.error('--deflate: on or off');
  process.exit(2);
}
const [host, portText] = a.listen.split(':');
const perMessageDeflate = a.deflate === 'on' ? { threshold: Number(a.threshold) } : false;

/** Whether subject (tokens) matches pattern (tokens; `*` one token, final `>` one or more). */
function matches(pat, sub) {
  for (let k = 0; k < pat.length; k++) {
    if (pat[k] === '>') return sub.length > k;
    if (k >= sub.length) return false;
    if (pat[k] !== '*' && pat[k] !== sub[k]) return false;
  }
  return pat.length === sub.length;
}

/** Clients: ws -> Map(pattern text -> tokens). Recipients per subject, cached until a sub changes. */
const clients = new Map();
let recipients = new Map();
const invalidate = () => (recipients = new Map());

function recipientsOf(subject) {
  let list = recipients.get(subject);
  if (list) return list;
  const toks = subject.split('.');
  list = [];
  for (const [ws, pats] of clients) {
    for (const p of pats.values()) {
      if (matches(p, toks)) {
        list.push(ws);
        break;
      }
    }
  }
  recipients.set(subject, list);
  return list;
}

let lastSeq = 0;
let ready = false;
let connSeq = 0;
const epoch = new Date().toISOString();
const send = (ws, obj) => ws.send(JSON.stringify(obj));

const server = http.createServer((req, res) => {
  if (req.url === '/readyz') {
    res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
    return res.end(ready ? 'ready\n' : 'starting\n');
  }
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate, maxPayload: 65536 });

wss.on('connection', (ws) => {
  const pats = new Map();
  clients.set(ws, pats);
  send(ws, { op: 'hello', version: 1, server: 'node-ws-gateway', conn: `n${++connSeq}`, epoch, heartbeat_ms: 0, max_frame: 65536 });
  ws.on('message', (data) => {
    let f;
    try {
      f = JSON.parse(data.toString('utf8'));
    } catch {
      return send(ws, { op: 'err', code: 'bad_request', message: 'not JSON' });
    }
    const id = typeof f.id === 'string' ? { id: f.id } : {};
    if (f.op === 'sub' && typeof f.subject === 'string') {
      pats.set(f.subject, f.subject.split('.'));
      invalidate();
      send(ws, { op: 'ok', ...id, subject: f.subject, seq: lastSeq });
    } else if (f.op === 'unsub' && typeof f.subject === 'string') {
      pats.delete(f.subject);
      invalidate();
      send(ws, { op: 'ok', ...id, subject: f.subject });
    } else if (f.op === 'ping') {
      send(ws, { op: 'pong', ...id });
    } else {
      send(ws, { op: 'err', ...id, code: 'bad_request', message: 'unknown op' });
    }
  });
  ws.on('close', () => {
    clients.delete(ws);
    invalidate();
  });
  ws.on('error', () => {});
});

const CLOSE = Buffer.from('}');

async function main() {
  const nc = await connect({ servers: a.nats, reconnect: true, maxReconnectAttempts: -1 });
  const js = nc.jetstream();
  const consumer = await js.consumers.get(a.stream, { deliver_policy: DeliverPolicy.New });
  const msgs = await consumer.consume({ max_messages: 512 });
  await new Promise((resolve) => server.listen(Number(portText), host, resolve));
  ready = true;
  for await (const m of msgs) {
    lastSeq = m.seq;
    const list = recipientsOf(m.subject);
    if (!list.length) continue;
    const frame = Buffer.concat([Buffer.from(`{"op":"msg","subject":${JSON.stringify(m.subject)},"seq":${m.seq},"data":`), m.data, CLOSE]);
    for (const ws of list) ws.send(frame, { binary: false });
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
main().catch((e) => {
  console.error(`node-gateway: ${e.stack || e.message}`);
  process.exit(1);
});
