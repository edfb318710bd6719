/**
 * Security: a session's cookie holds a token and the database only the token's SHA-256 (src/sessions/session-hash.ts),
 * so whoever reads the database (a backup, a dump) holds no session. An install from before keeps its browsers'
 * sessions: migration 0048 hashes each stored key once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { dialects, startServer, type TestServer, sameDatabase } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

for (const dialect of dialects()) {
  describe(`security: session keys at rest (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv?.close());

    const me = (token: string, on = srv) => fetch(`${on.api}/core/users/me/`, { headers: { cookie: `authentik_session=${token}` } });
    const login = async () => {
      const c = new FlowClient(srv);
      await c.get();
      await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' });
      assert.equal(
        (await c.post({ component: 'ak-stage-password', password: 'correct horse battery staple' })).body.component,
        'xak-flow-redirect',
      );
      return c.cookies.get('authentik_session')!;
    };
    const rowsKeyed = (key: string) =>
      srv.app.store.db.selectFrom('sessions').select(['session_key', 'user_id']).where('session_key', '=', key).execute();

    it("the database holds the SHA-256 of the cookie's token, never the token; a stored key in a cookie is nobody", async () => {
      const token = await login();
      assert.equal((await me(token)).status, 200);
      assert.deepEqual(await rowsKeyed(token), []);
      assert.deepEqual(await rowsKeyed(sha256(token)), [{ session_key: sha256(token), user_id: 1 }]);
      // what a reader of the database has: the stored keys
      const stored = await srv.app.store.db.selectFrom('sessions').select('session_key').where('user_id', '=', 1).execute();
      assert.ok(stored.length >= 1);
      for (const { session_key } of stored) assert.equal((await me(session_key)).status, 403, 'a stored key opens nothing');
    });

    it("an install from before: its stored keys are hashed once at the next start, and the browsers' cookies keep working", async () => {
      const token = await login();
      const db = srv.app.store.db;
      // the row as Keystage stored it before: keyed by the token itself
      await db.updateTable('sessions').set({ session_key: token }).where('session_key', '=', sha256(token)).execute();
      await db
        .deleteFrom('keystage_migrations' as never)
        .where('name' as never, '=', '0048_hashed_session_keys' as never)
        .execute();
      const again = await startServer(dialect, sameDatabase(srv));
      try {
        assert.deepEqual(await rowsKeyed(token), []);
        assert.deepEqual(await rowsKeyed(sha256(token)), [{ session_key: sha256(token), user_id: 1 }]);
        // the keys stored hashed already (the first test's) were not hashed again
        assert.ok(
          (await db.selectFrom('sessions').select('session_key').execute()).every((r) => /^[0-9a-f]{64}$/.test(r.session_key)),
          'every key is a hash',
        );
        const r = await me(token, again);
        assert.equal(r.status, 200);
        assert.equal(((await r.json()) as { user: { username: string } }).user.username, 'akadmin');
      } finally {
        await again.close();
      }
    });
  });
}
