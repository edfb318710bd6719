/**
 * SQLite's WAL checkpoints run in a worker thread (src/db/sqlite-checkpoint.ts), not inside a request's commit: the
 * worker starts once the WAL grows — under many small commits, as a server writes, not only one large one —, its
 * checkpoints let the server's writes restart the WAL (the file stops growing), it ends itself when nothing new comes
 * and truncates the WAL file as it goes, starts again on new writes, and leaves every row in place.
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
      // a small WAL starts nothing; the server's own threshold is already far above the worker's start
      assert.equal(ck.running, false);
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 10_000);
      const insert = db.prepare('insert into t (v) values (?)');
      // one commit per row, as requests write: with SQLite's 1,000-page threshold the server's connection would
      // checkpoint the WAL itself before it reached the worker's start, and the worker would never run
      const write = (n: number) => {
        for (let i = 0; i < n; i++) insert.run(Buffer.alloc(4000, i % 251));
        written += n;
      };
      const walSize = () => fs.statSync(`${file}-wal`).size;
      // the WAL header's checkpoint sequence (bytes 12–15): SQLite counts each time the WAL starts over
      const walSequence = () => {
        const fd = fs.openSync(`${file}-wal`, 'r');
        try {
          const header = Buffer.alloc(16);
          fs.readSync(fd, header, 0, 16, 0);
          return header.readUInt32BE(12);
        } finally {
          fs.closeSync(fd);
        }
      };
      write(1300); // ≈ 5 MiB of WAL, in 1,300 commits
      await until('the worker starts', () => ck.running);
      // its checkpoints let a later write start the WAL over, far below the server's own 10,000-page threshold
      const sequence = walSequence();
      await until("the worker's checkpoint lets a write restart the WAL", () => {
        write(1);
        return walSequence() !== sequence;
      });
      await until('the worker ends itself when nothing new comes', () => !ck.running);
      assert.equal(walSize(), 0, 'the worker truncates the WAL as it ends');
      write(1300);
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
