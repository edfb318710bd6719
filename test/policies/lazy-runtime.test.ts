/**
 * The Python runtime is loaded lazily, at server level: starting a server and logging in through the default
 * authentication flow — whose two default-blueprint expression policies run natively — starts no Python worker.
 * A custom expression (saved, then evaluated in a flow) does. Read through the shared runtime's status, exactly:
 * whether a worker is loaded and how many were ever started in this process.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { sharedRuntimeStatus, stopExpressions } from '../../src/expressions/index.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`the Python runtime is loaded lazily (${dialect})`, () => {
    let srv: TestServer;
    let starts0: number;
    before(async () => {
      // one process runs both dialects: start from no worker, and count starts from here
      await stopExpressions();
      starts0 = sharedRuntimeStatus().starts;
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('a server start and a full default-flow login load no Python; a custom expression does', async () => {
      assert.deepEqual(sharedRuntimeStatus(), { loaded: false, starts: starts0 }, 'the server started without Python');
      await createUser(srv, 'lee', 'lee-password-1');
      // the default flow's password and MFA stage bindings carry the two default expression policies
      const bound = (await call(srv, 'GET', '/policies/bindings/?page_size=100')).body.results.filter(
        (b: { policy_obj?: { name: string } | null }) => b.policy_obj?.name?.startsWith('default-authentication-flow-'),
      );
      assert.equal(bound.length, 2);
      const s = new BrowserSession(srv);
      assert.equal((await s.get(FLOW)).component, 'ak-stage-identification');
      assert.equal((await s.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'lee' })).component, 'ak-stage-password');
      const done = await s.solve(FLOW, { component: 'ak-stage-password', password: 'lee-password-1' });
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      assert.equal((await s.core.coreUsersMeRetrieve()).user.username, 'lee', 'logged in');
      assert.deepEqual(sharedRuntimeStatus(), { loaded: false, starts: starts0 }, 'the login ran the default expressions natively');

      // a custom expression: saving it checks its syntax in Python (a first start)
      const r = await call(srv, 'POST', '/policies/expression/', {
        name: 'lazy-custom',
        expression: 'ak_message("not today")\nreturn False',
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(sharedRuntimeStatus(), { loaded: true, starts: starts0 + 1 });

      // evaluated in a flow, it loads Python again after a stop
      await stopExpressions();
      assert.equal(sharedRuntimeStatus().loaded, false);
      const stages = await defaultStages(srv);
      const slug = await flowOf(srv, 'lazy-flow', [stages.identification]);
      const flow = (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: flow, policy: r.body.pk, order: 0 })).status, 201);
      assert.deepEqual(sharedRuntimeStatus(), { loaded: false, starts: starts0 + 1 }, 'binding it loads nothing');
      const denied = await new BrowserSession(srv).get(slug);
      assert.equal(denied.component, 'ak-stage-access-denied');
      assert.equal(denied.error_message, 'not today', 'the expression ran');
      assert.deepEqual(sharedRuntimeStatus(), { loaded: true, starts: starts0 + 2 }, 'evaluating it did');
    });
  });
}
