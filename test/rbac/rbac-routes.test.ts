/**
 * The routes that were for superusers only, by authentik's permissions now (SQLite and PostgreSQL): the admin device
 * lists and `/authenticators/admin/all/` by `view_<device>` (for the class or on a device), a superuser's devices
 * out of a permission's reach; Duo's `import_device_manual` by `add_duodevice` and `view_user` on the user; the
 * prompt `preview` by `add_prompt`; an invitation's `send_email` by `view_invitation`; sessions' `bulk_delete` by
 * `delete_authenticatedsession`, never a superuser's sessions.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createStage, createUser, loggedIn } from '../helpers/flows.js';
import { callAs, tokenFor } from '../groups/setup.js';

for (const dialect of dialects()) {
  describe(`RBAC on the remaining admin routes (${dialect})`, () => {
    let srv: TestServer;
    let token: string;
    let worker: number;
    let role: string;
    let akadmin: number;
    const as = (method: string, path: string, body?: unknown) => callAs(srv, token, method, path, body);
    const grant = async (permissions: string[], object?: { model: string; object_pk: string }) => {
      const r = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, { permissions, ...(object ?? {}) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const revokeAll = async () => {
      // (a new role: the old one's permissions go with it)
      await call(srv, 'DELETE', `/rbac/roles/${role}/`);
      role = (await call(srv, 'POST', '/rbac/roles/', { name: `routes-${Date.now()}` })).body.pk;
      await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: worker });
    };

    before(async () => {
      srv = await startServer(dialect);
      worker = await createUser(srv, 'rbac-worker', 'rbac-worker-pass');
      token = await tokenFor(srv, worker, 'rbac-worker-key-0123456789abcdefghijklmn');
      role = (await call(srv, 'POST', '/rbac/roles/', { name: 'routes-first' })).body.pk;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: worker })).status, 204);
      akadmin = (await call(srv, 'GET', '/core/users/?username=akadmin')).body.results[0].pk;
    });
    after(async () => srv.close());

    it('admin device lists: by view_totpdevice on one device, the class, and never a superuser’s devices', async () => {
      const alice = await createUser(srv, 'dev-alice', 'dev-alice-pass');
      const bob = await createUser(srv, 'dev-bob', 'dev-bob-pass');
      const mk = async (name: string, user_pk: number) => {
        const r = await call(srv, 'POST', '/authenticators/admin/totp/', { name, user_pk, confirmed: true });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        return r.body.pk as number;
      };
      const a = await mk('alice phone', alice);
      await mk('bob phone', bob);
      const root = await mk('root phone', akadmin);
      assert.equal((await as('GET', '/authenticators/admin/totp/')).status, 403);
      assert.equal((await as('GET', '/authenticators/admin/all/')).status, 403);
      await grant(['view_totpdevice'], { model: 'authentik_stages_authenticator_totp.totpdevice', object_pk: String(a) });
      const one = await as('GET', '/authenticators/admin/totp/');
      assert.deepEqual(
        one.body.results.map((d: { name: string }) => d.name),
        ['alice phone'],
      );
      const all = await as('GET', '/authenticators/admin/all/');
      assert.deepEqual(
        all.body.map((d: { name: string }) => d.name),
        ['alice phone'],
      );
      assert.equal((await as('GET', `/authenticators/admin/all/?user=${bob}`)).body.length, 0);
      await grant(['authentik_stages_authenticator_totp.view_totpdevice', 'authentik_stages_authenticator_totp.change_totpdevice']);
      assert.equal((await as('GET', '/authenticators/admin/totp/')).body.results.length, 3);
      assert.equal((await as('PATCH', `/authenticators/admin/totp/${a}/`, { name: 'alice renamed' })).status, 200);
      assert.equal((await as('PATCH', `/authenticators/admin/totp/${root}/`, { name: 'mine now' })).status, 403);
      await grant(['authentik_stages_authenticator_totp.add_totpdevice', 'authentik_stages_authenticator_totp.delete_totpdevice']);
      assert.equal((await as('POST', '/authenticators/admin/totp/', { name: 'planted', user_pk: akadmin })).status, 403);
      assert.equal((await as('DELETE', `/authenticators/admin/totp/${root}/`)).status, 403);
      const kept = await call(srv, 'GET', `/authenticators/admin/totp/${root}/`);
      assert.equal(kept.body.name, 'root phone');
      await revokeAll();
    });

    it('Duo import_device_manual: add_duodevice and view_user on the user; not onto a superuser', async () => {
      const duo = await createStage(srv, '/stages/authenticator/duo/', {
        name: 'rbac-duo',
        client_id: 'DIXXXXXXXXXXXXXXXXXX',
        client_secret: 'duo-secret-key-0123456789',
        api_hostname: 'duo.invalid',
      });
      const carol = await createUser(srv, 'duo-carol', 'duo-carol-pass');
      const url = `/stages/authenticator/duo/${duo}/import_device_manual/`;
      assert.equal((await as('POST', url, { duo_user_id: 'DU1', username: 'duo-carol' })).status, 403);
      await grant(['authentik_stages_authenticator_duo.add_duodevice']);
      const hidden = await as('POST', url, { duo_user_id: 'DU1', username: 'duo-carol' });
      assert.deepEqual(hidden.body, { non_field_errors: ['User does not exist.'] }, 'a user one may not view is not there');
      await grant(['view_user'], { model: 'authentik_core.user', object_pk: String(carol) });
      assert.equal((await as('POST', url, { duo_user_id: 'DU1', username: 'duo-carol' })).status, 204);
      const devices = await srv.app.store.db.selectFrom('duo_devices').select('duo_user_id').where('user_id', '=', carol).execute();
      assert.deepEqual(devices, [{ duo_user_id: 'DU1' }]);
      await grant(['authentik_core.view_user']);
      assert.equal((await as('POST', url, { duo_user_id: 'DU2', username: 'akadmin' })).status, 403);
      await revokeAll();
    });

    it('prompt preview by add_prompt; invitation send_email by view_invitation', async () => {
      const body = { name: 'p', field_key: 'a', label: 'A', type: 'text' };
      assert.equal((await as('POST', '/stages/prompt/prompts/preview/', body)).status, 403);
      await grant(['authentik_stages_prompt.add_prompt']);
      const preview = await as('POST', '/stages/prompt/prompts/preview/', body);
      assert.equal(preview.status, 200, JSON.stringify(preview.body));
      assert.equal(preview.body.component, 'ak-stage-prompt');
      const inv = await call(srv, 'POST', '/stages/invitation/invitations/', { name: 'rbac-invite' });
      assert.equal(inv.status, 201, JSON.stringify(inv.body));
      const send = () => as('POST', `/stages/invitation/invitations/${inv.body.pk}/send_email/`, { email_addresses: ['x@example.com'] });
      assert.equal((await send()).status, 403);
      await grant(['view_invitation'], { model: 'authentik_stages_invitation.invitation', object_pk: inv.body.pk });
      const sent = await send();
      // past the permission: the invitation names no flow, which authentik's send_email refuses (400 on the field)
      assert.equal(sent.status, 400, JSON.stringify(sent.body));
      await revokeAll();
    });

    it('sessions bulk_delete by delete_authenticatedsession; a superuser’s sessions stay', async () => {
      const dave = await createUser(srv, 'bulk-dave', 'bulk-dave-pass');
      const b = await loggedIn(srv, 'bulk-dave', 'bulk-dave-pass');
      assert.equal((await as('DELETE', `/core/authenticated_sessions/bulk_delete/?user_pks=${dave}`)).status, 403);
      await grant(['authentik_core.delete_authenticatedsession']);
      assert.equal((await as('DELETE', `/core/authenticated_sessions/bulk_delete/?user_pks=${akadmin}`)).status, 403);
      const r = await as('DELETE', `/core/authenticated_sessions/bulk_delete/?user_pks=${dave}`);
      assert.deepEqual(r.body, { deleted: 1 });
      assert.equal((await b.me()).status, 403);
      await revokeAll();
    });
  });
}
