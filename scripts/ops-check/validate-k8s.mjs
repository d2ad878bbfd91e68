// validate-k8s.mjs: check docs/k8s/*.yaml offline.
//   node scripts/ops-check/validate-k8s.mjs [FILE...]
// 1. Every object against the Kubernetes API schema of its apiVersion/kind, as bundled
//    (generated from the Kubernetes OpenAPI spec) in the npm package kubernetes-models:
//    types, required fields, enums, int-or-string, formats. Those schemas allow unknown
//    fields, so:
// 2. what wsgate relies on, looked up by name (a misspelt field fails here): readiness on
//    /readyz, liveness on /healthz, a preStop drain, a grace period longer than preStop +
//    --shutdown-timeout, named ports that exist, Service/PDB/Ingress selectors and
//    backends that reach the Deployment's pods, no sticky sessions, JWT auth on with its
//    key(s) from a mounted Secret, and no Ingress path to /metrics or the probes.
// Prints one line per file and a closing "N passed, N failed"; exits 1 on any failure.
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

const root = path.resolve(import.meta.dirname, '../..');
const files = process.argv.length > 2
  ? process.argv.slice(2)
  : fs.readdirSync(path.join(root, 'docs/k8s')).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(root, 'docs/k8s', f));

const objects = []; // {file, obj}
let passed = 0;
let failed = 0;
const problems = [];

async function schemaCheck(obj) {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : [null, obj.apiVersion];
  const mod = `kubernetes-models/${group ? `${group}/` : ''}${version}/${obj.kind}`;
  let Model;
  try {
    Model = (await import(mod))[obj.kind];
  } catch {
    throw new Error(`no schema for ${obj.apiVersion} ${obj.kind} (${mod})`);
  }
  new Model(obj).validate(); // throws with the JSON pointer of the first error
}

for (const file of files) {
  const rel = path.relative(root, path.resolve(file));
  let n = 0;
  try {
    const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
    for (const d of docs) {
      if (d.errors.length) throw new Error(`YAML: ${d.errors[0].message}`);
      const obj = d.toJS();
      if (obj === null) continue;
      if (!obj.apiVersion || !obj.kind) throw new Error('an object without apiVersion/kind');
      try {
        await schemaCheck(obj);
      } catch (e) {
        throw new Error(`${obj.kind}/${obj.metadata?.name}: ${e.message}`);
      }
      objects.push({ file: rel, obj });
      n++;
    }
    if (n === 0) throw new Error('no Kubernetes object');
    console.log(`ok   ${rel}: ${n} object(s) valid against the Kubernetes API schemas`);
    passed++;
  } catch (e) {
    console.log(`FAIL ${rel}: ${e.message}`);
    failed++;
  }
}

// ---- what wsgate relies on
const check = (what, cond) => {
  if (cond) passed++;
  else {
    failed++;
    problems.push(what);
  }
};
const of = (kind) => objects.filter((o) => o.obj.kind === kind).map((o) => o.obj);
const matches = (selector, labels) => !!selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const durationS = (s) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(s));
  return m ? Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] || 'ms'] : NaN;
};

const deployments = of('Deployment');
check('a Deployment', deployments.length > 0);
for (const d of deployments) {
  const name = `Deployment/${d.metadata.name}`;
  const pod = d.spec.template;
  check(`${name}: the selector matches the pod template's labels`, matches(d.spec.selector?.matchLabels, pod.metadata?.labels));
  const c = pod.spec.containers.find((x) => x.name === 'wsgate') || pod.spec.containers[0];
  const ports = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
  const probe = (p, pathWanted, what) => {
    check(`${name}: ${what} is an HTTP GET of ${pathWanted}`, p?.httpGet?.path === pathWanted);
    const port = p?.httpGet?.port;
    check(`${name}: ${what} port ${port} is a container port`, typeof port === 'number' ? [...ports.values()].includes(port) : ports.has(port));
  };
  probe(c.readinessProbe, '/readyz', 'readinessProbe');
  probe(c.livenessProbe, '/healthz', 'livenessProbe');
  const listen = env.WSGATE_LISTEN || '';
  check(`${name}: WSGATE_LISTEN ${listen} listens on all addresses at a container port`,
    /^(0\.0\.0\.0|\[::\]):\d+$/.test(listen) && [...ports.values()].includes(Number(listen.split(':').pop())));
  const pre = c.lifecycle?.preStop;
  check(`${name}: a preStop drain (sleep or httpGet: the image has no shell)`, !!(pre?.sleep || pre?.httpGet));
  const preS = pre?.sleep?.seconds ?? 0;
  const shutdownS = durationS(env.WSGATE_SHUTDOWN_TIMEOUT ?? '4s');
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
  check(`${name}: terminationGracePeriodSeconds ${grace} > preStop ${preS} s + --shutdown-timeout ${shutdownS} s`, grace > preS + shutdownS);
  check(`${name}: rolling update keeps capacity (maxUnavailable 0)`, d.spec.strategy?.rollingUpdate?.maxUnavailable === 0);
  check(`${name}: runs as the image's unprivileged user`, pod.spec.securityContext?.runAsNonRoot === true && pod.spec.securityContext?.runAsUser === 10001);
  // Auth on, its key(s) from a Secret mounted where WSGATE_JWT_* points.
  const keyPath = env.WSGATE_JWT_SECRET || env.WSGATE_JWT_PUBLIC_KEY || '';
  check(`${name}: JWT auth is on (WSGATE_JWT_SECRET or WSGATE_JWT_PUBLIC_KEY)`, keyPath !== '');
  const mount = (c.volumeMounts || []).find((m) => keyPath === m.mountPath || keyPath.startsWith(m.mountPath.replace(/\/$/, '') + '/'));
  const vol = mount && (pod.spec.volumes || []).find((v) => v.name === mount.name);
  const secretName = vol?.secret?.secretName;
  check(`${name}: the JWT key ${keyPath} is in a mounted Secret volume`, !!secretName && mount.readOnly === true);
  check(`${name}: the JWT Secret ${secretName} is one of the manifests`, of('Secret').some((x) => x.metadata.name === secretName));
  const mode = vol?.secret?.defaultMode ?? 0o644;
  check(`${name}: the JWT Secret's files are not world-readable (defaultMode ${mode.toString(8)}) and the gateway's group reads them (fsGroup)`,
    (mode & 0o007) === 0 && (mode & 0o040) !== 0 && pod.spec.securityContext?.fsGroup === pod.spec.securityContext?.runAsGroup);

  for (const s of of('Service')) {
    if (!matches(s.spec.selector, pod.metadata.labels)) continue;
    check(`Service/${s.metadata.name}: no session affinity`, (s.spec.sessionAffinity ?? 'None') === 'None');
    for (const p of s.spec.ports) {
      check(`Service/${s.metadata.name}: targetPort ${p.targetPort} is a container port`,
        typeof p.targetPort === 'number' ? [...ports.values()].includes(p.targetPort) : ports.has(p.targetPort));
    }
  }
  for (const b of of('PodDisruptionBudget')) {
    if (!matches(b.spec.selector?.matchLabels, pod.metadata.labels)) continue;
    check(`PodDisruptionBudget/${b.metadata.name}: leaves a gateway up`, (b.spec.maxUnavailable ?? 0) < (d.spec.replicas ?? 1) || (b.spec.minAvailable ?? 0) >= 1);
  }
}
const reachesPods = (s) => deployments.some((d) => matches(s.spec.selector, d.spec.template.metadata.labels));
check('a Service that selects the gateways', of('Service').some(reachesPods));
check('a PodDisruptionBudget that selects the gateways',
  of('PodDisruptionBudget').some((b) => deployments.some((d) => matches(b.spec.selector?.matchLabels, d.spec.template.metadata.labels))));
for (const ing of of('Ingress')) {
  for (const rule of ing.spec.rules || []) {
    for (const p of rule.http?.paths || []) {
      const svc = of('Service').find((s) => s.metadata.name === p.backend.service?.name);
      const port = p.backend.service?.port;
      check(`Ingress/${ing.metadata.name}: backend ${p.backend.service?.name}:${port?.name ?? port?.number} is a Service port`,
        !!svc && svc.spec.ports.some((sp) => (port?.name ? sp.name === port.name : sp.port === port?.number)));
    }
  }
}

// /metrics (and the probes) are not public: no Ingress path routes them.
// Kubernetes matching: Exact is the whole path; Prefix matches by path elements.
const routes = (p, url) => (p.pathType === 'Exact' ? p.path === url
  : (() => { const pre = p.path.replace(/\/+$/, ''); return pre === '' || url === pre || url.startsWith(pre + '/'); })());
for (const ing of of('Ingress')) {
  for (const url of ['/metrics', '/readyz', '/healthz']) {
    const by = (ing.spec.rules || []).flatMap((r) => r.http?.paths || []).filter((p) => routes(p, url));
    check(`Ingress/${ing.metadata.name}: ${url} is not routed (${by.map((p) => `${p.pathType} ${p.path}`).join(', ') || 'no path'})`, by.length === 0);
  }
  for (const url of ['/ws', '/api/batches', '/', '/app.js', '/wsgate.js', '/style.css', '/favicon.svg']) {
    check(`Ingress/${ing.metadata.name}: ${url} is routed (the dashboard and its clients need it)`,
      (ing.spec.rules || []).flatMap((r) => r.http?.paths || []).some((p) => routes(p, url)));
  }
}

for (const p of problems) console.log(`FAIL ${p}`);
console.log(`k8s: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
