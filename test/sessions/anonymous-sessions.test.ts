/**
 * Anonymous flow state does not fill the database: a cookie-less executor request stores a session only when it
 * leaves state worth keeping, an anonymous session lives KEYSTAGE_SESSION_ANONYMOUS_MINUTES after its last change,
 * and expired rows are deleted continuously.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

/** the figure on SQLite; PostgreSQL (a second run of the same code path) takes fewer */
const GETS = { sqlite: 10_000, postgres: 1_000 };
const PARALLEL = 16;

async function sessionRows(srv: TestServer) {
  return Number(
    (
      await srv.app.store.db
        .selectFrom('sessions')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
}

for (const dialect of dialects()) {
  describe(`anonymous sessions (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect, { sessionAnonymousMs: 5 * 60_000 });
    });
    after(async () => srv.close());

    const gets = GETS[dialect];
    it(`${gets} cookie-less GETs of the login flow leave no session rows and set no cookie`, async () => {
      const before = await sessionRows(srv);
      const url = `${srv.api}/flows/executor/default-authentication-flow/?query=`;
      let next = 0;
      let cookies = 0;
      let ok = 0;
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (next < gets) {
            next++;
            const res = await fetch(url, { headers: { accept: 'application/json' } });
            const body = (await res.json()) as { component: string };
            if (res.status === 200 && body.component === 'ak-stage-identification') ok++;
            if (res.headers.getSetCookie().length) cookies++;
          }
        }),
      );
      assert.equal(ok, gets);
      assert.equal(cookies, 0, 'no session cookie for a state that is not kept');
      assert.equal(await sessionRows(srv), before, 'no rows were stored');
    });

    it('the flow still works without a first cookie: the session is stored once there is progress, for a short while', async () => {
      const c = new FlowClient(srv);
      assert.equal((await c.get()).body.component, 'ak-stage-identification');
      assert.equal(c.cookies.get('authentik_session'), undefined);
      const pw = await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' });
      assert.equal(pw.body.component, 'ak-stage-password');
      const key = c.cookies.get('authentik_session');
      assert.ok(key, 'progress is kept in a session');
      const row = await srv.app.store.db
        .selectFrom('sessions')
        .select(['expires', 'user_id'])
        .where('session_key', '=', sessionKeyOf(key))
        .executeTakeFirstOrThrow();
      assert.equal(row.user_id, null);
      const left = new Date(row.expires).getTime() - Date.now();
      assert.ok(left > 4 * 60_000 && left <= 5 * 60_000, `anonymous flow state lives the configured 5 minutes (${left} ms left)`);
    });

    it('expired sessions are deleted by the sweep, live ones kept', async () => {
      const db = srv.app.store.db;
      const past = new Date(Date.now() - 1000).toISOString();
      const future = new Date(Date.now() + 3_600_000).toISOString();
      const row = (key: string, expires: string) => ({
        session_key: key,
        user_id: null,
        data: '{}',
        expires,
        last_ip: '127.0.0.1',
        last_user_agent: '',
        created: past,
        last_seen: past,
      });
      await db
        .insertInto('sessions')
        .values(Array.from({ length: 120 }, (_, i) => row(`expired-${i}`, past)))
        .execute();
      await db.insertInto('sessions').values(row('still-alive', future)).execute();
      const deleted = await srv.app.services.sessions.purgeExpired(50);
      assert.ok(deleted >= 120, `${deleted} deleted in batches of 50`);
      const left = await db.selectFrom('sessions').select('session_key').where('session_key', 'like', 'expired-%').execute();
      assert.equal(left.length, 0);
      assert.ok(await db.selectFrom('sessions').select('session_key').where('session_key', '=', 'still-alive').executeTakeFirst());
    });
  });
}

for (const dialect of dialects()) {
  describe(`anonymous sessions: the server's own sweep (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      // anonymous flow state lives 1.5 s here; the sweep runs every 200 ms (a minute in production)
      srv = await startServer(dialect, { sessionAnonymousMs: 1500 }, { sessionSweepMs: 200 });
    });
    after(async () => srv.close());

    it('an abandoned login is deleted soon after its short lifetime ends, with no request and no call from the test', async () => {
      const c = new FlowClient(srv);
      await c.get();
      // (timed from before the POST that stores the row: the row cannot expire before 1.5 s after this, however slow
      // the answer and the first look are on a loaded machine)
      const started = Date.now();
      assert.equal((await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' })).body.component, 'ak-stage-password');
      const key = sessionKeyOf(c.cookies.get('authentik_session')!);
      const stored = () => srv.app.store.db.selectFrom('sessions').select('session_key').where('session_key', '=', key).executeTakeFirst();
      assert.ok(await stored(), 'progress was stored');
      while ((await stored()) && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 100));
      const gone = Date.now() - started;
      assert.equal(await stored(), undefined, 'the expired row was deleted');
      assert.ok(gone >= 1000, `not before its lifetime ended (${gone} ms)`);
    });
  });
}
