/**
 * The OAuth2 grant tables (migration provider_oauth2_0002): authorization codes, access tokens, refresh tokens and
 * device codes, authentik's `AuthorizationCode`, `AccessToken`, `RefreshToken`, `DeviceToken`. They change on every
 * login, so they are not configuration tables (not `provider_…`: their writes do not move the configuration epoch).
 *
 * Secrets are kept as SHA-256 hashes only (`*_hash`): a code, token or device code is looked up by the hash of what
 * the client presents, and the database never holds a usable one. `session_id` is authentik's hashed session key
 * (the `sid` claim), so the tokens of a session can be found when it ends.
 */
import type { Generated } from 'kysely';
import type { Bool } from '../../../db/types.js';

interface GrantColumns {
  id: Generated<number>;
  provider_id: number;
  user_id: number;
  /** space-separated scopes */
  scope: string;
  /** ISO datetime of the authentication the grant stems from */
  auth_time: string;
  /** sha256 of the session key (authentik's `sid`), null when the grant outlives or has no session */
  session_id: string | null;
  revoked: Bool;
  expires: string;
  expiring: Bool;
  created: string;
  /** DPoP (RFC 9449): the thumbprint of the key the grant is bound to, null when it is not bound */
  dpop_jkt: string | null;
}

export interface OAuth2AuthorizationCodesTable extends GrantColumns {
  code_hash: string;
  nonce: string | null;
  code_challenge: string | null;
  code_challenge_method: string | null;
  /** the redirect URI the code was issued for */
  redirect_uri: string;
  /** the ID token's `amr` from the login the code stems from (JSON array), null when none applies */
  amr: string | null;
  /** set by the one token request that redeemed it (an atomic UPDATE … WHERE redeemed_at IS NULL) */
  redeemed_at: string | null;
}

export interface OAuth2AccessTokensTable extends GrantColumns {
  token_hash: string;
  /** the ID token issued with it, authentik's `_id_token` (JSON of IDToken, claims included) */
  id_token: string;
  /** the code it was redeemed from: a second redemption of that code revokes it */
  code_id: number | null;
}

export interface OAuth2RefreshTokensTable extends GrantColumns {
  token_hash: string;
  id_token: string;
  code_id: number | null;
}

export interface OAuth2DeviceTokensTable {
  id: Generated<number>;
  provider_id: number;
  user_id: number | null;
  device_code_hash: string;
  user_code: string;
  scope: string;
  session_id: string | null;
  expires: string;
  expiring: Bool;
  created: string;
}

declare module '../../../db/types.js' {
  interface Database {
    oauth2_authorization_codes: OAuth2AuthorizationCodesTable;
    oauth2_access_tokens: OAuth2AccessTokensTable;
    oauth2_refresh_tokens: OAuth2RefreshTokensTable;
    oauth2_device_tokens: OAuth2DeviceTokensTable;
  }
}
