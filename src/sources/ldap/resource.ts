/**
 * /sources/ldap/ (authentik's LDAPSourceViewSet) with `debug/` and `sync/status/`. The base row is in `sources`, the
 * LDAP settings in `ldap_sources`; the bind password is sealed at rest and never returned. Saving a source asks for
 * a sync and a connectivity check at once (authentik's `send_on_save`), which the scheduler runs (scheduler.ts).
 */
import { checkPasswordComplexity } from './password-complexity.js';
import { AGGREGATED } from '../../tasks/tasks.js';
import { sql } from 'kysely';
import type { FilterSpec } from '../../rest/list.js';
import { mountResource, type ResourceDef, type WriteCtx } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { apiToRow, nowIso } from '../../rest/serialize.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, NotFound, ValidationError } from '../../rest/errors.js';
import { can } from '../../rbac/check.js';
import type { ColumnReference } from '../../rest/references.js';
import { secretsOf } from '../../instance/secrets.js';
import type { DB } from '../../db/index.js';
import type { Services } from '../../services.js';
import { baseSourceProps } from '../schema.js';
import {
  baseFilters,
  checkMappings,
  columnDefaults,
  flowRef,
  type JsonListReference,
  sourceKeyPairReferences,
  typedSourceResource,
} from '../resource.js';
import { type SourceTypeDef, typeCreate } from '../kinds.js';
import { LDAP_COLUMNS, ldapSourceProps } from './schema.js';
import { BIND_PASSWORD_FIELD, serversOf, withConnection } from './connect.js';
import { searchAll, underBase } from './entries.js';
import type { LdapSourceRow } from './sync.js';

const KIND = 'ldapsource';
const MAPPING_KIND = 'ldapsourcepropertymapping';
const _props = { ...baseSourceProps, ...ldapSourceProps };

function ldapColumns(db: DB, data: Record<string, unknown>) {
  const own: Record<string, unknown> = {};
  for (const c of LDAP_COLUMNS) if (data[c] !== undefined) own[c] = data[c];
  const cols = apiToRow(ldapSourceProps, own);
  if (typeof cols.bind_password === 'string') cols.bind_password = secretsOf(db).seal(BIND_PASSWORD_FIELD, cols.bind_password as string);
  return cols;
}

/** authentik's LDAPSourceSerializer.validate */
async function validate(data: Record<string, unknown>, ctx: WriteCtx, existing?: LdapSourceRow) {
  await checkMappings(ctx.db, data, MAPPING_KIND);
  if (typeof data.server_uri === 'string') {
    const servers = serversOf(data.server_uri);
    const bad = servers.length === 0 || servers.some((u) => !/^ldaps?:\/\/[^/\s]+\/?$/i.test(u) || !URL.canParse(u));
    if (bad) throw ValidationError.field('server_uri', 'Enter a valid URL.');
  }
  const syncPassword = data.sync_users_password ?? (existing ? !!existing.sync_users_password : true);
  if (syncPassword === true) {
    let q = ctx.db.selectFrom('ldap_sources').select('source_uuid').where('sync_users_password', '=', 1);
    if (existing) q = q.where('source_uuid', '<>', existing.source_uuid);
    if (await q.executeTakeFirst())
      throw ValidationError.field('sync_users_password', 'Only a single LDAP Source with password synchronization is allowed');
  }
}

/** the sources using any of the given user (or group) mappings */
const mappingFilter = (kind: 'user' | 'group'): FilterSpec => ({
  type: 'm2m',
  ref: { table: 'property_mappings', column: 'pm_uuid' },
  exists: (eb, ids) =>
    eb.exists(
      eb
        .selectFrom('source_property_mappings as spm')
        .select(sql`1`.as('one'))
        .whereRef('spm.source_uuid', '=', 's.source_uuid' as never)
        .where('spm.kind', '=', kind)
        .where('spm.pm_uuid', 'in', ids as string[]),
    ),
});

export function ldapSourceResource(
  lists: () => JsonListReference[],
  columns: () => ColumnReference[],
  saved: () => void,
): ResourceDef<LdapSourceRow> {
  const own = (c: string) => ({ type: 'str' as const, column: `l.${c}` });
  const flag = (c: string) => ({ type: 'bool' as const, column: `l.${c}` });
  // (saving asks for a sync and a connectivity check now)
  const requestSync = () => ({ sync_requested: nowIso(), connectivity_checked: null });
  return typedSourceResource<LdapSourceRow>({
    type: 'ldap',
    label: 'LDAP',
    table: 'ldap_sources',
    alias: 'l',
    props: ldapSourceProps,
    filters: {
      ...baseFilters,
      enabled: { type: 'bool', column: 's.enabled' },
      server_uri: own('server_uri'),
      bind_cn: own('bind_cn'),
      base_dn: own('base_dn'),
      additional_user_dn: own('additional_user_dn'),
      additional_group_dn: own('additional_group_dn'),
      user_object_filter: own('user_object_filter'),
      group_object_filter: own('group_object_filter'),
      group_membership_field: own('group_membership_field'),
      user_membership_attribute: own('user_membership_attribute'),
      object_uniqueness_field: own('object_uniqueness_field'),
      peer_certificate: { type: 'fk', column: 'l.peer_certificate', ref: { table: 'crypto_certificatekeypairs', column: 'kp_uuid' } },
      client_certificate: { type: 'fk', column: 'l.client_certificate', ref: { table: 'crypto_certificatekeypairs', column: 'kp_uuid' } },
      sync_parent_group: { type: 'fk', column: 'l.sync_parent_group', ref: { table: 'groups', column: 'group_uuid' } },
      start_tls: flag('start_tls'),
      sni: flag('sni'),
      sync_users: flag('sync_users'),
      sync_users_password: flag('sync_users_password'),
      sync_groups: flag('sync_groups'),
      password_login_update_internal_password: flag('password_login_update_internal_password'),
      lookup_groups_from_user: flag('lookup_groups_from_user'),
      delete_not_found_objects: flag('delete_not_found_objects'),
      sync_group_hierarchy: flag('sync_group_hierarchy'),
      sync_outgoing_trigger_mode: { type: 'enum', column: 'l.sync_outgoing_trigger_mode', values: ['none', 'immediate', 'deferred_end'] },
      authentication_flow: { type: 'fk', column: 's.authentication_flow', ref: flowRef },
      enrollment_flow: { type: 'fk', column: 's.enrollment_flow', ref: flowRef },
      user_property_mappings: mappingFilter('user'),
      group_property_mappings: mappingFilter('group'),
    },
    icon: '/static/authentik/sources/ldap.png',
    hidden: ['bind_password'],
    extra: (r, out) => {
      out.connectivity = r.connectivity ? JSON.parse(r.connectivity) : null;
    },
    validate,
    afterWrite: async () => saved(),
    afterRemove: async () => saved(),
    writes: { columns: ldapColumns, defaults: columnDefaults(ldapSourceProps, LDAP_COLUMNS), stamp: requestSync },
    lists,
    references: columns,
  });
}

async function sourceBySlug(svc: Services, req: Parameters<typeof requireCaller>[0]): Promise<LdapSourceRow> {
  const caller = requireCaller(req);
  const slug = (req.params as { slug: string }).slug;
  const row = (await svc.db
    .selectFrom('sources as s')
    .innerJoin('ldap_sources as l', 'l.source_uuid', 's.source_uuid')
    .selectAll('s')
    .selectAll('l')
    .select('s.source_uuid as pk')
    .where('s.kind', '=', KIND)
    .where('s.slug', '=', slug)
    .executeTakeFirst()) as LdapSourceRow | undefined;
  if (!row) throw NotFound.plain();
  if (!(await can(svc.db, caller, 'authentik_sources_ldap.view_ldapsource', row.source_uuid))) throw Forbidden.permission();
  return row;
}

export function mountLdapSource(
  router: ApiRouter,
  svc: Services,
  lists: () => JsonListReference[],
  columns: () => ColumnReference[],
  saved: () => void,
) {
  // (a password chosen in a prompt stage is asked of the directory's complexity rule)
  checkPasswordComplexity(svc);
  const slugParam = [{ name: 'slug', schema: { type: 'string', description: 'Internal source name, used in URLs.' } }];
  router.component('TaskAggregatedStatusEnum', { type: 'string', enum: [...AGGREGATED] });
  router.component('SyncStatus', {
    type: 'object',
    description: 'Provider/source sync status',
    properties: {
      is_running: { type: 'boolean' },
      last_successful_sync: { type: 'string', format: 'date-time' },
      last_sync_status: { $ref: '#/components/schemas/TaskAggregatedStatusEnum' },
    },
    required: ['is_running'],
  } as never);
  router.route(
    '/sources/ldap/{slug}/sync/status',
    {
      get: {
        doc: { operationId: 'sources_ldap_sync_status_retrieve', tag: 'sources', response: 'SyncStatus' },
        handler: async (req) => {
          const row = await sourceBySlug(svc, req);
          const running = !!row.sync_claimed_until && row.sync_claimed_until > nowIso();
          return {
            is_running: running,
            ...(row.last_successful_sync ? { last_successful_sync: row.last_successful_sync } : {}),
            ...(row.last_sync_status
              ? { last_sync_status: running ? 'running' : row.last_sync_status }
              : running
                ? { last_sync_status: 'running' }
                : {}),
          };
        },
      },
    },
    slugParam,
  );
  router.route(
    '/sources/ldap/{slug}/debug',
    {
      get: {
        doc: { operationId: 'sources_ldap_debug_retrieve', tag: 'sources', response: 'LDAPDebug' },
        handler: async (req) => {
          const row = await sourceBySlug(svc, req);
          const shown = (entries: { dn: string; attributes: Record<string, unknown> }[]) =>
            entries.slice(0, 10).map((e) => ({ dn: e.dn, attributes: e.attributes, type: 'searchResEntry' }));
          try {
            return await withConnection(svc.db, row, async ({ client }) => {
              const users = row.sync_users
                ? await searchAll(client, underBase(row.additional_user_dn, row.base_dn), row.user_object_filter)
                : [];
              const groups = row.sync_groups
                ? await searchAll(client, underBase(row.additional_group_dn, row.base_dn), row.group_object_filter)
                : [];
              const membership = row.sync_groups
                ? await searchAll(client, underBase(row.additional_group_dn, row.base_dn), row.group_object_filter, [
                    row.group_membership_field,
                    row.object_uniqueness_field,
                    'distinguishedName',
                  ])
                : [];
              return { user: shown(users), group: shown(groups), membership: shown(membership) };
            });
          } catch (e) {
            throw ValidationError.nonField(`Failed to query the directory: ${e instanceof Error ? e.message : String(e)}`);
          }
        },
      },
    },
    slugParam,
  );
  router.component('LDAPDebug', {
    type: 'object',
    properties: {
      user: { type: 'array', items: { type: 'object', additionalProperties: {} }, readOnly: true },
      group: { type: 'array', items: { type: 'object', additionalProperties: {} }, readOnly: true },
      membership: { type: 'array', items: { type: 'object', additionalProperties: {} }, readOnly: true },
    },
    required: ['group', 'membership', 'user'],
  } as never);
  mountResource(router, svc.db, ldapSourceResource(lists, columns, saved));
}

/**
 * The key pairs an LDAP source names (the pairs' `used_by`). Deleting its peer certificate also disables the source:
 * it would otherwise go on binding without verifying the server (authentik's SET_NULL; fail closed here).
 */
export const ldapKeyPairReferences = (): ColumnReference[] =>
  sourceKeyPairReferences('ldap', 'ldap_sources', ['peer_certificate', 'client_certificate'], 'peer_certificate');

export const ldapSourceType: SourceTypeDef = {
  type: 'ldap',
  label: 'LDAP',
  creatable: () => [typeCreate(ldapSourceType, 'Federate LDAP Directory with authentik, or create new accounts in LDAP.', 'ldap.png')],
  mount: (router, svc, refs) => mountLdapSource(router, svc, refs.lists, refs.columns, refs.saved),
  keyPairReferences: ldapKeyPairReferences,
  secretColumns: [{ table: 'ldap_sources', pk: 'source_uuid', column: 'bind_password' }],
};
