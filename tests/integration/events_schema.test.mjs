// events_schema.test.mjs: docs/events.schema.json against docs/EVENTS.md. Every
// example of EVENTS.md "Examples" is valid for the $defs entry of its subject
// (and its batch_id is the subject's batch), every event has an example, payloads
// the schema is meant to refuse are refused, and the reasons EVENTS.md lists are
// those src/events.c gives. No gateway: ajv (JSON Schema 2020-12) only.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';

const root = path.resolve(import.meta.dirname, '../..');
const doc = fs.readFileSync(path.join(root, 'docs/EVENTS.md'), 'utf8');
const schema = JSON.parse(fs.readFileSync(path.join(root, 'docs/events.schema.json'), 'utf8'));

// strict: unknown keywords are errors; formats are annotations (the patterns check ts)
const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
ajv.addSchema(schema, 'events');

/** The $defs entry of a subject: batch.<id>.started -> batch.started, verification.*.* -> verification. */
function defOf(subject) {
  const [family, , verb] = subject.split('.');
  return family === 'verification' ? 'verification' : `${family}.${verb}`;
}

function validator(def) {
  const v = ajv.getSchema(`events#/$defs/${def}`);
  assert.ok(v, `events.schema.json has $defs/${def}`);
  return v;
}

/** [{subject, payload}] of EVENTS.md: a line `subject` followed by a ```json block. */
function examples() {
  const out = [];
  const re = /^`([a-z]+\.[A-Za-z0-9_-]+\.[a-z]+)`\n```json\n([^`]*?)\n```$/gm;
  for (const m of doc.matchAll(re)) out.push({ subject: m[1], payload: JSON.parse(m[2]) });
  return out;
}

test('the schema is a valid 2020-12 schema that ajv compiles strictly', () => {
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.ok(ajv.getSchema('events'), 'compiles');
});

test('every example of EVENTS.md is valid for its subject, batch_id is the subject\'s batch', () => {
  const ex = examples();
  assert.ok(ex.length >= 7, `found ${ex.length} examples`);
  for (const { subject, payload } of ex) {
    const v = validator(defOf(subject));
    assert.ok(v(payload), `${subject}: ${ajv.errorsText(v.errors)}`);
    if (!subject.startsWith('verification.')) assert.equal(payload.batch_id, subject.split('.')[1], `${subject}: batch_id`);
    assert.ok(ajv.getSchema('events')(payload), `${subject}: the root schema takes it`);
  }
  const covered = new Set(ex.map((e) => defOf(e.subject)));
  const events = Object.keys(schema.$defs).filter((k) => k.includes('.') || k === 'verification');
  assert.deepEqual(events.filter((k) => !covered.has(k)), [], 'every event of the schema has an example');
  for (const row of doc.matchAll(/^\| `((?:batch|license|verification)\.<[a-z]+>\.[^`]+)` \|/gm)) {
    const verb = row[1].split('.')[2];
    if (!verb.startsWith('<')) assert.ok(covered.has(defOf(row[1].replace(/<[a-z]+>/, 'x'))), `${row[1]} has an example`);
  }
});

test('the schema refuses what publishers must not send', () => {
  const bad = [
    ['batch.started', { total: 10, workers: 2, kind: 'k', ts: '2026-11-27T07:40:12.118Z' }], // no batch_id
    ['batch.progress', { batch_id: 'b', total: 10, done: -1, failed: 0, ts: '2026-11-27T07:40:12.118Z' }],
    ['batch.progress', { batch_id: 'b', total: 10, done: 5.5, failed: 0, ts: '2026-11-27T07:40:12.118Z' }],
    ['batch.progress', { batch_id: 'b', total: 100000001, done: 0, failed: 0, ts: '2026-11-27T07:40:12.118Z' }],
    ['batch.progress', { batch_id: 'b', total: 10, done: 1, failed: 0, ts: 'yesterday' }],
    ['batch.completed', { batch_id: 'b', total: 10, done: 10, failed: 0, ts: '2026-11-27T07:40:12.118Z' }], // no duration_ms
    ['batch.cancelled', { batch_id: 'b', reason: 'x' }], // no ts
    ['batch.cancelled', { batch_id: 'b', reason: 5, ts: '2026-11-27T07:40:12.118Z' }],
    ['batch.cancelled', { batch_id: 'b.c', ts: '2026-11-27T07:40:12.118Z' }], // not a token
    ['license.assigned', { batch_id: 'b', license_id: '', hcp_id: 'h', product: 'p', worker: 0, duration_ms: 1, ts: '2026-11-27T07:40:12.118Z' }],
    ['license.assigned', { batch_id: 'b', license_id: 'L', hcp_id: 'h', product: 'p', worker: 1024, duration_ms: 1, ts: '2026-11-27T07:40:12.118Z' }],
    ['license.failed', { batch_id: 'b', license_id: 'L', hcp_id: 'h', product: 'p', worker: 0, duration_ms: 1, ts: '2026-11-27T07:40:12.118Z' }], // no error
    ['verification', { hcp_id: 'h', country: 'fr', status: 'verified', source: 's', ts: '2026-11-27T07:40:12.118Z' }],
    ['verification', { hcp_id: 'h', country: 'FR', status: 'maybe', source: 's', ts: '2026-11-27T07:40:12.118Z' }],
  ];
  for (const [def, payload] of bad) assert.equal(validator(def)(payload), false, `${def} took ${JSON.stringify(payload)}`);
  assert.equal(ajv.getSchema('events')([1, 2]), false, 'not an object');
});

test('EVENTS.md lists the refusal reasons src/events.c gives, and no others', () => {
  const src = fs.readFileSync(path.join(root, 'src/events.c'), 'utf8');
  const block = src.match(/reason_names\[EVENTS_REASONS\] = \{([^}]*)\}/);
  assert.ok(block, 'reason_names in src/events.c');
  const inSrc = [...block[1].matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
  const section = doc.slice(doc.indexOf('## What the gateway refuses'));
  const inDoc = [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  assert.ok(inSrc.length >= 8, `${inSrc.length} reasons in src/events.c`);
  assert.deepEqual(inDoc, inSrc);
});
