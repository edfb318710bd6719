/**
 * The flow inspector (/flows/inspector/{flow_slug}/, authentik's FlowInspectorView) through the official client: the
 * history of a person allowed to inspect (a superuser, or `inspect_flow` on the flow), the current plan, completion;
 * 404 for everyone else, 400 without a plan; and nothing kept for sessions that may not inspect (a login's).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ADMIN_PASSWORD, call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createStage, createUser, defaultStages, flowOf, loggedIn, sessionRow } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { Browser } from '../helpers/browser.js';

const inspect = (b: Browser, slug: string) => b.fetch(`/flows/inspector/${slug}/`);

for (const dialect of dialects()) {
  describe(`flow inspector (${dialect})`, () => {
    let srv: TestServer;
    let flowPk: string;
    const SLUG = 'inspect-me';
    before(async () => {
      srv = await startServer(dialect);
      const one = await createStage(srv, '/stages/dummy/', { name: 'inspect-one' });
      const two = await createStage(srv, '/stages/dummy/', { name: 'inspect-two' });
      await flowOf(srv, SLUG, [one, two], { designation: 'stage_configuration' });
      flowPk = (await call(srv, 'GET', `/flows/instances/${SLUG}/`)).body.pk;
      await createUser(srv, 'inspector-gadget', 'inspector-password-1');
    });
    after(async () => srv.close());

    it('a superuser sees the history, the current plan and completion (official client)', async () => {
      const b = await loggedIn(srv, 'akadmin', ADMIN_PASSWORD);
      assert.equal((await b.get(SLUG)).body.component, 'ak-stage-dummy');
      const first = await b.flows.flowsInspectorGet({ flowSlug: SLUG });
      const raw = await inspect(b, SLUG);
      assertMatches('FlowInspection', raw.body);
      assert.equal(first.isCompleted, false);
      assert.deepEqual(first.plans, []);
      assert.equal(first.currentPlan!.currentStage.stageObj.name, 'inspect-one');
      assert.equal(first.currentPlan!.currentStage.target, flowPk);
      assert.equal(first.currentPlan!.nextPlannedStage.stageObj.name, 'inspect-two');
      assert.equal(first.currentPlan!.sessionId, createHash('sha256').update(b.session!).digest('hex'));
      assert.equal(typeof first.currentPlan!.planContext, 'object');

      assert.equal((await b.solve(SLUG, { component: 'ak-stage-dummy' })).body.component, 'ak-stage-dummy');
      const second = (await inspect(b, SLUG)).body;
      assert.equal(second.is_completed, false);
      assert.deepEqual(
        second.plans.map((p: { current_stage: { stage_obj: { name: string } } }) => p.current_stage.stage_obj.name),
        ['inspect-one'],
        'the plan as it was before the stage that passed',
      );
      assert.equal(second.current_plan.current_stage.stage_obj.name, 'inspect-two');
      // one stage left: authentik's empty binding
      assert.deepEqual(second.current_plan.next_planned_stage, {
        target: null,
        stage: null,
        evaluate_on_plan: false,
        re_evaluate_policies: false,
        order: null,
        policy_engine_mode: null,
        invalid_response_action: null,
      });

      assert.equal((await b.solve(SLUG, { component: 'ak-stage-dummy' })).body.component, 'xak-flow-redirect');
      const done = (await inspect(b, SLUG)).body;
      assert.equal(done.is_completed, true, 'no plan left: the last history entry is the current plan');
      assert.equal(done.plans.length, 2);
      assert.equal(done.current_plan.current_stage.stage_obj.name, 'inspect-two');

      // a new run starts the history afresh
      await b.get(SLUG);
      const again = (await inspect(b, SLUG)).body;
      assert.deepEqual([again.plans.length, again.is_completed], [0, false]);
    });

    it('404 for anyone without inspect_flow (and for nobody logged in, and an unknown flow); 400 without a plan', async () => {
      const anonymous = new Browser(srv.api);
      assert.equal((await inspect(anonymous, SLUG)).status, 404);
      const g = await loggedIn(srv, 'inspector-gadget', 'inspector-password-1');
      await g.get(SLUG);
      assert.equal((await inspect(g, SLUG)).status, 404);
      const row = await sessionRow(srv, g.session);
      assert.equal((row!.data as { inspector?: unknown }).inspector, undefined, 'no history for someone who may not inspect');
      await g.solve(SLUG, { component: 'ak-stage-dummy' });
      assert.equal((await g.solve(SLUG, { component: 'ak-stage-dummy' })).body.component, 'xak-flow-redirect');

      // inspect_flow on this flow only (an object permission through a role)
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: 'flow-inspectors' })).body.pk;
      const assigned = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, {
        permissions: ['authentik_flows.inspect_flow'],
        model: 'authentik_flows.flow',
        object_pk: flowPk,
      });
      assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
      const user = (await call(srv, 'GET', '/core/users/?username=inspector-gadget')).body.results[0].pk;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: user })).status, 204);
      // (decided when a run is planned: the next run is kept)
      await g.get(SLUG);
      await g.solve(SLUG, { component: 'ak-stage-dummy' });
      const seen = await inspect(g, SLUG);
      assert.equal(seen.status, 200, JSON.stringify(seen.body));
      assert.equal(seen.body.plans.length, 1);
      assert.equal((await inspect(g, 'default-authentication-flow')).status, 404, 'not on another flow');
      assert.equal((await inspect(g, 'no-such-flow')).status, 404);

      // an API token has no flow session: no plan
      const viaToken = await call(srv, 'GET', `/flows/inspector/${SLUG}/`);
      assert.deepEqual([viaToken.status, viaToken.body], [400, undefined]);
    });

    it('the plan context: values under credential-like keys cleansed', async () => {
      const fields: string[] = [];
      for (const [key, type] of [
        ['password', 'password'],
        ['nickname', 'text'],
      ]) {
        const r = await call(srv, 'POST', '/stages/prompt/prompts/', { name: `inspect-${key}`, field_key: key, label: key, type });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        fields.push(r.body.pk);
      }
      const prompt = await createStage(srv, '/stages/prompt/stages/', { name: 'inspect-prompt', fields });
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'inspect-after-prompt' });
      await flowOf(srv, 'inspect-prompt', [prompt, dummy], { designation: 'stage_configuration' });
      const b = await loggedIn(srv, 'akadmin', ADMIN_PASSWORD);
      assert.equal((await b.get('inspect-prompt')).body.component, 'ak-stage-prompt');
      const next = await b.fetch('/flows/executor/inspect-prompt/?query=', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ component: 'ak-stage-prompt', password: 'hunter2-secret', nickname: 'neo' }),
      });
      assert.equal(next.body.component, 'ak-stage-dummy', JSON.stringify(next.body));
      const seen = (await inspect(b, 'inspect-prompt')).body;
      assert.deepEqual(seen.current_plan.plan_context.prompt_data, { password: '********************', nickname: 'neo' });
      assert.equal(JSON.stringify(seen).includes('hunter2'), false, 'the password is nowhere in the answer');
    });

    it('the pending user as authentik’s sanitize_dict gives a user: username, pk, email (test_inspector.py)', async () => {
      const s = await defaultStages(srv);
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'inspect-after-identification' });
      await flowOf(srv, 'inspect-identified', [s.identification, dummy], { designation: 'stage_configuration' });
      const b = await loggedIn(srv, 'akadmin', ADMIN_PASSWORD);
      await b.get('inspect-identified');
      const next = await b.fetch('/flows/executor/inspect-identified/?query=', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ component: 'ak-stage-identification', uid_field: 'akadmin' }),
      });
      assert.equal(next.body.component, 'ak-stage-dummy', JSON.stringify(next.body));
      const seen = (await inspect(b, 'inspect-identified')).body;
      const admin = (await call(srv, 'GET', '/core/users/?username=akadmin')).body.results[0];
      assert.deepEqual(seen.current_plan.plan_context.pending_user, { username: 'akadmin', pk: admin.pk, email: admin.email });
    });

    it('a login keeps no history: nobody is logged in while it is planned', async () => {
      const b = new Browser(srv.api);
      await b.get('default-authentication-flow');
      await b.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: 'akadmin' });
      const row = await sessionRow(srv, b.session);
      assert.ok(row?.data.plan, 'a plan in flight');
      assert.equal((row!.data as { inspector?: unknown }).inspector, undefined);
    });
  });
}
