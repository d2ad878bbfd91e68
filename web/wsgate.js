/**
 * wsgate.js: browser client for the wsgate WebSocket gateway (protocol v1).
 *
 * No dependencies, no build step: import it as an ES module.
 *
 *   import { WsGate } from '/wsgate.js';
 *   const gate = new WsGate();                  // ws(s)://<page host>/ws
 *   gate.on('status', (s) => console.log('connection is', s.status));
 *   gate.on('reset', () => reloadStateFromRestApi());
 *   const stop = gate.subscribe('batch.*.progress', (m) => render(m.subject, m.data));
 *   gate.connect();
 *
 * What it does for you:
 *  - reconnects after any unexpected close, with exponential backoff and jitter;
 *  - resumes every subscription after a reconnect with `since` (the last stream
 *    sequence it delivered for that subscription) and the stream `epoch`, so a
 *    gateway restart or a slow-consumer close loses nothing;
 *  - drops duplicate `msg` frames (same `seq` twice for a subscription);
 *  - sends an application `ping` every heartbeat and drops a link that stays
 *    silent (half-open TCP connections, sleeping laptops);
 *  - emits `reset` when a resume could not be exact (the app should reload
 *    its state) and `error` for every `err` frame;
 *  - `await gate.subscribe(...)`: the unsubscribe function is also a promise
 *    of the server's `ok` (rejects on `forbidden` and other refusals);
 *  - `resumeState()` / `importResumeState()` / `subscribe(p, fn, {since})`:
 *    a service persists its resume points and continues across restarts;
 *  - `getToken`: refreshes the JWT on the open connection before it expires
 *    (the server's `refresh` hint), retried with backoff, without reconnecting.
 *
 * Also the npm package @wsgate/client (web/package: ESM, CommonJS, types).
 *
 * See docs/client.md for the full documentation.
 *
 * @module wsgate
 */

/** Version of the wire protocol this client speaks. */
export const PROTOCOL_VERSION = 1;

/**
 * Connection status.
 * - `connecting`: first connection attempt in progress (no `hello` yet).
 * - `live`: `hello` received; subscriptions are (re)established.
 * - `reconnecting`: the link dropped; waiting for the next attempt or attempting.
 * - `closed`: stopped, by {@link WsGate#close} or by a close that must not be
 *   retried (1009, 4002 without a token provider). Call `connect()` to restart.
 * @typedef {'connecting'|'live'|'reconnecting'|'closed'} WsGateStatus
 */

/**
 * A message delivered to a subscription handler: the server's `msg` frame.
 * @typedef {object} WsGateMessage
 * @property {string} subject  published subject, e.g. `license.b42.assigned`
 * @property {number} seq      JetStream stream sequence (unique within one epoch)
 * @property {*} data          payload: parsed JSON, or a string
 * @property {string} [encoding] `"base64"` when `data` is base64 of a non UTF-8 payload
 */

/**
 * @typedef {object} WsGateOptions
 * @property {string} [url] WebSocket URL. Default: `ws(s)://<location.host>/ws`.
 * @property {string|(() => (string|Promise<string>))} [token] JWT sent as
 *   `?token=`; a function is called before every connection attempt (use it to
 *   refresh tokens; it also makes a 4002 close retryable).
 * @property {() => (string|Promise<string>)} [getToken] returns a fresh JWT.
 *   Used for the upgrade when `token` is not given, and to replace the token
 *   of the open connection (`refresh` op) when the server's `refresh` hint
 *   arrives (or `refreshAheadMs` before `exp` without one), retried with
 *   backoff on failure until `exp`, with no reconnect. Makes 4002 retryable.
 * @property {number} [refreshAheadMs=30000] with `getToken`, refresh this long
 *   before `exp` when the server gives no hint (the server's own lead, from
 *   `hello.refresh_in_ms`, wins when known).
 * @property {number} [backoffMinMs=250] first reconnect delay.
 * @property {number} [backoffMaxMs=10000] reconnect delay cap.
 * @property {number} [stableAfterMs=5000] a connection that stayed open this
 *   long resets the backoff to its minimum.
 * @property {number} [heartbeatMs] application ping interval. Default: the
 *   server's `hello.heartbeat_ms` (25 s), at most `maxHeartbeatMs`.
 * @property {number} [maxHeartbeatMs=15000] cap on the ping interval.
 * @property {number} [pongTimeoutMs=10000] a ping not answered (nor any
 *   other frame received) within this time drops the link.
 * @property {number} [helloTimeoutMs=10000] time allowed between starting a
 *   connection and receiving `hello`.
 * @property {boolean} [reconnect=true] reconnect automatically.
 * @property {typeof WebSocket} [WebSocket] WebSocket constructor (for Node:
 *   the `ws` package). Default: `globalThis.WebSocket`.
 * @property {WsGateResumeState|string} [resumeState] resume points from
 *   {@link WsGate#resumeState} (the object or its JSON): see
 *   {@link WsGate#importResumeState}.
 */

/**
 * What a subscription's promise resolves with: the server's `ok` for it.
 * @typedef {object} WsGateSubscribeOk
 * @property {string} subject  the pattern
 * @property {number|null} seq the stream's last sequence when it became live
 * @property {number} [replayed] with `since`: how many messages the replay sends
 * @property {boolean} [recovered] with `since`: false when some were no longer retained
 */

/**
 * Resume points that outlive the client object: JSON-serializable.
 * @typedef {object} WsGateResumeState
 * @property {1} version
 * @property {string|null} epoch the stream epoch the points belong to
 * @property {Object<string, number>} subs pattern -> last stream seq delivered
 */

/**
 * A subscription's failure (the promise of {@link WsGate#subscribe} rejects
 * with it): `code` is the server's error code (`forbidden`, `bad_subject`,
 * `too_many_subscriptions`, `bad_request`) or `unsubscribed`.
 */
export class WsGateError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {string} [subject]
   */
  constructor(code, message, subject) {
    super(`${code}: ${message}`);
    this.name = 'WsGateError';
    this.code = code;
    this.subject = subject;
  }
}

/**
 * Whether a subject matches a NATS-style pattern (`*` = one token, final `>` =
 * one or more tokens).
 * @param {string} pattern subscription pattern, e.g. `license.*.failed`
 * @param {string} subject concrete subject, e.g. `license.b42.failed`
 * @returns {boolean}
 */
export function subjectMatches(pattern, subject) {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>' && i === p.length - 1) return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/**
 * Whether some subject could match both patterns.
 * @param {string} a
 * @param {string} b
 * @returns {boolean}
 */
export function patternsOverlap(a, b) {
  const p = a.split('.');
  const q = b.split('.');
  for (let i = 0; ; i++) {
    const x = p[i];
    const y = q[i];
    if (x === undefined || y === undefined) return x === y;
    if ((x === '>' && i === p.length - 1) || (y === '>' && i === q.length - 1)) return true;
    if (x !== '*' && y !== '*' && x !== y) return false;
  }
}

const SEEN_LIMIT = 4096; // per subscription: recent seqs kept for duplicate detection
const REPLAY_IDLE_MS = 5000;
const NO_RETRY_CODES = new Set(['bad_subject', 'forbidden', 'too_many_subscriptions', 'bad_request']);

/** Close codes that end the session instead of reconnecting (4002 only without a token function). */
const FATAL_CLOSE = new Set([1009, 4002]);
const REFRESH_MIN_MS = 1000; // a fallback refresh timer never fires sooner than this after a refresh

function defaultUrl() {
  const loc = globalThis.location;
  if (!loc || !loc.host) throw new Error('WsGate: no url given and no page location to derive it from');
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

function rethrowLater(err) {
  setTimeout(() => { throw err; }, 0);
}

/**
 * Client for one wsgate connection, with any number of subscriptions.
 *
 * Events (subscribe with {@link WsGate#on}):
 * - `status` `{status, previous, code?, reason?, delayMs?, attempt?}`: status changed.
 * - `connecting` | `live` | `reconnecting` | `closed`: same detail, one event per status.
 * - `hello` `hello frame`: a connection was established.
 * - `reset` `{reason, subject?, subjects?, epoch, previousEpoch?}`: resume was not
 *   exact (`reason` is `'epoch'` when the stream changed, `'not_recovered'` when
 *   `ok.recovered` was false); reload state from the REST API.
 * - `error` `{code, message, id?, subject?, op?}`: an `err` frame, or a
 *   client-side problem (`code` `'client'`).
 * - `close` `{code, reason, wasClean}`: the socket closed.
 * - `message` `WsGateMessage`: every `msg` frame delivered to at least one handler.
 * - `refresh` `{exp}`: the connection's token was replaced (`getToken` or {@link WsGate#refresh}).
 * - `unsubscribed` `{subject, reason}`: the server ended a subscription (a
 *   refreshed token no longer allows it); it is not re-sent on reconnect.
 */
export class WsGate {
  /**
   * Create a client. Nothing happens until {@link WsGate#connect}.
   * @param {WsGateOptions} [options]
   */
  constructor(options = {}) {
    this.options = {
      backoffMinMs: 250,
      backoffMaxMs: 10000,
      stableAfterMs: 5000,
      heartbeatMs: undefined,
      maxHeartbeatMs: 15000,
      pongTimeoutMs: 10000,
      helloTimeoutMs: 10000,
      reconnect: true,
      refreshAheadMs: 30000,
      ...options,
    };
    /** @type {string} */
    this.url = options.url || defaultUrl();
    this._WS = options.WebSocket || globalThis.WebSocket;
    if (!this._WS) throw new Error('WsGate: no WebSocket implementation');
    /** @type {WsGateStatus} */
    this._status = 'closed';
    this._listeners = new Map();
    this._subs = new Map(); // pattern -> sub record
    this._imported = new Map(); // pattern -> {seq, epoch}: imported resume points not subscribed yet
    this._pending = new Map(); // op id -> {op, pattern?, resolve?, reject?, timer?}
    this._nextId = 1;
    this._ws = null;
    this._opening = false; // awaiting the token function
    this._hello = null;
    this._epoch = null;
    this._attempt = 0;
    this._retryTimer = null;
    this._helloTimer = null;
    this._pingTimer = null;
    this._pongTimer = null;
    this._wanted = false; // connect() called and close() not called
    this._everLive = false;
    this._liveSince = 0;
    this._lastRx = 0;
    this._exp = null; // the connection's token exp (seconds), from hello / refresh ok
    this._aheadMs = null; // the server's refresh lead, from hello
    this._refreshTimer = null;
    this._refreshing = null; // the refresh in flight (a promise)
    this._refreshAttempt = 0;
    this._onOnline = () => { if (this._retryTimer) this._retryNow(); };
    if (options.resumeState != null) this.importResumeState(options.resumeState);
  }

  /** @returns {WsGateStatus} the current connection status. */
  get status() { return this._status; }

  /** @returns {string|null} the stream epoch from the last `hello` (null before the first). */
  get epoch() { return this._epoch; }

  /** @returns {object|null} the last `hello` frame (server, conn, heartbeat_ms, ...). */
  get hello() { return this._hello; }

  /**
   * Open the connection (and keep it open: reconnects are automatic).
   * Calling it while connected or connecting does nothing.
   * @returns {this}
   */
  connect() {
    if (!this._wanted) this._attempt = 0;
    this._wanted = true;
    if (globalThis.addEventListener) globalThis.addEventListener('online', this._onOnline);
    if (!this._ws && !this._retryTimer && !this._opening) this._open();
    return this;
  }

  /**
   * Close the connection for good (status `closed`), keeping the subscriptions
   * and their resume points: a later {@link WsGate#connect} resumes them.
   * @param {number} [code=1000] close code sent to the server
   * @param {string} [reason]
   */
  close(code = 1000, reason = '') {
    this._wanted = false;
    if (globalThis.removeEventListener) globalThis.removeEventListener('online', this._onOnline);
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const ws = this._ws;
    this._teardown();
    if (ws) {
      try { ws.close(code, reason); } catch { /* already closing */ }
    }
    this._setStatus('closed', { code, reason });
  }

  /**
   * Subscribe to a subject pattern (`*` and final `>` wildcards). Several
   * handlers may share a pattern; the subscription is sent to the server once
   * (again after every reconnect, resuming where it left off) and removed when
   * its last handler unsubscribes. A handler added to a pattern that is
   * already live only gets the messages that arrive from then on.
   *
   * The returned value is the unsubscribe function (idempotent), as it always
   * was, and also a thenable: `await gate.subscribe(...)` waits for the
   * server's `ok` (resolves {@link WsGateSubscribeOk}) and rejects with a
   * {@link WsGateError} when the server refuses the subscription for good
   * (`forbidden`, `bad_subject`, `too_many_subscriptions`, `bad_request`) or
   * when it is unsubscribed before its `ok`. Errors the client retries
   * (`rate_limited`, `internal`) do not settle it. `.ready` is the same as a
   * real Promise. Ignoring the promise is fine: a refusal is never an
   * unhandled rejection unless `then` was called.
   *
   * @param {string} pattern e.g. `batch.>` or `license.b42.*`
   * @param {(msg: WsGateMessage) => void} onMessage called once per message
   * @param {{since?: number, epoch?: string}} [opts] when this call creates the
   *   subscription: resume it from `since` (the last seq already handled) in
   *   stream `epoch`, instead of starting live (see docs/client.md)
   * @returns {(() => void) & PromiseLike<WsGateSubscribeOk> & {ready: Promise<WsGateSubscribeOk>, unsubscribe: () => void, pattern: string}}
   */
  subscribe(pattern, onMessage, opts) {
    if (typeof pattern !== 'string' || pattern === '') throw new TypeError('WsGate.subscribe: pattern must be a non-empty string');
    if (typeof onMessage !== 'function') throw new TypeError('WsGate.subscribe: onMessage must be a function');
    const since = opts ? opts.since : undefined;
    const epoch = opts ? opts.epoch : undefined;
    if (since != null && !(Number.isSafeInteger(since) && since >= 0)) throw new TypeError('WsGate.subscribe: since must be an integer >= 0');
    if (epoch != null && typeof epoch !== 'string') throw new TypeError('WsGate.subscribe: epoch must be a string');
    let sub = this._subs.get(pattern);
    if (!sub) {
      sub = {
        pattern,
        handlers: new Set(),
        lastSeq: null, // resume point: last stream seq delivered for this pattern
        epoch: null, // the epoch lastSeq belongs to (null: the next hello's)
        ok: null, // the last `ok` (what the promise resolves with)
        waiters: new Set(), // {resolve, reject} of promises waiting for `ok`
        dupFloor: null, // seqs <= this are duplicates (the `since` of the current resume)
        seen: new Set(),
        state: 'new', // new | pending | live | failed
        error: null,
        holding: false, // resuming with overlapping siblings: watermark frozen until the replay is done
        replayEnd: null,
        replayLeft: 0,
        pendingMax: 0,
        replayTimer: null,
      };
      const point = since != null ? { seq: since, epoch: epoch ?? null } : this._imported.get(pattern);
      this._imported.delete(pattern);
      if (point) {
        sub.lastSeq = point.seq;
        sub.epoch = point.epoch;
      }
      this._subs.set(pattern, sub);
      if (this._status === 'live') {
        if (this._staleEpoch(sub, this._epoch)) {
          const previousEpoch = sub.epoch;
          this._forget(sub);
          this._emit('reset', { reason: 'epoch', subjects: [pattern], epoch: this._epoch, previousEpoch });
        }
        this._sendSub(sub);
      }
    }
    const handler = (m) => onMessage(m);
    sub.handlers.add(handler);
    let waiter = null;
    const ready = new Promise((resolve, reject) => {
      if (sub.state === 'failed') reject(new WsGateError(sub.error ? sub.error.code : 'failed', sub.error ? sub.error.message : 'subscription failed', pattern));
      else if (sub.state === 'live' && sub.ok) resolve(sub.ok);
      else { waiter = { resolve, reject }; sub.waiters.add(waiter); }
    });
    ready.catch(() => { /* handled by whoever calls then(); never an unhandled rejection */ });
    let done = false;
    const unsubscribe = () => {
      if (done) return;
      done = true;
      sub.handlers.delete(handler);
      if (waiter && sub.waiters.delete(waiter)) waiter.reject(new WsGateError('unsubscribed', 'unsubscribed before the server confirmed', pattern));
      if (sub.handlers.size === 0 && this._subs.get(pattern) === sub) {
        this._subs.delete(pattern);
        clearTimeout(sub.replayTimer);
        if (this._status === 'live' && sub.state !== 'failed') this._send({ op: 'unsub', id: this._id({ op: 'unsub', pattern }), subject: pattern });
      }
    };
    unsubscribe.unsubscribe = unsubscribe;
    unsubscribe.pattern = pattern;
    unsubscribe.ready = ready;
    unsubscribe.then = (onOk, onErr) => ready.then(onOk, onErr);
    unsubscribe.catch = (onErr) => ready.catch(onErr);
    unsubscribe.finally = (fn) => ready.finally(fn);
    return unsubscribe;
  }

  /**
   * The resume points of every subscription, to persist and give back to a
   * later client ({@link WsGateOptions}.resumeState or
   * {@link WsGate#importResumeState}): that client continues exactly after the
   * last message this one delivered. JSON-serializable.
   * @returns {WsGateResumeState}
   */
  resumeState() {
    let epoch = this._epoch;
    if (epoch === null) {
      // not connected yet: the epoch of the points imported or given as `since`
      const points = [...[...this._subs.values()].filter((sub) => sub.lastSeq !== null), ...this._imported.values()];
      const known = points.find((p) => p.epoch != null);
      if (known) epoch = known.epoch;
    }
    const subs = {};
    const same = (e) => e == null || epoch === null || e === epoch;
    for (const [pattern, p] of this._imported) if (same(p.epoch)) subs[pattern] = p.seq;
    for (const sub of this._subs.values()) {
      if (sub.lastSeq !== null && same(sub.epoch)) subs[sub.pattern] = sub.lastSeq;
    }
    return { version: 1, epoch, subs };
  }

  /**
   * Continue from resume points that {@link WsGate#resumeState} returned
   * (the object or its JSON). A pattern subscribed later (without `since`)
   * resumes from its point; so does one already subscribed that has not
   * reached a gateway yet (call this before `connect()`). Points of live
   * subscriptions are not changed. When the gateway's stream has another
   * epoch, the points mean nothing: those subscriptions start live and a
   * `reset` (`reason: 'epoch'`) is emitted.
   * @param {WsGateResumeState|string} state
   * @returns {this}
   */
  importResumeState(state) {
    const st = typeof state === 'string' ? JSON.parse(state) : state;
    if (!st || typeof st !== 'object' || st.version !== 1 || !st.subs || typeof st.subs !== 'object') {
      throw new TypeError('WsGate.importResumeState: not a resume state (version 1)');
    }
    if (st.epoch != null && typeof st.epoch !== 'string') throw new TypeError('WsGate.importResumeState: epoch must be a string or null');
    const epoch = st.epoch ?? null;
    for (const [pattern, seq] of Object.entries(st.subs)) {
      if (pattern === '' || !Number.isSafeInteger(seq) || seq < 0) throw new TypeError(`WsGate.importResumeState: bad point for ${JSON.stringify(pattern)}`);
    }
    for (const [pattern, seq] of Object.entries(st.subs)) {
      const sub = this._subs.get(pattern);
      if (!sub) {
        this._imported.set(pattern, { seq, epoch });
      } else if (sub.state === 'new' && sub.ok === null) {
        sub.lastSeq = seq;
        sub.epoch = epoch;
        sub.seen.clear();
      }
    }
    return this;
  }

  /**
   * The resume point of a subscription: the last stream sequence delivered
   * (or known to be covered) for it, or null.
   * @param {string} pattern
   * @returns {number|null}
   */
  lastSeq(pattern) {
    const sub = this._subs.get(pattern);
    return sub ? sub.lastSeq : null;
  }

  /**
   * The patterns currently subscribed, with their state.
   * @returns {{pattern: string, state: string, lastSeq: number|null, error: object|null}[]}
   */
  subscriptions() {
    return [...this._subs.values()].map((s) => ({ pattern: s.pattern, state: s.state, lastSeq: s.lastSeq, error: s.error }));
  }

  /**
   * Send an application ping and measure the round trip.
   * @param {number} [timeoutMs] default `pongTimeoutMs`
   * @returns {Promise<number>} round-trip time in ms; rejects when not live or on timeout
   */
  ping(timeoutMs = this.options.pongTimeoutMs) {
    return new Promise((resolve, reject) => {
      if (this._status !== 'live') { reject(new Error('not connected')); return; }
      const t0 = Date.now();
      const rec = { op: 'ping' };
      const id = this._id(rec);
      rec.resolve = () => { clearTimeout(rec.timer); resolve(Date.now() - t0); };
      rec.reject = (e) => { clearTimeout(rec.timer); reject(e); };
      rec.timer = setTimeout(() => { this._pending.delete(id); reject(new Error('ping timeout')); }, timeoutMs);
      this._send({ op: 'ping', id });
    });
  }

  /**
   * Listen to an event (see the class description for the list).
   * @param {string} type
   * @param {(detail: any) => void} fn
   * @returns {() => void} function that removes the listener
   */
  on(type, fn) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  /**
   * Remove a listener added with {@link WsGate#on}.
   * @param {string} type
   * @param {(detail: any) => void} fn
   */
  off(type, fn) {
    const set = this._listeners.get(type);
    if (set) set.delete(fn);
  }

  // ---------------------------------------------------------------- internals

  _emit(type, detail) {
    const set = this._listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try { fn(detail); } catch (e) { rethrowLater(e); }
    }
  }

  _setStatus(status, extra = {}) {
    if (status === this._status) return;
    const previous = this._status;
    this._status = status;
    const detail = { status, previous, ...extra };
    this._emit('status', detail);
    this._emit(status, detail);
  }

  _id(rec) {
    const id = String(this._nextId++);
    this._pending.set(id, rec);
    if (this._pending.size > 1024) this._pending.delete(this._pending.keys().next().value);
    return id;
  }

  _send(frame) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch (e) {
      this._emit('error', { code: 'client', message: `send failed: ${e && e.message}` });
      return false;
    }
  }

  async _open() {
    this._setStatus(this._everLive || this._attempt > 0 ? 'reconnecting' : 'connecting', { attempt: this._attempt });
    let url = this.url;
    const tok = this.options.token || this.options.getToken;
    if (tok) {
      let value;
      this._opening = true;
      try {
        value = typeof tok === 'function' ? await tok() : tok;
      } catch (e) {
        this._opening = false;
        if (!this._wanted) return;
        this._emit('error', { code: 'client', message: `token provider failed: ${e && e.message}` });
        this._scheduleRetry({ code: 0, reason: 'token' });
        return;
      }
      this._opening = false;
      if (!this._wanted || this._ws) return;
      if (value) url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(value);
    }
    let ws;
    try {
      ws = new this._WS(url);
    } catch (e) {
      this._emit('error', { code: 'client', message: `cannot open ${this.url}: ${e && e.message}` });
      this._scheduleRetry({ code: 0, reason: 'open failed' });
      return;
    }
    this._ws = ws;
    this._startedAt = Date.now();
    ws.onmessage = (ev) => { if (this._ws === ws) this._onFrame(ev.data); };
    ws.onclose = (ev) => { if (this._ws === ws) this._onClose(ev.code, ev.reason, ev.wasClean); };
    ws.onerror = () => { /* a close event follows */ };
    this._helloTimer = setTimeout(() => this._drop(4000, 'no hello'), this.options.helloTimeoutMs);
  }

  /** Forget the socket and its timers (but not subscriptions or resume points). */
  _teardown() {
    const ws = this._ws;
    this._ws = null;
    if (ws) { ws.onmessage = null; ws.onclose = null; ws.onerror = null; ws.onopen = null; }
    clearTimeout(this._helloTimer);
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    clearTimeout(this._refreshTimer);
    this._helloTimer = this._pingTimer = this._pongTimer = this._refreshTimer = null;
    this._refreshAttempt = 0;
    for (const [id, rec] of this._pending) {
      if (rec.reject) rec.reject(new Error('connection closed'));
      this._pending.delete(id);
    }
    for (const sub of this._subs.values()) {
      clearTimeout(sub.replayTimer);
      if (sub.holding) this._finishReplay(sub, false);
      if (sub.state !== 'failed') sub.state = 'new';
    }
  }

  /** Abandon a link we consider dead and reconnect. */
  _drop(code, reason) {
    const ws = this._ws;
    if (!ws) return;
    try { ws.close(code, reason); } catch { /* ignore */ }
    this._onClose(1006, reason, false);
  }

  _onClose(code, reason, wasClean) {
    const liveFor = this._liveSince ? Date.now() - this._liveSince : 0;
    this._teardown();
    this._liveSince = 0;
    this._emit('close', { code, reason, wasClean });
    if (!this._wanted) { this._setStatus('closed', { code, reason }); return; }
    // A connection that stayed up resets the backoff; so does a live one that
    // the gateway closed with 1001 (shutting down or draining: come back at
    // once, to whichever instance answers). One closed right after opening
    // does not, so a gateway that accepts then closes is not hammered.
    if (liveFor >= this.options.stableAfterMs || (code === 1001 && liveFor > 0)) this._attempt = 0;
    const fatal = FATAL_CLOSE.has(code) && !(code === 4002 && (typeof this.options.token === 'function' || typeof this.options.getToken === 'function'));
    if (!this.options.reconnect || fatal) {
      this._wanted = false;
      if (fatal) this._emit('error', { code: 'client', message: `connection closed with ${code}${reason ? ` (${reason})` : ''}: not reconnecting` });
      this._setStatus('closed', { code, reason });
      return;
    }
    // 4003 (abuse) means: back off. Jump straight to the longest delay.
    if (code === 4003) this._attempt = Math.max(this._attempt, 32);
    this._scheduleRetry({ code, reason });
  }

  _scheduleRetry(extra) {
    this._ws = null;
    const { backoffMinMs: min, backoffMaxMs: max } = this.options;
    const ceiling = Math.min(max, min * 2 ** Math.min(this._attempt, 30));
    // "equal jitter": half fixed, half random, so clients that lost the same
    // gateway do not all come back in the same millisecond.
    const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this._attempt++;
    const detail = { ...extra, delayMs, attempt: this._attempt };
    // Already reconnecting: still announce the new delay (a `status` event
    // with previous === status), so a UI can show "retry in 4 s".
    if (this._status === 'reconnecting') this._emit('status', { status: 'reconnecting', previous: 'reconnecting', ...detail });
    else this._setStatus('reconnecting', detail);
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this._retryNow(), delayMs);
  }

  _retryNow() {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    if (this._wanted && !this._ws) this._open();
  }

  _onFrame(raw) {
    this._lastRx = Date.now();
    if (typeof raw !== 'string') return; // the protocol only uses text frames
    let f;
    try {
      f = JSON.parse(raw);
    } catch {
      this._emit('error', { code: 'client', message: 'server sent a frame that is not JSON' });
      return;
    }
    if (!f || typeof f !== 'object') return;
    switch (f.op) {
      case 'hello': this._onHello(f); break;
      case 'msg': this._onMsg(f); break;
      case 'ok': this._onOk(f); break;
      case 'err': this._onErr(f); break;
      case 'unsub': this._onUnsub(f); break;
      case 'refresh': if (Number.isInteger(f.exp) && f.exp === this._exp) this._refreshSoon(0); break;
      case 'pong': {
        const rec = f.id != null ? this._pending.get(f.id) : null;
        if (rec) { this._pending.delete(f.id); if (rec.resolve) rec.resolve(); }
        break;
      }
      default: break; // unknown ops are ignored (forward compatibility)
    }
  }

  _onHello(f) {
    clearTimeout(this._helloTimer);
    this._helloTimer = null;
    this._hello = f;
    const previousEpoch = this._epoch;
    const changed = previousEpoch !== null && f.epoch !== previousEpoch;
    // A new stream: sequence numbers from the old one mean nothing. Start
    // those subscriptions afresh and tell the app to reload its state. Also
    // for resume points imported (or given as `since`) from another epoch.
    const subjects = [];
    let staleEpoch = null;
    for (const sub of this._subs.values()) {
      const stale = this._staleEpoch(sub, f.epoch);
      if (stale && staleEpoch === null) staleEpoch = sub.epoch;
      if (changed || stale) {
        this._forget(sub);
        subjects.push(sub.pattern);
      }
      if (sub.lastSeq !== null) sub.epoch = f.epoch;
    }
    this._epoch = f.epoch;
    if (changed || subjects.length) this._emit('reset', { reason: 'epoch', subjects, epoch: f.epoch, previousEpoch: changed ? previousEpoch : staleEpoch });
    this._everLive = true;
    this._liveSince = Date.now();
    this._lastRx = Date.now();
    this._setStatus('live', { conn: f.conn, server: f.server, epoch: f.epoch });
    this._emit('hello', f);
    for (const sub of this._subs.values()) {
      if (sub.state !== 'failed') this._sendSub(sub);
    }
    this._startHeartbeat(f.heartbeat_ms);
    this._exp = Number.isInteger(f.exp) ? f.exp : null;
    this._aheadMs = this._exp !== null && Number.isInteger(f.refresh_in_ms) ? Math.max(0, this._exp * 1000 - Date.now() - f.refresh_in_ms) : null;
    this._armRefresh();
  }

  /**
   * Replace the open connection's token now with one from `getToken` (the
   * `refresh` op): resolves `{exp}` when the server took it, rejects when
   * `getToken` failed, the server refused the token (`WsGateError`), or the
   * connection is not live. A refresh already in flight is shared.
   * @returns {Promise<{exp: number}>}
   */
  refresh() {
    if (this._refreshing) return this._refreshing;
    const get = this.options.getToken;
    if (typeof get !== 'function') return Promise.reject(new Error('WsGate.refresh: no getToken option'));
    const ws = this._ws;
    this._refreshing = (async () => {
      const token = await get();
      if (this._ws !== ws || this._status !== 'live') throw new Error('connection not live');
      return new Promise((resolve, reject) => {
        const id = this._id({ op: 'refresh', resolve, reject });
        if (!this._send({ op: 'refresh', id, token })) {
          this._pending.delete(id);
          reject(new Error('connection not live'));
        }
      });
    })().finally(() => { this._refreshing = null; });
    return this._refreshing;
  }

  /** With getToken: refresh when the server's lead (or refreshAheadMs) before exp comes. */
  _armRefresh() {
    clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    if (typeof this.options.getToken !== 'function' || this._exp === null) return;
    const left = this._exp * 1000 - Date.now();
    // A server lead of 0 means it sends no hint (--refresh-ahead 0): use ours.
    const server = this._aheadMs > 0;
    const ahead = server ? this._aheadMs : this.options.refreshAheadMs;
    // With a server lead its hint normally comes first: this timer is the
    // fallback, a little later (still well before exp).
    const slack = server ? Math.min(1500, ahead / 2) : 0;
    const wait = Math.max(Math.min(REFRESH_MIN_MS, left / 2), left - ahead + slack);
    this._refreshTimer = setTimeout(() => this._refreshSoon(0), wait);
  }

  /** Run a refresh after delayMs; on failure retry with backoff (until exp: then 4002 and a reconnect). */
  _refreshSoon(delayMs) {
    if (typeof this.options.getToken !== 'function') return;
    clearTimeout(this._refreshTimer);
    this._refreshTimer = setTimeout(() => {
      this._refreshTimer = null;
      const ws = this._ws;
      this.refresh().then(
        () => { this._refreshAttempt = 0; },
        (e) => {
          if (this._ws !== ws || !this._ws) return; // the connection went: the reconnect fetches a token
          this._emit('error', { code: e instanceof WsGateError ? e.code : 'client', message: `token refresh failed: ${e && e.message}`, op: 'refresh' });
          const { backoffMinMs: min, backoffMaxMs: max } = this.options;
          const ceiling = Math.min(max, min * 2 ** Math.min(this._refreshAttempt++, 30));
          const next = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
          if (this._exp === null || Date.now() + next < this._exp * 1000) this._refreshSoon(next);
        },
      );
    }, delayMs);
  }

  /** The server ended a subscription (a refreshed token no longer allows it). */
  _onUnsub(f) {
    const sub = typeof f.subject === 'string' ? this._subs.get(f.subject) : null;
    if (sub) {
      sub.state = 'failed'; // not re-sent on reconnect: the token does not allow it
      sub.error = { code: 'forbidden', message: f.reason || 'ended by the server' };
      const waiters = [...sub.waiters];
      sub.waiters.clear();
      for (const w of waiters) w.reject(new WsGateError('forbidden', sub.error.message, sub.pattern));
    }
    this._emit('unsubscribed', { subject: f.subject, reason: f.reason });
  }

  /** Whether a subscription's resume point belongs to an epoch other than `epoch`. */
  _staleEpoch(sub, epoch) {
    return sub.lastSeq !== null && sub.epoch !== null && epoch !== null && sub.epoch !== epoch;
  }

  /** Drop a subscription's resume point (its sequence numbers mean nothing now). */
  _forget(sub) {
    sub.lastSeq = null;
    sub.epoch = null;
    sub.dupFloor = null;
    sub.seen.clear();
  }

  _startHeartbeat(serverMs) {
    const o = this.options;
    const every = o.heartbeatMs || Math.min(serverMs > 0 ? serverMs : 25000, o.maxHeartbeatMs);
    // `awaitSince`: when the oldest unanswered ping was sent. Any frame
    // received since then (pong or not) proves the link is alive.
    let awaitSince = 0;
    const dead = () => {
      if (awaitSince && this._lastRx < awaitSince && Date.now() - awaitSince >= o.pongTimeoutMs) {
        this._drop(4000, 'heartbeat timeout');
        return true;
      }
      return false;
    };
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    this._pongTimer = null;
    this._pingTimer = setInterval(() => {
      if (dead()) return;
      const now = Date.now();
      if (!awaitSince || this._lastRx >= awaitSince) awaitSince = now;
      this._send({ op: 'ping', id: this._id({ op: 'ping' }) });
      if (!this._pongTimer) {
        this._pongTimer = setTimeout(() => { this._pongTimer = null; dead(); }, Math.max(0, awaitSince + o.pongTimeoutMs - now) + 5);
      }
    }, every);
  }

  _hasOverlap(sub) {
    for (const other of this._subs.values()) {
      if (other !== sub && patternsOverlap(other.pattern, sub.pattern)) return true;
    }
    return false;
  }

  _sendSub(sub) {
    const frame = { op: 'sub', id: this._id({ op: 'sub', pattern: sub.pattern }), subject: sub.pattern };
    sub.holding = false;
    sub.replayEnd = null;
    if (sub.lastSeq !== null && this._epoch !== null) {
      frame.since = sub.lastSeq;
      frame.epoch = this._epoch;
      sub.dupFloor = sub.lastSeq;
      if (this._hasOverlap(sub)) {
        // Another pattern's live messages may interleave with this replay:
        // keep the resume point where it is until the replay is complete.
        sub.holding = true;
        sub.pendingMax = sub.lastSeq;
      }
    } else {
      sub.dupFloor = null;
    }
    sub.state = 'pending';
    this._send(frame);
  }

  _finishReplay(sub, complete) {
    clearTimeout(sub.replayTimer);
    sub.replayTimer = null;
    if (complete) sub.lastSeq = Math.max(sub.lastSeq ?? 0, sub.replayEnd ?? 0, sub.pendingMax);
    sub.holding = false;
  }

  _armReplayIdle(sub) {
    clearTimeout(sub.replayTimer);
    sub.replayTimer = setTimeout(() => { if (sub.holding) this._finishReplay(sub, true); }, REPLAY_IDLE_MS);
  }

  _onOk(f) {
    const rec = f.id != null ? this._pending.get(f.id) : null;
    if (rec) this._pending.delete(f.id);
    if (rec && rec.op === 'refresh') {
      if (Number.isInteger(f.exp)) this._exp = f.exp;
      this._armRefresh();
      this._emit('refresh', { exp: f.exp });
      rec.resolve({ exp: f.exp });
      return;
    }
    if (rec && rec.op !== 'sub') return; // unsub
    const sub = this._subs.get(f.subject);
    if (!sub) return; // unsubscribed meanwhile
    sub.state = 'live';
    sub.error = null;
    sub.epoch = this._epoch;
    const seq = Number.isInteger(f.seq) ? f.seq : null;
    const resumed = Object.prototype.hasOwnProperty.call(f, 'replayed') || f.recovered !== undefined;
    sub.ok = { subject: sub.pattern, seq };
    if (resumed) {
      sub.ok.replayed = f.replayed | 0;
      sub.ok.recovered = f.recovered !== false;
    }
    const waiters = [...sub.waiters];
    sub.waiters.clear();
    if (resumed && f.recovered === false) {
      if (seq !== null && sub.lastSeq !== null && sub.lastSeq > seq) {
        // `since` beyond the stream's end: the stream was reset. Start over.
        sub.lastSeq = seq;
        sub.dupFloor = null;
        sub.seen.clear();
        sub.holding = false;
      }
      this._emit('reset', { reason: 'not_recovered', subject: sub.pattern, epoch: this._epoch });
    }
    if (sub.holding && seq !== null) {
      sub.replayEnd = seq;
      // messages already seen in (since, ok.seq] count as replayed
      let already = 0;
      for (const s of sub.seen) if (s > (sub.dupFloor ?? 0) && s <= seq) already++;
      sub.replayLeft = (f.replayed | 0) - already;
      if (sub.replayLeft <= 0) this._finishReplay(sub, true);
      else this._armReplayIdle(sub);
    } else if (seq !== null && !resumed) {
      sub.lastSeq = Math.max(sub.lastSeq ?? 0, seq);
    } else if (seq !== null && (f.replayed | 0) === 0) {
      sub.lastSeq = Math.max(sub.lastSeq ?? 0, seq);
    }
    for (const w of waiters) w.resolve(sub.ok);
  }

  _onErr(f) {
    const rec = f.id != null ? this._pending.get(f.id) : null;
    if (rec) this._pending.delete(f.id);
    const detail = { code: f.code, message: f.message, id: f.id };
    if (rec) {
      detail.op = rec.op;
      if (rec.pattern) detail.subject = rec.pattern;
      if (rec.reject) rec.reject(rec.op === 'refresh' ? new WsGateError(f.code, f.message) : new Error(`${f.code}: ${f.message}`));
      if (rec.op === 'refresh') return; // the refresh loop reports it (an `error` event)
      const sub = rec.op === 'sub' ? this._subs.get(rec.pattern) : null;
      if (sub) {
        sub.error = { code: f.code, message: f.message };
        if (NO_RETRY_CODES.has(f.code)) {
          sub.state = 'failed'; // not re-sent on reconnect: it would fail again
          const waiters = [...sub.waiters];
          sub.waiters.clear();
          for (const w of waiters) w.reject(new WsGateError(f.code, f.message, sub.pattern));
        } else {
          sub.state = 'new';
          setTimeout(() => { if (this._subs.get(sub.pattern) === sub && sub.state === 'new' && this._status === 'live') this._sendSub(sub); }, 1000 + Math.random() * 1000);
        }
      }
    }
    this._emit('error', detail);
  }

  _onMsg(f) {
    const seq = f.seq;
    const subject = f.subject;
    if (typeof subject !== 'string' || !Number.isInteger(seq)) return;
    const msg = { subject, seq, data: f.data };
    if (f.encoding) msg.encoding = f.encoding;
    let delivered = false;
    for (const sub of [...this._subs.values()]) {
      if (sub.state === 'failed' || !subjectMatches(sub.pattern, subject)) continue;
      if ((sub.dupFloor !== null && seq <= sub.dupFloor) || sub.seen.has(seq)) continue; // duplicate
      sub.seen.add(seq);
      if (sub.seen.size > SEEN_LIMIT) sub.seen.delete(sub.seen.values().next().value);
      if (sub.holding) {
        if (sub.replayEnd !== null && seq <= sub.replayEnd) {
          if (--sub.replayLeft <= 0) this._finishReplay(sub, true);
          else this._armReplayIdle(sub);
        } else {
          sub.pendingMax = Math.max(sub.pendingMax, seq);
        }
      } else {
        sub.lastSeq = Math.max(sub.lastSeq ?? 0, seq);
      }
      delivered = true;
      for (const h of [...sub.handlers]) {
        try { h(msg); } catch (e) { rethrowLater(e); }
      }
    }
    if (delivered) this._emit('message', msg);
  }
}

export default WsGate;
