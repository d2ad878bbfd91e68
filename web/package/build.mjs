// build.mjs: make dist/ of the @wsgate/client package from the one source,
// ../wsgate.js (the ES module the gateway also serves at /wsgate.js), and
// wsgate.d.ts. Run by `npm pack` / `npm publish` (prepack); no dependencies,
// no network.
//
//   dist/wsgate.mjs    ../wsgate.js as it is
//   dist/wsgate.cjs    the same code as CommonJS: the `export` keywords taken
//                      off the declarations, `exports.<name>` set at the end
//   dist/wsgate.d.mts  wsgate.d.ts (types of the import condition)
//   dist/wsgate.d.cts  wsgate.d.ts (types of the require condition)
//
// The CommonJS conversion only knows `export const|let|function|class NAME`
// and one `export default NAME;`: any other import or export form in the
// source stops the build, so it can never produce a wrong file silently.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(here, '..', 'wsgate.js');
const TYPES = path.join(here, 'wsgate.d.ts');

/** The CommonJS text of an ES module source in the subset described above. */
export function toCommonJS(src) {
  const names = [];
  let out = src.replace(/^export (const|let|function|class|async function) ([A-Za-z_$][\w$]*)/gm, (_, kind, name) => {
    names.push(name);
    return `${kind} ${name}`;
  });
  let def = null;
  out = out.replace(/^export default ([A-Za-z_$][\w$]*);[ \t]*\n?/m, (_, name) => {
    def = name;
    return '';
  });
  const left = out.match(/^[ \t]*(export|import)\b.*$/m) || out.match(/\bimport\s*(\.\s*meta|\()/);
  if (left) throw new Error(`build.mjs: ${path.basename(SRC)} has an import/export form the CommonJS conversion does not handle: ${left[0]}`);
  if (!names.length) throw new Error('build.mjs: no exports found');
  const lines = ["'use strict';", "Object.defineProperty(exports, '__esModule', { value: true });", out.trimEnd(), ''];
  for (const n of names) lines.push(`exports.${n} = ${n};`);
  if (def) lines.push(`exports.default = ${def};`);
  return `// Generated from wsgate.js by build.mjs: do not edit.\n${lines.join('\n')}\n`;
}

export function build(outDir = path.join(here, 'dist')) {
  const src = fs.readFileSync(SRC, 'utf8');
  const types = fs.readFileSync(TYPES, 'utf8');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'wsgate.mjs'), src);
  fs.writeFileSync(path.join(outDir, 'wsgate.cjs'), toCommonJS(src));
  fs.writeFileSync(path.join(outDir, 'wsgate.d.mts'), types);
  fs.writeFileSync(path.join(outDir, 'wsgate.d.cts'), types);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) build();
