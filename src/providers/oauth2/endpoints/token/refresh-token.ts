/**
 * The refresh_token grant (authentik's `__post_init_refresh` and `create_refresh_response`), as steps:
 *
 *   tokenPresent → tokenFound (of this client) → tokenLive → notRevoked → scope → user → mint → rotate
 *
 * The refresh token is renewed when the provider's refresh_token_threshold says so (`seconds=0`: always; else when
 * it is valid for less than the threshold): the old one is revoked by an atomic UPDATE in the transaction that
 * writes its successor, so of two requests presenting it at once one is refused. A revoked token presented again is
 * a suspicious request.
 */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../../services.js';
import { userById } from '../../../../users/by-id.js';
import { SCOPE_OFFLINE_ACCESS } from '../../protocol/constants.js';
import { TokenError } from '../../protocol/errors.js';
import { parseIdToken } from '../../protocol/id-token.js';
import { parseScope } from '../../protocol/scopes.js';
import type { ProviderKeys } from '../../protocol/sign.js';
import { findRefreshToken, insertAccessToken, insertRefreshToken, rotateRefreshToken } from '../../tokens/store.js';
import { durationMs, type GrantBase, mintAccessToken, mintRefreshToken, tokenResponse } from '../issue.js';
import type { TokenRequest } from './request.js';

/** renew the refresh token? (`refresh_token_threshold`) */
export function shouldRotate(threshold: string, expires: Date, now: Date): boolean {
  const t = durationMs(threshold);
  return t <= 0 || expires.getTime() - now.getTime() < t;
}

export async function refreshTokenGrant(
  svc: Services,
  req: FastifyRequest,
  t: TokenRequest,
  keys: ProviderKeys,
  origin: string,
): Promise<Record<string, unknown>> {
  const now = new Date();
  const raw = t.form.refresh_token;
  if (!raw) throw new TokenError('invalid_grant').withCause('refresh_token_missing');
  const row = await findRefreshToken(svc.db, raw);
  if (!row || row.provider_id !== t.provider.id) throw new TokenError('invalid_grant').withCause('refresh_token_unknown');
  if (row.expiring && new Date(row.expires).getTime() <= now.getTime())
    throw new TokenError('invalid_grant').withCause('refresh_token_expired');
  const granted = parseScope(row.scope);
  // RFC 6749 §6: no scope asked → the original grant's
  const asked = t.form.scope?.trim() ? t.scope : granted;
  const user = await userById(svc.db, row.user_id);
  if (row.revoked) {
    await svc.events.emit('suspicious_request', {
      user: user ? { pk: user.id, username: user.username, email: user.email } : null,
      req,
      context: { message: 'Revoked refresh token was used', provider: t.provider.name },
    });
    throw new TokenError('invalid_grant').withCause('refresh_token_revoked');
  }
  if ([...asked].some((s) => !granted.has(s))) throw new TokenError('invalid_scope').withCause('scope_widened');
  if (!asked.has(SCOPE_OFFLINE_ACCESS)) throw new TokenError('invalid_scope').withCause('offline_access_missing');
  if (!user || !user.is_active) throw new TokenError('invalid_grant').withCause('user_inactive');
  // a bound refresh token (a public client's) is used only with a proof by its key (RFC 9449 §5)
  if (row.dpop_jkt && row.dpop_jkt !== t.dpop?.jkt) throw new TokenError('invalid_dpop_proof').withCause('dpop_key_differs');
  const previous = parseIdToken(row.id_token);
  const g: GrantBase = {
    svc,
    req,
    origin,
    provider: t.provider,
    keys,
    user,
    // (the same scopes as the token being refreshed)
    scope: [...granted],
    authTime: new Date(row.auth_time),
    sid: row.session_id,
    amr: previous.amr ?? null,
    now,
    dpopJkt: t.dpop?.jkt,
  };
  const access = await mintAccessToken(g);
  if (!shouldRotate(t.provider.refresh_token_threshold, new Date(row.expires), now)) {
    await insertAccessToken(svc.db, access.row);
    return tokenResponse(g, access);
  }
  const refresh = await mintRefreshToken({ ...g, nonce: previous.nonce ?? null }, access);
  const rotated = await rotateRefreshToken(svc.db, row.id, async (tx) => {
    await insertAccessToken(tx, access.row);
    await insertRefreshToken(tx, refresh.row);
  });
  if (!rotated) throw new TokenError('invalid_grant').withCause('refresh_token_raced');
  return tokenResponse(g, access, refresh);
}
