/**
 * PostgreSQL: which of a login's writes commit without waiting for the WAL flush (src/db/async-commit.ts). A
 * deferred trigger in the test's database records, at each commit, the transaction's `synchronous_commit` beside
 * every row it wrote to the tables a login touches; a password + TOTP login through the executor then shows the
 * anonymous session's writes, the leases, the failure counters' reservations and the anonymous row's rename to the
 * logged-in key committed asynchronously, and the login's own transaction, the TOTP step and the login event
 * synchronously; a second login over a logged-in session renames that row synchronously.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { addTotpDevice } from '../helpers/devices.js';
import { describePostgres } from '../helpers/postgres.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';

type Logged = { tx: string; tbl: string; row: Record<string, unknown>; mode: string };

describePostgres('asynchronous commits of a login’s disposable writes', 'synchronous_commit is a PostgreSQL setting', () => {
  let srv: TestServer;
  let userId: number;
  let key: string;
  before(async () => {
    srv = await startServer('postgres');
    const u = await call(srv, 'POST', '/core/users/', { username: 'durable', name: 'durable', email: 'durable@example.com' });
    assert.equal(u.status, 201);
    userId = u.body.pk;
    assert.equal((await call(srv, 'POST', `/core/users/${userId}/set_password/`, { password: 'durable-password-1' })).status, 204);
    ({ key } = await addTotpDevice(srv.app.store.db, userId));
    const db = srv.app.store.db;
    await sql`CREATE TABLE commit_log (tx text, tbl text, row jsonb, mode text)`.execute(db);
    await sql`CREATE FUNCTION log_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO commit_log VALUES (txid_current()::text, TG_TABLE_NAME, to_jsonb(NEW), current_setting('synchronous_commit'));
        RETURN NULL;
      END $$`.execute(db);
    for (const table of ['sessions', 'auth_failures', 'totp_devices', 'events', 'users'])
      await sql`CREATE CONSTRAINT TRIGGER log_commit AFTER INSERT OR UPDATE ON ${sql.table(table)}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION log_commit()`.execute(db);
  });
  after(async () => srv?.close());

  it('a password + TOTP login: disposable writes asynchronous, the login and what it creates synchronous', async () => {
    const db = srv.app.store.db;
    await sql`DELETE FROM commit_log`.execute(db);
    const c = new FlowClient(srv, 'default-authentication-flow', { ip: '198.51.100.77' });
    await c.get();
    await c.post({ component: 'ak-stage-identification', uid_field: 'durable' });
    const validate = await c.post({ component: 'ak-stage-password', password: 'durable-password-1' });
    assert.equal(validate.body.component, 'ak-stage-authenticator-validate');
    const done = await c.post({ component: 'ak-stage-authenticator-validate', code: totpAt(key, currentStep({ t0: 0, step: 30 }), 6) });
    assert.equal(done.body.component, 'xak-flow-redirect');

    const rows = (await sql<Logged>`SELECT tx, tbl, row, mode FROM commit_log`.execute(db)).rows;
    const byTx = new Map<string, Logged[]>();
    for (const r of rows) byTx.set(r.tx, [...(byTx.get(r.tx) ?? []), r]);
    const txs = [...byTx.values()];
    const modes = (pick: (t: Logged[]) => boolean) => txs.filter(pick).map((t) => t[0]!.mode);

    // the login's transaction: the event, last_login and the counters' reset, synchronous
    const login = txs.filter((t) => t.some((r) => r.tbl === 'events' && r.row.action === 'login'));
    assert.equal(login.length, 1, 'one transaction wrote the login event');
    assert.ok(
      login[0]!.some((r) => r.tbl === 'users') && login[0]!.some((r) => r.tbl === 'auth_failures'),
      'it also wrote last_login and reset the counters',
    );
    assert.deepEqual(
      login[0]!.map((r) => r.mode),
      login[0]!.map(() => 'on'),
    );
    // the anonymous row renamed to the logged-in key: asynchronous (lost, the old key names the anonymous row again)
    const sessionKey = c.cookies.get('authentik_session');
    assert.ok(sessionKey);
    const loggedIn = modes((t) => t.some((r) => r.tbl === 'sessions' && Number(r.row.user_id) === userId));
    assert.equal(loggedIn.length, 1, 'the logged-in session was written once');
    const renamed = txs.filter((t) => t.some((r) => r.tbl === 'sessions' && r.row.session_key === sessionKey));
    assert.equal(renamed.length, 1);
    assert.equal(Number(renamed[0]![0]!.row.user_id), userId);
    assert.deepEqual(loggedIn, ['off']);
    // the TOTP step taken: synchronous
    const step = modes((t) => t.some((r) => r.tbl === 'totp_devices'));
    assert.ok(step.length >= 1, 'the accepted step was stored');
    assert.deepEqual(
      step,
      step.map(() => 'on'),
    );
    // the rest — the anonymous session's creation, leases and saves, and the reservations before each check (and
    // a passed check's give-back) — asynchronous
    const disposable = txs.filter((t) =>
      t.every((r) => (r.tbl === 'sessions' && r.row.user_id === null) || (r.tbl === 'auth_failures' && !login.includes(t))),
    );
    assert.ok(
      disposable.filter((t) => t.some((r) => r.tbl === 'sessions')).length >= 3,
      'the anonymous session was created, leased and saved',
    );
    assert.ok(disposable.filter((t) => t.every((r) => r.tbl === 'auth_failures')).length >= 2, 'two checks were reserved');
    assert.deepEqual(
      disposable.map((t) => t[0]!.mode),
      disposable.map(() => 'off'),
    );
    // and nothing else was written
    assert.equal(disposable.length + login.length + loggedIn.length + step.length, txs.length);
    // the old key is gone: the rename moved the row
    const old = await db.selectFrom('sessions').select('session_key').where('user_id', '=', userId).execute();
    assert.deepEqual(
      old.map((r) => r.session_key),
      [sessionKey],
    );

    // a second login in the same browser renames a row someone is logged in to: synchronously (losing it would bring
    // back the login it replaces)
    await sql`DELETE FROM commit_log`.execute(db);
    await c.get();
    await c.post({ component: 'ak-stage-identification', uid_field: 'durable' });
    assert.equal(
      (await c.post({ component: 'ak-stage-password', password: 'durable-password-1' })).body.component,
      'ak-stage-authenticator-validate',
    );
    // (the next step's code: this one was used)
    const again = await c.post({
      component: 'ak-stage-authenticator-validate',
      code: totpAt(key, currentStep({ t0: 0, step: 30 }) + 1, 6),
    });
    assert.equal(again.body.component, 'xak-flow-redirect');
    const second = c.cookies.get('authentik_session');
    assert.ok(second && second !== sessionKey, 'the login made a new key');
    const rows2 = (await sql<Logged>`SELECT tx, tbl, row, mode FROM commit_log`.execute(db)).rows;
    const renames = rows2.filter((r) => r.tbl === 'sessions' && r.row.session_key === second);
    assert.equal(renames.length, 1, 'the new key was written once');
    assert.equal(renames[0]!.mode, 'on');
    assert.equal(Number(renames[0]!.row.user_id), userId);
    assert.equal((await db.selectFrom('sessions').select('session_key').where('session_key', '=', sessionKey!).execute()).length, 0);
  });
});
