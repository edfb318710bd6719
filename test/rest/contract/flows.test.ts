/** Contract: flows and bindings through the official client, each body checked against schema.yml. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { assertArrayOf, assertMatches } from '../../helpers/openapi-schema.js';
import { body, clients, failure, status } from './client.js';

for (const dialect of dialects()) {
  describe(`contract: flows and bindings (${dialect})`, () => {
    let srv: TestServer;
    let api: ReturnType<typeof clients>;
    before(async () => {
      srv = await startServer(dialect);
      api = clients(srv);
    });
    after(async () => srv.close());

    it('flow: create with defaults, retrieve by slug, list with filters/search/ordering, PUT renames the slug, PATCH, diagram, execute, export, used_by', async () => {
      const f = await body(
        api.flows.flowsInstancesCreateRaw({
          flowRequest: { name: 'Contract', slug: 'contract-flow', title: 'Contract title', designation: 'authentication' as never },
        }),
      );
      assertMatches('Flow', f);
      assert.equal(f.layout, 'stacked');
      assert.equal(f.denied_action, 'message_continue');
      assert.equal(f.policy_engine_mode, 'any');
      assert.equal(f.authentication, 'none');
      assert.equal(f.background, '');
      assert.equal(f.background_url, '/static/dist/assets/images/flow_background.jpg');
      assert.equal(f.background_themed_urls, null);
      assert.equal(f.export_url, '/api/v3/flows/instances/contract-flow/export/');
      assert.notEqual(f.pk, f.policybindingmodel_ptr_id);

      assertMatches('Flow', await body(api.flows.flowsInstancesRetrieveRaw({ slug: 'contract-flow' })));
      // `policies`: the policies bound to the flow (a user binding is not a policy)
      assert.deepEqual(f.policies, []);
      const policy = await call(srv, 'POST', '/policies/dummy/', { name: 'contract-flow-policy', result: true });
      assert.equal(policy.status, 201, JSON.stringify(policy.body));
      const target = f.policybindingmodel_ptr_id;
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target, policy: policy.body.pk, order: 0 })).status, 201);
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target, user: 1, order: 1 })).status, 201);
      const bound = await body(api.flows.flowsInstancesRetrieveRaw({ slug: 'contract-flow' }));
      assert.deepEqual(bound.policies, [policy.body.pk]);
      const list = await body(
        api.flows.flowsInstancesListRaw({ designation: 'authentication' as never, search: 'contract', ordering: '-slug' }),
      );
      assertMatches('PaginatedFlowList', list);
      assert.deepEqual(
        list.results.map((r: { slug: string }) => r.slug),
        ['contract-flow'],
      );
      const bad = await failure(api.flows.flowsInstancesListRaw({ designation: 'nope' as never }));
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { designation: ['Select a valid choice. nope is not one of the available choices.'] });

      const themed = await body(
        api.flows.flowsInstancesPartialUpdateRaw({
          slug: 'contract-flow',
          patchedFlowRequest: { background: 'https://cdn.example/bg-%(theme)s.jpg', layout: 'sidebar_left' as never },
        }),
      );
      assertMatches('Flow', themed);
      assert.deepEqual(themed.background_themed_urls, {
        light: 'https://cdn.example/bg-light.jpg',
        dark: 'https://cdn.example/bg-dark.jpg',
      });
      assert.equal(themed.layout, 'sidebar_left');

      const put = await body(
        api.flows.flowsInstancesUpdateRaw({
          slug: 'contract-flow',
          flowRequest: { name: 'Renamed', slug: 'contract-flow-2', title: 'T', designation: 'authorization' as never },
        }),
      );
      assertMatches('Flow', put);
      assert.equal(put.layout, 'sidebar_left', 'PUT keeps omitted optional fields');
      assert.equal((await failure(api.flows.flowsInstancesRetrieveRaw({ slug: 'contract-flow' }))).status, 404);

      const diagram = await body(api.flows.flowsInstancesDiagramRetrieveRaw({ slug: 'contract-flow-2' }));
      assertMatches('FlowDiagram', diagram);
      assert.match(diagram.diagram, /^graph TD/);
      const link = await body(api.flows.flowsInstancesExecuteRetrieveRaw({ slug: 'contract-flow-2' }));
      assertMatches('Link', link);
      assert.match(link.link, /\/if\/flow\/contract-flow-2\/$/);
      const exported = await api.flows.flowsInstancesExportRetrieveRaw({ slug: 'contract-flow-2' });
      assert.match(await exported.raw.text(), /slug: contract-flow-2/);
      assertArrayOf('UsedBy', await body(api.flows.flowsInstancesUsedByListRaw({ slug: 'contract-flow-2' })));
      assertMatches('Cache', await body(api.flows.flowsInstancesCacheInfoRetrieveRaw()));
      assert.equal(await status(api.flows.flowsInstancesCacheClearCreateRaw()), 204);

      const dup = await failure(
        api.flows.flowsInstancesCreateRaw({
          flowRequest: { name: 'x', slug: 'contract-flow-2', title: 'x', designation: 'authentication' as never },
        }),
      );
      assert.deepEqual(dup.body, { slug: ['Flow with this slug already exists.'] });
      const badSlug = await failure(
        api.flows.flowsInstancesCreateRaw({
          flowRequest: { name: 'x', slug: 'not a slug', title: 'x', designation: 'authentication' as never },
        }),
      );
      assert.deepEqual(badSlug.body, { slug: ['Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.'] });
    });

    it('binding: create, list filters, retrieve, update, partial update, used_by, destroy; deleting the flow deletes its bindings', async () => {
      const f = await body(
        api.flows.flowsInstancesCreateRaw({
          flowRequest: { name: 'B', slug: 'binding-flow', title: 'B', designation: 'authentication' as never },
        }),
      );
      const d = await body(api.stages.stagesDummyCreateRaw({ dummyStageRequest: { name: 'binding-dummy' } }));
      const b = await body(api.flows.flowsBindingsCreateRaw({ flowStageBindingRequest: { target: f.pk, stage: d.pk, order: 10 } }));
      assertMatches('FlowStageBinding', b);
      assert.equal(b.evaluate_on_plan, false);
      assert.equal(b.re_evaluate_policies, true);
      assert.equal(b.invalid_response_action, 'retry');
      assert.equal(b.stage_obj.name, 'binding-dummy');
      assert.equal(b.stage_obj.component, 'ak-stage-dummy-form');
      assert.equal(b.stage_obj.flow_set[0].slug, 'binding-flow');

      const list = await body(api.flows.flowsBindingsListRaw({ target: f.pk, ordering: 'order' }));
      assertMatches('PaginatedFlowStageBindingList', list);
      assert.equal(list.pagination.count, 1);
      const missing = await failure(api.flows.flowsBindingsListRaw({ target: '00000000-0000-4000-8000-000000000000' }));
      assert.deepEqual(missing.body, { target: ['Select a valid choice. That choice is not one of the available choices.'] });
      const malformed = await failure(api.flows.flowsBindingsListRaw({ fsbUuid: 'nope' }));
      assert.deepEqual(malformed.body, { fsb_uuid: ['Enter a valid UUID.'] });

      const dup = await failure(api.flows.flowsBindingsCreateRaw({ flowStageBindingRequest: { target: f.pk, stage: d.pk, order: 10 } }));
      assert.deepEqual(dup.body, { non_field_errors: ['The fields target, stage, order must make a unique set.'] });
      const neither = await failure(
        api.flows.flowsBindingsCreateRaw({
          flowStageBindingRequest: { target: f.pk, stage: d.pk, order: 20, evaluateOnPlan: false, reEvaluatePolicies: false },
        }),
      );
      assert.deepEqual(neither.body, { non_field_errors: ['Either evaluation on plan or evaluation on run must be enabled'] });

      assertMatches('FlowStageBinding', await body(api.flows.flowsBindingsRetrieveRaw({ fsbUuid: b.pk })));
      const patched = await body(
        api.flows.flowsBindingsPartialUpdateRaw({
          fsbUuid: b.pk,
          patchedFlowStageBindingRequest: { invalidResponseAction: 'restart' as never },
        }),
      );
      assert.equal(patched.invalid_response_action, 'restart');
      const put = await body(
        api.flows.flowsBindingsUpdateRaw({ fsbUuid: b.pk, flowStageBindingRequest: { target: f.pk, stage: d.pk, order: 30 } }),
      );
      assertMatches('FlowStageBinding', put);
      assert.equal(put.order, 30);
      assertArrayOf('UsedBy', await body(api.flows.flowsBindingsUsedByListRaw({ fsbUuid: b.pk })));

      const usedBy = await body(api.flows.flowsInstancesUsedByListRaw({ slug: 'binding-flow' }));
      assert.ok(usedBy.some((u: { model_name: string; action: string }) => u.model_name === 'flowstagebinding' && u.action === 'cascade'));
      assert.equal(await status(api.flows.flowsInstancesDestroyRaw({ slug: 'binding-flow' })), 204);
      assert.equal(
        (await failure(api.flows.flowsBindingsRetrieveRaw({ fsbUuid: b.pk }))).body.detail,
        'No FlowStageBinding matches the given query.',
      );
      assert.deepEqual((await body(api.stages.stagesDummyRetrieveRaw({ stageUuid: d.pk }))).flow_set, []);
    });

    it('PUT with the object’s own unchanged unique value (flow slug, token identifier, stage name, username) is 200; another object’s is 400', async () => {
      const mk = (slug: string) =>
        body(api.flows.flowsInstancesCreateRaw({ flowRequest: { name: slug, slug, title: slug, designation: 'authentication' as never } }));
      await mk('own-slug');
      await mk('other-slug');
      const same = await api.flows.flowsInstancesUpdateRaw({
        slug: 'own-slug',
        flowRequest: { name: 'Own', slug: 'own-slug', title: 'Own title', designation: 'authentication' as never },
      });
      assert.equal(same.raw.status, 200);
      const kept = await same.raw.json();
      assertMatches('Flow', kept);
      assert.equal(kept.slug, 'own-slug');
      assert.equal(kept.title, 'Own title');
      const clash = await failure(
        api.flows.flowsInstancesUpdateRaw({
          slug: 'own-slug',
          flowRequest: { name: 'Own', slug: 'other-slug', title: 'x', designation: 'authentication' as never },
        }),
      );
      assert.deepEqual(clash, { status: 400, body: { slug: ['Flow with this slug already exists.'] } });

      await api.core.coreTokensCreateRaw({ tokenRequest: { identifier: 'own-token', intent: 'app_password' as never } });
      await api.core.coreTokensCreateRaw({ tokenRequest: { identifier: 'other-token', intent: 'app_password' as never } });
      const token = await api.core.coreTokensUpdateRaw({
        identifier: 'own-token',
        tokenRequest: { identifier: 'own-token', intent: 'app_password' as never, description: 'kept' },
      });
      assert.equal(token.raw.status, 200);
      assert.equal((await token.raw.json()).description, 'kept');
      const tokenClash = await failure(
        api.core.coreTokensUpdateRaw({
          identifier: 'own-token',
          tokenRequest: { identifier: 'other-token', intent: 'app_password' as never },
        }),
      );
      assert.deepEqual(tokenClash, { status: 400, body: { identifier: ['Token with this identifier already exists.'] } });

      const stage = await body(api.stages.stagesDummyCreateRaw({ dummyStageRequest: { name: 'own-stage' } }));
      await api.stages.stagesDummyCreateRaw({ dummyStageRequest: { name: 'other-stage' } });
      assert.equal(
        (await api.stages.stagesDummyUpdateRaw({ stageUuid: stage.pk, dummyStageRequest: { name: 'own-stage', throwError: true } })).raw
          .status,
        200,
      );
      const stageClash = await failure(
        api.stages.stagesDummyUpdateRaw({ stageUuid: stage.pk, dummyStageRequest: { name: 'other-stage' } }),
      );
      assert.deepEqual(stageClash, { status: 400, body: { name: ['stage with this name already exists.'] } });

      const user = await body(api.core.coreUsersCreateRaw({ userRequest: { username: 'own-user', name: 'Own' } }));
      await api.core.coreUsersCreateRaw({ userRequest: { username: 'other-user', name: 'Other' } });
      assert.equal(
        (await api.core.coreUsersUpdateRaw({ id: user.pk, userRequest: { username: 'own-user', name: 'Own 2' } })).raw.status,
        200,
      );
      const userClash = await failure(api.core.coreUsersUpdateRaw({ id: user.pk, userRequest: { username: 'other-user', name: 'x' } }));
      assert.deepEqual(userClash, { status: 400, body: { username: ['This field must be unique.'] } });
    });

    it('pagination object, page past the end, page_size clamped', async () => {
      for (let i = 0; i < 25; i++)
        await api.stages.stagesDummyCreateRaw({ dummyStageRequest: { name: `page-${String(i).padStart(2, '0')}` } });
      const p1 = await body(api.stages.stagesDummyListRaw({ search: 'page-', pageSize: 10 }));
      assert.deepEqual(p1.pagination, { next: 2, previous: 0, count: 25, current: 1, total_pages: 3, start_index: 1, end_index: 10 });
      const p3 = await body(api.stages.stagesDummyListRaw({ search: 'page-', pageSize: 10, page: 3 }));
      assert.deepEqual(p3.pagination, { next: 0, previous: 2, count: 25, current: 3, total_pages: 3, start_index: 21, end_index: 25 });
      const past = await failure(api.stages.stagesDummyListRaw({ search: 'page-', pageSize: 10, page: 4 }));
      assert.deepEqual(past, { status: 404, body: { detail: 'Invalid page.' } });
      const clamped = await body(api.stages.stagesDummyListRaw({ pageSize: 1000 }));
      assert.ok(clamped.results.length <= 100);
      const empty = await body(api.stages.stagesDummyListRaw({ search: 'no-such-thing' }));
      assert.deepEqual(empty.pagination, { next: 0, previous: 0, count: 0, current: 1, total_pages: 1, start_index: 0, end_index: 0 });
    });
  });
}
