/**
 * The WS-Federation provider as the protocol reads it, in the SAML provider's shape (authentik's WSFederationProvider
 * is a SAMLProvider: `reply_url` is its ACS URL, `wtrealm` its audience), kept in the admin cache.
 */
import type {} from '../table.js';
import type {} from './table.js';
import type {} from '../../applications/table.js';
import { sql } from 'kysely';
import type { DB } from '../../db/index.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import type { Services } from '../../services.js';
import { applicationOfRow, mappingsOf } from '../base.js';
import type { SamlProvider } from '../saml/index.js';

export interface WsfedProvider extends SamlProvider {
  saml_version: '1.1' | '2.0';
}

const bool = (v: unknown) => v === true || v === 1;

async function load(
  db: DB,
  where: { column: 'p.id' | 'a.slug' | 'w.wtrealm'; value: string | number },
): Promise<WsfedProvider | undefined> {
  const row = await db
    .selectFrom('providers as p')
    .innerJoin('provider_wsfed as w', 'w.provider_id', 'p.id')
    .leftJoin('applications as a', 'a.provider', 'p.id')
    .selectAll('w')
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
    // (a realm named by several providers: the first made that has an application; NULLs sort differently in the two
    // databases, hence the explicit order)
    .orderBy(sql`case when a.slug is null then 1 else 0 end`)
    .orderBy('p.id')
    .executeTakeFirst();
  if (!row) return undefined;
  const mappings = (await mappingsOf(db, [Number(row.id)])).get(Number(row.id)) ?? [];
  return {
    id: Number(row.id),
    name: row.name,
    authentication_flow: row.authentication_flow,
    authorization_flow: row.authorization_flow ?? '',
    invalidation_flow: row.invalidation_flow,
    acs_url: row.reply_url,
    audience: row.wtrealm,
    sls_url: '',
    issuer_override: '',
    assertion_valid_not_before: row.assertion_valid_not_before,
    assertion_valid_not_on_or_after: row.assertion_valid_not_on_or_after,
    session_valid_not_on_or_after: row.session_valid_not_on_or_after,
    name_id_mapping: row.name_id_mapping,
    authn_context_class_ref_mapping: row.authn_context_class_ref_mapping,
    digest_algorithm: row.digest_algorithm,
    signature_algorithm: row.signature_algorithm,
    signing_kp: row.signing_kp,
    verification_kp: null,
    encryption_kp: row.encryption_kp,
    sign_assertion: bool(row.sign_assertion),
    sign_response: false,
    sign_logout_request: bool(row.sign_logout_request),
    sign_logout_response: false,
    sp_binding: 'post',
    sls_binding: 'redirect',
    logout_method: 'frontchannel_iframe',
    default_relay_state: '',
    default_name_id_policy: row.default_name_id_policy,
    saml_version: row.saml_version === '1.1' ? '1.1' : '2.0',
    property_mappings: mappings,
    application: applicationOfRow(row),
  };
}

/** the provider a sign-in or sign-out names by its realm (`wtrealm`) */
export function wsfedProviderByRealm(svc: Pick<Services, 'db'>, realm: string): Promise<WsfedProvider | undefined> {
  return cachedAdminData(svc.db, `wsfed:realm:${realm}`, () => load(svc.db, { column: 'w.wtrealm', value: realm }));
}

export function wsfedProviderById(svc: Pick<Services, 'db'>, id: number): Promise<WsfedProvider | undefined> {
  return cachedAdminData(svc.db, `wsfed:id:${id}`, () => load(svc.db, { column: 'p.id', value: id }));
}

export function wsfedProviderByAppSlug(svc: Pick<Services, 'db'>, slug: string): Promise<WsfedProvider | undefined> {
  return cachedAdminData(svc.db, `wsfed:app:${slug}`, () => load(svc.db, { column: 'a.slug', value: slug }));
}
