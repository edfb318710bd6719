/**
 * The user login stage: `session_duration` sets the session row's expiry (and the cookies' Max-Age),
 * `terminate_other_sessions` deletes the user's other sessions, and an inactive user is never logged in.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { createStage, createUser, defaultStages, flowOf, sessionRow } from '../../helpers/flows.js';
import { sessionKeyOf } from '../../../src/sessions/session-hash.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`flow user login stage (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      srv = await startServer(dialect);
      stages = await defaultStages(srv);
    });
    after(async () => srv.close());

    /** identification → password in `slug`; returns the browser after the password POST and that answer */
    async function logIn(slug: string, username: string, password: string) {
      const b = new Browser(srv.api);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uidField: username });
      const done = await b.solve(slug, { component: 'ak-stage-password', password });
      return { b, done };
    }

    const sessionsOf = async (userId: number) =>
      (await srv.app.store.db.selectFrom('sessions').select('session_key').where('user_id', '=', userId).execute())
        .map((r) => r.session_key)
        .sort();

    it('session_duration "seconds=2": the session row expires about 2 s after login, and then stops working', async () => {
      await createUser(srv, 'sam', 'sam-pass-1');
      const login = await createStage(srv, '/stages/user_login/', { name: 'short-login', session_duration: 'seconds=2' });
      const slug = await flowOf(srv, 'short-session', [stages.identification, stages.password, login]);
      const t0 = Date.now();
      const { b, done } = await logIn(slug, 'sam', 'sam-pass-1');
      const t1 = Date.now();
      assert.deepEqual(done.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      const row = await sessionRow(srv, b.session);
      assert.ok(row);
      // two seconds after the login, which happened between t0 and t1 (however long a loaded machine took)
      const expires = new Date(row.expires).getTime();
      assert.ok(expires >= t0 + 2000 - 5 && expires <= t1 + 2000 + 5, `expires ${row.expires} ≈ login+2s (${t0}…${t1})`);
      // the cookie has the same lifetime
      const cookie = done.hops.flatMap((h) => h.setCookie).find((c) => c.startsWith(`authentik_session=${b.session}`));
      assert.match(cookie ?? '', /Max-Age=2\b/i);
      assert.equal((await b.me()).status, 200);

      await new Promise((r) => setTimeout(r, Math.max(0, expires - Date.now()) + 100));
      assert.equal((await b.me()).status, 403, 'expired');
      assert.equal(await sessionRow(srv, b.session), undefined, 'the expired row is deleted when met');
    });

    it('terminate_other_sessions: logging in ends the user’s other sessions (and nobody else’s)', async () => {
      const tom = await createUser(srv, 'tom', 'tom-pass-1');
      const first = await logIn(FLOW, 'tom', 'tom-pass-1');
      const second = await logIn(FLOW, 'tom', 'tom-pass-1');
      const admin = await logIn(FLOW, 'akadmin', ADMIN_PASSWORD);
      assert.deepEqual(
        await sessionsOf(tom),
        [first.b.session!, second.b.session!].map(sessionKeyOf).sort(),
        'without the option sessions pile up',
      );

      const login = await createStage(srv, '/stages/user_login/', { name: 'only-login', terminate_other_sessions: true });
      const slug = await flowOf(srv, 'only-session', [stages.identification, stages.password, login]);
      const third = await logIn(slug, 'tom', 'tom-pass-1');
      assert.equal(third.done.body.component, 'xak-flow-redirect');
      assert.deepEqual(await sessionsOf(tom), [sessionKeyOf(third.b.session!)], 'only the new session remains');
      assert.equal((await first.b.me()).status, 403);
      assert.equal((await second.b.me()).status, 403);
      assert.equal((await third.b.me()).body.user.username, 'tom');
      assert.equal((await admin.b.me()).body.user.username, 'akadmin', 'other users keep their sessions');
    });

    it('an inactive user cannot log in: "Invalid password" at the password stage', async () => {
      const pk = await createUser(srv, 'ines', 'ines-pass-1');
      assert.equal((await call(srv, 'PATCH', `/core/users/${pk}/`, { is_active: false })).status, 200);
      const { b, done } = await logIn(FLOW, 'ines', 'ines-pass-1');
      assert.equal(done.body.component, 'ak-stage-password');
      assert.deepEqual(done.body.response_errors, { password: [{ string: 'Invalid password', code: 'invalid' }] });
      assert.deepEqual(await sessionsOf(pk), []);
      assert.equal((await b.me()).status, 403);
    });

    it('a user deactivated between identification and login is refused by the login stage', async () => {
      const pk = await createUser(srv, 'ivan', 'ivan-pass-1');
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'pause' });
      const slug = await flowOf(srv, 'deactivate-midway', [stages.identification, stages.password, dummy, stages.login]);
      const b = new Browser(srv.api);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uidField: 'ivan' });
      const pause = await b.solve(slug, { component: 'ak-stage-password', password: 'ivan-pass-1' });
      assert.equal(pause.body.component, 'ak-stage-dummy');
      await call(srv, 'PATCH', `/core/users/${pk}/`, { is_active: false });
      const r = await b.solve(slug, { component: 'ak-stage-dummy' });
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'Unknown error');
      assert.deepEqual(await sessionsOf(pk), []);
      assert.equal((await sessionRow(srv, b.session))?.data.plan, undefined);
    });
  });
}
