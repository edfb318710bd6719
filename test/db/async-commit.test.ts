/**
 * PostgreSQL: which of a login's writes commit without waiting for the WAL flush (src/db/async-commit.ts). A
 * deferred trigger in the test's database records, at each commit and in commit order, the transaction's
 * `synchronous_commit` beside every row it wrote to the tables a login touches. A password + TOTP login through the
 * executor then shows the anonymous session's writes, the leases, the failure counters' reservations, the TOTP step
 * and the anonymous row's rename to the logged-in key committed asynchronously, and the login's own transaction
 * synchronously — and no answer sent before the TOTP step is durable: a synchronous commit follows it in the same
 * request (the login's transaction on Keystage's page, the session's save in authentik's protocol). A second login
 * over a logged-in session renames that row synchronously.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { addTotpDevice } from '../helpers/devices.js';
import { describePostgres } from '../helpers/postgres.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';
import type { Session } from '../../src/sessions/sessions.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

type Logged = { seq: number; tx: string; tbl: string; row: Record<string, unknown>; mode: string };

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
    await sql`CREATE TABLE commit_log (seq bigserial, tx text, tbl text, row jsonb, mode text)`.execute(db);
    await sql`CREATE FUNCTION log_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO commit_log (tx, tbl, row, mode)
          VALUES (txid_current()::text, TG_TABLE_NAME, to_jsonb(NEW), current_setting('synchronous_commit'));
        RETURN NULL;
      END $$`.execute(db);
    for (const table of ['sessions', 'auth_failures', 'totp_devices', 'events', 'users', 'keystage_config_epoch'])
      await sql`CREATE CONSTRAINT TRIGGER log_commit AFTER INSERT OR UPDATE ON ${sql.table(table)}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION log_commit()`.execute(db);
  });
  after(async () => srv?.close());

  /** the transactions logged since the last call, in commit order (the log emptied) */
  async function committed(): Promise<Logged[][]> {
    const db = srv.app.store.db;
    const rows = (await sql<Logged>`SELECT seq, tx, tbl, row, mode FROM commit_log ORDER BY seq`.execute(db)).rows;
    await sql`DELETE FROM commit_log`.execute(db);
    const byTx = new Map<string, Logged[]>();
    for (const r of rows) byTx.set(r.tx, [...(byTx.get(r.tx) ?? []), r]);
    return [...byTx.values()];
  }
  const code = (offset = 0) => totpAt(key, currentStep({ t0: 0, step: 30 }) + offset, 6);
  const modeOf = (t: Logged[]) => {
    const modes = [...new Set(t.map((r) => r.mode))];
    assert.equal(modes.length, 1, 'one mode per transaction');
    return modes[0]!;
  };

  /** the failure's own record (a system_exception event, as authentik's handle_exception writes), set apart from the login's writes */
  const failureRecord = (t: Logged[]) => t.every((r) => r.tbl === 'events' && r.row.action === 'system_exception');
  const withoutFailureRecord = (txs: Logged[][]) => {
    assert.equal(txs.filter(failureRecord).length, 1, 'the failure is recorded once');
    return txs.filter((t) => !failureRecord(t));
  };

  /** what both paths share: the login's transaction synchronous, the step and the rename asynchronous */
  function checkLogin(txs: Logged[][], sessionKey: string) {
    const login = txs.filter((t) => t.some((r) => r.tbl === 'events' && r.row.action === 'login'));
    assert.equal(login.length, 1, 'one transaction wrote the login event');
    assert.ok(
      login[0]!.some((r) => r.tbl === 'users') && login[0]!.some((r) => r.tbl === 'auth_failures'),
      'it also wrote last_login and reset the counters',
    );
    assert.equal(modeOf(login[0]!), 'on');
    // the anonymous row renamed to the logged-in key: asynchronous (lost, the old key names the anonymous row again)
    const loggedIn = txs.filter((t) => t.some((r) => r.tbl === 'sessions' && Number(r.row.user_id) === userId));
    assert.equal(loggedIn.length, 1, 'the logged-in session was written once');
    assert.equal(loggedIn[0]![0]!.row.session_key, sessionKey);
    assert.equal(modeOf(loggedIn[0]!), 'off');
    // the TOTP step taken: asynchronous, before the login's transaction (which makes it durable)
    const step = txs.filter((t) => t.some((r) => r.tbl === 'totp_devices'));
    assert.equal(step.length, 1, 'the accepted step was stored once');
    assert.equal(modeOf(step[0]!), 'off');
    assert.ok(txs.indexOf(step[0]!) < txs.indexOf(login[0]!));
    return { login: login[0]!, renamed: loggedIn[0]!, step: step[0]! };
  }

  it('authentik’s protocol: disposable writes asynchronous; the TOTP POST’s save synchronous, after its step', async () => {
    await committed();
    const c = new FlowClient(srv, 'default-authentication-flow', { ip: '198.51.100.77' });
    await c.get();
    await c.post({ component: 'ak-stage-identification', uid_field: 'durable' });
    const validate = await c.post({ component: 'ak-stage-password', password: 'durable-password-1' });
    assert.equal(validate.body.component, 'ak-stage-authenticator-validate');
    const done = await c.post({ component: 'ak-stage-authenticator-validate', code: code() });
    assert.equal(done.body.component, 'xak-flow-redirect');
    const sessionKey = sessionKeyOf(c.cookies.get('authentik_session')!);
    assert.ok(sessionKey);

    const txs = await committed();
    const { login, renamed, step } = checkLogin(txs, sessionKey);
    // the POST that took the step answered (a 302 to the GET that logs in) only after a synchronous commit: its
    // session's save (with the passed check's give-back carried in it), the next transaction
    const afterStep = txs[txs.indexOf(step) + 1]!;
    assert.ok(afterStep.some((r) => r.tbl === 'sessions'));
    assert.ok(
      afterStep.every(
        (r) => (r.tbl === 'sessions' && r.row.user_id === null && r.row.session_key !== sessionKey) || r.tbl === 'auth_failures',
      ),
    );
    assert.equal(modeOf(afterStep), 'on');
    // the rest — the anonymous session's creation, leases and saves, and the reservations before each check (and a
    // passed check's give-back) — asynchronous
    const rest = txs.filter((t) => ![login, renamed, step, afterStep].includes(t));
    assert.ok(
      rest.every((t) => t.every((r) => (r.tbl === 'sessions' && r.row.user_id === null) || r.tbl === 'auth_failures')),
      'nothing else was written',
    );
    assert.ok(rest.filter((t) => t.some((r) => r.tbl === 'sessions')).length >= 3, 'the anonymous session was created, leased and saved');
    assert.ok(rest.filter((t) => t.every((r) => r.tbl === 'auth_failures')).length >= 2, 'two checks were reserved');
    assert.deepEqual(
      rest.map(modeOf),
      rest.map(() => 'off'),
    );
    // the old key is gone: the rename moved the row
    const db = srv.app.store.db;
    const rows = await db.selectFrom('sessions').select('session_key').where('user_id', '=', userId).execute();
    assert.deepEqual(
      rows.map((r) => r.session_key),
      [sessionKey],
    );

    // a second login in the same browser renames a row someone is logged in to: synchronously (losing it would bring
    // back the login it replaces)
    await c.get();
    await c.post({ component: 'ak-stage-identification', uid_field: 'durable' });
    assert.equal(
      (await c.post({ component: 'ak-stage-password', password: 'durable-password-1' })).body.component,
      'ak-stage-authenticator-validate',
    );
    // (the next step's code: this one was used)
    assert.equal((await c.post({ component: 'ak-stage-authenticator-validate', code: code(1) })).body.component, 'xak-flow-redirect');
    const second = sessionKeyOf(c.cookies.get('authentik_session')!);
    assert.ok(second && second !== sessionKey, 'the login made a new key');
    const renames = (await committed()).filter((t) => t.some((r) => r.tbl === 'sessions' && r.row.session_key === second));
    assert.equal(renames.length, 1, 'the new key was written once');
    assert.equal(Number(renames[0]![0]!.row.user_id), userId);
    assert.equal(modeOf(renames[0]!), 'on');
    assert.equal((await db.selectFrom('sessions').select('session_key').where('session_key', '=', sessionKey).execute()).length, 0);
    await db.deleteFrom('sessions').where('user_id', '=', userId).execute();
  });

  it('Keystage’s page: the login’s transaction is the one synchronous commit, and it follows the TOTP step', async () => {
    await committed();
    const db = srv.app.store.db;
    // (a fresh step for this login: the last test used the next one)
    await db.updateTable('totp_devices').set({ last_t: -1 }).where('user_id', '=', userId).execute();
    await committed();
    const jar = new CookieJar({ 'x-forwarded-for': '198.51.100.78', 'x-keystage-inline': '1' });
    const url = `${srv.api}/flows/executor/default-authentication-flow/?query=`;
    await jar.json(url);
    assert.equal(
      (await jar.json(url, 'POST', { component: 'ak-stage-identification', uid_field: 'durable' })).body.component,
      'ak-stage-password',
    );
    const validate = await jar.json(url, 'POST', { component: 'ak-stage-password', password: 'durable-password-1' });
    assert.equal(validate.body.component, 'ak-stage-authenticator-validate');
    const done = await jar.json(url, 'POST', { component: 'ak-stage-authenticator-validate', code: code() });
    assert.equal(done.body.component, 'xak-flow-redirect');
    const sessionKey = sessionKeyOf(jar.cookies.get('authentik_session')!);
    assert.ok(sessionKey);

    const txs = await committed();
    const { login } = checkLogin(txs, sessionKey);
    assert.deepEqual(
      txs.filter((t) => modeOf(t) === 'on'),
      [login],
    );
    await db.deleteFrom('sessions').where('user_id', '=', userId).execute();
  });

  it('a request that fails after the TOTP step writes its session row synchronously before its error answer', async () => {
    const db = srv.app.store.db;
    await db.updateTable('totp_devices').set({ last_t: -1 }).where('user_id', '=', userId).execute();
    // the login's transaction fails: the database refuses its event
    await sql`CREATE FUNCTION refuse_login() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.action = 'login' THEN RAISE EXCEPTION 'login refused by the test'; END IF;
        RETURN NEW;
      END $$`.execute(db);
    await sql`CREATE TRIGGER refuse_login BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_login()`.execute(db);
    try {
      const jar = new CookieJar({ 'x-forwarded-for': '198.51.100.79', 'x-keystage-inline': '1' });
      const url = `${srv.api}/flows/executor/default-authentication-flow/?query=`;
      await jar.json(url);
      await jar.json(url, 'POST', { component: 'ak-stage-identification', uid_field: 'durable' });
      const validate = await jar.json(url, 'POST', { component: 'ak-stage-password', password: 'durable-password-1' });
      assert.equal(validate.body.component, 'ak-stage-authenticator-validate');
      const anonymousKey = sessionKeyOf(jar.cookies.get('authentik_session')!);
      assert.ok(anonymousKey);
      await committed();
      const failed = await jar.json(url, 'POST', { component: 'ak-stage-authenticator-validate', code: code() });
      assert.equal(failed.status, 200);
      assert.equal(failed.body.component, 'ak-stage-flow-error');
      assert.equal(sessionKeyOf(jar.cookies.get('authentik_session')!), anonymousKey, 'nobody was logged in');

      const txs = withoutFailureRecord(await committed());
      const step = txs.filter((t) => t.some((r) => r.tbl === 'totp_devices'));
      assert.equal(step.length, 1, 'the step was taken');
      assert.equal(modeOf(step[0]!), 'off');
      assert.equal(txs.filter((t) => t.some((r) => r.tbl === 'events')).length, 0, 'the login did not commit');
      // after the step, the session's save (the failed login's give-back carried in it) is synchronous
      const after = txs.slice(txs.indexOf(step[0]!) + 1);
      const durable = after.filter((t) => modeOf(t) === 'on');
      assert.equal(durable.length, 1);
      assert.deepEqual(
        durable[0]!.filter((r) => r.tbl === 'sessions').map((r) => [r.row.session_key, r.row.user_id]),
        [[anonymousKey, null]],
      );
      assert.ok(durable[0]!.every((r) => r.tbl === 'sessions' || r.tbl === 'auth_failures'));
      // and the code stays used
      const device = await db.selectFrom('totp_devices').select('last_t').where('user_id', '=', userId).executeTakeFirstOrThrow();
      assert.equal(Number(device.last_t), currentStep({ t0: 0, step: 30 }));
    } finally {
      await sql`DROP TRIGGER refuse_login ON events`.execute(db);
    }
  });

  it('a request whose save fails after the TOTP step makes the step durable with a no-change write before its answer', async () => {
    const db = srv.app.store.db;
    await db.updateTable('totp_devices').set({ last_t: -1 }).where('user_id', '=', userId).execute();
    const c = new FlowClient(srv, 'default-authentication-flow', { ip: '198.51.100.80' });
    await c.get();
    await c.post({ component: 'ak-stage-identification', uid_field: 'durable' });
    assert.equal(
      (await c.post({ component: 'ak-stage-password', password: 'durable-password-1' })).body.component,
      'ak-stage-authenticator-validate',
    );
    const anonymousKey = sessionKeyOf(c.cookies.get('authentik_session')!);
    // from now on the database refuses to change the session's data (its lease and a no-change write still pass)
    await sql`CREATE FUNCTION refuse_save() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.data IS DISTINCT FROM OLD.data THEN RAISE EXCEPTION 'save refused by the test'; END IF;
        RETURN NEW;
      END $$`.execute(db);
    await sql`CREATE TRIGGER refuse_save BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION refuse_save()`.execute(db);
    try {
      await committed();
      const failed = await c.post({ component: 'ak-stage-authenticator-validate', code: code() });
      assert.equal(failed.status, 200);
      assert.equal(failed.body.component, 'ak-stage-flow-error');
      const txs = withoutFailureRecord(await committed());
      const step = txs.filter((t) => t.some((r) => r.tbl === 'totp_devices'));
      assert.equal(step.length, 1, 'the step was taken');
      assert.equal(modeOf(step[0]!), 'off');
      const durable = txs.slice(txs.indexOf(step[0]!) + 1).filter((t) => modeOf(t) === 'on');
      assert.equal(durable.length, 1, 'one synchronous commit after the step');
      assert.deepEqual(
        durable[0]!.map((r) => [r.tbl, r.row.session_key]),
        [['sessions', anonymousKey]],
      );
    } finally {
      await sql`DROP TRIGGER refuse_save ON sessions`.execute(db);
    }
    // the session stays as the password stage left it
    const row = await db.selectFrom('sessions').select('data').where('session_key', '=', anonymousKey).executeTakeFirstOrThrow();
    assert.match(row.data, /pendingUser/);
    await db.deleteFrom('sessions').where('session_key', '=', anonymousKey).execute();
  });

  it('flush: a synchronous write that changes nothing, to the session’s row or, without one, the epoch’s', async () => {
    const db = srv.app.store.db;
    await db
      .insertInto('sessions')
      .values({
        session_key: 'flush-test-key',
        user_id: null,
        data: '{}',
        expires: new Date(Date.now() + 60_000).toISOString(),
        last_seen: '2026-01-01T00:00:00.000Z',
        last_ip: '127.0.0.1',
        last_user_agent: '',
        created: new Date().toISOString(),
        uuid: crypto.randomUUID(),
      } as never)
      .execute();
    const epoch = await db.selectFrom('keystage_config_epoch').select('epoch').executeTakeFirstOrThrow();
    await committed();
    const session = { key: 'flush-test-key', userId: null, data: {}, expires: new Date(), dirty: false } as Session;
    await srv.app.services.sessions.flush(session);
    const touched = await committed();
    assert.equal(touched.length, 1);
    assert.deepEqual(
      touched[0]!.map((r) => [r.tbl, r.row.session_key, r.row.last_seen, r.mode]),
      [['sessions', 'flush-test-key', '2026-01-01T00:00:00.000Z', 'on']],
    );
    await db.deleteFrom('sessions').where('session_key', '=', 'flush-test-key').execute();
    await srv.app.services.sessions.flush(session);
    const fallback = await committed();
    assert.equal(fallback.length, 1);
    assert.deepEqual(
      fallback[0]!.map((r) => [r.tbl, String(r.row.epoch), r.mode]),
      [['keystage_config_epoch', String(epoch.epoch), 'on']],
    );
    assert.deepEqual(await db.selectFrom('keystage_config_epoch').select('epoch').executeTakeFirstOrThrow(), epoch);
  });
});
