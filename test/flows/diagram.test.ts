/**
 * The flow diagram as authentik's FlowDiagram draws it: the authentication requirement, the flow's policies, each
 * stage's policies before it with "Policy passed" / "Policy denied" edges; bindings the caller may not view are left
 * out.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createStage, flowOf } from '../helpers/flows.js';
import { callAs, createUser, tokenFor } from '../groups/setup.js';

for (const dialect of dialects()) {
  describe(`flow diagram (${dialect})`, () => {
    let srv: TestServer;
    let flowPk: string;
    before(async () => {
      srv = await startServer(dialect);
      const stages = [];
      for (const name of ['dummy1', 'dummy2', 'dummy3']) stages.push(await createStage(srv, '/stages/dummy/', { name }));
      await flowOf(srv, 'diagram-flow', stages, { authentication: 'require_authenticated' });
      const flow = (await call(srv, 'GET', '/flows/instances/diagram-flow/')).body;
      flowPk = flow.pk;
      const policy = async (name: string) => (await call(srv, 'POST', '/policies/dummy/', { name, result: false })).body.pk;
      const bind = async (target: string, name: string, order: number) => {
        const r = await call(srv, 'POST', '/policies/bindings/', { target, policy: await policy(name), order });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      };
      await bind(flow.policybindingmodel_ptr_id, 'fp', 5);
      const bindings = (await call(srv, 'GET', `/flows/bindings/?target=${flow.pk}&ordering=order`)).body.results;
      await bind(bindings[1].policybindingmodel_ptr_id, 'sp', 0);
      // a user binding is no policy: not drawn
      assert.equal(
        (await call(srv, 'POST', '/policies/bindings/', { target: bindings[2].policybindingmodel_ptr_id, user: 1, order: 0 })).status,
        201,
      );
    });
    after(async () => srv.close());

    it('draws the requirement, the flow policies and the stage policies with their edges, as authentik', async () => {
      const r = await call(srv, 'GET', '/flows/instances/diagram-flow/diagram/');
      assert.equal(r.status, 200);
      assert.equal(
        r.body.diagram,
        [
          'graph TD',
          'flow_auth_requirement["Flow authentication requirement\nrequire_authenticated"]',
          'flow_auth_requirement --Requirement not fulfilled--> done[["End of the flow"]]',
          'flow_auth_requirement --Requirement fulfilled--> flow_start["placeholder"]',
          'flow_pre[["Pre-flow policies"]]',
          'flow_pre --Binding 5--> flow_policy_0{{"Policy (Dummy Policy)\nfp"}}',
          'flow_policy_0 --Policy denied--> done[["End of the flow"]]',
          'flow_policy_0 --> flow_start[["Flow\ndiagram-flow"]]',
          '--> stage_0(["Stage (Dummy Stage)\ndummy1"])',
          'stage_1_policy_0 --Policy passed--> stage_1(["Stage (Dummy Stage)\ndummy2"])',
          '--> stage_2(["Stage (Dummy Stage)\ndummy3"])',
          'stage_0 --> stage_1_policy_0{{"Policy (Dummy Policy)\nsp"}}',
          'stage_1_policy_0 --Policy denied--> stage_2(["Stage (Dummy Stage)\ndummy3"])',
          'stage_2 --> done[["End of the flow"]]',
        ].join('\n'),
      );
    });

    it('leaves out the bindings the caller may not view', async () => {
      const user = await createUser(srv, 'diagram-viewer');
      const token = await tokenFor(srv, user, 'diagram-viewer-key-0123456789abcdefghij');
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: 'diagram-viewers' })).body.pk;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: user })).status, 204);
      const assign = async (permissions: string[], object_pk?: string) => {
        const r = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, {
          permissions,
          ...(object_pk ? { model: 'authentik_flows.flow', object_pk } : {}),
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      };
      await assign(['authentik_flows.view_flow'], flowPk);
      const bare = await callAs(srv, token, 'GET', '/flows/instances/diagram-flow/diagram/');
      assert.equal(bare.status, 200, JSON.stringify(bare.body));
      assert.doesNotMatch(bare.body.diagram, /stage_|flow_policy/);
      assert.match(bare.body.diagram, /^flow_start\[\["Flow\ndiagram-flow"\]\]\nflow_start --> done\[\["End of the flow"\]\]$/m);

      await assign(['authentik_flows.view_flowstagebinding']);
      const stages = (await callAs(srv, token, 'GET', '/flows/instances/diagram-flow/diagram/')).body.diagram;
      assert.match(stages, /\n--> stage_1\(\["Stage \(Dummy Stage\)\ndummy2"\]\)/);
      assert.doesNotMatch(stages, /policy/i);

      await assign(['authentik_policies.view_policybinding']);
      const all = (await callAs(srv, token, 'GET', '/flows/instances/diagram-flow/diagram/')).body.diagram;
      assert.equal(all, (await call(srv, 'GET', '/flows/instances/diagram-flow/diagram/')).body.diagram);
    });
  });
}
