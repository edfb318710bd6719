/**
 * The SAML provider as the protocol reads it: its settings, its attribute mappings and its application, kept in
 * the admin cache (src/db/admin-cache.ts) until the next configuration change.
 */
import type {} from '../table.js';
import type {} from './table.js';
import type {} from '../../applications/table.js';
import type { Services } from '../../services.js';
import type { DB } from '../../db/index.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import { applicationOfRow, mappingsOf } from '../base.js';
import type { ProviderSamlTable } from './table.js';

export interface SamlProvider
  extends Omit<ProviderSamlTable, 'provider_id' | 'sign_assertion' | 'sign_response' | 'sign_logout_request' | 'sign_logout_response'> {
  id: number;
  name: string;
  authentication_flow: string | null;
  authorization_flow: string;
  invalidation_flow: string | null;
  sign_assertion: boolean;
  sign_response: boolean;
  sign_logout_request: boolean;
  sign_logout_response: boolean;
  sp_binding: 'redirect' | 'post';
  sls_binding: 'redirect' | 'post';
  /** pm_uuids of its mappings */
  property_mappings: string[];
  application: { slug: string; name: string; pbm_uuid: string; policy_engine_mode: 'any' | 'all' } | null;
}

const bool = (v: unknown) => v === true || v === 1;

async function load(db: DB, where: { column: 'p.id' | 'a.slug'; value: string | number }): Promise<SamlProvider | undefined> {
  const row = await db
    .selectFrom('providers as p')
    .innerJoin('provider_saml as s', 's.provider_id', 'p.id')
    .leftJoin('applications as a', 'a.provider', 'p.id')
    .selectAll('s')
    .select([
      'p.id',
      'p.name',
      'p.authentication_flow',
      'p.authorization_flow',
      'p.invalidation_flow',
      'a.slug as app_slug',
      'a.name as app_name',
      'a.pbm_uuid as app_pbm_uuid',
      'a.policy_engine_mode as app_mode',
    ])
    .where(where.column, '=', where.value as never)
    .executeTakeFirst();
  if (!row) return undefined;
  const mappings = (await mappingsOf(db, [Number(row.id)])).get(Number(row.id)) ?? [];
  const { app_slug, app_name, app_pbm_uuid, app_mode, provider_id: _p, ...own } = row;
  return {
    ...own,
    id: Number(row.id),
    authorization_flow: row.authorization_flow ?? '',
    sign_assertion: bool(row.sign_assertion),
    sign_response: bool(row.sign_response),
    sign_logout_request: bool(row.sign_logout_request),
    sign_logout_response: bool(row.sign_logout_response),
    sp_binding: row.sp_binding === 'post' ? 'post' : 'redirect',
    sls_binding: row.sls_binding === 'post' ? 'post' : 'redirect',
    property_mappings: mappings,
    application: applicationOfRow({ app_slug, app_name, app_pbm_uuid, app_mode }),
  };
}

/** the SAML provider of the application with this slug (`/application/saml/<slug>/…`) */
export function samlProviderByAppSlug(svc: Pick<Services, 'db'>, slug: string): Promise<SamlProvider | undefined> {
  return cachedAdminData(svc.db, `saml:app:${slug}`, () => load(svc.db, { column: 'a.slug', value: slug }));
}

export function samlProviderById(svc: Pick<Services, 'db'>, id: number): Promise<SamlProvider | undefined> {
  return cachedAdminData(svc.db, `saml:id:${id}`, () => load(svc.db, { column: 'p.id', value: id }));
}
