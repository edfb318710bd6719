import type {} from '../table.js';
import { randomInt } from 'node:crypto';
import { S } from '../../rest/schema.js';
import { ValidationError } from '../../rest/errors.js';
import type { ProviderDef } from '../types.js';
import { oauth2Migrations } from './migrations.js';

export const CLIENT_TYPES = ['confidential', 'public'] as const;
export const GRANT_TYPES = [
  'authorization_code',
  'implicit',
  'hybrid',
  'refresh_token',
  'client_credentials',
  'password',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
] as const;
/** what a provider allows when created without `grant_types`: every grant authentik offered before the setting existed */
export const DEFAULT_GRANT_TYPES = GRANT_TYPES.filter((g) => g !== 'urn:ietf:params:oauth:grant-type:token-exchange');
export const SUB_MODES = ['hashed_user_id', 'user_id', 'user_uuid', 'user_username', 'user_email', 'user_upn'] as const;
export const ISSUER_MODES = ['global', 'per_provider'] as const;
export const LOGOUT_METHODS = ['backchannel', 'frontchannel'] as const;
export const MATCHING_MODES = ['strict', 'regex'] as const;
export const REDIRECT_URI_TYPES = ['authorization', 'logout'] as const;

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** authentik's generate_id: letters and digits */
export const generateId = (length = 40) => Array.from({ length }, () => ALNUM[randomInt(ALNUM.length)]).join('');

const VALIDITY = 'Tokens not valid on or after current time + this value (Format: hours=1;minutes=2;seconds=3).';

export const oauth2Schema = {
  kind: 'oauth2provider',
  app: 'authentik_providers_oauth2',
  model: 'OAuth2Provider',
  path: 'oauth2',
  table: 'provider_oauth2',
  component: 'ak-provider-oauth2-form',
  verboseName: 'OAuth2/OpenID Provider',
  verboseNamePlural: 'OAuth2/OpenID Providers',
  description: 'OAuth2 Provider for generic OAuth and OpenID Connect Applications.',
  iconUrl: '/static/authentik/sources/openidconnect.svg',
  requiredBase: ['authorization_flow', 'invalidation_flow'],
  secretColumns: ['client_secret'],
  keyPairColumns: ['signing_key', 'encryption_key'],
  fields: {
    client_type: S.enumOf(CLIENT_TYPES, {
      default: 'confidential',
      description: 'Confidential clients are capable of maintaining the confidentiality of their credentials. Public clients are incapable',
    }),
    grant_types: S.list(S.enumOf(GRANT_TYPES), { default: [...DEFAULT_GRANT_TYPES] }),
    client_id: S.str({
      maxLength: 255,
      'x-optional': true,
      'x-unique': {
        table: 'provider_oauth2',
        column: 'client_id',
        self: 'provider_id',
        message: 'OAuth2/OpenID Provider with this Client ID already exists.',
      },
    }),
    client_secret: S.text({ maxLength: 255, 'x-optional': true, 'x-no-trim': true }),
    access_code_validity: S.duration({
      default: 'minutes=1',
      description: 'Access codes not valid on or after current time + this value (Format: hours=1;minutes=2;seconds=3).',
    }),
    access_token_validity: S.duration({ default: 'hours=1', description: VALIDITY }),
    refresh_token_validity: S.duration({ default: 'days=30', description: VALIDITY }),
    refresh_token_threshold: S.duration({
      default: 'seconds=0',
      description:
        'When refreshing a token, if the refresh token is valid for less than this duration, it will be renewed. When set to seconds=0, token will always be renewed. (Format: hours=1;minutes=2;seconds=3).',
    }),
    include_claims_in_id_token: S.bool({
      default: true,
      description: "Include User claims from scopes in the id_token, for applications that don't access the userinfo endpoint.",
    }),
    signing_key: S.fk(
      { table: 'crypto_certificatekeypairs', column: 'kp_uuid' },
      { default: null, description: 'Key used to sign the tokens.' },
    ),
    encryption_key: S.fk(
      { table: 'crypto_certificatekeypairs', column: 'kp_uuid' },
      { default: null, description: 'Key used to encrypt the tokens. When set, tokens will be encrypted and returned as JWEs.' },
    ),
    // objects, checked by `validate` (redirectUris)
    redirect_uris: S.list(
      S.obj({
        properties: {
          matching_mode: { type: 'string', enum: [...MATCHING_MODES] },
          url: { type: 'string' },
          redirect_uri_type: { type: 'string', enum: [...REDIRECT_URI_TYPES], default: 'authorization' },
        },
        required: ['matching_mode', 'url'],
        additionalProperties: false,
      }),
    ),
    logout_uri: S.text({ format: 'uri', default: '' }),
    logout_method: S.enumOf(LOGOUT_METHODS, {
      default: 'backchannel',
      description: 'Backchannel logs out with server to server calls. Frontchannel uses iframes in your browser',
    }),
    sub_mode: S.enumOf(SUB_MODES, {
      default: 'hashed_user_id',
      description: 'Configure what data should be used as unique User Identifier. For most cases, the default should be fine.',
    }),
    issuer_mode: S.enumOf(ISSUER_MODES, {
      default: 'per_provider',
      description: 'Configure how the issuer field of the ID Token should be filled.',
    }),
    jwt_federation_sources: S.m2m({ table: 'sources', column: 'source_uuid' }, { default: [] }),
    jwt_federation_providers: S.list(S.int(), { default: [] }),
  },
  generate: {
    client_id: () => generateId(40),
    client_secret: () => generateId(128),
  },
  filters: {
    client_type: { type: 'enum', column: 't.client_type', values: CLIENT_TYPES },
    client_id: { type: 'str', column: 't.client_id' },
    access_code_validity: { type: 'str', column: 't.access_code_validity' },
    access_token_validity: { type: 'str', column: 't.access_token_validity' },
    refresh_token_validity: { type: 'str', column: 't.refresh_token_validity' },
    include_claims_in_id_token: { type: 'bool', column: 't.include_claims_in_id_token' },
    signing_key: { type: 'uuid', column: 't.signing_key' },
    sub_mode: { type: 'enum', column: 't.sub_mode', values: SUB_MODES },
    issuer_mode: { type: 'enum', column: 't.issuer_mode', values: ISSUER_MODES },
  },
  migrations: oauth2Migrations,
} satisfies Omit<ProviderDef, 'validate'>;

/** authentik's RedirectURISerializer and `validate_redirect_uris`: the entries, cleaned, or field errors */
export function redirectUris(v: unknown): Record<string, unknown>[] {
  if (!Array.isArray(v))
    throw new ValidationError({ redirect_uris: [`Expected a list of items but got type "${typeof v === 'string' ? 'str' : 'dict'}".`] });
  const out: Record<string, unknown>[] = [];
  const errors: Record<string, string[]>[] = [];
  let bad = false;
  for (const item of v) {
    const e: Record<string, string[]> = {};
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      errors.push({
        non_field_errors: [
          `Invalid data. Expected a dictionary, but got ${Array.isArray(item) ? 'list' : typeof item === 'string' ? 'str' : item === null ? 'NoneType' : typeof item === 'boolean' ? 'bool' : 'int'}.`,
        ],
      });
      bad = true;
      continue;
    }
    const i = item as Record<string, unknown>;
    const mode = i.matching_mode;
    if (mode === undefined) e.matching_mode = ['This field is required.'];
    else if (typeof mode !== 'string' || !(MATCHING_MODES as readonly string[]).includes(mode))
      e.matching_mode = [`"${String(mode)}" is not a valid choice.`];
    const url = i.url;
    if (url === undefined) e.url = ['This field is required.'];
    else if (url === null) e.url = ['This field may not be null.'];
    else if (typeof url !== 'string' && typeof url !== 'number') e.url = ['Not a valid string.'];
    else if (String(url).trim() === '') e.url = ['This field may not be blank.'];
    const type = i.redirect_uri_type ?? 'authorization';
    if (typeof type !== 'string' || !(REDIRECT_URI_TYPES as readonly string[]).includes(type))
      e.redirect_uri_type = [`"${String(type)}" is not a valid choice.`];
    errors.push(e);
    if (Object.keys(e).length) bad = true;
    else out.push({ matching_mode: mode, url: String(url).trim(), redirect_uri_type: type });
  }
  if (bad) throw new ValidationError({ redirect_uris: errors as never });
  for (const entry of out) {
    if (entry.matching_mode !== 'regex') continue;
    try {
      new RegExp(entry.url as string);
    } catch {
      throw new ValidationError({ redirect_uris: [`Invalid Regex Pattern: ${entry.url as string}`] });
    }
  }
  return out;
}

/**
 * jwt_federation_providers: OAuth2 providers whose access tokens this one accepts as client assertions (authentik's
 * PrimaryKeyRelatedField over OAuth2Provider: an id that is not one is refused with DRF's message).
 * `jwt_federation_sources` are checked as any list of references (an unknown source_uuid is a 400).
 */
export async function checkFederationProviders(db: import('../../db/index.js').DB, ids: unknown): Promise<void> {
  if (!Array.isArray(ids) || !ids.length) return;
  const found = new Set(
    (
      await db
        .selectFrom('provider_oauth2')
        .select('provider_id')
        .where('provider_id', 'in', ids as number[])
        .execute()
    ).map((r) => Number(r.provider_id)),
  );
  const missing = ids.find((id) => !found.has(Number(id)));
  if (missing !== undefined)
    throw new ValidationError({ jwt_federation_providers: [`Invalid pk "${String(missing)}" - object does not exist.`] });
}
