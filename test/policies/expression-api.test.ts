/**
 * /policies/expression/ through the official client (create, retrieve, list, partial update, a syntax error), who
 * may write expressions and ask for a flow's explanation (superusers only: anyone else gets 403 and changes
 * nothing), and the explain operation in the served OpenAPI document with its response schema.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { PoliciesApi } from '@goauthentik/api/dist/apis/PoliciesApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body, failure } from '../rest/contract/client.js';

for (const dialect of dialects()) {
  describe(`expression policies API and authorization (${dialect})`, () => {
    let srv: TestServer;
    let api: PoliciesApi;
    let plainPk: number;
    let plainKey: string;
    before(async () => {
      srv = await startServer(dialect);
      api = new PoliciesApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      plainPk = await createUser(srv, 'plain', 'plain-password-1');
      const t = await call(srv, 'POST', '/core/tokens/', { identifier: 'plain-token', intent: 'api', user: plainPk });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      plainKey = (await call(srv, 'GET', '/core/tokens/plain-token/view_key/')).body.key;
    });
    after(async () => srv.close());

    it('create, retrieve, list and partially update an expression policy (official client, authentik’s schema)', async () => {
      const created = await body(
        api.policiesExpressionCreateRaw({ expressionPolicyRequest: { name: 'api-expr', expression: 'return request.user.is_active' } }),
      );
      assertMatches('ExpressionPolicy', created);
      assert.equal(created.name, 'api-expr');
      assert.equal(created.expression, 'return request.user.is_active');
      assert.equal(created.execution_logging, false);
      assert.equal(created.component, 'ak-policy-expression-form');
      assert.equal(created.meta_model_name, 'authentik_policies_expression.expressionpolicy');
      assert.equal(created.bound_to, 0);

      const read = await body(api.policiesExpressionRetrieveRaw({ policyUuid: created.pk }));
      assertMatches('ExpressionPolicy', read);
      assert.deepEqual(read, created);

      const list = await body(api.policiesExpressionListRaw({ name: 'api-expr' }));
      assertMatches('PaginatedExpressionPolicyList', list);
      assert.deepEqual(
        list.results.map((p: { pk: string }) => p.pk),
        [created.pk],
      );

      const patched = await body(
        api.policiesExpressionPartialUpdateRaw({
          policyUuid: created.pk,
          patchedExpressionPolicyRequest: { expression: 'return False', executionLogging: true },
        }),
      );
      assertMatches('ExpressionPolicy', patched);
      assert.deepEqual([patched.expression, patched.execution_logging, patched.name], ['return False', true, 'api-expr']);

      const bad = await failure(
        api.policiesExpressionPartialUpdate({ policyUuid: created.pk, patchedExpressionPolicyRequest: { expression: 'return (' } }),
      );
      assert.equal(bad.status, 400);
      assert.match(bad.body.expression[0], /^Expression Syntax Error: .*\(line 1\)$/);
      assert.equal((await body(api.policiesExpressionRetrieveRaw({ policyUuid: created.pk }))).expression, 'return False', 'unchanged');
    });

    it('a user who is not a superuser gets 403 on writing expressions and on explain, and changes nothing', async () => {
      const as = { authorization: `Bearer ${plainKey}` };
      assert.equal((await call(srv, 'GET', '/core/users/me/', undefined, as)).status, 200, 'the token authenticates');
      const existing = (await call(srv, 'POST', '/policies/expression/', { name: 'authz-expr', expression: 'return True' })).body;

      const post = await call(srv, 'POST', '/policies/expression/', { name: 'sneaky', expression: 'return True' }, as);
      assert.equal(post.status, 403, JSON.stringify(post.body));
      assert.equal((await call(srv, 'GET', '/policies/expression/?name=sneaky')).body.pagination.count, 0, 'nothing created');

      for (const method of ['PATCH', 'PUT'] as const) {
        const r = await call(srv, method, `/policies/expression/${existing.pk}/`, { name: 'authz-expr', expression: 'return False' }, as);
        assert.equal(r.status, 403, `${method}: ${JSON.stringify(r.body)}`);
      }
      assert.equal((await call(srv, 'GET', `/policies/expression/${existing.pk}/`)).body.expression, 'return True', 'nothing changed');
      assert.equal((await call(srv, 'DELETE', `/policies/expression/${existing.pk}/`, undefined, as)).status, 403);

      const explain = `/flows/instances/default-authentication-flow/explain/?user=${plainPk}`;
      const before = (await call(srv, 'GET', '/events/events/?page_size=1')).body.pagination.count;
      const denied = await call(srv, 'GET', explain, undefined, as);
      assert.equal(denied.status, 403, JSON.stringify(denied.body));
      assert.equal(JSON.stringify(denied.body).includes('stages'), false, 'no explanation in the refusal');
      assert.equal(
        (await call(srv, 'GET', '/events/events/?page_size=1')).body.pagination.count,
        before,
        'a refused explain records nothing',
      );
      // a superuser gets it
      const ok = await call(srv, 'GET', explain);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.user.pk, plainPk);
    });

    it('the served schema has the explain operation and its response schema', async () => {
      const r = await call(srv, 'GET', '/schema/?format=json');
      assert.equal(r.status, 200);
      const doc = typeof r.body === 'string' ? JSON.parse(r.body) : r.body;
      const op = doc.paths['/flows/instances/{slug}/explain/']?.get;
      assert.ok(
        op,
        Object.keys(doc.paths)
          .filter((p: string) => p.includes('explain'))
          .join(', ') || 'no explain path',
      );
      assert.equal(op.operationId, 'flows_instances_explain_retrieve');
      assert.ok(
        op.parameters.some((p: { name: string; in: string }) => p.name === 'user' && p.in === 'query'),
        'the user query parameter',
      );
      assert.ok(
        op.parameters.some((p: { name: string; in: string }) => p.name === 'slug' && p.in === 'path'),
        'the slug path parameter',
      );
      const schema = op.responses['200'].content['application/json'].schema;
      assert.equal(schema.$ref, '#/components/schemas/FlowExplanation');
      const component = doc.components.schemas.FlowExplanation;
      assert.ok(component, 'the FlowExplanation component');
      for (const key of ['user', 'applies', 'authentication', 'policies', 'messages', 'stages'])
        assert.ok(key in component.properties, `FlowExplanation.${key}`);
      const stage = component.properties.stages.items;
      for (const key of ['binding', 'stage', 'planned', 'runs', 'reason', 'policies'])
        assert.ok(key in stage.properties, `stages[].${key}`);
    });
  });
}
