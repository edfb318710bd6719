/**
 * `default-unenrollment-flow` on a fresh install: authentik's slug, title and designation, for logged-in people only,
 * named by the default brand as `flow_unenrollment` (so `/core/brands/current/` offers it); opening it shows a
 * warning and deletes nothing, submitting the warning deletes the account and logs the session out.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { createUser } from '../../helpers/flows.js';

const FLOW = 'default-unenrollment-flow';

for (const dialect of dialects()) {
  describe(`default unenrollment flow (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('exists on a fresh install and the default brand names it', async () => {
      const flow = await call(srv, 'GET', `/flows/instances/${FLOW}/`);
      assert.equal(flow.status, 200);
      assert.equal(flow.body.designation, 'unenrollment');
      assert.equal(flow.body.title, 'Delete your account');
      assert.equal(flow.body.authentication, 'require_authenticated');
      const current = await fetch(`${srv.api}/core/brands/current/`).then((r) => r.json());
      assert.equal(current.flow_unenrollment, FLOW);
      const stages = (await call(srv, 'GET', `/flows/bindings/?target=${flow.body.pk}&ordering=order`)).body.results;
      assert.deepEqual(
        stages.map((b: { stage_obj: { meta_model_name: string } }) => b.stage_obj.meta_model_name),
        ['authentik_stages_prompt.promptstage', 'authentik_stages_user_delete.userdeletestage'],
      );
    });

    it('is not for anonymous visitors', async () => {
      const r = await new Browser(srv.api).get(FLOW);
      assert.equal(r.body.component, 'ak-stage-access-denied');
    });

    it('shows a warning first (a GET deletes nothing), then deletes the account it is confirmed for', async () => {
      const pk = await createUser(srv, 'quitter', 'quitter-pass-1');
      const b = new Browser(srv.api);
      await b.get('default-authentication-flow');
      await b.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: 'quitter' });
      await b.solve('default-authentication-flow', { component: 'ak-stage-password', password: 'quitter-pass-1' });
      const warning = await b.get(FLOW);
      assert.equal(warning.body.component, 'ak-stage-prompt');
      assert.equal(warning.body.fields[0].type, 'alert_danger');
      assert.match(warning.body.fields[0].initial_value, /cannot be undone/);
      assert.equal((await b.get(FLOW)).body.component, 'ak-stage-prompt', 'opening it again still deletes nothing');
      assert.equal((await call(srv, 'GET', `/core/users/${pk}/`)).status, 200);
      const done = await b.solve(FLOW, { component: 'ak-stage-prompt' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect');
      assert.equal((await call(srv, 'GET', `/core/users/${pk}/`)).status, 404);
      assert.equal((await b.me()).status, 403);
    });
  });
}
