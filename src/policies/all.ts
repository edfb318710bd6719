/** /policies/all/: every policy as a base Policy object, the creatable types, `test`, and the result cache's endpoints. */
import { LOG_EVENT_SCHEMA } from '../events/log-event.js';
import { can } from '../rbac/check.js';
import { requirePermission } from '../rbac/check.js';
import type { FastifyRequest } from 'fastify';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { requireCaller, type Caller } from '../rest/auth.js';
import { ValidationError } from '../rest/errors.js';
import { S } from '../rest/schema.js';
import { validateBody } from '../rest/validate.js';
import { userById } from '../users/by-id.js';
import type { Services } from '../services.js';
import type { PoliciesTable } from './table.js';
import { basePolicyProps, policyUsedBy, PROMPT_VALIDATION_POLICIES, renderBasePolicies } from './base.js';
import { policyTypeByKind, policyTypes } from './registry.js';
import { httpOf } from './request.js';

type Row = PoliciesTable & { pk: string };

const allProps = { ...basePolicyProps, name: S.ro(S.text()) };

export const allPoliciesResource: ResourceDef<Row> = {
  component: 'Policy',
  model: 'Policy',
  path: '/policies/all',
  opPrefix: 'policies_all',
  tag: 'policies',
  lookup: { param: 'policy_uuid', column: 'policy_uuid', type: 'uuid' },
  props: allProps,
  ops: ['list', 'retrieve', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_policies.policy', verbose: 'Policy' },
  list: {
    filters: {
      // policies bound nowhere
      bindings__isnull: {
        type: 'custom',
        parse: (values) => {
          const v = values.at(-1)?.toLowerCase();
          if (v === undefined || v === '') return { cond: undefined };
          const none = v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : undefined;
          if (none === undefined) return { error: ['Enter a valid boolean.'] };
          return {
            cond: (eb) => {
              const bound = eb.exists(
                eb
                  .selectFrom('policy_bindings as pb')
                  .select('pb.policy')
                  .whereRef('pb.policy', '=', 'policies.policy_uuid' as never),
              );
              return none ? eb.not(bound) : bound;
            },
          };
        },
        schema: { type: 'boolean' },
      },
      // policies no prompt stage validates with (true), or that one does (false)
      promptstage__isnull: {
        type: 'custom',
        parse: (values) => {
          const v = values.at(-1)?.toLowerCase();
          if (v === undefined || v === '') return { cond: undefined };
          const none = v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : undefined;
          if (none === undefined) return { error: ['Enter a valid boolean.'] };
          return {
            cond: (eb) => {
              const used = eb.exists(
                eb
                  .selectFrom(`${PROMPT_VALIDATION_POLICIES} as pv` as 'policy_bindings')
                  .select('pv.target' as 'policy_bindings.policy')
                  .whereRef('pv.target' as 'policy_bindings.policy', '=', 'policies.policy_uuid' as never),
              );
              return none ? eb.not(used) : used;
            },
          };
        },
        schema: { type: 'boolean' },
      },
    },
    search: ['name'],
    ordering: { name: 'name', pk: 'policy_uuid' },
    defaultOrdering: ['name'],
    pk: 'policy_uuid',
  },
  select: (db) => db.selectFrom('policies').selectAll().select('policy_uuid as pk'),
  render: (db, rows) => renderBasePolicies(db, rows, policyTypeByKind),
  remove: async (tx, row) => {
    await tx.deleteFrom('policies').where('policy_uuid', '=', row.policy_uuid).execute();
  },
  usedBy: (db, row) => policyUsedBy(db, row),
};

const testProps = {
  user: S.intFk({ table: 'users', column: 'id' }),
  context: S.obj({ default: {} }),
};

export function mountAllPolicies(router: ApiRouter, svc: Services) {
  router.route('/policies/all/types', {
    get: {
      doc: {
        operationId: 'policies_all_types_list',
        tag: 'policies',
        response: { type: 'array', items: { $ref: '#/components/schemas/TypeCreate' } },
      },
      handler: async (req) => {
        // any logged-in caller, as authentik's TypesMixin
        requireCaller(req);
        return policyTypes
          .map((d) => ({
            name: d.verboseName,
            description: d.description,
            component: d.component,
            model_name: d.kind,
            requires_enterprise: d.requiresEnterprise ?? false,
            deprecated: false,
          }))
          .sort((a, b) => a.name.localeCompare(b.name));
      },
    },
  });
  // Keystage keeps no policy results between requests (every check is evaluated afresh), so the cache is always empty
  router.route('/policies/all/cache_info', {
    get: {
      doc: { operationId: 'policies_all_cache_info_retrieve', tag: 'policies', response: 'Cache' },
      handler: async (req) => {
        await requirePermission(svc.db, req, 'authentik_policies.view_policy_cache');
        return { count: 0 };
      },
    },
  });
  router.route('/policies/all/cache_clear', {
    post: {
      doc: { operationId: 'policies_all_cache_clear_create', tag: 'policies', status: 204 },
      handler: async (req, reply) => {
        await requirePermission(svc.db, req, 'authentik_policies.clear_policy_cache');
        reply.code(204);
        return reply.send();
      },
    },
  });
  const { load } = mountResource(router, svc.db, allPoliciesResource);
  router.route(
    '/policies/all/{policy_uuid}/test',
    {
      post: {
        doc: {
          operationId: 'policies_all_test_create',
          tag: 'policies',
          body: 'PolicyTestRequest',
          bodyRequired: true,
          response: 'PolicyTestResult',
        },
        handler: (req) => testPolicy(req, svc, load),
      },
    },
    [{ name: 'policy_uuid', schema: { type: 'string', format: 'uuid' } }],
  );
  router.component('PolicyTestRequest', {
    type: 'object',
    description: 'Test policy execution for a user with context',
    properties: { user: { type: 'integer' }, context: { type: 'object', additionalProperties: {} } },
    required: ['user'],
  });
  router.component('PolicyTestResult', {
    type: 'object',
    properties: {
      passing: { type: 'boolean' },
      messages: { type: 'array', items: { type: 'string' }, readOnly: true },
      log_messages: { type: 'array', items: { $ref: '#/components/schemas/LogEvent' }, readOnly: true },
    },
    required: ['log_messages', 'messages', 'passing'],
  });
  router.component('LogEvent', LOG_EVENT_SCHEMA);
}

/** runs one policy for a user and a context, with no side effects (authentik's `debug` request) */
async function testPolicy(
  req: FastifyRequest,
  svc: Services,
  load: (req: FastifyRequest, action?: string) => Promise<{ row: Row; caller: Caller }>,
) {
  // authentik's view_policy on the policy; Keystage also asks view_user on the user it runs for
  const { row, caller } = await load(req, 'view');
  const data = await validateBody(testProps, req.body, { mode: 'create', db: svc.db });
  if (!(await can(svc.db, caller, 'authentik_core.view_user', data.user as number)))
    throw ValidationError.field('user', `Invalid pk "${data.user}" - object does not exist.`);
  const user = await userById(svc.db, data.user as number);
  const r = await svc.policies.runPolicy(
    { uuid: row.policy_uuid, name: row.name, kind: row.kind },
    { user, http: httpOf(req), context: (data.context as Record<string, unknown>) ?? {}, debug: true },
  );
  return { passing: r.passing, messages: r.error ? [...r.messages, r.error] : r.messages, log_messages: r.log };
}
