/**
 * An access token as a credential of Keystage's own API (authentik's `auth_user_lookup`, CTX_AUTH_VIA "jwt"): a live
 * token — not expired, not revoked — whose scopes hold `goauthentik.io/api` stands for its user.
 */
import type { DB } from '../../../db/index.js';
import type { UsersTable } from '../../../db/types.js';
import { userById } from '../../../users/by-id.js';
import { SCOPE_AUTHENTIK_API } from '../protocol/constants.js';
import { parseScope } from '../protocol/scopes.js';
import { findAccessToken, isLive } from './store.js';

export async function apiTokenUser(db: DB, credential: string): Promise<UsersTable | undefined> {
  const token = await findAccessToken(db, credential);
  // (a DPoP-bound token is no bearer credential: the API takes no proofs)
  if (!token || !isLive(token) || token.dpop_jkt || !parseScope(token.scope).has(SCOPE_AUTHENTIK_API)) return undefined;
  return userById(db, token.user_id);
}
