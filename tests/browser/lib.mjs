// lib.mjs: helpers for the browser tests (headless Chromium through
// playwright-core, driving the dashboard served by a real gateway).
//
//  - launchBrowser(): Chromium with the flags a CI box needs;
//  - watchConsole(page): every console message and page error from the start;
//  - installTrace(page): a MutationObserver, installed before any page
//    script runs, that records every value the dashboard ever rendered for
//    each batch card and for the connection pill (so "never goes backwards"
//    and "went through reconnecting" are checked on every change, not on
//    samples that could miss one);
//  - restartGateway(gw): start a new wsgate process with the same argv as a
//    stopped one (same --listen port, same stream), which the harness does
//    not offer (startGateway always takes a fresh port).
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startGateway } from '../lib/gateway.mjs';
import { onLines, track, httpGet, pollUntil, ms } from '../lib/util.mjs';

export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * Collect console messages, page errors and failed requests of `page` from
 * now on. Returns {console: [{type, text, url, at}], pageErrors: [..], requestFailures: [..]}.
 */
export function watchConsole(page) {
  const out = { console: [], pageErrors: [], requestFailures: [] };
  page.on('console', (m) => {
    const loc = m.location();
    out.console.push({ type: m.type(), text: m.text(), url: loc?.url || '', at: Date.now() });
  });
  page.on('pageerror', (e) => out.pageErrors.push({ text: String(e?.stack || e), at: Date.now() }));
  page.on('requestfailed', (r) => out.requestFailures.push({ url: r.url(), error: r.failure()?.errorText, at: Date.now() }));
  return out;
}

/**
 * Record, from the first DOM change on, every rendered state of the batch
 * cards and of #conn-status, into window.__trace:
 *   {batches: {id: [{t, processed, failed, total, now, state}]}, conn: [{t, status}]}
 * A new entry is pushed only when something in it changed.
 */
export async function installTrace(page) {
  await page.addInitScript(() => {
    const trace = { batches: {}, conn: [] };
    window.__trace = trace;
    const num = (el) => (el && /^\d+$/.test(el.textContent.trim()) ? Number(el.textContent.trim()) : null);
    function snap() {
      const t = performance.now();
      const pill = document.getElementById('conn-status');
      if (pill) {
        const s = pill.getAttribute('data-status');
        if (trace.conn.at(-1)?.status !== s) trace.conn.push({ t, status: s });
      }
      for (const card of document.querySelectorAll('[data-batch-id]')) {
        const id = card.getAttribute('data-batch-id');
        const bar = card.querySelector('[data-field="progress"]');
        const e = {
          t,
          processed: num(card.querySelector('[data-field="processed"]')),
          failed: num(card.querySelector('[data-field="failed"]')),
          total: num(card.querySelector('[data-field="total"]')),
          now: bar ? Number(bar.getAttribute('aria-valuenow')) : null,
          state: card.querySelector('[data-field="state"]')?.textContent ?? null,
        };
        const list = trace.batches[id] || (trace.batches[id] = []);
        const last = list.at(-1);
        if (!last || ['processed', 'failed', 'total', 'now', 'state'].some((k) => last[k] !== e[k])) list.push(e);
      }
    }
    function observe() {
      snap();
      new MutationObserver(snap).observe(document.documentElement, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
        attributeFilter: ['data-status', 'aria-valuenow', 'data-state'],
      });
    }
    if (document.documentElement) observe();
    else document.addEventListener('readystatechange', observe, { once: true });
  });
}

/** window.__trace of `page`. */
export function getTrace(page) {
  return page.evaluate(() => window.__trace);
}

/**
 * Problems with one batch's trace: a value that went down (processed,
 * failed, aria-valuenow), or a processed count above the total while running.
 * Returns an array of strings (empty: fine).
 */
export function monotonicProblems(entries) {
  const problems = [];
  for (let i = 1; i < entries.length; i++) {
    const a = entries[i - 1];
    const b = entries[i];
    for (const k of ['processed', 'failed', 'now']) {
      if (a[k] !== null && b[k] !== null && b[k] < a[k]) problems.push(`${k} went from ${a[k]} to ${b[k]} (entry ${i}: ${JSON.stringify(a)} -> ${JSON.stringify(b)})`);
    }
    if (b.total !== null && b.processed !== null && b.processed > b.total) problems.push(`processed ${b.processed} > total ${b.total} at entry ${i}`);
  }
  return problems;
}

let restarts = 0;

/**
 * Start a new wsgate as `gw` (a harness gateway, stopped) was started, on the
 * same port: the harness's startGateway, so the handle and logs are the same.
 */
export async function restartGateway(gw, { label = `${gw.label}-restart${++restarts}` } = {}) {
  return startGateway({ ...gw.options, port: gw.port, name: label });
}

/**
 * Start wsgate-sim (`bin`) with `args`, without waiting for its end.
 * Returns {proc, lines, done, stop()}: done resolves {code, signal, output}
 * once it exited and its output is read (never rejects: a spawn error gives
 * code null and the error in output); stop() kills it (SIGKILL).
 */
export function startSim(bin, args) {
  const proc = track(spawn(bin, args, { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const lines = [];
  onLines(proc.stdout, (l) => lines.push(l));
  onLines(proc.stderr, (l) => lines.push(`[stderr] ${l}`));
  const done = new Promise((resolve) => {
    proc.once('error', (e) => resolve({ code: null, signal: null, output: `cannot run ${bin}: ${e.message}` }));
    proc.once('close', (code, signal) => resolve({ code, signal, output: lines.join('\n') }));
  });
  return {
    proc,
    lines,
    done,
    stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/**
 * Record the dashboard's client events (window.wsgate, docs/client.md
 * "Events") from now on into window.__trace: closes [{code, reason,
 * wasClean, t}], resets [{reason, ...}], hellos [{conn, epoch, t}],
 * statuses [{status, code, delayMs, t}].
 */
export function hookClient(page) {
  return page.evaluate(() => {
    const tr = window.__trace;
    tr.closes = [];
    tr.resets = [];
    tr.statuses = [];
    const t = () => performance.now();
    window.wsgate.on('close', (e) => tr.closes.push({ code: e.code, reason: e.reason, wasClean: e.wasClean, t: t() }));
    window.wsgate.on('reset', (e) => tr.resets.push({ ...e, t: t() }));
    tr.hellos = [];
    window.wsgate.on('hello', (h) => tr.hellos.push({ conn: h.conn, epoch: h.epoch, t: t() }));
    window.wsgate.on('status', (e) => tr.statuses.push({ status: e.status, previous: e.previous, code: e.code, delayMs: e.delayMs, t: t() }));
  });
}

/**
 * Resolve once the gateway at `url` has consumed the stream up to its
 * current last sequence (GET /readyz reports the last sequence it
 * processed): everything published before the call is then in its state.
 * Unlike the harness's fence, publishes nothing (a fence event on batch.*
 * would show up on the dashboard as a batch).
 */
export async function caughtUp(url, jsm, stream, { timeoutMs = ms(60000) } = {}) {
  const last = (await jsm.streams.info(stream)).state.last_seq;
  await pollUntil(async () => {
    const r = await httpGet(`${url}/readyz`, { timeoutMs: 2000 });
    return r.status === 200 && r.json().seq >= last;
  }, { timeoutMs, message: `${url}/readyz seq >= ${last}` });
  return last;
}
