/**
 * KEYSTAGE_SQLITE_MMAP_MIB: how much of the SQLite file the server's connection reads through a memory map. The
 * setting reaches the connection (PRAGMA mmap_size reads it back), 0 turns the map off, and a value that is not a
 * non-negative integer stops the start with the variable's name.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { openStore } from '../../src/db/index.js';

async function mmapOf(mib: number | undefined): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-mmap-'));
  const store = await openStore({ sqlitePath: path.join(dir, 'db.sqlite3'), sqliteMmapMiB: mib });
  try {
    const r = await sql<{ mmap_size: number }>`pragma mmap_size`.execute(store.db);
    return Number(r.rows[0]?.mmap_size);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('SQLite memory map size', () => {
  it('reads KEYSTAGE_SQLITE_MMAP_MIB, 256 MiB when unset, and refuses what is not a non-negative integer', () => {
    assert.equal(loadConfig({}).sqliteMmapMiB, 256);
    assert.equal(loadConfig({ KEYSTAGE_SQLITE_MMAP_MIB: '0' }).sqliteMmapMiB, 0);
    assert.equal(loadConfig({ KEYSTAGE_SQLITE_MMAP_MIB: '64' }).sqliteMmapMiB, 64);
    for (const bad of ['-1', '1.5', 'lots'])
      assert.throws(() => loadConfig({ KEYSTAGE_SQLITE_MMAP_MIB: bad }), /KEYSTAGE_SQLITE_MMAP_MIB must be a non-negative integer/);
  });

  it('sets the connection’s mmap_size: the default, a chosen size, and 0 (no map)', async () => {
    assert.equal(await mmapOf(undefined), 256 * 1024 * 1024);
    assert.equal(await mmapOf(64), 64 * 1024 * 1024);
    assert.equal(await mmapOf(0), 0);
  });
});
