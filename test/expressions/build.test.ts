/**
 * The built server can run expressions: an entry using src/expressions, bundled exactly as dist/server/main.mjs is
 * (scripts/server-build.ts, the worker beside it), run by plain node — without tsx, and without any network where
 * a network namespace can be made (root: `unshare -n`, only a loopback that is down) — finds its worker and
 * pyodide's interpreter and standard library in node_modules, evaluates, refuses, cuts off and restarts.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { SERVER_BUILD, serverEntries } from '../../scripts/server-build.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// inside the repository, so that node_modules is found as from dist/server/
mkdirSync(path.join(root, 'dist'), { recursive: true });
const out = mkdtempSync(path.join(root, 'dist', '.expressions-build-test-'));
after(() => rmSync(out, { recursive: true, force: true }));

function offline(): string[] {
  try {
    execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
    return ['unshare', '-n'];
  } catch {
    return [];
  }
}

describe('the built runtime', () => {
  it('scripts/build.ts builds the worker beside the server', () => {
    assert.deepEqual(Object.keys(serverEntries(root)), ['main', 'expressions-worker']);
    if (existsSync(path.join(root, 'dist/server/main.mjs'))) assert.ok(existsSync(path.join(root, 'dist/server/expressions-worker.mjs')));
  });

  it('finds its worker and pyodide, offline, and works', async () => {
    await build({
      ...SERVER_BUILD,
      entryPoints: {
        main: path.join(root, 'test/expressions/fixtures/built-entry.ts'),
        'expressions-worker': serverEntries(root)['expressions-worker'],
      },
      outdir: out,
    });
    const [cmd, ...args] = [...offline(), process.execPath, path.join(out, 'main.mjs')];
    const run = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH ?? '' } });
    assert.equal(run.status, 0, `exit ${run.status} ${run.signal ?? ''}\n${run.stderr}`);
    const r = JSON.parse(run.stdout.trim().split('\n').pop()!);
    assert.deepEqual(r.first, { ok: true, value: true, truthy: true, messages: ['built'], logs: [] });
    assert.equal(r.refused.ok, false);
    assert.match(r.refused.error, /^ImportError: import of 'js' is not allowed/);
    assert.equal(r.timeout.kind, 'timeout');
    assert.deepEqual(r.after, { ok: true, value: 42, truthy: true, messages: [], logs: [] });
    assert.deepEqual(r.syntax, { ok: false, line: 2, column: 5, message: "expected ':'" });
  });
});
