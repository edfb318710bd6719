/**
 * A login rehashes a password stored with other parameters (an older cost, Django's formats). If the password is
 * changed while that login runs, the rehash must not write the old password back. Made deterministic on PostgreSQL:
 * the change holds the user's row (uncommitted) while the login reads the committed old hash, checks it, and waits to
 * rehash; then the change commits.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { createUser } from '../helpers/flows.js';
import { untilSomeoneWaits } from '../helpers/pg-locks.js';
import { describePostgres } from '../helpers/postgres.js';

const argon2 = (password: string, memoryCost: number) =>
  hash(password, { algorithm: Algorithm.Argon2id, memoryCost, timeCost: 1, parallelism: 1 });

describePostgres('a login rehashing a password while it is changed (postgres)', 'a change holds the row while a login reads it', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer('postgres');
  });
  after(async () => srv?.close());

  it('does not put the old password back: the new one stays, and the login that proved the old one fails', async () => {
    const id = await createUser(srv, 'rehasher', 'old-password-1');
    // stored with other parameters than the server's: a login with it rehashes
    await srv.app.store.db
      .updateTable('users')
      .set({ password: await argon2('old-password-1', 2048) })
      .where('id', '=', id)
      .execute();
    const changed = await argon2('new-password-2', 1024);

    const c = new FlowClient(srv);
    await c.get();
    assert.equal((await c.post({ component: 'ak-stage-identification', uid_field: 'rehasher' })).body.component, 'ak-stage-password');

    const change = new pg.Client({ connectionString: srv.config.databaseUrl });
    await change.connect();
    try {
      await change.query('begin');
      await change.query('update users set password = $1 where id = $2', [changed, id]);
      const login = c.post({ component: 'ak-stage-password', password: 'old-password-1' });
      // the login's rehash now waits for the change's row lock (a lock not granted: pg_stat_activity's text of a
      // reused prepared statement is not a reliable witness)
      assert.ok(await untilSomeoneWaits(change), 'the login reached its rehash while the change held the row');
      await change.query('commit');

      const answer = await login;
      assert.equal(answer.status, 200);
      assert.equal(answer.body.component, 'ak-stage-password', 'the login is refused, not completed');
      assert.deepEqual(answer.body.response_errors?.password?.[0]?.code, 'invalid');
    } finally {
      await change.end();
    }
    const stored = await srv.app.store.db.selectFrom('users').select('password').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(stored.password, changed, 'the changed password is the one stored');
    assert.equal(await verify(stored.password, 'old-password-1'), false);

    // the new password logs in (and is rehashed then, nobody changing it)
    const again = new FlowClient(srv);
    await again.get();
    await again.post({ component: 'ak-stage-identification', uid_field: 'rehasher' });
    assert.equal((await again.post({ component: 'ak-stage-password', password: 'new-password-2' })).body.component, 'xak-flow-redirect');
  });
});
