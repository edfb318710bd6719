/**
 * The password stage of the default authentication flow: a wrong password is a field error on the same stage,
 * the right one then passes, and `failed_attempts_before_cancel` ends the plan on the Nth failure of that plan; the
 * brand's recovery flow as its recovery_url.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { createUser, defaultStages, sessionRow } from '../../helpers/flows.js';

const FLOW = 'default-authentication-flow';
const INVALID = { password: [{ string: 'Invalid password', code: 'invalid' }] };

for (const dialect of dialects()) {
  describe(`flow password stage (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      // no slow-down for repeated failures here (the lock-out has its own tests): keeps the suite fast
      srv = await startServer(dialect, { lockout: { accountIpLimit: 10, accountLimit: 100, ipLimit: 300, slowAfter: 100 } });
      stages = await defaultStages(srv);
      await createUser(srv, 'wanda', 'wanda-pass-1');
      await createUser(srv, 'carl', 'carl-pass-1');
    });
    after(async () => srv.close());

    async function atPassword(username: string) {
      const b = new Browser(srv.api);
      await b.get(FLOW);
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uidField: username });
      assert.equal(pw.body.component, 'ak-stage-password');
      return b;
    }

    it('wrong password → "Invalid password" on the field, then the right password logs in', async () => {
      const b = await atPassword('wanda');
      const wrong = await b.solve(FLOW, { component: 'ak-stage-password', password: 'not-it' });
      assert.equal(wrong.status, 200);
      assert.deepEqual(
        wrong.hops.map((h) => h.status),
        [200],
        'no advance',
      );
      assert.equal(wrong.body.component, 'ak-stage-password');
      assert.equal(wrong.body.pending_user, 'wanda');
      assert.deepEqual(wrong.body.response_errors, INVALID);
      // the password is not trimmed
      assert.deepEqual((await b.solve(FLOW, { component: 'ak-stage-password', password: ' wanda-pass-1 ' })).body.response_errors, INVALID);
      const blank = await b.solve(FLOW, { component: 'ak-stage-password', password: '' });
      assert.deepEqual(blank.body.response_errors, { password: [{ string: 'This field may not be blank.', code: 'blank' }] });
      assert.equal((await sessionRow(srv, b.session))?.user_id, null, 'still anonymous');
      const failures = await srv.app.store.db.selectFrom('events').select('context').where('action', '=', 'login_failed').execute();
      assert.ok(failures.length >= 2, 'failed logins are audited');
      // as authentik's login_failed signal: the username and the stage as a model
      const last = JSON.parse(failures.at(-1)!.context);
      assert.equal(last.username, 'wanda');
      assert.deepEqual(Object.keys(last.stage).sort(), ['app', 'model_name', 'name', 'pk']);
      assert.equal(last.stage.app, 'authentik_stages_password');

      const ok = await b.solve(FLOW, { component: 'ak-stage-password', password: 'wanda-pass-1' });
      assert.deepEqual(ok.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      assert.equal((await b.me()).body.user.username, 'wanda');
    });

    it('the brand\'s recovery flow is offered as an absolute recovery_url (authentik\'s "Forgot password?"), none without one', async () => {
      const [brand] = (await call(srv, 'GET', '/core/brands/')).body.results;
      const recovery = await call(srv, 'GET', `/flows/instances/?flow_uuid=${brand.flow_recovery}`);
      const slug = recovery.body.results[0].slug;
      const b = new Browser(srv.api);
      await b.get(FLOW);
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'carl' });
      assert.equal(pw.body.recovery_url, `${new URL(srv.api).origin}/if/flow/${slug}/`);
      // also beside a field error
      const wrong = await b.solve(FLOW, { component: 'ak-stage-password', password: 'not-it' });
      assert.equal(wrong.body.recovery_url, pw.body.recovery_url);
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { flow_recovery: null })).status, 200);
      try {
        const again = await b.get(FLOW);
        assert.equal(again.body.component, 'ak-stage-password');
        assert.equal('recovery_url' in again.body, false);
      } finally {
        await call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { flow_recovery: brand.flow_recovery });
      }
    });

    it('failed_attempts_before_cancel = 3: the third failure denies access and drops the plan', async () => {
      assert.equal((await call(srv, 'PATCH', `/stages/password/${stages.password}/`, { failed_attempts_before_cancel: 3 })).status, 200);
      try {
        const b = await atPassword('carl');
        for (let i = 1; i <= 2; i++) {
          const r = await b.solve(FLOW, { component: 'ak-stage-password', password: `wrong-${i}` });
          assert.equal(r.body.component, 'ak-stage-password', `failure ${i} is only an error`);
          assert.deepEqual(r.body.response_errors, INVALID);
        }
        assert.equal((await sessionRow(srv, b.session))?.data.plan?.context.passwordFailures, 2);
        const denied = await b.solve(FLOW, { component: 'ak-stage-password', password: 'wrong-3' });
        assert.equal(denied.status, 200);
        assert.equal(denied.body.component, 'ak-stage-access-denied');
        assert.equal(denied.body.error_message, 'Invalid password');
        assert.equal(denied.body.pending_user, 'carl');
        assert.equal(denied.body.flow_info.title, 'Welcome to Keystage!');
        const row = await sessionRow(srv, b.session);
        assert.ok(row, 'the session stays');
        assert.equal(row.data.plan, undefined, 'the plan is gone');
        assert.equal(row.user_id, null);

        // the next request starts over at identification, with a fresh count
        const again = await b.get(FLOW);
        assert.equal(again.body.component, 'ak-stage-identification');
        assert.equal(again.body.response_errors, undefined);
        await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'carl' });
        assert.deepEqual((await b.solve(FLOW, { component: 'ak-stage-password', password: 'wrong-4' })).body.response_errors, INVALID);
        assert.equal(
          (await b.solve(FLOW, { component: 'ak-stage-password', password: 'carl-pass-1' })).body.component,
          'xak-flow-redirect',
        );
      } finally {
        await call(srv, 'PATCH', `/stages/password/${stages.password}/`, { failed_attempts_before_cancel: 5 });
      }
    });

    it('failed_attempts_before_cancel = 0 cancels at the first failure, as upstream', async () => {
      assert.equal((await call(srv, 'PATCH', `/stages/password/${stages.password}/`, { failed_attempts_before_cancel: 0 })).status, 200);
      try {
        const b = await atPassword('carl');
        const denied = await b.solve(FLOW, { component: 'ak-stage-password', password: 'wrong-0' });
        assert.equal(denied.body.component, 'ak-stage-access-denied');
        assert.equal(denied.body.error_message, 'Invalid password');
      } finally {
        await call(srv, 'PATCH', `/stages/password/${stages.password}/`, { failed_attempts_before_cancel: 5 });
      }
    });
  });
}
