/**
 * `/providers/oauth2-dcr/` (authentik's OAuth2DynamicClientRegistrationViewSet): a provider's dynamic client
 * registration settings, which switch on `/application/o/<slug>/register/` for the provider's application
 * (register.ts). Each is a policy-binding target: its bindings are copied onto every application it registers.
 */
import type {} from './table.js';
import { randomUUID } from 'node:crypto';
import { targetUsedBy } from '../../../policies/base.js';
import { deleteBindingsOf } from '../../../policies/targets.js';
import { mountResource, type ResourceDef } from '../../../rest/resource.js';
import type { ApiRouter } from '../../../rest/routes.js';
import { S } from '../../../rest/schema.js';
import type { Services } from '../../../services.js';
import { GRANT_TYPES } from '../schema.js';
import type { ProviderOAuth2DcrTable } from './table.js';

const MODES = ['all', 'any'] as const;

const dcrProps = {
  pbm_uuid: S.ro(S.uuid({ title: 'Pbm uuid' })),
  provider: S.intFk(
    { table: 'provider_oauth2', column: 'provider_id' },
    {
      'x-unique': {
        table: 'provider_oauth2_dcr',
        column: 'provider_id',
        self: 'pbm_uuid',
        message: 'OAuth2 Dynamic Client Registration with this Provider already exists.',
      },
    },
  ),
  default_application_group: S.text({ default: '', description: 'Group to assign to automatically created applications.' }),
  override_authorization_flow: S.fk(
    { table: 'flows', column: 'flow_uuid' },
    { default: null, description: 'Authorization flow applied to dynamically registered clients.' },
  ),
  override_invalidation_flow: S.fk({ table: 'flows', column: 'flow_uuid' }, { default: null }),
  override_property_mappings: S.m2m(
    { table: 'property_mappings', column: 'pm_uuid', kind: 'scopemapping' },
    { default: [], description: 'Scope mappings applied to dynamically registered clients.' },
  ),
  access_token_validity: S.duration({
    default: 'hours=1',
    description: 'Maximum access token validity for registered clients (Format: hours=1;minutes=2;seconds=3).',
  }),
  refresh_token_validity: S.duration({
    default: 'days=30',
    description: 'Maximum refresh token validity for registered clients (Format: hours=1;minutes=2;seconds=3).',
  }),
  allowed_grant_types: S.list(S.enumOf(GRANT_TYPES), { default: [], description: 'If empty, all grant types are allowed.' }),
  policy_engine_mode: S.enumOf(MODES, { default: 'any' }),
};

type Row = ProviderOAuth2DcrTable & { provider_name: string };

const list = (text: string): string[] => {
  try {
    const v = JSON.parse(text || '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
};

/** the columns a create or update sets from the validated body */
function columns(data: Record<string, unknown>): Partial<ProviderOAuth2DcrTable> {
  const set: Partial<ProviderOAuth2DcrTable> = {};
  if (data.provider !== undefined) set.provider_id = Number(data.provider);
  for (const k of [
    'default_application_group',
    'override_authorization_flow',
    'override_invalidation_flow',
    'access_token_validity',
    'refresh_token_validity',
    'policy_engine_mode',
  ] as const)
    if (data[k] !== undefined) (set as Record<string, unknown>)[k] = data[k];
  for (const k of ['override_property_mappings', 'allowed_grant_types'] as const)
    if (data[k] !== undefined) set[k] = JSON.stringify(data[k]);
  return set;
}

export const dcrResource: ResourceDef<Row> = {
  component: 'OAuth2DynamicClientRegistration',
  model: 'OAuth2 Dynamic Client Registration',
  path: '/providers/oauth2-dcr',
  opPrefix: 'providers_oauth2_dcr',
  tag: 'providers',
  lookup: { param: 'pbm_uuid', column: 'd.pbm_uuid', rowKey: 'pbm_uuid', type: 'uuid' },
  props: dcrProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_providers_oauth2.oauth2dynamicclientregistration', verbose: 'OAuth2 Dynamic Client Registration' },
  list: {
    filters: { provider: { type: 'int', column: 'd.provider_id' } },
    search: ['p.name'],
    ordering: { provider__name: 'p.name', pbm_uuid: 'd.pbm_uuid' },
    defaultOrdering: ['provider__name'],
    pk: 'd.pbm_uuid',
  },
  select: (db) =>
    db
      .selectFrom('provider_oauth2_dcr as d')
      .innerJoin('providers as p', 'p.id', 'd.provider_id')
      .selectAll('d')
      .select('p.name as provider_name'),
  render: async (_db, rows) =>
    rows.map((r) => ({
      pbm_uuid: r.pbm_uuid,
      provider: Number(r.provider_id),
      default_application_group: r.default_application_group,
      override_authorization_flow: r.override_authorization_flow,
      override_invalidation_flow: r.override_invalidation_flow,
      override_property_mappings: list(r.override_property_mappings),
      access_token_validity: r.access_token_validity,
      refresh_token_validity: r.refresh_token_validity,
      allowed_grant_types: list(r.allowed_grant_types),
      policy_engine_mode: r.policy_engine_mode === 'all' ? 'all' : 'any',
    })),
  insert: async (tx, data) => {
    const pbm_uuid = randomUUID();
    await tx
      .insertInto('provider_oauth2_dcr')
      .values({ pbm_uuid, ...(columns(data) as Omit<ProviderOAuth2DcrTable, 'pbm_uuid'>) })
      .execute();
    return pbm_uuid;
  },
  update: async (tx, existing, data) => {
    const set = columns(data);
    if (Object.keys(set).length) await tx.updateTable('provider_oauth2_dcr').set(set).where('pbm_uuid', '=', existing.pbm_uuid).execute();
    return existing.pbm_uuid;
  },
  remove: async (tx, existing) => {
    await deleteBindingsOf(tx, [existing.pbm_uuid]);
    await tx.deleteFrom('provider_oauth2_dcr').where('pbm_uuid', '=', existing.pbm_uuid).execute();
  },
  usedBy: (db, row) => targetUsedBy(db, row.pbm_uuid, `Dynamic client registration of ${row.provider_name}`),
};

export function mountDcrResource(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, dcrResource);
}
