/**
 * Compiles src/, test/ and scripts/ for `npm test` into .test-js/, file by file (esbuild, no bundling), so the test
 * processes load plain JavaScript: tsx's loader, resolving and transforming some 1,500 modules in every test file's
 * process, cost about 2.7 s of CPU per file, most of the suite's CPU (tsx stays for running one file by hand).
 *
 * .test-js/ mirrors the tree at the same depth: each .ts file beside its .js (tests that read a source by path still
 * find it), the expression worker bundled where src/expressions/index.ts looks for it outside tsx, and every other
 * top-level entry (node_modules, dist, web, package.json, …) a symbolic link to the real one, so paths taken relative
 * to a module (dist/web, the migrations, schema.yml) resolve as from the sources. Tests still run with the
 * repository as their working directory.
 */
import { build } from 'esbuild';
import { copyFileSync, linkSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { SERVER_BUILD } from './server-build.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TEST_JS = '.test-js';
const out = path.join(root, TEST_JS);
const compiled = ['src', 'test', 'scripts'];

rmSync(out, { recursive: true, force: true });
const entryPoints: string[] = [];
const walk = (dir: string) => {
  for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) {
      mkdirSync(path.join(out, rel), { recursive: true });
      walk(rel);
      continue;
    }
    if (!e.isFile()) continue;
    if (rel.endsWith('.ts') && !rel.endsWith('.d.ts')) entryPoints.push(path.join(root, rel));
    // the source itself too (a hard link: same file system; a copy otherwise)
    try {
      linkSync(path.join(root, rel), path.join(out, rel));
    } catch {
      copyFileSync(path.join(root, rel), path.join(out, rel));
    }
  }
};
for (const d of compiled) {
  mkdirSync(path.join(out, d), { recursive: true });
  walk(d);
}
for (const e of readdirSync(root)) {
  if (compiled.includes(e) || e === TEST_JS || e === '.git') continue;
  symlinkSync(path.join('..', e), path.join(out, e));
}
await Promise.all([
  build({
    entryPoints,
    outdir: out,
    outbase: root,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  }),
  build({
    ...SERVER_BUILD,
    sourcemap: false,
    entryPoints: { 'expressions-worker': path.join(root, 'src/expressions/worker.ts') },
    outdir: path.join(out, 'src/expressions'),
  }),
]);
console.log(`compiled ${entryPoints.length} files into ${TEST_JS}/`);
