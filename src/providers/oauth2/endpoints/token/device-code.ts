/**
 * The device_code grant (authentik's `__post_init_device_code` and `create_device_code_response`, RFC 8628 §3.4):
 *
 *   codePresent → codeFound (of this client) → notExpired (`expired_token`) → approved (`authorization_pending`)
 *   → user → mint → redeem (once: the row is deleted in the transaction that writes the tokens)
 *
 * The tokens carry the device code's scopes, the approving session's `sid` and its last login's time; a refresh
 * token comes with `offline_access`.
 */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../../services.js';
import { userById } from '../../../../users/by-id.js';
import { findDeviceCode, redeemDeviceCode } from '../../device/store.js';
import { SCOPE_OFFLINE_ACCESS } from '../../protocol/constants.js';
import { DeviceCodeError, TokenError } from '../../protocol/errors.js';
import { amrOf } from '../../protocol/id-token.js';
import { parseScope } from '../../protocol/scopes.js';
import type { ProviderKeys } from '../../protocol/sign.js';
import { insertAccessToken, insertRefreshToken } from '../../tokens/store.js';
import { type GrantBase, mintAccessToken, mintRefreshToken, tokenResponse } from '../issue.js';
import { lastLoginOf } from '../login-event.js';
import type { TokenRequest } from './request.js';

export async function deviceCodeGrant(
  svc: Services,
  req: FastifyRequest,
  t: TokenRequest,
  keys: ProviderKeys,
  origin: string,
): Promise<Record<string, unknown>> {
  const now = new Date();
  const raw = t.form.device_code ?? '';
  const row = raw ? await findDeviceCode(svc.db, t.provider.id, raw) : undefined;
  if (!row) throw new TokenError('invalid_grant').withCause('device_code_unknown');
  if (row.expiring && new Date(row.expires).getTime() <= now.getTime()) throw new DeviceCodeError('expired_token');
  if (row.user_id === null) throw new DeviceCodeError('authorization_pending');
  const user = await userById(svc.db, row.user_id);
  if (!user || !user.is_active) throw new TokenError('invalid_grant').withCause('user_inactive');
  const login = await lastLoginOf(svc.db, user.username);
  const scope = [...parseScope(row.scope)];
  const g: GrantBase = {
    svc,
    req,
    origin,
    provider: t.provider,
    keys,
    user,
    scope,
    authTime: login?.created ?? now,
    sid: row.session_id,
    amr: amrOf(login) ?? null,
    now,
    dpopJkt: t.dpop?.jkt,
  };
  const access = await mintAccessToken(g);
  // (authentik: the refresh token outlives the session)
  const refresh = scope.includes(SCOPE_OFFLINE_ACCESS) ? await mintRefreshToken(g, access) : undefined;
  const redeemed = await redeemDeviceCode(svc.db, row.id, async (tx) => {
    await insertAccessToken(tx, access.row);
    if (refresh) await insertRefreshToken(tx, refresh.row);
  });
  if (!redeemed) throw new TokenError('invalid_grant').withCause('device_code_redeemed');
  return tokenResponse(g, access, refresh);
}
