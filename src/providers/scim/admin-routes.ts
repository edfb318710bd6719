/**
 * /providers/scim/{id}/sync/status/ (authentik's OutgoingSyncProviderStatusMixin: whether a full sync is running, the
 * last successful one and the last outcome) and /providers/scim/{id}/sync/object/ (one user or group synced now, its
 * messages; `override_dry_run` lets it write although the provider is in dry-run mode).
 */
import type { FastifyRequest } from 'fastify';
import type { ApiRouter } from '../../rest/routes.js';
import type { Services } from '../../services.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, NotFound, ValidationError } from '../../rest/errors.js';
import { can, hasGlobal, objectsWith } from '../../rbac/check.js';
import { scimProviderById, type ScimProvider } from './config.js';
import { ensureState } from './scheduler.js';
import { syncObject } from './sync.js';

const idParam = [{ name: 'id', schema: { type: 'integer', description: 'A unique integer value identifying this SCIM Provider.' } }];
const MODELS = { 'authentik.core.models.User': 'user', 'authentik.core.models.Group': 'group' } as const;

async function providerFor(svc: Services, req: FastifyRequest, perm: string): Promise<ScimProvider> {
  const caller = requireCaller(req);
  if (!(await hasGlobal(svc.db, caller, perm)) && !(await objectsWith(svc.db, caller, perm)).size) throw Forbidden.permission();
  const raw = (req.params as { id: string }).id;
  const p = /^\d{1,9}$/.test(raw) ? await scimProviderById(svc.db, Number(raw)) : undefined;
  if (!p || !(await can(svc.db, caller, perm, p.id))) throw NotFound.model('SCIMProvider');
  return p;
}

export function mountScimAdmin(router: ApiRouter, svc: Services) {
  router.route(
    '/providers/scim/{id}/sync/status',
    {
      get: {
        doc: { operationId: 'providers_scim_sync_status_retrieve', tag: 'providers', response: 'SyncStatus' },
        handler: async (req) => {
          const p = await providerFor(svc, req, 'authentik_providers_scim.view_scimprovider');
          await ensureState(svc.db, p.id);
          const s = await svc.db.selectFrom('scim_sync_state').selectAll().where('provider_id', '=', p.id).executeTakeFirstOrThrow();
          const running =
            (s.full_sync_running === 1 || s.full_sync_running === true) && !!s.claimed_until && s.claimed_until > new Date().toISOString();
          return {
            is_running: running || s.sync_requested !== null,
            ...(s.last_successful_sync ? { last_successful_sync: s.last_successful_sync } : {}),
            ...(s.last_sync_status ? { last_sync_status: s.last_sync_status } : {}),
          };
        },
      },
    },
    idParam,
  );
  router.component('SyncObjectRequest', {
    type: 'object',
    description: 'Sync object serializer',
    properties: {
      sync_object_model: { type: 'string', enum: Object.keys(MODELS) },
      sync_object_id: { type: 'string', minLength: 1 },
      override_dry_run: { type: 'boolean', default: false },
    },
    required: ['sync_object_id', 'sync_object_model'],
  });
  router.component('SyncObjectResult', {
    type: 'object',
    description: 'Result of a single object sync',
    properties: { messages: { type: 'array', items: { $ref: '#/components/schemas/LogEvent' }, readOnly: true } },
    required: ['messages'],
  });
  router.route(
    '/providers/scim/{id}/sync/object',
    {
      post: {
        doc: {
          operationId: 'providers_scim_sync_object_create',
          tag: 'providers',
          body: 'SyncObjectRequest',
          response: 'SyncObjectResult',
        },
        handler: async (req) => {
          const p = await providerFor(svc, req, 'authentik_providers_scim.change_scimprovider');
          const body = (req.body ?? {}) as Record<string, unknown>;
          const errors: Record<string, string[]> = {};
          const model = body.sync_object_model;
          if (model === undefined) errors.sync_object_model = ['This field is required.'];
          else if (typeof model !== 'string' || !(model in MODELS))
            errors.sync_object_model = [`"${String(model)}" is not a valid choice.`];
          const id = body.sync_object_id;
          if (id === undefined) errors.sync_object_id = ['This field is required.'];
          else if (typeof id !== 'string' || !id.trim()) errors.sync_object_id = ['This field may not be blank.'];
          if (body.override_dry_run !== undefined && typeof body.override_dry_run !== 'boolean')
            errors.override_dry_run = ['Must be a valid boolean.'];
          if (Object.keys(errors).length) throw new ValidationError(errors);
          const kind = MODELS[model as keyof typeof MODELS];
          const key = String(id).trim();
          const exists =
            kind === 'user'
              ? /^\d{1,9}$/.test(key) && (await svc.db.selectFrom('users').select('id').where('id', '=', Number(key)).executeTakeFirst())
              : /^[0-9a-f-]{36}$/i.test(key) &&
                (await svc.db.selectFrom('groups').select('group_uuid').where('group_uuid', '=', key.toLowerCase()).executeTakeFirst());
          if (!exists) throw new ValidationError({ sync_object_id: ['Object does not exist.'] });
          const messages = await syncObject(svc, p, kind, kind === 'group' ? key.toLowerCase() : key, body.override_dry_run === true);
          return { messages };
        },
      },
    },
    idParam,
  );
}
