/**
 * Impersonation as authentik's: with `authentik_core.impersonate` someone acts as another user in their own session
 * (`/core/users/me/` shows them as `user` and themselves as `original`) until `impersonate_end`; events name the
 * impersonator and `on_behalf_of`. 401 for oneself or when switched off, 400 on `reason` without one; never a superuser for
 * someone who is not one; over when the impersonator is deactivated.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createUser } from '../groups/setup.js';

const FLOW = 'default-authentication-flow';
const PASSWORD = 'impersonation test password 1';

async function login(srv: TestServer, username: string, password: string): Promise<Browser> {
  const b = new Browser(srv.api);
  await b.get(FLOW);
  await b.solve(FLOW, { component: 'ak-stage-identification', uidField: username });
  const done = await b.solve(FLOW, { component: 'ak-stage-password', password });
  assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
  return b;
}

const impersonate = (b: Browser, id: number, body: unknown = { reason: 'support ticket 42' }) =>
  b.fetch(`/core/users/${id}/impersonate/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

for (const dialect of dialects()) {
  describe(`impersonation (${dialect})`, () => {
    let srv: TestServer;
    let bob: number;
    let grace: number;
    before(async () => {
      srv = await startServer(dialect);
      bob = await createUser(srv, 'i-bob');
      grace = await createUser(srv, 'i-grace');
      for (const id of [bob, grace])
        assert.equal((await call(srv, 'POST', `/core/users/${id}/set_password/`, { password: PASSWORD })).status, 204);
    });
    after(async () => srv.close());

    it('a superuser acts as another user until ending it; events name both', async () => {
      const b = await login(srv, 'akadmin', ADMIN_PASSWORD);
      const started = await impersonate(b, bob);
      assert.equal(started.status, 204, JSON.stringify(started.body));
      const me = await b.me();
      assert.deepEqual(
        [me.body.user.username, me.body.user.is_superuser, me.body.original.username, me.body.original.is_superuser],
        ['i-bob', false, 'akadmin', true],
      );
      // bob's rights now, not the admin's
      assert.equal((await b.fetch('/core/users/')).status, 403);
      const token = await b.core.coreTokensCreateRaw({ tokenRequest: { identifier: 'i-bob-app', intent: 'app_password' as never } });
      assert.equal(token.raw.status, 201);
      const ev = (await call(srv, 'GET', '/events/events/?actions=impersonation_started')).body.results[0];
      assert.deepEqual([ev.user.username, ev.user.on_behalf_of.username, ev.context.reason], ['akadmin', 'i-bob', 'support ticket 42']);
      const created = (await call(srv, 'GET', '/events/events/?actions=model_created&page_size=100')).body.results.find(
        (e: any) => e.context.model?.name === 'i-bob-app',
      );
      assert.deepEqual([created.user.username, created.user.on_behalf_of.username], ['akadmin', 'i-bob']);
      // no nesting: bob may not impersonate
      assert.equal((await impersonate(b, grace)).status, 403);
      const ended = await b.fetch('/core/users/impersonate_end/');
      assert.equal(ended.status, 204);
      const back = await b.me();
      assert.equal(back.body.user.username, 'akadmin');
      assert.equal(back.body.original, undefined);
      assert.equal((await call(srv, 'GET', '/events/events/?actions=impersonation_ended')).body.results[0].user.username, 'akadmin');
      // ending again: nothing to end, still 204
      assert.equal((await b.fetch('/core/users/impersonate_end/')).status, 204);
    });

    it("authentik's refusals: oneself, no reason, an API token; never a superuser for a non-superuser", async () => {
      const b = await login(srv, 'akadmin', ADMIN_PASSWORD);
      assert.equal((await impersonate(b, 1)).status, 401);
      const noReason = await impersonate(b, bob, {});
      assert.deepEqual([noReason.status, noReason.body], [400, { reason: 'This field is required.' }]);
      assert.deepEqual((await impersonate(b, bob, { reason: '' })).body, { reason: 'This field is required.' });
      const viaToken = await call(srv, 'POST', `/core/users/${bob}/impersonate/`, { reason: 'x' });
      assert.equal(viaToken.status, 400);
      assert.equal((await b.me()).body.user.username, 'akadmin');
      // grace holds impersonate for every user: bob yes, the superuser no
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: 'i-support' })).body.pk;
      await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, {
        permissions: ['authentik_core.view_user', 'authentik_core.impersonate'],
      });
      await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: grace });
      const g = await login(srv, 'i-grace', PASSWORD);
      assert.equal((await impersonate(g, 1)).status, 403);
      assert.equal((await impersonate(g, bob)).status, 204);
      assert.equal((await g.me()).body.user.username, 'i-bob');
      // the impersonator deactivated: the impersonation is over
      assert.equal((await call(srv, 'PATCH', `/core/users/${grace}/`, { is_active: false })).status, 200);
      assert.equal((await g.me()).status, 403);
      await call(srv, 'PATCH', `/core/users/${grace}/`, { is_active: true });
    });

    it('switched off (KEYSTAGE_IMPERSONATION=false): 401 for everyone', async () => {
      const off = await startServer(dialect, { impersonation: { enabled: false, requireReason: true } });
      try {
        const bobOff = await createUser(off, 'i-bob-off');
        const b = await login(off, 'akadmin', ADMIN_PASSWORD);
        assert.equal((await impersonate(b, bobOff)).status, 401);
        assert.equal((await b.me()).body.user.username, 'akadmin');
      } finally {
        await off.close();
      }
    });
  });
}
