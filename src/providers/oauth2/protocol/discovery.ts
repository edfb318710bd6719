/**
 * The OpenID Provider configuration document (`/application/o/<slug>/.well-known/openid-configuration`), as
 * authentik's `ProviderInfoView.get_info` (views/provider.py): endpoint URLs on the request's origin, the
 * provider's issuer and signing algorithm, its mappings' scopes (plus `openid`) and the claims they yield.
 */
import { DPOP_ALGS } from './dpop.js';
import {
  ACR_AUTHENTIK_DEFAULT,
  GRANT_TYPE_AUTHORIZATION_CODE,
  GRANT_TYPE_CLIENT_CREDENTIALS,
  GRANT_TYPE_DEVICE_CODE,
  GRANT_TYPE_TOKEN_EXCHANGE,
  GRANT_TYPE_IMPLICIT,
  GRANT_TYPE_PASSWORD,
  GRANT_TYPE_REFRESH_TOKEN,
  PKCE_METHOD_PLAIN,
  PKCE_METHOD_S256,
  PROMPT_CONSENT,
  PROMPT_LOGIN,
  PROMPT_NONE,
  RESPONSE_MODES,
  RESPONSE_TYPES,
  SCOPE_OPENID,
} from './constants.js';
import { issuerOf } from './id-token.js';
import type { JwtAlg } from './sign.js';
import type { ProviderSettings } from './types.js';

/** the claims every token carries, before the mappings' */
export const DEFAULT_CLAIMS = ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'amr', 'nonce'] as const;

/** the URLs of the shared and per-application endpoints */
export function endpointsOf(origin: string, appSlug: string) {
  const base = `${origin.replace(/\/+$/, '')}/application/o`;
  return {
    authorization_endpoint: `${base}/authorize/`,
    token_endpoint: `${base}/token/`,
    userinfo_endpoint: `${base}/userinfo/`,
    end_session_endpoint: `${base}/${appSlug}/end-session/`,
    introspection_endpoint: `${base}/introspect/`,
    revocation_endpoint: `${base}/revoke/`,
    device_authorization_endpoint: `${base}/device/`,
    jwks_uri: `${base}/${appSlug}/jwks/`,
  };
}

/**
 * `get_claims`: the default claims, then the keys of what each mapping returns for the anonymous user, mappings in
 * scope-name order (a mapping that fails or returns no object is skipped by the caller: pass only objects here)
 */
export function claimsSupported(mappingResults: readonly Record<string, unknown>[]): string[] {
  const out: string[] = [...DEFAULT_CLAIMS];
  for (const r of mappingResults) out.push(...Object.keys(r));
  return out;
}

export interface DiscoveryInput {
  origin: string;
  provider: Pick<ProviderSettings, 'issuer_mode' | 'application'>;
  appSlug: string;
  alg: JwtAlg;
  /** the scope names of the provider's mappings */
  scopes: readonly string[];
  claims: readonly string[];
  /** the registration endpoint, when dynamic client registration is on for the provider */
  registration?: string;
}

/** `get_info` */
export function discoveryDocument(d: DiscoveryInput): Record<string, unknown> {
  const scopes = [...d.scopes];
  if (!scopes.includes(SCOPE_OPENID)) scopes.push(SCOPE_OPENID);
  const e = endpointsOf(d.origin, d.appSlug);
  return {
    issuer: issuerOf(d.provider, d.origin) ?? null,
    authorization_endpoint: e.authorization_endpoint,
    token_endpoint: e.token_endpoint,
    userinfo_endpoint: e.userinfo_endpoint,
    end_session_endpoint: e.end_session_endpoint,
    introspection_endpoint: e.introspection_endpoint,
    revocation_endpoint: e.revocation_endpoint,
    device_authorization_endpoint: e.device_authorization_endpoint,
    ...(d.registration ? { registration_endpoint: d.registration } : {}),
    response_types_supported: [...RESPONSE_TYPES],
    response_modes_supported: [...RESPONSE_MODES],
    jwks_uri: e.jwks_uri,
    grant_types_supported: [
      GRANT_TYPE_AUTHORIZATION_CODE,
      GRANT_TYPE_REFRESH_TOKEN,
      GRANT_TYPE_IMPLICIT,
      GRANT_TYPE_CLIENT_CREDENTIALS,
      GRANT_TYPE_PASSWORD,
      GRANT_TYPE_DEVICE_CODE,
      GRANT_TYPE_TOKEN_EXCHANGE,
    ],
    id_token_signing_alg_values_supported: [d.alg],
    subject_types_supported: ['public'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    acr_values_supported: [ACR_AUTHENTIK_DEFAULT],
    scopes_supported: scopes,
    request_parameter_supported: false,
    claims_supported: [...d.claims],
    claims_parameter_supported: false,
    code_challenge_methods_supported: [PKCE_METHOD_PLAIN, PKCE_METHOD_S256],
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    prompt_values_supported: [PROMPT_NONE, PROMPT_CONSENT, PROMPT_LOGIN],
  };
}
