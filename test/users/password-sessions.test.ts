/**
 * Setting a password ends the user's other sessions (as Django does when the stored hash changes): an admin's
 * set_password logs every session of that user out; a user setting their own password through a session keeps that
 * one. Deactivation still ends them all.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createStage, createUser, flowOf, sessionRow } from '../helpers/flows.js';
import { ADMIN_GROUP } from '../../src/instance/bootstrap.js';

const LOGIN = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`password set ends sessions (${dialect})`, () => {
    let srv: TestServer;
    let authed: string;
    before(async () => {
      srv = await startServer(dialect);
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'pw-sessions-dummy' });
      authed = await flowOf(srv, 'pw-sessions-authed', [dummy], { authentication: 'require_authenticated', denied_action: 'message' });
    });
    after(async () => srv.close());

    async function loggedIn(username: string, password: string): Promise<Browser> {
      const b = new Browser(srv.api);
      await b.get(LOGIN);
      await b.solve(LOGIN, { component: 'ak-stage-identification', uidField: username });
      assert.equal((await b.solve(LOGIN, { component: 'ak-stage-password', password })).body.component, 'xak-flow-redirect');
      assert.equal((await b.me()).status, 200);
      return b;
    }

    it("an admin's set_password logs out every session of the user (API and executor)", async () => {
      const id = await createUser(srv, 'pw-victim', 'old-password-1');
      const one = await loggedIn('pw-victim', 'old-password-1');
      const two = await loggedIn('pw-victim', 'old-password-1');
      const keys = [one.session, two.session];
      assert.equal((await one.get(authed)).body.component, 'ak-stage-dummy', 'the executor sees the user');

      assert.equal((await call(srv, 'POST', `/core/users/${id}/set_password/`, { password: 'new-password-1' })).status, 204);

      for (const b of [one, two]) {
        const me = await b.me();
        assert.equal(me.status, 403);
        assert.deepEqual(me.body, { detail: 'Authentication credentials were not provided.' });
        const r = await b.get(authed);
        assert.equal(r.body.component, 'ak-stage-access-denied', 'the executor treats the browser as anonymous');
      }
      for (const k of keys) assert.equal(await sessionRow(srv, k), undefined, 'the session row is gone');
      // the new password works
      await loggedIn('pw-victim', 'new-password-1');
    });

    it('a superuser setting their own password through a session keeps that session; their others end', async () => {
      const group = (
        await srv.app.store.db.selectFrom('groups').select('group_uuid').where('name', '=', ADMIN_GROUP).executeTakeFirstOrThrow()
      ).group_uuid;
      const id = await createUser(srv, 'pw-admin', 'admin-password-1', { groups: [group] });
      const here = await loggedIn('pw-admin', 'admin-password-1');
      const elsewhere = await loggedIn('pw-admin', 'admin-password-1');
      const r = await here.fetch(`/core/users/${id}/set_password/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: 'admin-password-2' }),
      });
      assert.equal(r.status, 204, JSON.stringify(r.body));
      assert.equal((await here.me()).status, 200, 'the session that set the password stays');
      assert.equal((await elsewhere.me()).status, 403, 'the other session ended');
      assert.equal(await sessionRow(srv, elsewhere.session), undefined);
    });

    it("a password set for another user leaves the caller's and other users' sessions alone", async () => {
      const bystander = await createUser(srv, 'pw-bystander', 'bystander-1');
      const target = await createUser(srv, 'pw-target', 'target-1');
      const b = await loggedIn('pw-bystander', 'bystander-1');
      assert.equal((await call(srv, 'POST', `/core/users/${target}/set_password/`, { password: 'target-2' })).status, 204);
      assert.equal((await b.me()).status, 200);
      assert.equal((await sessionRow(srv, b.session))?.user_id, bystander);
    });

    it('deactivation still ends the sessions', async () => {
      const id = await createUser(srv, 'pw-deactivated', 'deact-1');
      const b = await loggedIn('pw-deactivated', 'deact-1');
      const key = b.session;
      assert.equal((await call(srv, 'PATCH', `/core/users/${id}/`, { is_active: false })).status, 200);
      assert.equal((await b.me()).status, 403);
      assert.equal(await sessionRow(srv, key), undefined);
    });
  });
}
