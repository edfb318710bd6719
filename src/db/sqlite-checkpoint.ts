/**
 * SQLite's WAL checkpoints, off the event loop. better-sqlite3 runs every statement on the main thread, and SQLite
 * checkpoints inside whichever commit crosses `wal_autocheckpoint` (1,000 pages): that commit copies the WAL into
 * the database file and waits for fsync, and the whole server waits with it. Measured on token grants (bench/
 * RESULTS.md, fifteenth session): the server's core stood idle 7–13% of the time, blocked in those commits.
 *
 * Here a worker thread with a connection of its own runs the checkpoints (PASSIVE: it never waits for, nor
 * blocks, the server's readers and writer). It starts once the WAL outgrows START_BYTES (a small database that is
 * hardly written — most tests — never pays for the thread), checkpoints every EVERY_MS, and ends itself after a few
 * quiet seconds, so its memory is given back at rest; its last checkpoint truncates the WAL file, so the disk space
 * goes back too. The server's own connection has a far higher automatic threshold (BOUND_PAGES) from the start:
 * with SQLite's 1,000 pages it checkpointed the WAL itself before the WAL ever reached START_BYTES, so the worker
 * never started under many small commits (sixteenth session: `perf` showed the event loop in fsync inside its own
 * commits). The bound still matters while the server writes without pause: the WAL can start over only when a write
 * transaction begins with every frame checkpointed, which the worker, checkpointing beside a writer, rarely sees; the
 * server's connection then checkpoints once per BOUND_PAGES, right after a commit, with most pages already copied by
 * the worker. If the worker fails, the threshold goes back to SQLite's default. The WAL file keeps its size when the
 * WAL starts over (up to KEEP_BYTES): cutting it back each time made the server's next commit truncate the file and
 * wait for the disk. Durability is unchanged: a checkpoint syncs the WAL before copying it, wherever it runs.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/** SQLite's default `wal_autocheckpoint` */
const DEFAULT_PAGES = 1000;
/** the server's own bound while the worker checkpoints (≈ 40 MiB of WAL at 4 KiB pages) */
const BOUND_PAGES = 10_000;
const START_BYTES = 4 * 1024 * 1024;
const POLL_MS = 1000;
const EVERY_MS = 250;
/** checkpoints with nothing new before the worker ends itself (5 s) */
const IDLE_TICKS = 20;
/**
 * the WAL file is cut back to this when the WAL starts over (SQLite's journal_size_limit): above the ≈ 40 MiB
 * BOUND_PAGES lets it reach, so the server's commits never truncate it (the worker truncates it when it ends)
 */
const KEEP_BYTES = 64 * 1024 * 1024;

// CommonJS, run by `new Worker(…, { eval: true })`: no file of its own to bundle or find. It ends itself once the
// WAL has had nothing new for IDLE_TICKS checkpoints (its memory goes back at rest) and is started again on growth.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
// a checkpoint streams pages from the WAL to the file: it needs no page cache of its own
db.pragma('cache_size = -256');
let last = -1;
let idle = 0;
const end = (quiet) => {
  clearInterval(timer);
  // nothing written for a while: the WAL file goes back to nothing (a writer arriving meanwhile waits for this
  // checkpoint only, busy_timeout; if it cannot finish, the file stays as it is)
  if (quiet) try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {}
  db.close();
  parentPort.close();
};
const checkpoint = () => {
  const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
  idle = r && r.log === last && r.checkpointed === r.log ? idle + 1 : 0;
  last = r ? r.log : -1;
};
const timer = setInterval(() => {
  try { checkpoint(); } catch (e) { idle = 0; parentPort.postMessage({ error: String((e && e.message) || e) }); }
  if (idle >= workerData.idleTicks) end(true);
}, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  try { checkpoint(); } catch {}
  end(false);
});
`;

export interface Checkpointer {
  /** whether the worker runs (it starts with the WAL's growth) */
  readonly running: boolean;
  stop(): Promise<void>;
}

export function checkpointOffThread(
  sqlite: SQLite.Database,
  file: string,
  onError: (message: string) => void = () => {},
  /** shorter clocks for tests */
  timing: { pollMs?: number; everyMs?: number; idleTicks?: number } = {},
): Checkpointer {
  const wal = `${file}-wal`;
  let worker: Worker | undefined;
  let failed = false;
  let stopping = false;
  /** the WAL as the last worker left it: a worker starts again only once something has been written since */
  let leftAt: { size: number; mtimeMs: number } | undefined;
  sqlite.pragma(`journal_size_limit = ${KEEP_BYTES}`);
  // the bound from the start: SQLite's own threshold would keep the WAL below START_BYTES (see above)
  sqlite.pragma(`wal_autocheckpoint = ${BOUND_PAGES}`);
  const fallBack = (message: string) => {
    if (failed || stopping) return;
    failed = true;
    clearInterval(poll);
    onError(message);
    if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_PAGES}`);
  };
  const start = () => {
    const w = new Worker(WORKER, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        path: file,
        everyMs: timing.everyMs ?? EVERY_MS,
        idleTicks: timing.idleTicks ?? IDLE_TICKS,
      },
      env: {},
      execArgv: [],
      name: 'keystage-sqlite-checkpoint',
      // a few objects live in it: the smallest heap V8 runs with
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1, stackSizeMb: 1 },
    });
    worker = w;
    w.unref();
    w.on('message', (m: { error?: string }) => {
      if (m?.error) onError(`WAL checkpoint: ${m.error}`);
    });
    w.on('error', (e) => fallBack(`WAL checkpoint worker: ${e.message}`));
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      if (code !== 0) return fallBack(`WAL checkpoint worker exited with ${code}`);
      // idle: ended itself; the next growth starts another
      leftAt = walStat();
    });
  };
  const walStat = () => {
    try {
      const st = fs.statSync(wal);
      return { size: st.size, mtimeMs: st.mtimeMs };
    } catch {
      return undefined;
    }
  };
  const poll = setInterval(() => {
    if (worker || failed) return;
    const st = walStat();
    if (!st || st.size < START_BYTES) return;
    if (leftAt && st.size === leftAt.size && st.mtimeMs === leftAt.mtimeMs) return;
    try {
      start();
    } catch (e) {
      fallBack(`WAL checkpoint worker: ${(e as Error).message}`);
    }
  }, timing.pollMs ?? POLL_MS);
  poll.unref();
  return {
    get running() {
      return !!worker;
    },
    async stop() {
      stopping = true;
      clearInterval(poll);
      const w = worker;
      worker = undefined;
      if (!w) return;
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      // (kept alive while it finishes: the last checkpoint is worth waiting for)
      w.ref();
      w.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      await w.terminate();
    },
  };
}
