// client.mjs: a WebSocket client for the wsgate protocol (PROTOCOL.md) on top
// of `ws`. Every received frame is buffered in arrival order, so a test can
// await "the next frame matching X" without racing the network.
import WebSocket from 'ws';
import { withTimeout, ms } from './util.mjs';

export const DEFAULT_TIMEOUT = ms(15000);

let idCounter = 0;

export class Client {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    /** Every frame ever received, parsed ({op:'__raw', raw} when not JSON). */
    this.history = [];
    /** Frames not yet taken by next()/take(). */
    this.queue = [];
    this.waiters = [];
    this.hello = null;
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this._wake();
      });
    });
    ws.on('message', (data, isBinary) => {
      let f;
      const text = data.toString('utf8');
      try {
        f = JSON.parse(text);
      } catch {
        f = { op: '__raw', raw: text };
      }
      if (isBinary) f = { op: '__binary', raw: text };
      this.history.push(f);
      this.queue.push(f);
      this._wake();
    });
    ws.on('error', (e) => {
      this.lastError = e;
    });
  }

  /**
   * Open a connection and resolve once the `hello` frame arrived (the hello
   * stays in history, not in the queue). opts.headers: upgrade headers;
   * opts.expectHello=false resolves on open. A refused upgrade rejects with
   * an Error carrying .status and .headers.
   */
  static async connect(wsUrl, { headers = {}, timeoutMs = DEFAULT_TIMEOUT, expectHello = true, label = wsUrl, wsOptions = {} } = {}) {
    const ws = new WebSocket(wsUrl, { headers, handshakeTimeout: timeoutMs, ...wsOptions });
    const c = new Client(ws, label);
    await withTimeout(
      new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
        ws.once('unexpected-response', (req, res) => {
          const e = new Error(`${label}: upgrade refused: HTTP ${res.statusCode}`);
          e.status = res.statusCode;
          e.headers = res.headers;
          res.resume();
          req.destroy();
          reject(e);
        });
      }),
      timeoutMs,
      `WebSocket open ${wsUrl}`,
    );
    if (expectHello) {
      c.hello = await c.next((f) => f.op === 'hello', timeoutMs, 'hello frame');
    }
    return c;
  }

  _wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Remove and return the first queued frame matching pred, or undefined. */
  take(pred = () => true) {
    const i = this.queue.findIndex(pred);
    if (i < 0) return undefined;
    return this.queue.splice(i, 1)[0];
  }

  /** Remove and return every queued frame matching pred. */
  takeAll(pred = () => true) {
    const out = [];
    this.queue = this.queue.filter((f) => {
      if (pred(f)) {
        out.push(f);
        return false;
      }
      return true;
    });
    return out;
  }

  /**
   * The next frame (in arrival order) matching pred, removed from the queue.
   * Frames that do not match stay queued for later calls. Rejects on timeout
   * or when the connection closes with no matching frame buffered.
   */
  async next(pred = () => true, timeoutMs = DEFAULT_TIMEOUT, what = 'a matching frame') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.take(pred);
      if (f !== undefined) return f;
      if (this.closeInfo) {
        throw new Error(`${this.label}: connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}; queued: ${this._summary()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: timeout after ${timeoutMs} ms waiting for ${what}; queued: ${this._summary()}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next `msg` frame, optionally on exactly `subject`. */
  nextMsg(subject, timeoutMs = DEFAULT_TIMEOUT) {
    return this.next((f) => f.op === 'msg' && (subject === undefined || f.subject === subject), timeoutMs, `msg${subject ? ' on ' + subject : ''}`);
  }

  /** Wait until `count` frames matching pred have been received (taken from the queue). */
  async collect(pred, count, timeoutMs = DEFAULT_TIMEOUT, what = 'frames') {
    const out = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count) {
      const left = Math.max(1, deadline - Date.now());
      out.push(await this.next(pred, left, `${what} (${out.length}/${count} so far)`));
    }
    return out;
  }

  _summary() {
    const q = this.queue.slice(0, 5).map((f) => JSON.stringify(f).slice(0, 200));
    return `${this.queue.length} frame(s)${q.length ? ': ' + q.join(' | ') : ''}`;
  }

  /** Send a JSON object (or a string / Buffer as is). */
  send(obj, { binary = false } = {}) {
    const data = typeof obj === 'string' || Buffer.isBuffer(obj) ? obj : JSON.stringify(obj);
    this.ws.send(data, { binary });
  }

  /** Send op with a fresh id (unless given) and resolve the ok/err/pong that answers it. */
  async request(op, timeoutMs = DEFAULT_TIMEOUT) {
    const id = op.id ?? `r${++idCounter}`;
    this.send({ ...op, id });
    return this.next((f) => (f.op === 'ok' || f.op === 'err' || f.op === 'pong') && f.id === id, timeoutMs, `reply to ${JSON.stringify({ ...op, id })}`);
  }

  /** sub and assert ok; resolves the ok frame. */
  async sub(subject, extra = {}) {
    const r = await this.request({ op: 'sub', subject, ...extra });
    if (r.op !== 'ok') throw new Error(`${this.label}: sub ${subject} answered ${JSON.stringify(r)}`);
    return r;
  }

  /** unsub and assert ok. */
  async unsub(subject) {
    const r = await this.request({ op: 'unsub', subject });
    if (r.op !== 'ok') throw new Error(`${this.label}: unsub ${subject} answered ${JSON.stringify(r)}`);
    return r;
  }

  /** Round trip: resolves the pong (everything the server sent before it is queued by then). */
  async ping() {
    const r = await this.request({ op: 'ping' });
    if (r.op !== 'pong') throw new Error(`${this.label}: ping answered ${JSON.stringify(r)}`);
    return r;
  }

  /** Stop reading from the socket (a slow consumer); resume() reads again. */
  pause() {
    this.ws._socket.pause();
  }
  resume() {
    this.ws._socket.resume();
  }

  /** Close (1000) and wait for the close to complete. */
  async close(timeoutMs = DEFAULT_TIMEOUT) {
    if (!this.closeInfo) {
      try {
        this.ws.close(1000);
      } catch {
        this.ws.terminate();
      }
      try {
        await withTimeout(this.closed, timeoutMs, `${this.label} close`);
      } catch {
        this.ws.terminate();
      }
    }
    return this.closeInfo;
  }

  terminate() {
    this.ws.terminate();
  }
}

export const connect = (wsUrl, opts) => Client.connect(wsUrl, opts);
