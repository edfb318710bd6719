/**
 * One test worker of `npm run test:parallel` (scripts/test-parallel.ts starts a few, each under `node --test`): it
 * takes the next test file nobody has taken yet and runs it as one suite named for the file, again and again until
 * none is left. A file's top-level tests and hooks belong to that suite, so its `before`/`after` frame its own tests
 * only, as in a process of its own. What the worker keeps from one file to the next is what Node keeps: loaded
 * modules and compiled code, which is the point (a fresh process spent about 1.3 s of CPU loading Keystage and
 * starting its first server cold, for each of some 130 files).
 *
 * Files are claimed through the run's folder (KEYSTAGE_TEST_RUN): creating `claim-<i>` exclusively is atomic, so no
 * two workers run a file; `started-<i>` and `done-<i>` record that the file's suite began and ended (and how long it
 * took), which the launcher checks. A worker that dies loses only the file it was running; the others take the rest.
 *
 * A worker ends as any test process does: when its last file is done and nothing keeps its event loop alive, Node's
 * test runner reports the rest and the process exits once its output is written. It is not run with
 * `--test-force-exit`: that exits as soon as the runner's own stream has closed, before the reporter that serialises
 * it to the launcher has written everything, and on Node 24 under load a worker's last results were lost that way.
 * A test file that leaves a handle open (a server, a pool, a timer) would keep its worker alive for ever, so a worker
 * still alive LINGER_MS after its last file names what is open and the files it ran, and fails the run.
 */
import { after, before, describe } from 'node:test';
import { AsyncResource } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const run = process.env.KEYSTAGE_TEST_RUN;
if (!run) throw new Error('KEYSTAGE_TEST_RUN is not set: start the workers through scripts/test-parallel.ts');
const files: string[] = JSON.parse(fs.readFileSync(path.join(run, 'files.json'), 'utf8'));
const LINGER_MS = Number(process.env.KEYSTAGE_TEST_LINGER_MS) || 10_000;
const ran: string[] = [];

function claim(): number {
  for (let i = 0; i < files.length; i++) {
    try {
      fs.closeSync(fs.openSync(path.join(run!, `claim-${i}`), 'wx'));
      return i;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return -1;
}

/**
 * Takes the next file and registers its suite at the top level (the root's context, captured here: called from a
 * suite's hook, `describe` would otherwise nest the new suite in that one).
 */
const startNext = AsyncResource.bind(() => {
  const i = claim();
  if (i >= 0) start(i);
});

/** After the worker's last file: a worker still alive LINGER_MS later was kept alive by a handle a test left open. */
function lingerGuard(): void {
  setTimeout(() => {
    process.stderr.write(
      `test worker ${process.pid} is still alive ${LINGER_MS / 1000} s after its last test file: a test left ` +
        `${JSON.stringify(process.getActiveResourcesInfo())} open.\nIts files:\n  ${ran.join('\n  ')}\n`,
    );
    process.exit(1);
  }, LINGER_MS).unref();
}

/**
 * A file's suite. The next file is taken in the suite's first `after` hook, before the suite ends, so the root's
 * queue never runs dry between two files (if the file fails before its hooks run, the next is taken when its suite
 * ends).
 */
function start(i: number): void {
  const file = files[i]!;
  let started = 0;
  let next = false;
  ran.push(file);
  const takeNext = () => {
    if (next) return;
    next = true;
    startNext();
  };
  void describe(file, async () => {
    before(() => {
      started = performance.now();
      fs.writeFileSync(path.join(run!, `started-${i}`), '');
    });
    after(takeNext);
    await import(pathToFileURL(path.resolve(file)).href);
  }).then(() => {
    fs.writeFileSync(path.join(run!, `done-${i}`), String(Math.round(performance.now() - started)));
    takeNext();
    if (ran.at(-1) === file) lingerGuard();
  });
}

startNext();
