/**
 * Policies in the flow executor (authentik's FlowPlanner and ReevaluateMarker): flow policies decide whether a flow
 * applies; stage-binding policies run at plan time (`evaluate_on_plan`) or when the stage comes up
 * (`re_evaluate_policies`); any/all, negate, enabled, order, user and group bindings, and failing closed on timeouts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { bindingOf, createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';

for (const dialect of dialects()) {
  describe(`policy evaluation in flows (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    let yes: string;
    let no: string;
    let deny: string;
    let n = 0;
    const flowPk = async (slug: string) => (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk as string;
    const bind = async (target: string, body: Record<string, unknown>) => {
      const r = await call(srv, 'POST', '/policies/bindings/', { target, order: n++, ...body });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    const dummy = async (result: boolean, extra: Record<string, unknown> = {}) =>
      (await call(srv, 'POST', '/policies/dummy/', { name: `dummy-${randomUUID()}`, result, wait_min: 0, wait_max: 0, ...extra })).body
        .pk as string;

    before(async () => {
      srv = await startServer(dialect);
      stages = await defaultStages(srv);
      await createUser(srv, 'ivy', 'ivy-password-1');
      await createUser(srv, 'bob', 'bob-password-1');
      yes = await dummy(true);
      no = await dummy(false);
      deny = await createStage(srv, '/stages/deny/', { name: 'policy-deny', deny_message: 'stopped here' });
    });
    after(async () => srv.close());

    it('a flow whose policy fails does not apply: access denied with the policy’s messages; passing, it runs', async () => {
      const slug = await flowOf(srv, 'pe-flow', [stages.identification]);
      const target = await flowPk(slug);
      const binding = await bind(target, { policy: no });
      const denied = await new BrowserSession(srv).get(slug);
      assert.equal(denied.component, 'ak-stage-access-denied');
      assert.equal(denied.error_message, 'dummy');
      await call(srv, 'PATCH', `/policies/bindings/${binding}/`, { negate: true });
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification', 'negated: passes');
      await call(srv, 'PATCH', `/policies/bindings/${binding}/`, { negate: false, enabled: false });
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification', 'disabled: ignored');
    });

    it('policy_engine_mode: any passes with one passing binding, all needs every one', async () => {
      const slug = await flowOf(srv, 'pe-mode', [stages.identification]);
      const target = await flowPk(slug);
      await bind(target, { policy: yes });
      await bind(target, { policy: no });
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification', 'any (the default)');
      await call(srv, 'PATCH', `/flows/instances/${slug}/`, { policy_engine_mode: 'all' });
      const all = await new BrowserSession(srv).get(slug);
      assert.equal(all.component, 'ak-stage-access-denied');
      assert.equal(all.error_message, 'dummy\ndummy', 'the messages of every binding, in order');
    });

    it('denied_action continue: a flow that does not apply sends the person on instead of denying', async () => {
      const slug = await flowOf(srv, 'pe-continue', [stages.identification], { denied_action: 'continue' });
      await bind(await flowPk(slug), { policy: no });
      const r = await new BrowserSession(srv).get(slug, 'next=%2Fsomewhere%2F');
      assert.deepEqual(r, { component: 'xak-flow-redirect', to: '/' });
    });

    it('evaluate_on_plan: a stage binding whose policies fail is left out of the plan', async () => {
      const slug = await flowOf(srv, 'pe-onplan', [deny]);
      const fsb = await bindingOf(srv, slug, deny);
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-access-denied', 'the deny stage runs');
      await call(srv, 'PATCH', `/flows/bindings/${fsb}/`, { evaluate_on_plan: true, re_evaluate_policies: false });
      await bind(fsb, { policy: no });
      const r = await new BrowserSession(srv).get(slug);
      assert.equal(r.component, 'xak-flow-redirect', 'the only stage was left out: the flow is done');
    });

    it('re_evaluate_policies: a user binding decided when the stage comes up, for the pending user', async () => {
      const slug = await flowOf(srv, 'pe-rerun', [stages.identification, deny, stages.password, stages.login]);
      const fsb = await bindingOf(srv, slug, deny);
      // the deny stage applies to everybody but ivy
      await bind(fsb, { user: (await call(srv, 'GET', '/core/users/?username=ivy')).body.results[0].pk, negate: true });
      const ivy = new BrowserSession(srv);
      await ivy.get(slug);
      const pw = await ivy.solve(slug, { component: 'ak-stage-identification', uid_field: 'ivy' });
      assert.equal(pw.component, 'ak-stage-password', 'skipped for ivy');
      const bob = new BrowserSession(srv);
      await bob.get(slug);
      const denied = await bob.solve(slug, { component: 'ak-stage-identification', uid_field: 'bob' });
      assert.equal(denied.component, 'ak-stage-access-denied');
      assert.equal(denied.error_message, 'stopped here');
    });

    it('a group binding passes for members of the group', async () => {
      const db = srv.app.store.db;
      const group = randomUUID();
      await db
        .insertInto('groups')
        .values({ group_uuid: group, num_pk: 4242, name: 'pe-staff', is_superuser: 0, attributes: '{}' })
        .execute();
      const ivyPk = (await call(srv, 'GET', '/core/users/?username=ivy')).body.results[0].pk;
      await db.insertInto('user_groups').values({ user_id: ivyPk, group_uuid: group }).execute();
      const slug = await flowOf(srv, 'pe-group', [stages.identification, deny, stages.password, stages.login]);
      await bind(await bindingOf(srv, slug, deny), { group, negate: true });
      const ivy = new BrowserSession(srv);
      await ivy.get(slug);
      assert.equal((await ivy.solve(slug, { component: 'ak-stage-identification', uid_field: 'ivy' })).component, 'ak-stage-password');
      const bob = new BrowserSession(srv);
      await bob.get(slug);
      assert.equal((await bob.solve(slug, { component: 'ak-stage-identification', uid_field: 'bob' })).component, 'ak-stage-access-denied');
    });

    it('nobody logged in passes no group or user binding, negated or not (authentik: static bindings need a user)', async () => {
      const group = (await call(srv, 'POST', '/core/groups/', { name: 'pe-anon' })).body.pk;
      const ivyPk = (await call(srv, 'GET', '/core/users/?username=ivy')).body.results[0].pk;
      for (const body of [{ group, negate: true }, { user: ivyPk, negate: true }, { group }]) {
        const slug = await flowOf(srv, `pe-anon-${n}`, [stages.identification]);
        await bind(await flowPk(slug), body);
        const anonymous = await new BrowserSession(srv).get(slug);
        assert.equal(anonymous.component, 'ak-stage-access-denied', JSON.stringify(body));
      }
      // someone logged in outside the group passes the negated group binding
      const slug = await flowOf(srv, 'pe-anon-user', [stages.identification]);
      await bind(await flowPk(slug), { group, negate: true });
      const bob = new BrowserSession(srv);
      await bob.get('default-authentication-flow');
      await bob.solve('default-authentication-flow', { component: 'ak-stage-identification', uid_field: 'bob' });
      assert.equal(
        (await bob.solve('default-authentication-flow', { component: 'ak-stage-password', password: 'bob-password-1' })).component,
        'xak-flow-redirect',
      );
      assert.equal((await bob.get(slug)).component, 'ak-stage-identification');
    });

    it('a group binding passes for members of its child groups too (inherited membership)', async () => {
      const parent = await call(srv, 'POST', '/core/groups/', { name: 'pe-parent' });
      const ivyPk = (await call(srv, 'GET', '/core/users/?username=ivy')).body.results[0].pk;
      const child = await call(srv, 'POST', '/core/groups/', { name: 'pe-child', parents: [parent.body.pk], users: [ivyPk] });
      assert.equal(child.status, 201, JSON.stringify(child.body));
      const slug = await flowOf(srv, 'pe-group-inherited', [stages.identification, deny, stages.password, stages.login]);
      await bind(await bindingOf(srv, slug, deny), { group: parent.body.pk, negate: true });
      const ivy = new BrowserSession(srv);
      await ivy.get(slug);
      assert.equal((await ivy.solve(slug, { component: 'ak-stage-identification', uid_field: 'ivy' })).component, 'ak-stage-password');
      const bob = new BrowserSession(srv);
      await bob.get(slug);
      assert.equal((await bob.solve(slug, { component: 'ak-stage-identification', uid_field: 'bob' })).component, 'ak-stage-access-denied');
      // the group's used_by lists the binding, which goes with the group
      const usedBy = (await call(srv, 'GET', `/core/groups/${parent.body.pk}/used_by/`)).body;
      const binding = usedBy.find((u: { model_name: string }) => u.model_name === 'policybinding');
      assert.equal(binding?.action, 'cascade');
      assert.match(binding?.name, / to Group pe-parent$/);
      assert.equal((await call(srv, 'DELETE', `/core/groups/${parent.body.pk}/`)).status, 204);
      assert.equal((await call(srv, 'GET', `/policies/bindings/${binding.pk}/`)).status, 404);
    });

    it('fails closed: a policy that outlives the binding’s timeout yields failure_result, and a policy_exception event', async () => {
      const slow = await dummy(true, { wait_min: 3, wait_max: 3 });
      const slug = await flowOf(srv, 'pe-timeout', [stages.identification]);
      const binding = await bind(await flowPk(slug), { policy: slow, timeout: 1 });
      const started = Date.now();
      const denied = await new BrowserSession(srv).get(slug);
      assert.equal(
        denied.component,
        'ak-stage-access-denied',
        'failure_result false: the flow does not apply, though the policy would pass',
      );
      assert.equal(denied.error_message, 'Flow does not apply to current user.', 'no internal error reaches the person');
      assert.ok(Date.now() - started < 2900, 'cut off at the timeout, not after the policy');
      const events = (await call(srv, 'GET', '/events/events/?action=policy_exception')).body.results;
      assert.ok(
        events.some(
          (e: { context: { policy_uuid?: string; message?: string } }) =>
            e.context.policy_uuid === slow && /timed out/.test(e.context.message ?? ''),
        ),
      );
      await call(srv, 'PATCH', `/policies/bindings/${binding}/`, { failure_result: true });
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification', 'failure_result true');
    });

    it('execution_logging records every evaluation as a policy_execution event', async () => {
      const logged = await dummy(true, { execution_logging: true });
      const slug = await flowOf(srv, 'pe-logging', [stages.identification]);
      await bind(await flowPk(slug), { policy: logged });
      await new BrowserSession(srv).get(slug);
      const events = (await call(srv, 'GET', '/events/events/?action=policy_execution')).body.results;
      const mine = events.filter((e: { context: { policy_uuid?: string } }) => e.context.policy_uuid === logged);
      assert.equal(mine.length, 1);
      assert.deepEqual(mine[0].context.result, { passing: true, messages: ['dummy'] });
    });

    it('explain: the plan a user would get and why each stage runs or is skipped, with no side effects', async () => {
      const logged = await dummy(false, { execution_logging: true });
      const slug = await flowOf(srv, 'pe-explain', [stages.identification, deny, stages.password, stages.login]);
      const fsbDeny = await bindingOf(srv, slug, deny);
      const fsbPassword = await bindingOf(srv, slug, stages.password);
      const ivyPk = (await call(srv, 'GET', '/core/users/?username=ivy')).body.results[0].pk;
      const bobPk = (await call(srv, 'GET', '/core/users/?username=bob')).body.results[0].pk;
      await bind(fsbDeny, { user: ivyPk, negate: true });
      await call(srv, 'PATCH', `/flows/bindings/${fsbPassword}/`, { evaluate_on_plan: true });
      await bind(fsbPassword, { policy: logged });
      const eventsBefore = (await call(srv, 'GET', '/events/events/?action=policy_execution')).body.pagination.count;

      const ivy = await call(srv, 'GET', `/flows/instances/${slug}/explain/?user=${ivyPk}`);
      assert.equal(ivy.status, 200, JSON.stringify(ivy.body));
      assert.equal(ivy.body.applies, true);
      const byStage = (b: { stages: { stage: { pk: string } }[] }, pk: string) => b.stages.find((x) => x.stage.pk === pk) as any;
      const d = byStage(ivy.body, deny);
      assert.deepEqual([d.planned, d.runs], [true, false]);
      assert.match(d.reason, /re_evaluate_policies/);
      assert.deepEqual(
        d.policies.bindings.map((b: { bound: string; negate: boolean; passing: boolean }) => [b.bound, b.negate, b.passing]),
        [['user', true, false]],
      );
      assert.equal(d.policies.bindings[0].name, 'ivy');
      // renamed as a directory sync renames (no admin request): the next explanation names her by the new name
      const rename = (username: string) => srv.app.store.db.updateTable('users').set({ username }).where('id', '=', ivyPk).execute();
      await rename('ivy-renamed');
      try {
        const again = byStage((await call(srv, 'GET', `/flows/instances/${slug}/explain/?user=${ivyPk}`)).body, deny);
        assert.equal(again.policies.bindings[0].name, 'ivy-renamed');
      } finally {
        await rename('ivy');
      }
      const p = byStage(ivy.body, stages.password);
      assert.deepEqual([p.planned, p.runs], [false, false]);
      assert.match(p.reason, /evaluate_on_plan/);
      assert.deepEqual(p.policies.messages, ['dummy']);
      assert.equal(byStage(ivy.body, stages.login).runs, true);

      const bob = (await call(srv, 'GET', `/flows/instances/${slug}/explain/?user=${bobPk}`)).body;
      assert.equal(byStage(bob, deny).runs, true, 'the deny stage applies to bob');

      // no side effects but the one event recording the question
      assert.equal((await call(srv, 'GET', '/events/events/?action=policy_execution')).body.pagination.count, eventsBefore);
      const asked = (await call(srv, 'GET', '/events/events/?action=custom_')).body.results;
      assert.ok(
        asked.some(
          (e: { context: { message?: string; for_user?: { pk: number } } }) =>
            e.context.message === 'Flow explanation' && e.context.for_user?.pk === bobPk,
        ),
      );

      // a flow that does not apply says so, with the flow policies' verdict
      await bind(await flowPk(slug), { policy: no });
      const denied = (await call(srv, 'GET', `/flows/instances/${slug}/explain/?user=${bobPk}`)).body;
      assert.equal(denied.applies, false);
      assert.deepEqual(denied.messages, ['dummy']);
      assert.equal(denied.policies.passing, false);
      assert.ok(denied.stages.every((x: { runs: boolean; reason: string }) => !x.runs && /does not apply/.test(x.reason)));

      assert.deepEqual((await call(srv, 'GET', `/flows/instances/${slug}/explain/`)).body, { user: ['This field is required.'] });
      assert.deepEqual((await call(srv, 'GET', `/flows/instances/${slug}/explain/?user=999999`)).body, {
        user: ['Invalid pk "999999" - object does not exist.'],
      });
    });
  });
}
