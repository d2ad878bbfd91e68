// natsproxy.mjs: a fault-injecting TCP proxy in front of a real nats-server.
// Client to server bytes pass as they are; server to client messages (MSG and
// HMSG) go through a transform that may drop or rewrite them. Used to make a
// JetStream consumer deliver what a faulty cluster node delivered in the field.
import net from 'node:net';

/**
 * Parse the server-to-client byte stream into protocol items. Each item is
 * {line} (INFO, PING, +OK, ...) or {op: 'MSG'|'HMSG', subject, sid, reply,
 * hdr: Buffer|null, body: Buffer}. Returns {push(chunk) -> items}.
 */
function parser() {
  let buf = Buffer.alloc(0);
  return {
    push(chunk) {
      buf = Buffer.concat([buf, chunk]);
      const items = [];
      for (;;) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) break;
        const line = buf.subarray(0, eol).toString('latin1');
        const parts = line.split(' ').filter(Boolean);
        const op = (parts[0] || '').toUpperCase();
        if (op !== 'MSG' && op !== 'HMSG') {
          items.push({ line });
          buf = buf.subarray(eol + 2);
          continue;
        }
        const headers = op === 'HMSG';
        const total = Number(parts.at(-1));
        const hdrLen = headers ? Number(parts.at(-2)) : 0;
        const nfixed = headers ? 5 : 4; // op subject sid [reply] (hdr) total
        const reply = parts.length > nfixed ? parts[3] : null;
        if (buf.length < eol + 2 + total + 2) break; // wait for the payload
        const data = buf.subarray(eol + 2, eol + 2 + total);
        items.push({ op, subject: parts[1], sid: parts[2], reply, hdr: headers ? Buffer.from(data.subarray(0, hdrLen)) : null, body: Buffer.from(data.subarray(hdrLen)) });
        buf = buf.subarray(eol + 2 + total + 2);
      }
      return items;
    },
  };
}

function serialize(it) {
  if (it.line !== undefined) return Buffer.from(it.line + '\r\n', 'latin1');
  const reply = it.reply ? ` ${it.reply}` : '';
  if (it.hdr) {
    const total = it.hdr.length + it.body.length;
    return Buffer.concat([Buffer.from(`HMSG ${it.subject} ${it.sid}${reply} ${it.hdr.length} ${total}\r\n`, 'latin1'), it.hdr, it.body, Buffer.from('\r\n')]);
  }
  return Buffer.concat([Buffer.from(`MSG ${it.subject} ${it.sid}${reply} ${it.body.length}\r\n`, 'latin1'), it.body, Buffer.from('\r\n')]);
}

/**
 * Listen on a free loopback port and forward to 127.0.0.1:upstreamPort.
 * transform(item) returns the item (possibly changed) or null to drop it.
 * Returns {url, port, close()}.
 */
export async function startNatsProxy(upstreamPort, transform) {
  const sockets = new Set();
  const server = net.createServer((down) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(down);
    sockets.add(up);
    const p = parser();
    down.pipe(up);
    up.on('data', (chunk) => {
      for (const it of p.push(chunk)) {
        const out = it.line !== undefined ? it : transform(it);
        if (out) down.write(serialize(out));
      }
    });
    const end = () => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    up.on('close', end).on('error', end);
    down.on('close', end).on('error', end);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * The JetStream metadata of a message's reply subject ($JS.ACK...), as
 * {stream, consumer, sseq, cseq, set(sseq, cseq) -> new reply}, or null.
 * Both the 9-token and the 12-token (domain, account hash) forms.
 */
export function jsAckInfo(reply) {
  if (!reply || !reply.startsWith('$JS.ACK.')) return null;
  const t = reply.split('.');
  const base = t.length === 9 ? 2 : t.length >= 11 ? 4 : -1;
  if (base < 0) return null;
  return {
    stream: t[base],
    consumer: t[base + 1],
    sseq: Number(t[base + 3]),
    cseq: Number(t[base + 4]),
    set(sseq, cseq) {
      const u = t.slice();
      u[base + 3] = String(sseq);
      u[base + 4] = String(cseq);
      return u.join('.');
    },
  };
}

/**
 * A transform for startNatsProxy: the first consumer seen on stream `stream`
 * skips stream sequences [from, to) although the stream holds them, and
 * numbers what follows as if it had not (its consumer sequence, and the
 * Nats-Last-Consumer of its heartbeats, stay contiguous). Other consumers
 * pass untouched. Returns {transform, skipped: [] (the sseqs dropped), consumer()}.
 */
export function consumerSkip(stream, from, to) {
  let consumer = null;
  let deliverSubject = null;
  let dropped = 0;
  const skipped = [];
  const transform = (it) => {
    const md = jsAckInfo(it.reply);
    if (md && md.stream === stream && consumer === null) {
      consumer = md.consumer;
      deliverSubject = it.subject;
    }
    if (md && md.consumer === consumer) {
      if (md.sseq >= from && md.sseq < to) {
        skipped.push(md.sseq);
        dropped++;
        return null;
      }
      if (dropped) it.reply = md.set(md.sseq, md.cseq - dropped);
      return it;
    }
    if (!md && dropped && it.subject === deliverSubject && it.hdr) {
      // a heartbeat or flow-control status of that consumer: same numbering
      const text = it.hdr.toString('latin1').replace(/(Nats-Last-Consumer:\s*)(\d+)/i, (_, k, n) => `${k}${Number(n) - dropped}`);
      it.hdr = Buffer.from(text, 'latin1');
    }
    return it;
  };
  return { transform, skipped, consumer: () => consumer };
}
