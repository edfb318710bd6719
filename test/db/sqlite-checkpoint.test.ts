/**
 * SQLite's WAL checkpoints run in a worker thread (src/db/sqlite-checkpoint.ts), not inside a request's commit: the
 * worker starts once the WAL grows, checkpoints so the server's next write can restart the WAL (cut back to 2 MiB),
 * ends itself when nothing new comes, starts again on new writes, and leaves every row in place.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { checkpointOffThread } from '../../src/db/sqlite-checkpoint.js';

const until = async (what: string, ok: () => boolean, ms = 8000) => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('SQLite checkpoints off the event loop', () => {
  it('starts on WAL growth, lets the WAL restart, ends when idle, starts again, keeps every row', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-ckpt-'));
    const file = path.join(dir, 'db.sqlite3');
    const db = new SQLite(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('create table t (id integer primary key, v blob)');
    const errors: string[] = [];
    let written = 0;
    const ck = checkpointOffThread(db, file, (m) => errors.push(m), { pollMs: 50, everyMs: 50, idleTicks: 6 });
    try {
      // SQLite's own threshold is raised only once the worker runs; a small WAL starts nothing
      assert.equal(ck.running, false);
      const insert = db.prepare('insert into t (v) values (?)');
      const write = (n: number) => {
        written += n;
        return insertMany(n);
      };
      const insertMany = (n: number) =>
        db.transaction(() => {
          for (let i = 0; i < n; i++) insert.run(Buffer.alloc(4000, i % 251));
        })();
      write(1500); // ≈ 6 MiB of WAL
      await until('the worker starts', () => ck.running);
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 10_000);
      // once the worker has checkpointed everything, the next write restarts the WAL, cut back to 2 MiB
      await until('the WAL checkpointed and restarted by a write', () => {
        write(1);
        return fs.statSync(`${file}-wal`).size <= 2 * 1024 * 1024;
      });
      await until('the worker ends itself when nothing new comes', () => !ck.running);
      write(1500);
      await until('a new worker starts on new growth', () => ck.running);
      assert.deepEqual(errors, []);
    } finally {
      await ck.stop();
    }
    assert.equal(ck.running, false);
    db.close();
    // every row written is there, read by a fresh connection from the file and its WAL
    const again = new SQLite(file, { readonly: true });
    assert.equal((again.prepare('select count(*) as n from t').get() as { n: number }).n, written);
    again.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
