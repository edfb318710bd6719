/**
 * SQLite survives SIGKILL under write load: every user and token whose 201 the client received is there after a
 * restart, and the database passes an integrity check (WAL; `synchronous = NORMAL` is durable across process
 * crashes — not across power loss, see README).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { api, startNode, type Node } from '../helpers/process.js';

describe('SQLite: a process killed under write load loses nothing it confirmed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-crash-'));
  const file = path.join(dir, 'crash.sqlite3');
  let node: Node | undefined;
  after(async () => {
    node?.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 mid-write, restart, count', async () => {
    node = await startNode({ KEYSTAGE_SQLITE_PATH: file });
    const confirmedUsers: number[] = [];
    const confirmedTokens: string[] = [];
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 400; i++) {
        try {
          const u = await api(node!, 'POST', '/core/users/', { username: `crash-${w}-${i}`, name: 'x' });
          if (u.status === 201) confirmedUsers.push(u.body.pk);
          const t = await api(node!, 'POST', '/core/tokens/', {
            identifier: `crash-${w}-${i}`,
            intent: 'api',
            user: u.body.pk,
            expiring: false,
          });
          if (t.status === 201) confirmedTokens.push(t.body.identifier);
        } catch {
          return; // the process is gone
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await new Promise((r) => setTimeout(r, 1500));
    node.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await node.exited;
    assert.ok(confirmedUsers.length > 10, `some writes were confirmed before the kill (${confirmedUsers.length})`);

    node = await startNode({ KEYSTAGE_SQLITE_PATH: file });
    const db = new SQLite(file, { readonly: true });
    try {
      assert.equal((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
      const users = new Set((db.prepare('select id from users').all() as { id: number }[]).map((r) => r.id));
      const tokens = new Set((db.prepare('select identifier from tokens').all() as { identifier: string }[]).map((r) => r.identifier));
      assert.deepEqual(
        confirmedUsers.filter((id) => !users.has(id)),
        [],
        'every confirmed user survived',
      );
      assert.deepEqual(
        confirmedTokens.filter((t) => !tokens.has(t)),
        [],
        'every confirmed token survived',
      );
    } finally {
      db.close();
    }
    assert.equal((await api(node, 'GET', `/core/users/${confirmedUsers[0]}/`)).status, 200, 'and the restarted server serves them');
  });
});
