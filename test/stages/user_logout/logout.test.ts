/**
 * Logout through `default-invalidation-flow`: the server-side session row is deleted (a copied cookie is worthless
 * afterwards), the browser gets a new anonymous session, and /core/users/me/ answers 403.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { createStage, flowOf, sessionRow, userPk } from '../../helpers/flows.js';

const LOGIN = 'default-authentication-flow';
const LOGOUT = 'default-invalidation-flow';

for (const dialect of dialects()) {
  describe(`flow logout (${dialect})`, () => {
    let srv: TestServer;
    let admin: number;
    before(async () => {
      srv = await startServer(dialect);
      admin = await userPk(srv, 'akadmin');
    });
    after(async () => srv.close());

    async function loggedIn(): Promise<Browser> {
      const b = new Browser(srv.api);
      await b.get(LOGIN);
      await b.solve(LOGIN, { component: 'ak-stage-identification', uidField: 'akadmin' });
      assert.equal(
        (await b.solve(LOGIN, { component: 'ak-stage-password', password: ADMIN_PASSWORD })).body.component,
        'xak-flow-redirect',
      );
      return b;
    }

    it('deletes the session row; /core/users/me/ then answers 403, also for a copy of the old cookie', async () => {
      const b = await loggedIn();
      const old = b.session!;
      assert.equal((await sessionRow(srv, old))?.user_id, admin);
      const events = async () =>
        (await srv.app.store.db.selectFrom('events').select('event_uuid').where('action', '=', 'logout').execute()).length;
      const logoutsBefore = await events();

      const r = await b.get(LOGOUT);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      assert.equal(await sessionRow(srv, old), undefined, 'the server-side session is gone');
      assert.notEqual(b.session, old, 'the browser got another session cookie');
      assert.equal((await sessionRow(srv, b.session))?.user_id ?? null, null);
      assert.equal(await events(), logoutsBefore + 1, 'the logout is audited');

      const me = await b.me();
      assert.equal(me.status, 403);
      assert.deepEqual(me.body, { detail: 'Authentication credentials were not provided.' });
      const thief = new Browser(srv.api);
      thief.jar.cookies.set('authentik_session', old);
      assert.equal((await thief.me()).status, 403, 'the old cookie is worthless');
    });

    it('logging in again after a logout works; logging out anonymously is harmless', async () => {
      const b = await loggedIn();
      await b.get(LOGOUT);
      assert.equal((await b.me()).status, 403);
      await b.get(LOGIN);
      await b.solve(LOGIN, { component: 'ak-stage-identification', uidField: 'akadmin' });
      await b.solve(LOGIN, { component: 'ak-stage-password', password: ADMIN_PASSWORD });
      assert.equal((await b.me()).body.user.username, 'akadmin');

      const anonymous = await new Browser(srv.api).get(LOGOUT);
      assert.deepEqual(anonymous.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
    });

    it('a stage after the logout stage continues the same flow instead of starting it over', async () => {
      const logout = await createStage(srv, '/stages/user_logout/', { name: 'logout-then-dummy-logout' });
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'logout-then-dummy-dummy' });
      const slug = await flowOf(srv, 'logout-then-dummy', [logout, dummy], { designation: 'invalidation' });
      const b = await loggedIn();
      const events = async () =>
        (await srv.app.store.db.selectFrom('events').select('event_uuid').where('action', '=', 'logout').execute()).length;
      const before = await events();
      const shown = await b.get(slug);
      assert.equal(shown.body.component, 'ak-stage-dummy');
      assert.equal((await b.me()).status, 403, 'logged out by the first stage');
      const done = await b.solve(slug, { component: 'ak-stage-dummy' });
      assert.deepEqual(done.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      assert.equal(await events(), before + 1, 'the logout stage ran once');
    });

    it('logout ends only that session', async () => {
      const one = await loggedIn();
      const two = await loggedIn();
      await one.get(LOGOUT);
      assert.equal((await one.me()).status, 403);
      assert.equal((await two.me()).status, 200);
      assert.equal((await sessionRow(srv, two.session))?.user_id, admin);
    });
  });
}
