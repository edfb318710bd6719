/**
 * Minting grants as authentik's token and authorization views do (`create_code_response`, `create_refresh_response`,
 * `create_client_credentials_response`, `create_implicit_response`): an access token is a JWT of the ID token's
 * claims plus `azp` and `uid`; the ID token sent with it carries the nonce (and, from the authorization endpoint,
 * at_hash and c_hash); a refresh token is an opaque 128-character secret whose stored ID token has the access
 * token's at_hash. Nothing is written here: the rows are returned for the caller's transaction.
 */
import type { FastifyRequest } from 'fastify';
import type { UsersTable } from '../../../db/types.js';
import { parseDuration } from '../../../rest/duration.js';
import type { Services } from '../../../services.js';
import type { OAuth2Provider } from '../config.js';
import { TOKEN_TYPE } from '../protocol/constants.js';
import { atHash } from '../protocol/hashes.js';
import { accessTokenClaims, idTokenClaims, type IdToken, newIdToken, serializeIdToken } from '../protocol/id-token.js';
import { generateClientSecret } from '../protocol/random.js';
import { encodeJwt, type ProviderKeys } from '../protocol/sign.js';
import { formatScope } from '../protocol/scopes.js';
import type { TokenValues } from '../tokens/store.js';
import { claimsAreNative, claimsOf } from './claims.js';

const durations = new Map<string, number>();
/** an authentik duration in ms (0 when unparsable); a provider's few validity strings parsed once */
export function durationMs(d: string): number {
  let ms = durations.get(d);
  if (ms === undefined) {
    ms = parseDuration(d) ?? 0;
    if (durations.size >= 256) durations.clear();
    durations.set(d, ms);
  }
  return ms;
}

export interface GrantBase {
  svc: Services;
  req: FastifyRequest;
  origin: string;
  provider: OAuth2Provider;
  keys: ProviderKeys;
  user: UsersTable;
  scope: string[];
  authTime: Date;
  /** the grant's session (its hash, the `sid`) */
  sid: string | null;
  amr?: string[] | null;
  nonce?: string | null;
  codeId?: number | null;
  now?: Date;
  /** DPoP: the access token (and, for a public client, the refresh token) is bound to this key's thumbprint */
  dpopJkt?: string | null;
}

/**
 * `IDToken.new` for a grant expiring at `expires`, with the mappings' claims when the provider puts them in ID
 * tokens (`known`: the claims this grant's mappings already gave, when running them again would give the same)
 */
export async function idTokenFor(g: GrantBase, expires: Date, known?: Record<string, unknown>): Promise<IdToken> {
  const claims = !g.provider.include_claims_in_id_token ? {} : (known ?? (await claimsOf(g.svc, g.provider, g.user, g.scope, g.req)));
  const t = newIdToken({
    provider: g.provider,
    origin: g.origin,
    installId: g.svc.installId,
    user: g.user,
    expires,
    authTime: g.authTime,
    sid: g.sid,
    amr: g.amr ?? null,
    claims,
    now: g.now,
  });
  if (g.nonce) t.nonce = g.nonce;
  return t;
}

export interface MintedAccess {
  token: string;
  idToken: IdToken;
  expiresIn: number;
  row: TokenValues;
}

/** an access token: its ID token, the JWT, and the row to store */
export async function mintAccessToken(g: GrantBase): Promise<MintedAccess> {
  const now = g.now ?? new Date();
  const validity = durationMs(g.provider.access_token_validity);
  const expires = new Date(now.getTime() + validity);
  const idToken = await idTokenFor(g, expires);
  const claims = accessTokenClaims(idToken, g.provider.client_id);
  // RFC 9449 §6.1: a bound token names its key
  const token = await encodeJwt(g.dpopJkt ? { ...claims, cnf: { jkt: g.dpopJkt } } : claims, g.keys);
  return {
    token,
    idToken,
    expiresIn: Math.floor(validity / 1000),
    row: {
      provider_id: g.provider.id,
      user_id: g.user.id,
      scope: formatScope(g.scope),
      auth_time: g.authTime,
      session_id: g.sid,
      expires,
      token,
      id_token: serializeIdToken(idToken),
      code_id: g.codeId ?? null,
      dpop_jkt: g.dpopJkt ?? null,
    },
  };
}

export interface MintedRefresh {
  token: string;
  row: TokenValues;
}

/** a refresh token whose stored ID token has the access token's at_hash */
export async function mintRefreshToken(g: GrantBase, access: MintedAccess): Promise<MintedRefresh> {
  const now = g.now ?? new Date();
  const expires = new Date(now.getTime() + durationMs(g.provider.refresh_token_validity));
  // the access token's ID token has the same user and scopes: its claims, unless a mapping is Python (run again)
  const same = (await claimsAreNative(g.svc, g.provider, g.scope)) ? access.idToken.claims : undefined;
  const idToken = await idTokenFor(g, expires, same);
  idToken.at_hash = atHash(access.token);
  const token = generateClientSecret();
  return {
    token,
    row: {
      provider_id: g.provider.id,
      user_id: g.user.id,
      scope: formatScope(g.scope),
      auth_time: g.authTime,
      // (authentik keeps refresh tokens when their session ends)
      session_id: g.sid,
      expires,
      token,
      id_token: serializeIdToken(idToken),
      code_id: g.codeId ?? null,
      // RFC 9449 §5: a public client's refresh token is bound to its key; a confidential client's is bound by its secret
      dpop_jkt: g.dpopJkt && g.provider.client_type === 'public' ? g.dpopJkt : null,
    },
  };
}

/** the token endpoint's answer for an access token (and a refresh token) */
export async function tokenResponse(g: GrantBase, access: MintedAccess, refresh?: MintedRefresh): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {
    access_token: access.token,
    token_type: g.dpopJkt ? 'DPoP' : TOKEN_TYPE,
    scope: formatScope(g.scope),
    expires_in: access.expiresIn,
    id_token: await encodeJwt(idTokenClaims(access.idToken), g.keys),
  };
  if (refresh) body.refresh_token = refresh.token;
  return body;
}
