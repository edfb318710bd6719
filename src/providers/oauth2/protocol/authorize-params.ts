/**
 * The authorization request, read and checked as authentik's `OAuthAuthorizationParams.from_request` does, as a
 * pipeline of small named steps (each either refines the params or throws authentik's error):
 *
 *   readParams → client → redirectUri → grant → scope → nonce → codeChallenge → requestObject
 *
 * Until the redirect URI has matched, errors are pages (`ClientIdError`, `RedirectUriError`); after it, they are
 * `AuthorizeError`s sent back to that URI. Pure: the provider and its mappings' scope names are looked up by the
 * caller, and a provider without authorization redirect URIs is answered with `learnRedirectUri` (authentik saves
 * the first URI used as a strict entry; the caller writes it).
 */
import {
  ALLOWED_PROMPT_PARAMS,
  GRANT_TYPE_AUTHORIZATION_CODE,
  GRANT_TYPE_HYBRID,
  GRANT_TYPE_IMPLICIT,
  PROMPT_CONSENT,
  RESPONSE_MODE_FRAGMENT,
  RESPONSE_MODE_QUERY,
  RESPONSE_MODES,
  RESPONSE_TYPE_CODE,
  RESPONSE_TYPE_CODE_ID_TOKEN,
  RESPONSE_TYPE_CODE_ID_TOKEN_TOKEN,
  RESPONSE_TYPE_CODE_TOKEN,
  RESPONSE_TYPE_ID_TOKEN,
  RESPONSE_TYPE_ID_TOKEN_TOKEN,
  type ResponseMode,
  SCOPE_OFFLINE_ACCESS,
  SCOPE_OPENID,
} from './constants.js';
import { AuthorizeError, ClientIdError } from './errors.js';
import { challengeMethodOf, isSupportedChallengeMethod } from './pkce.js';
import { assertRedirectUri, entriesOfType } from './redirect-uri.js';
import { allowedScopes, githubScopes, parseScope } from './scopes.js';
import type { ProviderSettings } from './types.js';

export interface AuthorizeParams {
  client_id: string;
  redirect_uri: string;
  response_type: string;
  response_mode: ResponseMode;
  scope: Set<string>;
  state: string | undefined;
  nonce: string | undefined;
  prompt: Set<string>;
  grant_type: string;
  request: string | undefined;
  max_age: number | undefined;
  code_challenge: string | undefined;
  code_challenge_method: string;
  /** OpenID Connect: the identifier the person will likely log in with (pre-fills the identification stage) */
  login_hint: string | undefined;
  /** OpenID Connect: an ID token this provider issued, naming whom the client expects to be logged in */
  id_token_hint: string | undefined;
  /** the provider has no authorization redirect URI yet: save this one as a strict entry (authentik does) */
  learnRedirectUri: boolean;
  /** DPoP (RFC 9449 §10): the thumbprint of the key the code's tokens must be asked for with */
  dpop_jkt: string | undefined;
  /** asked at GitHub's URL (`/login/oauth/authorize`): GitHub's scopes are kept (authentik's `github_compat`) */
  github_compat: boolean;
}

/** the request's parameters (the query on GET, the form on POST), single-valued as Django's QueryDict.get */
export type RawParams = Record<string, string | undefined>;

/** what the steps see: the params so far, the provider and its mappings' scope names */
type Step = (p: AuthorizeParams, provider: ProviderSettings, providerScopes: ReadonlySet<string>) => void;

const GRANT_OF_RESPONSE_TYPE: Record<string, string> = {
  [RESPONSE_TYPE_CODE]: GRANT_TYPE_AUTHORIZATION_CODE,
  [RESPONSE_TYPE_ID_TOKEN]: GRANT_TYPE_IMPLICIT,
  [RESPONSE_TYPE_ID_TOKEN_TOKEN]: GRANT_TYPE_IMPLICIT,
  [RESPONSE_TYPE_CODE_TOKEN]: GRANT_TYPE_HYBRID,
  [RESPONSE_TYPE_CODE_ID_TOKEN]: GRANT_TYPE_HYBRID,
  [RESPONSE_TYPE_CODE_ID_TOKEN_TOKEN]: GRANT_TYPE_HYBRID,
};
const WITH_CODE = new Set([RESPONSE_TYPE_CODE, RESPONSE_TYPE_CODE_TOKEN, RESPONSE_TYPE_CODE_ID_TOKEN, RESPONSE_TYPE_CODE_ID_TOKEN_TOKEN]);
const WITH_ID_TOKEN = new Set([
  RESPONSE_TYPE_ID_TOKEN,
  RESPONSE_TYPE_ID_TOKEN_TOKEN,
  RESPONSE_TYPE_CODE_ID_TOKEN,
  RESPONSE_TYPE_CODE_ID_TOKEN_TOKEN,
]);

/** Python's int() of a query value: surrounding whitespace, an optional sign, digits */
function pyInt(raw: string | undefined): number | undefined {
  if (!raw) return undefined;
  return /^\s*[+-]?\d+\s*$/.test(raw) ? Number.parseInt(raw, 10) : undefined;
}

/** readParams: the fields of the request, with authentik's defaults (`code_challenge_method` = `plain`) */
export function readParams(q: RawParams): AuthorizeParams {
  return {
    client_id: q.client_id ?? '',
    redirect_uri: q.redirect_uri ?? '',
    response_type: q.response_type ?? '',
    response_mode: (q.response_mode ?? '') as ResponseMode,
    scope: parseScope(q.scope),
    state: q.state,
    nonce: q.nonce,
    prompt: new Set([...parseScope(q.prompt)].filter((p) => ALLOWED_PROMPT_PARAMS.has(p))),
    grant_type: '',
    request: q.request,
    max_age: pyInt(q.max_age),
    code_challenge: q.code_challenge,
    code_challenge_method: challengeMethodOf(q.code_challenge_method),
    login_hint: q.login_hint || undefined,
    id_token_hint: q.id_token_hint || undefined,
    learnRedirectUri: false,
    dpop_jkt: q.dpop_jkt || undefined,
    github_compat: false,
  };
}

/** redirectUri: the URI is one of the provider's authorization redirect URIs (or the first one it learns) */
export const checkRedirectUri: Step = (p, provider) => {
  const entries = entriesOfType(provider.redirect_uris, 'authorization');
  if (p.redirect_uri && entries.length === 0) {
    p.learnRedirectUri = true;
    assertRedirectUri(p.redirect_uri, [{ matching_mode: 'strict', url: p.redirect_uri, redirect_uri_type: 'authorization' }]);
    return;
  }
  assertRedirectUri(p.redirect_uri, entries);
};

/** grant: the response type names a grant the provider allows; the response mode defaults by grant */
export const checkGrant: Step = (p, provider) => {
  p.grant_type = GRANT_OF_RESPONSE_TYPE[p.response_type] ?? '';
  if (!p.grant_type)
    throw new AuthorizeError(p.redirect_uri, 'unsupported_response_type', '', p.state).withCause('response_type_unsupported');
  if (!provider.grant_types.includes(p.grant_type))
    throw new AuthorizeError(p.redirect_uri, 'invalid_request', p.grant_type, p.state).withCause('grant_type_not_configured');
  if (!(RESPONSE_MODES as readonly string[]).includes(p.response_mode)) {
    p.response_mode =
      p.grant_type === GRANT_TYPE_IMPLICIT || p.grant_type === GRANT_TYPE_HYBRID ? RESPONSE_MODE_FRAGMENT : RESPONSE_MODE_QUERY;
  }
};

/** scope: none asked → all of the provider's; unknown ones dropped; openid for ID tokens; offline_access → consent */
export const checkScope: Step = (p, _provider, providerScopes) => {
  p.scope = p.github_compat ? githubScopes(p.scope, providerScopes) : allowedScopes(p.scope, providerScopes);
  if (
    !p.scope.has(SCOPE_OPENID) &&
    (p.grant_type === GRANT_TYPE_HYBRID || p.response_type === RESPONSE_TYPE_ID_TOKEN || p.response_type === RESPONSE_TYPE_ID_TOKEN_TOKEN)
  )
    throw new AuthorizeError(p.redirect_uri, 'invalid_scope', p.grant_type, p.state).withCause('scope_openid_missing');
  if (p.scope.has(SCOPE_OFFLINE_ACCESS)) {
    // https://openid.net/specs/openid-connect-core-1_0.html#OfflineAccess
    p.prompt.add(PROMPT_CONSENT);
    // a response without a code can never be refreshed: the scope is ignored
    if (!WITH_CODE.has(p.response_type)) p.scope.delete(SCOPE_OFFLINE_ACCESS);
  }
};

/** nonce: required whenever the authorization endpoint itself returns an ID token */
export const checkNonce: Step = (p) => {
  if (!WITH_ID_TOKEN.has(p.response_type) || !p.scope.has(SCOPE_OPENID)) return;
  if (!p.nonce) throw new AuthorizeError(p.redirect_uri, 'invalid_request', p.grant_type, p.state).withCause('nonce_missing');
};

/** codeChallenge: with a challenge, the method is `plain` or `S256` */
export const checkCodeChallenge: Step = (p) => {
  if (p.code_challenge && !isSupportedChallengeMethod(p.code_challenge_method))
    throw new AuthorizeError(
      p.redirect_uri,
      'invalid_request',
      p.grant_type,
      p.state,
      `Unsupported challenge method ${p.code_challenge_method}`,
    ).withCause('pkce_method_unsupported');
};

/** requestObject: request objects (`request=`) are not supported */
export const checkRequestObject: Step = (p) => {
  if (p.request) throw new AuthorizeError(p.redirect_uri, 'request_not_supported', p.grant_type, p.state);
};

/** dpopJkt: a key thumbprint is 43 base64url characters (SHA-256) */
export const checkDpopJkt: Step = (p) => {
  if (p.dpop_jkt !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(p.dpop_jkt))
    throw new AuthorizeError(p.redirect_uri, 'invalid_request', p.grant_type, p.state, 'Malformed dpop_jkt').withCause('dpop_jkt');
};

export const AUTHORIZE_STEPS: readonly Step[] = [
  checkRedirectUri,
  checkGrant,
  checkScope,
  checkNonce,
  checkCodeChallenge,
  checkRequestObject,
  checkDpopJkt,
];

/**
 * The whole pipeline. `provider` is the one whose client_id was asked (undefined: none); throws ClientIdError,
 * RedirectUriError or AuthorizeError.
 */
export function authorizeParams(
  q: RawParams,
  provider: ProviderSettings | undefined,
  providerScopes: ReadonlySet<string>,
  opts: { githubCompat?: boolean } = {},
): AuthorizeParams {
  const p = readParams(q);
  p.github_compat = opts.githubCompat === true;
  if (!provider) throw new ClientIdError(p.client_id);
  for (const step of AUTHORIZE_STEPS) step(p, provider, providerScopes);
  return p;
}

/** what application policies see of the request (authentik's `modify_policy_request`) */
export function policyContextOf(p: AuthorizeParams): Record<string, unknown> {
  return {
    oauth_scopes: [...p.scope],
    oauth_grant_type: p.grant_type,
    oauth_code_challenge: p.code_challenge ?? null,
    oauth_code_challenge_method: p.code_challenge_method,
    oauth_max_age: p.max_age ?? null,
    oauth_redirect_uri: p.redirect_uri,
    oauth_response_type: p.response_type,
  };
}
