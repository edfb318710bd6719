/**
 * Runs the compiled test files (.test-js/, made by scripts/test-build.ts) in a few long-lived worker processes
 * instead of one process per file: `node --test` runs KEYSTAGE_TEST_CONCURRENCY (default: the cores + 1) workers side by side and
 * each worker (scripts/test-worker.ts) takes the next file nobody has taken, until none is left. Loading Keystage and
 * warming it up then happens once per worker instead of once per file: on the 2-core machine that was about a third
 * of the suite's CPU.
 *
 *   node .test-js/scripts/test-parallel.js [path prefix …]   the parallel files (those under the prefixes, if given)
 *   node .test-js/scripts/test-parallel.js --serial          the files that time things or load the machine, one by one
 *   node .test-js/scripts/test-parallel.js --root <folder>   every *.test.js under another folder (the runner's own
 *                                                            test), without reading or keeping durations
 *
 * Slow files go first so that no worker is left with a long file at the end: by their durations in the previous
 * run on this machine (kept in the temp folder), else by size. The run fails if any file's suite did not end.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Run alone, after the rest: timing measurements, and three server processes under load. */
export const SERIAL = ['test/auth/enumeration-timing.test.js', 'test/nodes/cluster.test.js'];

const TEST_JS = '.test-js';
const DURATIONS = path.join(os.tmpdir(), 'keystage-test-durations.json');

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function previousDurations(): Record<string, number> {
  try {
    return JSON.parse(fs.readFileSync(DURATIONS, 'utf8'));
  } catch {
    return {};
  }
}

const args = process.argv.slice(2);
const serial = args.includes('--serial');
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? args.splice(rootAt, 2)[1] : undefined;
const prefixes = args.filter((a) => !a.startsWith('--')).map((a) => path.join(TEST_JS, a.replace(/\.ts$/, '.js')));
const nodeTest = [process.execPath, '--test', '--test-reporter=spec'];

if (serial) {
  const r = spawnSync(nodeTest[0]!, [...nodeTest.slice(1), '--test-concurrency=1', ...SERIAL.map((f) => path.join(TEST_JS, f))], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

const serialFiles = new Set(SERIAL.map((f) => path.join(TEST_JS, f)));
const before = root ? {} : previousDurations();
const files = testFiles(root ?? path.join(TEST_JS, 'test'))
  .filter((f) => !serialFiles.has(f))
  .filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(p)))
  .map((f) => ({ f, weight: before[f] ?? fs.statSync(f).size }))
  .sort((a, b) => b.weight - a.weight || a.f.localeCompare(b.f))
  .map((x) => x.f);
if (files.length === 0) {
  console.error(`no test files under ${prefixes.join(', ')}`);
  process.exit(1);
}

// one more worker than cores: a worker waits (on PostgreSQL, Chromium, sockets) for about a third of its time, and
// on the 2-core machine the third worker took the run from 339–358 s to 327 s (a fourth: 311 s, at ≈ 1 GB each)
const defaultWorkers = os.availableParallelism() + 1;
const workers = Math.max(1, Math.min(files.length, Number(process.env.KEYSTAGE_TEST_CONCURRENCY ?? defaultWorkers) || defaultWorkers));
const run = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-test-run-'));
fs.writeFileSync(path.join(run, 'files.json'), JSON.stringify(files));
const worker = fileURLToPath(new URL('./test-worker.js', import.meta.url));
const entries = Array.from({ length: workers }, (_, i) => {
  const entry = path.join(run, `worker-${i + 1}.test.mjs`);
  fs.writeFileSync(entry, `import ${JSON.stringify(worker)};\n`);
  return entry;
});

const started = Date.now();
const r = spawnSync(nodeTest[0]!, [...nodeTest.slice(1), `--test-concurrency=${workers}`, ...entries], {
  stdio: 'inherit',
  env: { ...process.env, KEYSTAGE_TEST_RUN: run },
});

const durations: Record<string, number> = { ...before };
const crashed: string[] = [];
const unfinished: string[] = [];
files.forEach((f, i) => {
  try {
    durations[f] = Number(fs.readFileSync(path.join(run, `done-${i}`), 'utf8'));
  } catch {
    (fs.existsSync(path.join(run, `started-${i}`)) ? crashed : unfinished).push(f);
  }
});
fs.rmSync(run, { recursive: true, force: true });
if (!root && crashed.length + unfinished.length === 0) fs.writeFileSync(DURATIONS, JSON.stringify(durations));
console.log(`${files.length} files in ${workers} workers, ${Math.round((Date.now() - started) / 1000)} s`);
if (crashed.length > 0) console.error(`the worker running these test files ended before they did:\n  ${crashed.join('\n  ')}`);
if (unfinished.length > 0) console.error(`these test files never ran (a worker ended before taking them):\n  ${unfinished.join('\n  ')}`);
process.exit(crashed.length + unfinished.length > 0 ? 1 : (r.status ?? 1));
