// Types of @wsgate/client (wsgate.js): the client of the wsgate WebSocket
// gateway, protocol v1 (docs/PROTOCOL.md), and the payloads of the events
// backend workers publish (docs/EVENTS.md). The same file types the ESM
// (import) and the CommonJS (require) entry points.

/** Version of the wire protocol this client speaks. */
export declare const PROTOCOL_VERSION: 1;

/** Whether a subject matches a NATS-style pattern (`*` = one token, final `>` = one or more). */
export declare function subjectMatches(pattern: string, subject: string): boolean;

/** Whether some subject could match both patterns. */
export declare function patternsOverlap(a: string, b: string): boolean;

// ------------------------------------------------------------ event payloads (EVENTS.md)

/** `batch.<batch>.started` */
export interface BatchStarted {
  batch_id: string;
  total: number;
  workers: number;
  /** e.g. `"license_assignment"` */
  kind: string;
  /** RFC 3339 UTC with milliseconds */
  ts: string;
}

/** `batch.<batch>.progress` (a last-value subject): processed = `done` + `failed`. */
export interface BatchProgress {
  batch_id: string;
  total: number;
  /** assigned so far */
  done: number;
  failed: number;
  ts: string;
}

/** `batch.<batch>.completed` */
export interface BatchCompleted {
  batch_id: string;
  total: number;
  done: number;
  failed: number;
  duration_ms: number;
  ts: string;
}

/** `license.<batch>.assigned` */
export interface LicenseAssigned {
  batch_id: string;
  license_id: string;
  hcp_id: string;
  product: string;
  /** 0-based */
  worker: number;
  duration_ms: number;
  ts: string;
}

/** `license.<batch>.failed`: an assignment that failed, with a short `error`. */
export interface LicenseFailed extends LicenseAssigned {
  error: string;
}

export type VerificationStatus = 'verified' | 'rejected' | 'pending';

/** `verification.<country>.<status>` */
export interface Verification {
  hcp_id: string;
  /** ISO 3166-1 alpha-2 */
  country: string;
  status: VerificationStatus;
  /** registry name */
  source: string;
  ts: string;
}

export type BatchEvent = BatchStarted | BatchProgress | BatchCompleted;
export type LicenseEvent = LicenseAssigned | LicenseFailed;
export type WsGateEvent = BatchEvent | LicenseEvent | Verification;

/**
 * The payload type of the messages a pattern receives, from the subjects of
 * EVENTS.md: `'batch.*.progress'` gives `BatchProgress`, `'license.>'` gives
 * `LicenseAssigned | LicenseFailed`, and so on. Patterns outside those
 * subjects give `unknown` (annotate the handler's message to choose a type).
 */
export type PayloadFor<P extends string> =
  P extends `batch.${string}.started` ? BatchStarted :
  P extends `batch.${string}.progress` ? BatchProgress :
  P extends `batch.${string}.completed` ? BatchCompleted :
  P extends `batch.${string}` ? BatchEvent :
  P extends `license.${string}.assigned` ? LicenseAssigned :
  P extends `license.${string}.failed` ? LicenseFailed :
  P extends `license.${string}` ? LicenseEvent :
  P extends `verification.${string}` ? Verification :
  P extends '>' ? WsGateEvent :
  unknown;

// ------------------------------------------------------------ frames and details

/**
 * A message delivered to a subscription handler: the server's `msg` frame.
 * `data` is the published payload, parsed when it was JSON, else a string
 * (with `encoding: 'base64'` when it was not UTF-8).
 */
export interface WsGateMessage<T = unknown> {
  /** published subject, e.g. `license.b42.assigned` */
  subject: string;
  /** JetStream stream sequence (unique within one epoch) */
  seq: number;
  data: T;
  encoding?: 'base64';
}

/** The `hello` frame, first on every connection. */
export interface HelloFrame {
  op: 'hello';
  version: number;
  /** e.g. `wsgate/0.1.0` */
  server: string;
  /** connection id */
  conn: string;
  /** stream epoch: sequence numbers only mean something within one */
  epoch: string;
  heartbeat_ms: number;
  max_frame: number;
  /** with JWT auth: the token's exp (seconds since the epoch) */
  exp?: number;
  /** with JWT auth: milliseconds until the server's `refresh` hint */
  refresh_in_ms?: number;
}

export type WsGateStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface StatusDetail {
  status: WsGateStatus;
  previous: WsGateStatus;
  code?: number;
  reason?: string;
  /** the reconnect delay just chosen */
  delayMs?: number;
  attempt?: number;
  /** with `live` */
  conn?: string;
  server?: string;
  epoch?: string;
}

export interface ResetDetail {
  /** `epoch`: the stream was replaced; `not_recovered`: some messages after `since` were no longer retained */
  reason: 'epoch' | 'not_recovered';
  /** with `not_recovered`: the pattern */
  subject?: string;
  /** with `epoch`: the patterns started afresh */
  subjects?: string[];
  epoch: string | null;
  previousEpoch?: string | null;
}

/** Error codes of `err` frames (PROTOCOL.md), plus `client` for client-side problems. */
export type WsGateErrorCode =
  | 'bad_request'
  | 'bad_subject'
  | 'forbidden'
  | 'too_many_subscriptions'
  | 'rate_limited'
  | 'internal'
  | 'client'
  | (string & {});

export interface ErrorDetail {
  code: WsGateErrorCode;
  message: string;
  id?: string;
  /** the pattern of the `sub` or `unsub` that failed */
  subject?: string;
  op?: 'sub' | 'unsub' | 'ping' | 'refresh';
}

export interface RefreshDetail {
  /** the new token's exp (seconds since the epoch) */
  exp: number;
}

export interface UnsubscribedDetail {
  /** the pattern the server ended */
  subject: string;
  /** e.g. `not allowed by the refreshed token` */
  reason: string;
}

export interface CloseDetail {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** Events of {@link WsGate.on} and the detail each listener receives. */
export interface WsGateEventMap {
  status: StatusDetail;
  connecting: StatusDetail;
  live: StatusDetail;
  reconnecting: StatusDetail;
  closed: StatusDetail;
  hello: HelloFrame;
  reset: ResetDetail;
  error: ErrorDetail;
  close: CloseDetail;
  message: WsGateMessage;
  refresh: RefreshDetail;
  unsubscribed: UnsubscribedDetail;
}

// ------------------------------------------------------------ subscriptions and resume state

/** What a subscription's promise resolves with: the server's `ok`. */
export interface SubscribeOk {
  /** the pattern */
  subject: string;
  /** the stream's last sequence when the subscription became live */
  seq: number | null;
  /** with `since`: the number of messages the replay sends */
  replayed?: number;
  /** with `since`: false when some messages after `since` were no longer retained */
  recovered?: boolean;
}

export interface SubscribeOptions {
  /** Resume from here: the last stream seq already handled (integer >= 0). Only when this call creates the subscription. */
  since?: number;
  /** The stream epoch `since` belongs to (from `hello` or a resume state). Another epoch than the gateway's: the subscription starts live and `reset` is emitted. */
  epoch?: string;
}

/**
 * What `subscribe()` returns: the unsubscribe function (call it; idempotent)
 * that is also a promise-like of the server's answer: it resolves on `ok`
 * and rejects with a {@link WsGateError} on a refusal for good (`forbidden`,
 * `bad_subject`, `too_many_subscriptions`, `bad_request`) or when
 * unsubscribed before `ok`.
 */
export interface Subscription extends PromiseLike<SubscribeOk> {
  (): void;
  unsubscribe(): void;
  readonly pattern: string;
  /** the same as a real Promise */
  readonly ready: Promise<SubscribeOk>;
  then<R1 = SubscribeOk, R2 = never>(
    onfulfilled?: ((value: SubscribeOk) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: WsGateError) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2>;
  catch<R = never>(onrejected?: ((reason: WsGateError) => R | PromiseLike<R>) | null): Promise<SubscribeOk | R>;
  finally(onfinally?: (() => void) | null): Promise<SubscribeOk>;
}

/** Resume points to persist (JSON-serializable) and give to a later client. */
export interface ResumeState {
  version: 1;
  /** the stream epoch the points belong to (null before any `hello`, without imported points) */
  epoch: string | null;
  /** pattern -> last stream seq delivered */
  subs: Record<string, number>;
}

export interface SubscriptionInfo {
  pattern: string;
  state: 'new' | 'pending' | 'live' | 'failed';
  lastSeq: number | null;
  error: { code: string; message: string } | null;
}

/** A WebSocket constructor: the browser's, or the `ws` package's under Node. */
export type WebSocketConstructor = new (url: string) => object;

export interface WsGateOptions {
  /** gateway WebSocket URL. Default: `ws(s)://<location.host>/ws` (browsers) */
  url?: string;
  /** JWT sent as `?token=`; a function is called before every connection attempt (and makes a 4002 close retryable) */
  token?: string | (() => string | Promise<string>);
  /** a fresh JWT: for the upgrade (without `token`) and to refresh the open connection's token before exp, with no reconnect */
  getToken?: () => string | Promise<string>;
  /** with getToken and no server hint: refresh this long before exp (default 30000) */
  refreshAheadMs?: number;
  /** first reconnect delay (default 250) */
  backoffMinMs?: number;
  /** longest reconnect delay (default 10000) */
  backoffMaxMs?: number;
  /** a connection up this long resets the backoff (default 5000) */
  stableAfterMs?: number;
  /** application ping interval (default: hello.heartbeat_ms, at most maxHeartbeatMs) */
  heartbeatMs?: number;
  /** default 15000 */
  maxHeartbeatMs?: number;
  /** default 10000 */
  pongTimeoutMs?: number;
  /** default 10000 */
  helloTimeoutMs?: number;
  /** reconnect automatically (default true) */
  reconnect?: boolean;
  /** WebSocket implementation. Default: `globalThis.WebSocket` (Node 20: pass `require('ws')`) */
  WebSocket?: WebSocketConstructor;
  /** resume points from `resumeState()` (the object or its JSON) */
  resumeState?: ResumeState | string;
}

/** A subscription's failure: the promise of `subscribe()` rejects with it. */
export declare class WsGateError extends Error {
  constructor(code: string, message: string, subject?: string);
  readonly name: 'WsGateError';
  /** `forbidden`, `bad_subject`, `too_many_subscriptions`, `bad_request`, or `unsubscribed` */
  readonly code: WsGateErrorCode | 'unsubscribed';
  /** the pattern */
  readonly subject?: string;
}

/** Client for one wsgate connection, with any number of subscriptions. */
export declare class WsGate {
  /** Nothing happens until {@link connect}. */
  constructor(options?: WsGateOptions);
  readonly url: string;
  readonly options: Readonly<WsGateOptions>;
  /** the current connection status */
  readonly status: WsGateStatus;
  /** the stream epoch from the last `hello` (null before the first) */
  readonly epoch: string | null;
  /** the last `hello` frame */
  readonly hello: HelloFrame | null;

  /** Open the connection and keep it open. No-op when connected or connecting. */
  connect(): this;
  /** Close for good (status `closed`), keeping subscriptions and resume points. */
  close(code?: number, reason?: string): void;
  /**
   * Subscribe to a subject pattern. The handler's message type follows the
   * pattern ({@link PayloadFor}); annotate the handler to choose another one.
   */
  subscribe<P extends string, T = PayloadFor<P>>(
    pattern: P,
    onMessage: (msg: WsGateMessage<T>) => void,
    opts?: SubscribeOptions,
  ): Subscription;
  /** The resume points of every subscription (persist them; JSON). */
  resumeState(): ResumeState;
  /** Continue from a `resumeState()`: before `connect()`, or for patterns subscribed later. */
  importResumeState(state: ResumeState | string): this;
  /** the resume point of a subscription */
  lastSeq(pattern: string): number | null;
  subscriptions(): SubscriptionInfo[];
  /** Replace the open connection's token now (getToken, `refresh` op): resolves the new exp. */
  refresh(): Promise<RefreshDetail>;
  /** application ping: resolves the round-trip time in ms */
  ping(timeoutMs?: number): Promise<number>;
  on<K extends keyof WsGateEventMap>(type: K, fn: (detail: WsGateEventMap[K]) => void): () => void;
  off<K extends keyof WsGateEventMap>(type: K, fn: (detail: WsGateEventMap[K]) => void): void;
}

export default WsGate;
