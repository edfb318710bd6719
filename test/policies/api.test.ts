/**
 * /policies/all/, /policies/dummy/ and /policies/bindings/ through the official client and raw HTTP: authentik's
 * fields, defaults, messages, filters and used_by.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { PoliciesApi } from '@goauthentik/api/dist/apis/PoliciesApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser, defaultStages, flowOf, bindingOf } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body, failure } from '../rest/contract/client.js';

for (const dialect of dialects()) {
  describe(`policies API (${dialect})`, () => {
    let srv: TestServer;
    let api: PoliciesApi;
    before(async () => {
      srv = await startServer(dialect);
      api = new PoliciesApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
    });
    after(async () => srv.close());

    it('dummy policies: create with authentik’s defaults, read, update, list, delete (official client)', async () => {
      const created = await body(api.policiesDummyCreateRaw({ dummyPolicyRequest: { name: 'always-no' } }));
      assertMatches('DummyPolicy', created);
      assert.equal(created.result, false);
      assert.equal(created.wait_min, 5);
      assert.equal(created.wait_max, 30);
      assert.equal(created.execution_logging, false);
      assert.equal(created.component, 'ak-policy-dummy-form');
      assert.equal(created.meta_model_name, 'authentik_policies_dummy.dummypolicy');
      assert.equal(created.verbose_name, 'Dummy Policy');
      assert.equal(created.bound_to, 0);
      const patched = await body(
        api.policiesDummyPartialUpdateRaw({ policyUuid: created.pk, patchedDummyPolicyRequest: { result: true, waitMin: 0, waitMax: 0 } }),
      );
      assert.deepEqual([patched.result, patched.wait_min, patched.wait_max], [true, 0, 0]);
      const list = await body(api.policiesDummyListRaw({ result: true }));
      assertMatches('PaginatedDummyPolicyList', list);
      assert.deepEqual(
        list.results.map((p: { name: string }) => p.name),
        ['always-no'],
      );
      assert.equal((await body(api.policiesDummyListRaw({ result: false }))).results.length, 0);
      const dup = await failure(api.policiesDummyCreate({ dummyPolicyRequest: { name: 'always-no' } }));
      assert.deepEqual(dup, { status: 400, body: { name: ['policy with this name already exists.'] } });
      const all = await body(api.policiesAllRetrieveRaw({ policyUuid: created.pk }));
      assertMatches('Policy', all);
      assert.equal(all.name, 'always-no');
      await api.policiesDummyDestroy({ policyUuid: created.pk });
      assert.equal((await call(srv, 'GET', `/policies/all/${created.pk}/`)).status, 404);
    });

    it('bad input is a 400 with field errors, never a 500', async () => {
      const r = await call(srv, 'POST', '/policies/dummy/', { name: '', result: 'maybe', wait_min: 'x' });
      assert.equal(r.status, 400);
      assert.deepEqual(Object.keys(r.body).sort(), ['name', 'result', 'wait_min']);
      assert.equal((await call(srv, 'POST', '/policies/dummy/', [])).status, 400);
      assert.equal((await call(srv, 'GET', '/policies/dummy/?wait_min=abc')).status, 400);
    });

    it('types, cache_info and cache_clear', async () => {
      const types = await body(api.policiesAllTypesListRaw());
      const dummy = types.find((t: { model_name: string }) => t.model_name === 'dummypolicy');
      assert.deepEqual(dummy, {
        name: 'Dummy Policy',
        description: 'Policy used for debugging the PolicyEngine. Returns a fixed result, but takes a random time to process.',
        component: 'ak-policy-dummy-form',
        model_name: 'dummypolicy',
        requires_enterprise: false,
        deprecated: false,
      });
      assert.deepEqual(await body(api.policiesAllCacheInfoRetrieveRaw()), { count: 0 });
      assert.equal((await api.policiesAllCacheClearCreateRaw()).raw.status, 204);
    });

    it('bindings: exactly one of policy, user, group; the target by its own key or its pbm_uuid', async () => {
      const flow = (await call(srv, 'POST', '/flows/instances/', { name: 'pb', slug: 'pb', title: 'pb', designation: 'authentication' }))
        .body;
      const policy = (await call(srv, 'POST', '/policies/dummy/', { name: 'pb-policy', result: true, wait_min: 0, wait_max: 0 })).body;
      const uid = await createUser(srv, 'pb-user', 'pb-password-1');
      const none = await call(srv, 'POST', '/policies/bindings/', { target: flow.pk, order: 0 });
      assert.deepEqual(none, { ...none, status: 400, body: { non_field_errors: ["One of 'policy', 'user', 'group' must be set."] } });
      const two = await call(srv, 'POST', '/policies/bindings/', { target: flow.pk, order: 0, policy: policy.pk, user: uid });
      assert.deepEqual(two.body, { non_field_errors: ["Only one of 'policy', 'user', 'group' can be set."] });
      const missing = '3e3e3e3e-0000-4000-8000-000000000000';
      const bad = await call(srv, 'POST', '/policies/bindings/', { target: missing, order: 0, policy: policy.pk });
      assert.deepEqual(bad.body, { target: [`Invalid pk "${missing}" - object does not exist.`] });
      const noOrder = await call(srv, 'POST', '/policies/bindings/', { target: flow.pk, policy: policy.pk });
      assert.deepEqual(noOrder.body, { order: ['This field is required.'] });

      const b = await body(
        api.policiesBindingsCreateRaw({ policyBindingRequest: { target: flow.policybindingmodel_ptr_id, policy: policy.pk, order: 5 } }),
      );
      assertMatches('PolicyBinding', b);
      assert.equal(b.target, flow.pk, 'shown by the flow’s own key, though given by its pbm_uuid');
      assert.equal(b.policy_obj.name, 'pb-policy');
      assert.equal(b.policy_obj.bound_to, 1);
      assert.deepEqual(
        [b.negate, b.enabled, b.timeout, b.failure_result, b.group, b.user, b.group_obj, b.user_obj],
        [false, true, 30, false, null, null, null, null],
      );
      const same = await call(srv, 'POST', '/policies/bindings/', { target: flow.pk, order: 5, policy: policy.pk });
      assert.deepEqual(same.body, { non_field_errors: ['The fields policy, target, order must make a unique set.'] });
      const ub = await call(srv, 'POST', '/policies/bindings/', { target: flow.pk, order: 5, user: uid });
      assert.equal(ub.status, 201, JSON.stringify(ub.body));
      assert.equal(ub.body.user_obj.username, 'pb-user');
      assertMatches('PolicyBinding', ub.body);

      // filters: target is the pbm_uuid (authentik's FK), target_in a list of them, policy__isnull
      const byTarget = (await call(srv, 'GET', `/policies/bindings/?target=${flow.policybindingmodel_ptr_id}`)).body;
      assert.equal(byTarget.pagination.count, 2);
      assert.equal(
        (await call(srv, 'GET', `/policies/bindings/?target_in=${flow.policybindingmodel_ptr_id}&policy__isnull=true`)).body.pagination
          .count,
        1,
      );
      assert.equal((await call(srv, 'GET', `/policies/bindings/?policy=${policy.pk}`)).body.pagination.count, 1);

      // used_by: the policy's binding; the flow's policy bindings
      const usedBy = (await call(srv, 'GET', `/policies/all/${policy.pk}/used_by/`)).body;
      assert.deepEqual(usedBy, [
        {
          app: 'authentik_policies',
          model_name: 'policybinding',
          pk: b.pk,
          name: 'Binding from Flow pb (pb) #5 to Policy pb-policy',
          action: 'cascade',
        },
      ]);
      const flowUsedBy = (await call(srv, 'GET', '/flows/instances/pb/used_by/')).body;
      assert.equal(flowUsedBy.filter((u: { model_name: string }) => u.model_name === 'policybinding').length, 2);

      // bindings__isnull on /policies/all/
      const lone = (await call(srv, 'POST', '/policies/dummy/', { name: 'pb-lone' })).body;
      const unbound = (await call(srv, 'GET', '/policies/all/?bindings__isnull=true')).body.results.map((p: { pk: string }) => p.pk);
      assert.ok(unbound.includes(lone.pk));
      assert.ok(!unbound.includes(policy.pk));

      // deleting the flow deletes its policy bindings; the policy stays
      assert.equal((await call(srv, 'DELETE', '/flows/instances/pb/')).status, 204);
      assert.equal((await call(srv, 'GET', `/policies/bindings/?policy=${policy.pk}`)).body.pagination.count, 0);
      assert.equal((await call(srv, 'GET', `/policies/all/${policy.pk}/`)).body.bound_to, 0);
    });

    it('a flow-stage binding is a target; deleting its stage deletes its policy bindings', async () => {
      const stages = await defaultStages(srv);
      const stage = (await call(srv, 'POST', '/stages/dummy/', { name: 'pb-dummy-stage' })).body.pk;
      await flowOf(srv, 'pb-stage-flow', [stages.identification, stage]);
      const fsb = await bindingOf(srv, 'pb-stage-flow', stage);
      const policy = (await call(srv, 'POST', '/policies/dummy/', { name: 'pb-stage-policy' })).body;
      const b = await call(srv, 'POST', '/policies/bindings/', { target: fsb, order: 0, policy: policy.pk });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      assert.equal(b.body.target, fsb);
      const used = (await call(srv, 'GET', `/flows/bindings/${fsb}/used_by/`)).body;
      assert.equal(used[0].pk, b.body.pk);
      assert.equal((await call(srv, 'DELETE', `/stages/all/${stage}/`)).status, 204);
      assert.equal((await call(srv, 'GET', `/policies/bindings/${b.body.pk}/`)).status, 404);
    });

    it('test: runs a policy for a user and a context, with no side effects', async () => {
      const uid = await createUser(srv, 'pt-user', 'pt-password-1');
      const policy = (
        await call(srv, 'POST', '/policies/dummy/', { name: 'pt', result: true, wait_min: 0, wait_max: 0, execution_logging: true })
      ).body;
      const before = (await call(srv, 'GET', '/events/events/?action=policy_execution')).body.pagination.count;
      const r = await body(api.policiesAllTestCreateRaw({ policyUuid: policy.pk, policyTestRequest: { user: uid, context: { a: 1 } } }));
      assertMatches('PolicyTestResult', r);
      assert.deepEqual(r, { passing: true, messages: ['dummy'], log_messages: [] });
      assert.equal(
        (await call(srv, 'GET', '/events/events/?action=policy_execution')).body.pagination.count,
        before,
        'a test logs no execution',
      );
      const bad = await call(srv, 'POST', `/policies/all/${policy.pk}/test/`, { user: 999999 });
      assert.deepEqual(bad.body, { user: ['Invalid pk "999999" - object does not exist.'] });
      assert.equal(bad.status, 400);
      const noUser = await call(srv, 'POST', `/policies/all/${policy.pk}/test/`, {});
      assert.deepEqual(noUser.body, { user: ['This field is required.'] });
    });

    it('without a role only superusers may read or write policies and bindings; the types list answers anyone', async () => {
      await createUser(srv, 'plain', 'plain-password-1');
      const t = await call(srv, 'POST', '/core/tokens/', {
        identifier: 'plain-token',
        intent: 'api',
        user: await (async () => (await call(srv, 'GET', '/core/users/?username=plain')).body.results[0].pk)(),
      });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      const key = (await call(srv, 'GET', '/core/tokens/plain-token/view_key/')).body.key;
      for (const [method, path] of [
        ['GET', '/policies/all/'],
        ['GET', '/policies/bindings/'],
        ['POST', '/policies/dummy/'],
      ] as const) {
        const r = await call(srv, method, path, method === 'POST' ? { name: 'x' } : undefined, { authorization: `Bearer ${key}` });
        assert.equal(r.status, 403, `${method} ${path}`);
      }
      // authentik's TypesMixin: any logged-in caller lists the types
      const types = await call(srv, 'GET', '/policies/all/types/', undefined, { authorization: `Bearer ${key}` });
      assert.equal(types.status, 200);
      assert.ok(types.body.some((t: { component: string }) => t.component === 'ak-policy-event-matcher-form'));
    });
  });
}
