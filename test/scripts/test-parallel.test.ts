/**
 * The test runner of `npm test` (scripts/test-parallel.ts and its workers, scripts/test-worker.ts), on small test
 * files of its own in a temp folder: files share a worker process, each file's top-level hooks frame its own tests
 * only, every test of many short files is reported, a failure fails the run, a worker that ends early fails the run
 * naming what it was running and what it never ran, and a test that leaves a handle open fails the run naming it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const launcher = path.resolve('.test-js/scripts/test-parallel.js');

/** Runs the launcher on a folder; its exit status and everything it printed. */
function runFolder(
  root: string,
  workers: number,
  extraEnv: Record<string, string> = {},
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // NODE_TEST_CONTEXT marks this process as a test file's: a `node --test` under it would refuse to run files
    const { NODE_TEST_CONTEXT: _, FORCE_COLOR: __, ...env } = process.env;
    const child = spawn(process.execPath, [launcher, '--root', root], {
      env: { ...env, NO_COLOR: '1', KEYSTAGE_TEST_CONCURRENCY: String(workers), ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

/** A test file; `weight` pads it, since a run without earlier durations takes the largest files first. */
function write(dir: string, name: string, body: string, weight = 0): void {
  fs.writeFileSync(path.join(dir, name), `${body}\n//${'x'.repeat(weight)}\n`);
}

const LOG = (log: string) =>
  `import fs from 'node:fs';\nconst log = (what) => fs.appendFileSync(${JSON.stringify(log)}, \`\${what} \${process.pid}\\n\`);`;

describe('npm test runner: files in shared worker processes', {
  skip: !fs.existsSync(launcher) && 'needs `npx tsx scripts/test-build.ts` first',
}, () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-runner-test-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs every file in one worker, each file framed by its own hooks; exits 0', async () => {
    const root = path.join(dir, 'pass');
    fs.mkdirSync(root);
    const log = path.join(dir, 'pass.log');
    write(
      root,
      'a.test.js',
      `import { test, beforeEach, after } from 'node:test';\n${LOG(log)}\nbeforeEach(() => log('a-beforeEach'));\nafter(() => log('a-after'));\ntest('a1', () => log('a1'));\ntest('a2', () => log('a2'));`,
      200,
    );
    write(root, 'b.test.js', `import { test } from 'node:test';\n${LOG(log)}\ntest('b1', () => log('b1'));`);
    const r = await runFolder(root, 1);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /2 files in 1 workers/);
    const lines = fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    assert.deepEqual(
      lines.map(([what]) => what),
      ['a-beforeEach', 'a1', 'a-beforeEach', 'a2', 'a-after', 'b1'],
      "a's hooks ran around a's tests only, and before b",
    );
    assert.equal(new Set(lines.map(([, pid]) => pid)).size, 1, 'one process ran both files');
  });

  it('every test of many short files is reported (a worker ends only once its output is written)', async () => {
    const root = path.join(dir, 'many');
    fs.mkdirSync(root);
    for (let i = 0; i < 40; i++)
      write(root, `f${i}.test.js`, `import { test, after } from 'node:test';\ntest('t${i}', () => {});\nafter(() => {});`, i);
    const r = await runFolder(root, 2);
    assert.equal(r.status, 0, r.output);
    // (no exact total: a worker that found the queue already empty is itself reported as one passing test on Node 24)
    assert.match(r.output, /ℹ fail 0\n/);
    for (let i = 0; i < 40; i++) assert.match(r.output, new RegExp(`✔ t${i} `));
  });

  it('a test that leaves a handle open fails the run, naming the handle and the files of its worker', async () => {
    const root = path.join(dir, 'leak');
    fs.mkdirSync(root);
    write(
      root,
      'leaks.test.js',
      `import { test } from 'node:test';\nimport net from 'node:net';\ntest('listens and forgets', () => new Promise((ok) => net.createServer().listen(0, '127.0.0.1', ok)));`,
    );
    const r = await runFolder(root, 1, { KEYSTAGE_TEST_LINGER_MS: '500' });
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /✔ listens and forgets/);
    assert.match(r.output, /still alive 0\.5 s after its last test file: a test left \[[^\]]*"TCPServerWrap"/);
    assert.match(r.output, new RegExp(`Its files:\n  ${path.join(root, 'leaks.test.js')}`));
  });

  it('a failing test fails the run and is named', async () => {
    const root = path.join(dir, 'fail');
    fs.mkdirSync(root);
    write(root, 'ok.test.js', `import { test } from 'node:test';\ntest('fine', () => {});`);
    write(
      root,
      'bad.test.js',
      `import { test } from 'node:test';\nimport assert from 'node:assert';\ntest('one is two', () => assert.equal(1, 2));`,
    );
    const r = await runFolder(root, 2);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /✖ one is two/);
    assert.match(r.output, /✔ fine/);
  });

  it('a worker that exits in the middle of a file fails the run, naming that file and the files nobody took', async () => {
    const root = path.join(dir, 'crash');
    fs.mkdirSync(root);
    write(root, 'exits.test.js', `import { test } from 'node:test';\ntest('exits', () => process.exit(0));`, 400);
    write(root, 'queued.test.js', `import { test } from 'node:test';\ntest('queued', () => {});`, 200);
    write(root, 'last.test.js', `import { test } from 'node:test';\ntest('last', () => {});`);
    const r = await runFolder(root, 1);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, new RegExp(`ended before they did:\\n  ${path.join(root, 'exits.test.js')}`));
    assert.match(r.output, new RegExp(`never ran \\(a worker ended before taking them\\):\\n  ${path.join(root, 'queued.test.js')}`));
  });
});
