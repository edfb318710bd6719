/**
 * The user delete stage: its API (official client) and, through the executor, deleting the logged-in user — their
 * session logged out, their other sessions ended, a `model_deleted` event — or a pending user identified in the
 * flow; without anybody to delete the flow ends with "No Pending User.".
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { createStage, createUser, flowOf, sessionRow } from '../../helpers/flows.js';
import { body, clients } from '../../rest/contract/client.js';

async function login(srv: TestServer, username: string, password: string): Promise<Browser> {
  const b = new Browser(srv.api);
  await b.get('default-authentication-flow');
  await b.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: username });
  const done = await b.solve('default-authentication-flow', { component: 'ak-stage-password', password });
  assert.equal(done.body.component, 'xak-flow-redirect');
  assert.equal((await b.me()).status, 200);
  return b;
}

for (const dialect of dialects()) {
  describe(`user delete stage (${dialect})`, () => {
    let srv: TestServer;
    let stage: string;
    before(async () => {
      srv = await startServer(dialect);
      stage = await createStage(srv, '/stages/user_delete/', { name: 'delete-me' });
      await flowOf(srv, 'goodbye', [stage], { designation: 'unenrollment' });
      const ident = await createStage(srv, '/stages/identification/', { name: 'del-ident', user_fields: ['username'] });
      const password = await createStage(srv, '/stages/password/', {
        name: 'del-password',
        backends: ['authentik.core.auth.InbuiltBackend'],
      });
      await flowOf(srv, 'identify-and-delete', [ident, password, stage], { designation: 'unenrollment' });
    });
    after(async () => srv.close());

    it('API: create, list, filter, retrieve, destroy (official client)', async () => {
      const api = clients(srv).stages;
      const created = await body(api.stagesUserDeleteCreateRaw({ userDeleteStageRequest: { name: 'api-delete' } }));
      assertMatches('UserDeleteStage', created);
      assert.equal(created.component, 'ak-stage-user-delete-form');
      assert.equal(created.meta_model_name, 'authentik_stages_user_delete.userdeletestage');
      const list = await body(api.stagesUserDeleteListRaw({ name: 'api-delete' }));
      assertMatches('PaginatedUserDeleteStageList', list);
      assert.equal(list.results.length, 1);
      assert.equal((await body(api.stagesUserDeleteListRaw({ stageUuid: created.pk }))).results[0].name, 'api-delete');
      assert.equal((await body(api.stagesUserDeleteRetrieveRaw({ stageUuid: stage }))).flow_set.length, 2);
      assert.equal((await api.stagesUserDeleteDestroyRaw({ stageUuid: created.pk })).raw.status, 204);
      assert.equal((await call(srv, 'POST', '/stages/user_delete/', {})).status, 400);
    });

    it('nobody logged in and nobody pending: access denied, nothing deleted', async () => {
      const before = (await call(srv, 'GET', '/core/users/')).body.pagination.count;
      const r = await new Browser(srv.api).get('goodbye');
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'No Pending User.');
      assert.equal((await call(srv, 'GET', '/core/users/')).body.pagination.count, before);
    });

    it('deletes the logged-in user, logs this session out and ends their other sessions', async () => {
      const pk = await createUser(srv, 'leaver', 'leaver-pass-1');
      const here = await login(srv, 'leaver', 'leaver-pass-1');
      const elsewhere = await login(srv, 'leaver', 'leaver-pass-1');
      const key = here.session;
      const r = await here.get('goodbye');
      assert.deepEqual(r.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      assert.equal((await call(srv, 'GET', `/core/users/${pk}/`)).status, 404);
      assert.notEqual(here.session, key, 'the session cookie was replaced');
      assert.equal(await sessionRow(srv, key), undefined);
      assert.equal((await here.me()).status, 403);
      assert.equal((await elsewhere.me()).status, 403);
      const rows = await srv.app.store.db.selectFrom('sessions').select('session_key').where('user_id', '=', pk).execute();
      assert.equal(rows.length, 0);
      const events = await srv.app.store.db.selectFrom('events').select(['context']).where('action', '=', 'model_deleted').execute();
      const mine = events.map((e) => JSON.parse(e.context).model).filter((m) => m?.model_name === 'user' && m.pk === pk);
      assert.deepEqual(mine, [{ app: 'authentik_core', model_name: 'user', pk, name: 'leaver' }]);
    });

    it('deletes the pending user a flow identified (POST), leaving whoever else is logged in alone', async () => {
      const pk = await createUser(srv, 'pending-one', 'pending-pass-1');
      const b = new Browser(srv.api);
      await b.get('identify-and-delete');
      await b.solve('identify-and-delete', { component: 'ak-stage-identification', uidField: 'pending-one' });
      const r = await b.solve('identify-and-delete', { component: 'ak-stage-password', password: 'pending-pass-1' });
      assert.equal(r.body.component, 'xak-flow-redirect');
      assert.equal((await call(srv, 'GET', `/core/users/${pk}/`)).status, 404);
      assert.equal((await call(srv, 'GET', '/core/users/?username=akadmin')).body.results.length, 1);
    });
  });
}
