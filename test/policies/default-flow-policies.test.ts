/**
 * authentik's default-flow policies, seen and changed by an admin: the password stage is skipped after a password
 * typed into the identification stage (or a passkey), the MFA stage after a passkey login — through expression
 * policies bound to the default flow, no longer through code in the stages.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer, sameDatabase } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { bindingOf, createUser, defaultStages } from '../helpers/flows.js';

const FLOW = 'default-authentication-flow';
const PASSWORD_POLICY = 'default-authentication-flow-password-stage';
const VALIDATE_POLICY = 'default-authentication-flow-authenticator-validate-stage';

async function policyNamed(srv: TestServer, name: string) {
  const r = (await call(srv, 'GET', `/policies/expression/?name=${name}`)).body.results;
  assert.equal(r.length, 1, name);
  return r[0];
}

for (const dialect of dialects()) {
  describe(`default flow policies (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      srv = await startServer(dialect);
      stages = await defaultStages(srv);
      await createUser(srv, 'una', 'una-password-1');
    });
    after(async () => srv.close());

    it('the default flow binds authentik’s two expression policies, failing closed to “run the stage”', async () => {
      for (const [name, stage] of [
        [PASSWORD_POLICY, stages.password],
        [VALIDATE_POLICY, stages.mfa],
      ] as const) {
        const policy = await policyNamed(srv, name);
        assert.match(policy.expression, /flow_plan = request\.context\.get\("flow_plan"\)/);
        const fsb = await bindingOf(srv, FLOW, stage);
        assert.equal((await call(srv, 'GET', `/flows/bindings/${fsb}/`)).body.re_evaluate_policies, true);
        const bindings = (await call(srv, 'GET', `/policies/bindings/?policy=${policy.pk}`)).body.results;
        assert.equal(bindings.length, 1);
        assert.equal(bindings[0].target, fsb);
        assert.equal(bindings[0].failure_result, true);
        assert.equal(bindings[0].order, 10);
      }
    });

    it('a password typed into the identification stage skips the password stage; disabling the binding brings it back', async () => {
      await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { password_stage: stages.password });
      try {
        const one = new BrowserSession(srv);
        await one.get(FLOW);
        const done = await one.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'una', password: 'una-password-1' });
        assert.equal(done.component, 'xak-flow-redirect', 'one step: the policy skipped the password stage');

        const policy = await policyNamed(srv, PASSWORD_POLICY);
        const binding = (await call(srv, 'GET', `/policies/bindings/?policy=${policy.pk}`)).body.results[0];
        await call(srv, 'PATCH', `/policies/bindings/${binding.pk}/`, { enabled: false });
        try {
          const two = new BrowserSession(srv);
          await two.get(FLOW);
          const pw = await two.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'una', password: 'una-password-1' });
          assert.equal(pw.component, 'ak-stage-password', 'the admin’s change applies: the stage runs again');
        } finally {
          await call(srv, 'PATCH', `/policies/bindings/${binding.pk}/`, { enabled: true });
        }
      } finally {
        await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { password_stage: null });
      }
    });

    it('the policies evaluate as authentik’s Python does, through the test endpoint', async () => {
      const uid = (await call(srv, 'GET', '/core/users/?username=una')).body.results[0].pk;
      const test = async (name: string, context: Record<string, unknown>) =>
        (await call(srv, 'POST', `/policies/all/${(await policyNamed(srv, name)).pk}/test/`, { user: uid, context })).body.passing;
      assert.equal(await test(PASSWORD_POLICY, {}), true, 'no flow plan');
      assert.equal(await test(PASSWORD_POLICY, { flow_plan: { context: { pending_user: { username: 'una' } } } }), true);
      assert.equal(await test(PASSWORD_POLICY, { flow_plan: { context: { pending_user: { username: 'una', backend: 'x' } } } }), false);
      assert.equal(await test(VALIDATE_POLICY, {}), true);
      assert.equal(await test(VALIDATE_POLICY, { flow_plan: { context: { auth_method: 'password' } } }), true);
      assert.equal(await test(VALIDATE_POLICY, { flow_plan: { context: { auth_method: 'auth_webauthn_pwl' } } }), false);
    });

    it('the default expressions run without looking the pending user up, yet their events and group bindings see them', async () => {
      // execution logging on the password-stage policy: its event names the pending user, as for any other policy
      const policy = await policyNamed(srv, PASSWORD_POLICY);
      await call(srv, 'PATCH', `/policies/expression/${policy.pk}/`, { execution_logging: true });
      const fsb = await bindingOf(srv, FLOW, stages.password);
      const group = (await call(srv, 'POST', '/core/groups/', { name: 'password-people' })).body;
      const una = (await call(srv, 'GET', '/core/users/?username=una')).body.results[0];
      // mode all: the expression and "is in password-people" must both pass for the password stage to run
      await call(srv, 'PATCH', `/flows/bindings/${fsb}/`, { policy_engine_mode: 'all' });
      const groupBinding = (await call(srv, 'POST', '/policies/bindings/', { target: fsb, group: group.pk, order: 20 })).body;
      try {
        const before = (await call(srv, 'GET', '/events/events/?action=policy_execution')).body.pagination.count;
        const outsider = new BrowserSession(srv);
        await outsider.get(FLOW);
        const skipped = await outsider.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'una' });
        assert.notEqual(skipped.component, 'ak-stage-password', 'not in the group: the password stage is skipped');
        const events = (await call(srv, 'GET', '/events/events/?action=policy_execution&ordering=-created')).body;
        assert.ok(events.pagination.count > before, 'the evaluation was logged');
        assert.equal(events.results[0].user.username, 'una', 'the event names the pending user');

        await call(srv, 'POST', `/core/groups/${group.pk}/add_user/`, { pk: una.pk });
        const member = new BrowserSession(srv);
        await member.get(FLOW);
        const pw = await member.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'una' });
        assert.equal(pw.component, 'ak-stage-password', 'in the group (looked up for the group binding): the stage runs');
      } finally {
        await call(srv, 'DELETE', `/policies/bindings/${groupBinding.pk}/`);
        await call(srv, 'PATCH', `/flows/bindings/${fsb}/`, { policy_engine_mode: 'any' });
        await call(srv, 'PATCH', `/policies/expression/${policy.pk}/`, { execution_logging: false });
        await call(srv, 'DELETE', `/core/groups/${group.pk}/`);
      }
    });

    it('an install whose default flow predates policies gets them bound once, at the next start', async () => {
      // take the install back to before: no policies, migration not applied
      for (const name of [PASSWORD_POLICY, VALIDATE_POLICY])
        assert.equal((await call(srv, 'DELETE', `/policies/expression/${(await policyNamed(srv, name)).pk}/`)).status, 204);
      const db = srv.app.store.db;
      await db
        .deleteFrom('keystage_migrations' as never)
        .where('name' as never, '=', 'policy_expression_0002_default_flow' as never)
        .execute();
      const again = await startServer(dialect, sameDatabase(srv));
      try {
        for (const name of [PASSWORD_POLICY, VALIDATE_POLICY]) {
          const policy = await policyNamed(again, name);
          assert.equal((await call(again, 'GET', `/policies/bindings/?policy=${policy.pk}`)).body.pagination.count, 1);
        }
      } finally {
        await again.close();
      }
    });
  });
}
