/** The SCIM provider as the sync reads it: its settings (token opened), mappings and scope, read afresh each pass. */
import type {} from '../table.js';
import type {} from './table.js';
import type {} from '../../applications/table.js';
import type { ProviderApplication } from '../../applications/access.js';
import type { DB } from '../../db/index.js';
import { secretsOf } from '../../instance/secrets.js';
import { parseDuration } from '../../rest/duration.js';
import { mappingsOf } from '../base.js';
import type { CompatibilityMode } from './schema.js';

export interface ScimProvider {
  id: number;
  name: string;
  url: string;
  token: string;
  /** `token`: the token above; `oauth`: a token from the OAuth source `auth_oauth` with `auth_oauth_params` */
  auth_mode: 'token' | 'oauth';
  auth_oauth: string | null;
  auth_oauth_params: Record<string, string>;
  verify_certificates: boolean;
  compatibility_mode: CompatibilityMode;
  /** ServiceProviderConfig kept this long (ms; 0: asked each time) */
  spc_cache_ms: number;
  exclude_users_service_account: boolean;
  sync_page_size: number;
  sync_page_timeout_ms: number;
  discovery_enabled: boolean;
  dry_run: boolean;
  /** pm_uuids of the user mappings and the group mappings */
  property_mappings: string[];
  property_mappings_group: string[];
  /** group_uuids of the group filters (none: every group and user) */
  group_filters: string[];
  /** changes with its settings (the ServiceProviderConfig cache key) */
  last_updated: string;
  /** the application it is a backchannel provider of: its policies narrow the users pushed */
  application: ProviderApplication | null;
}

const bool = (v: unknown) => v === true || v === 1;

/** the extra grant parameters as form values (a number or boolean as its text) */
function paramsOf(json: string): Record<string, string> {
  try {
    const v = JSON.parse(json || '{}') as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]));
  } catch {
    return {};
  }
}

export async function scimProviderById(db: DB, id: number): Promise<ScimProvider | undefined> {
  const row = await db
    .selectFrom('providers as p')
    .innerJoin('provider_scim as s', 's.provider_id', 'p.id')
    .selectAll('s')
    .select(['p.id', 'p.name', 'p.last_updated'])
    .where('p.id', '=', id)
    .executeTakeFirst();
  if (!row) return undefined;
  const [mappings, links, app] = await Promise.all([
    mappingsOf(db, [id]),
    groupLinksOf(db, id),
    db
      .selectFrom('application_backchannel_providers as b')
      .innerJoin('applications as a', 'a.pbm_uuid', 'b.application')
      .select(['a.slug', 'a.name', 'a.pbm_uuid', 'a.policy_engine_mode'])
      .where('b.provider_id', '=', id)
      .executeTakeFirst(),
  ]);
  return {
    id: Number(row.id),
    name: row.name,
    url: row.url,
    token: row.token ? secretsOf(db).open('provider_scim.token', row.token) : '',
    auth_mode: row.auth_mode === 'oauth' ? 'oauth' : 'token',
    auth_oauth: row.auth_oauth,
    auth_oauth_params: paramsOf(row.auth_oauth_params),
    verify_certificates: bool(row.verify_certificates),
    compatibility_mode: row.compatibility_mode as CompatibilityMode,
    spc_cache_ms: parseDuration(row.service_provider_config_cache_timeout) ?? 3_600_000,
    exclude_users_service_account: bool(row.exclude_users_service_account),
    sync_page_size: Number(row.sync_page_size),
    sync_page_timeout_ms: parseDuration(row.sync_page_timeout) ?? 30 * 60_000,
    discovery_enabled: bool(row.discovery_enabled),
    dry_run: bool(row.dry_run),
    property_mappings: mappings.get(id) ?? [],
    ...links,
    last_updated: String(row.last_updated),
    application: app ? { ...app, policy_engine_mode: app.policy_engine_mode === 'all' ? 'all' : 'any' } : null,
  };
}

/** the provider's group mappings and group filters (its two link tables) */
export async function groupLinksOf(db: DB, id: number): Promise<{ property_mappings_group: string[]; group_filters: string[] }> {
  const maps = await db
    .selectFrom('scim_provider_group_mappings')
    .select('pm_uuid')
    .where('provider_id', '=', id)
    .orderBy('pm_uuid')
    .execute();
  const filters = await db
    .selectFrom('scim_provider_group_filters')
    .select('group_uuid')
    .where('provider_id', '=', id)
    .orderBy('group_uuid')
    .execute();
  return { property_mappings_group: maps.map((r) => r.pm_uuid), group_filters: filters.map((r) => r.group_uuid) };
}

/** every SCIM provider's id */
export async function scimProviderIds(db: DB): Promise<number[]> {
  return (await db.selectFrom('provider_scim').select('provider_id').orderBy('provider_id').execute()).map((r) => Number(r.provider_id));
}
