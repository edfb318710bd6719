/**
 * PUT /core/transactional/applications/: authentik's application wizard — a provider, the application using it and
 * the application's policy bindings made together or not at all, as a blueprint of three kinds of entries, each
 * `must_created` (authentik's TransactionalApplicationView). An entry the models' validation refuses answers 400
 * with its field errors under the entry's name (`provider`, `app`); the caller needs the add permission of each
 * model (superusers have all).
 */
import type { FastifyRequest } from 'fastify';
import type { ApiRouter } from '../rest/routes.js';
import { ValidationError, type FieldErrors } from '../rest/errors.js';
import { requireCaller, type Caller } from '../rest/auth.js';
import type { DB } from '../db/index.js';
import type { Services } from '../services.js';
import type { Blueprint, BlueprintEntry } from './blueprint.js';
import { applyBlueprint, mayWrite } from './importer.js';
import { auditImport } from './routes.js';
import { isMap, keyOf } from './tags.js';

/** the wizard asks only for each model's add permission */
const mayAdd = (db: DB, caller: Caller, label: string) => mayWrite(db, caller, label, ['add']);

function entry(
  model: string,
  id: string | undefined,
  identifiers: Record<string, unknown>,
  attrs: Record<string, unknown>,
): BlueprintEntry {
  return { model, state: 'must_created', conditions: [], identifiers, attrs, permissions: [], id };
}

/** the request as a blueprint, or a 400 naming what is missing (DRF's messages) */
function blueprintOf(body: unknown, providerModels: string[]): Blueprint {
  if (!isMap(body))
    throw ValidationError.nonField(`Invalid data. Expected a dictionary, but got ${Array.isArray(body) ? 'list' : typeof body}.`);
  const errors: FieldErrors = {};
  if (body.app === undefined) errors.app = ['This field is required.'];
  else if (!isMap(body.app)) errors.app = { non_field_errors: ['Invalid data. Expected a dictionary, but got str.'] };
  if (body.provider_model === undefined) errors.provider_model = ['This field is required.'];
  else if (typeof body.provider_model !== 'string' || !providerModels.includes(body.provider_model))
    errors.provider_model = [`"${String(body.provider_model)}" is not a valid choice.`];
  if (body.provider === undefined) errors.provider = ['This field is required.'];
  else if (!isMap(body.provider)) errors.provider = ['Expected a dictionary of items but got type "str".'];
  const bindings = body.policy_bindings ?? [];
  if (!Array.isArray(bindings) || !bindings.every(isMap)) errors.policy_bindings = ['Expected a list of items but got type "str".'];
  if (Object.keys(errors).length) throw new ValidationError(errors);
  const provider = body.provider as Record<string, unknown>;
  const app: Record<string, unknown> = { ...(body.app as Record<string, unknown>), provider: keyOf('provider') };
  const entries = [
    entry(body.provider_model as string, 'provider', { name: provider.name ?? null }, provider),
    entry('authentik_core.application', 'app', { slug: app.slug ?? null }, app),
  ];
  for (const b of bindings as Record<string, unknown>[]) {
    const { order, policy, ...rest } = b;
    const identifiers: Record<string, unknown> = { target: keyOf('app'), order: order ?? null };
    if (policy !== undefined && policy !== null) identifiers.policy = policy;
    entries.push(entry('authentik_policies.policybinding', undefined, identifiers, rest));
  }
  return { version: 1, entries, context: {}, metadata: undefined };
}

export function mountTransactionalApplications(router: ApiRouter, svc: Services) {
  const providerModels = () => [...router.models.keys()].filter((l) => l.startsWith('authentik_providers_'));
  router.component('TransactionPolicyBindingRequest', {
    type: 'object',
    description: 'PolicyBindingSerializer which does not require target as target is set implicitly',
    properties: {
      policy: { type: 'string', format: 'uuid', nullable: true },
      group: { type: 'string', format: 'uuid', nullable: true },
      user: { type: 'integer', nullable: true },
      negate: { type: 'boolean', description: 'Negates the outcome of the policy. Messages are unaffected.' },
      enabled: { type: 'boolean' },
      order: { type: 'integer', maximum: 2147483647, minimum: -2147483648 },
      timeout: { type: 'integer', maximum: 2147483647, minimum: 0, description: 'Timeout after which Policy execution is terminated.' },
      failure_result: { type: 'boolean', description: 'Result if the Policy execution fails.' },
    },
    required: ['order'],
  });
  router.component('TransactionApplicationRequest', {
    type: 'object',
    description: 'Serializer for creating a provider and an application in one transaction',
    properties: {
      app: { $ref: '#/components/schemas/ApplicationRequest' },
      provider_model: { type: 'string', enum: providerModels() },
      provider: { oneOf: [{ $ref: '#/components/schemas/OAuth2ProviderRequest' }] },
      policy_bindings: { type: 'array', items: { $ref: '#/components/schemas/TransactionPolicyBindingRequest' } },
    },
    required: ['app', 'provider', 'provider_model'],
  });
  router.component('TransactionApplicationResponse', {
    type: 'object',
    description: 'Transactional creation response',
    properties: { applied: { type: 'boolean' }, logs: { type: 'array', items: { type: 'string' } } },
    required: ['applied', 'logs'],
  });
  router.route('/core/transactional/applications', {
    put: {
      doc: {
        operationId: 'core_transactional_applications_update',
        tag: 'core',
        body: 'TransactionApplicationRequest',
        bodyRequired: true,
        response: 'TransactionApplicationResponse',
      },
      handler: async (req: FastifyRequest, reply) => {
        const caller = requireCaller(req);
        const blueprint = blueprintOf(req.body, providerModels());
        for (const e of blueprint.entries)
          if (!(await mayAdd(svc.db, caller, e.model as string)))
            return reply.code(403).send({ [e.id ?? 'null']: `User lacks permission to create ${e.model as string}` });
        const result = await applyBlueprint(router.models, svc.db, blueprint, { caller, req, mayWrite: mayAdd });
        if (!result.success && result.failed)
          throw new ValidationError({
            [result.failed.id ?? 'non_field_errors']: (result.failed.errors as FieldErrors) ?? [result.failed.message],
          });
        await auditImport(req, result);
        return { applied: result.success, logs: [] };
      },
    },
  });
}
