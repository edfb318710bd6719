/**
 * The OAuth2/OpenID provider as the protocol reads it: one object per provider with its application, the client
 * secret decrypted, kept in the admin cache (src/db/admin-cache.ts) until the next configuration change.
 */
import type {} from '../table.js';
import type {} from './table.js';
import type {} from '../../applications/table.js';
import type { Services } from '../../services.js';
import type { DB } from '../../db/index.js';
import { applicationOfRow } from '../base.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import { secretsOf } from '../../instance/secrets.js';

export interface RedirectUri {
  matching_mode: 'strict' | 'regex';
  url: string;
  redirect_uri_type: 'authorization' | 'logout';
}

export interface OAuth2Provider {
  id: number;
  name: string;
  authentication_flow: string | null;
  authorization_flow: string;
  invalidation_flow: string | null;
  client_type: 'confidential' | 'public';
  client_id: string;
  /** decrypted */
  client_secret: string;
  grant_types: string[];
  redirect_uris: RedirectUri[];
  include_claims_in_id_token: boolean;
  /** crypto_certificatekeypairs.kp_uuid */
  signing_key: string | null;
  encryption_key: string | null;
  /** authentik durations (`hours=1;minutes=2`) */
  access_code_validity: string;
  access_token_validity: string;
  refresh_token_validity: string;
  refresh_token_threshold: string;
  sub_mode: 'hashed_user_id' | 'user_id' | 'user_uuid' | 'user_username' | 'user_email' | 'user_upn';
  issuer_mode: 'global' | 'per_provider';
  logout_uri: string;
  logout_method: 'backchannel' | 'frontchannel';
  /** pm_uuids (scope mappings) */
  property_mappings: string[];
  /** ids of the OAuth2 providers whose access tokens this one accepts as client assertions */
  jwt_federation_providers: number[];
  /** source_uuids of the sources whose JWKS keys sign client assertions this one accepts */
  jwt_federation_sources: string[];
  application: { slug: string; name: string; pbm_uuid: string; policy_engine_mode: 'any' | 'all' } | null;
}

const json = <T>(v: unknown, fallback: T): T => {
  if (typeof v !== 'string') return (v as T) ?? fallback;
  try {
    return JSON.parse(v) as T;
  } catch {
    return fallback;
  }
};

async function load(
  db: DB,
  where: { column: 'p.id' | 'o.client_id' | 'a.slug'; value: string | number },
): Promise<OAuth2Provider | undefined> {
  const row = await db
    .selectFrom('providers as p')
    .innerJoin('provider_oauth2 as o', 'o.provider_id', 'p.id')
    .leftJoin('applications as a', 'a.provider', 'p.id')
    .select([
      'p.id',
      'p.name',
      'p.authentication_flow',
      'p.authorization_flow',
      'p.invalidation_flow',
      'o.client_type',
      'o.client_id',
      'o.client_secret',
      'o.grant_types',
      'o.redirect_uris',
      'o.include_claims_in_id_token',
      'o.signing_key',
      'o.encryption_key',
      'o.access_code_validity',
      'o.access_token_validity',
      'o.refresh_token_validity',
      'o.refresh_token_threshold',
      'o.sub_mode',
      'o.issuer_mode',
      'o.logout_uri',
      'o.logout_method',
      'o.jwt_federation_providers',
      'o.jwt_federation_sources',
      'a.slug as app_slug',
      'a.name as app_name',
      'a.pbm_uuid as app_pbm_uuid',
      'a.policy_engine_mode as app_mode',
    ])
    .where(where.column, '=', where.value as never)
    .executeTakeFirst();
  if (!row) return undefined;
  const mappings = await db
    .selectFrom('provider_property_mappings')
    .select('pm_uuid')
    .where('provider_id', '=', row.id)
    .orderBy('pm_uuid')
    .execute();
  return {
    id: Number(row.id),
    name: row.name,
    authentication_flow: row.authentication_flow,
    // (an OAuth2 provider always has one: its API requires it)
    authorization_flow: row.authorization_flow ?? '',
    invalidation_flow: row.invalidation_flow,
    client_type: row.client_type === 'public' ? 'public' : 'confidential',
    client_id: row.client_id,
    client_secret: row.client_secret ? secretsOf(db).open('provider_oauth2.client_secret', row.client_secret) : '',
    grant_types: json<string[]>(row.grant_types, []),
    redirect_uris: json<RedirectUri[]>(row.redirect_uris, []).map((u) => ({
      matching_mode: u.matching_mode === 'regex' ? 'regex' : 'strict',
      url: u.url,
      redirect_uri_type: u.redirect_uri_type === 'logout' ? 'logout' : 'authorization',
    })),
    include_claims_in_id_token: row.include_claims_in_id_token === true || row.include_claims_in_id_token === 1,
    signing_key: row.signing_key,
    encryption_key: row.encryption_key,
    access_code_validity: row.access_code_validity,
    access_token_validity: row.access_token_validity,
    refresh_token_validity: row.refresh_token_validity,
    refresh_token_threshold: row.refresh_token_threshold,
    sub_mode: row.sub_mode as OAuth2Provider['sub_mode'],
    issuer_mode: row.issuer_mode === 'global' ? 'global' : 'per_provider',
    logout_uri: row.logout_uri,
    logout_method: row.logout_method === 'frontchannel' ? 'frontchannel' : 'backchannel',
    property_mappings: mappings.map((m) => m.pm_uuid),
    jwt_federation_providers: json<unknown[]>(row.jwt_federation_providers, []).map(Number).filter(Number.isInteger),
    jwt_federation_sources: json<unknown[]>(row.jwt_federation_sources, []).filter((v): v is string => typeof v === 'string'),
    application: applicationOfRow(row),
  };
}

/** the provider a client authenticates as (its client_id) */
export function oauth2ProviderByClientId(svc: Pick<Services, 'db'>, clientId: string): Promise<OAuth2Provider | undefined> {
  return cachedAdminData(svc.db, `oauth2:client:${clientId}`, () => load(svc.db, { column: 'o.client_id', value: clientId }));
}

/** the provider of the application with this slug (`/application/o/<slug>/…`), if it is an OAuth2 provider */
export function oauth2ProviderByAppSlug(svc: Pick<Services, 'db'>, slug: string): Promise<OAuth2Provider | undefined> {
  return cachedAdminData(svc.db, `oauth2:app:${slug}`, () => load(svc.db, { column: 'a.slug', value: slug }));
}

export function oauth2ProviderById(svc: Pick<Services, 'db'>, id: number): Promise<OAuth2Provider | undefined> {
  return cachedAdminData(svc.db, `oauth2:id:${id}`, () => load(svc.db, { column: 'p.id', value: id }));
}
